import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/embedded-event-log.ts'
import { PackedAppends } from '../../../adapters/event-log/embedded/packed-appends.ts'
import { packedFramerReady, takePacked } from '../../../adapters/event-log/embedded/packed-framer.ts'
import type { PartitionLog } from '../../../adapters/event-log/embedded/partition-log.ts'
import { unpackRecords, type PackedRecords } from '../../../ports/event-log.ts'

const tempDir = (): string => mkdtempSync(join(tmpdir(), 'kfs-packed-'))
const fixedClock = { nowMs: () => 1_700_000_000_000, sleep: async () => {} }

function pack(prefix: string, count: number): PackedRecords {
  const parts: Buffer[] = []
  const bounds = new Uint32Array(2 * count + 1)
  let at = 0
  for (let i = 0; i < count; i++) {
    const key = Buffer.from(`${prefix}-key-${i}`)
    const value = Buffer.from(`${prefix}-value-${i}`.repeat(1 + (i % 3)))
    parts.push(key, value)
    bounds[2 * i + 1] = at += key.length
    bounds[2 * i + 2] = at += value.length
  }
  return { count, bytes: Buffer.concat(parts), bounds }
}

function segmentFiles(dir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>()
  const topicDir = join(dir, 'topics', 't')
  for (const p of readdirSync(topicDir).filter((name) => name !== 'topic.json'))
    for (const name of readdirSync(join(topicDir, p))) files.set(`${p}/${name}`, readFileSync(join(topicDir, p, name)))
  return files
}

/** A partition that records what it is asked to write, failing the writes `fail` picks. */
function fakePartition(written: string[], name: string, fail: (batch: number) => boolean): PartitionLog {
  let end = 0
  let batches = 0
  return {
    get endOffset() {
      return end
    },
    async appendEncodedAsync(_buf: Buffer, starts: ArrayLike<number>): Promise<number> {
      await new Promise((resolve) => setTimeout(resolve, 5))
      if (fail(batches++)) throw new Error(`write to ${name} failed`)
      written.push(`${name}:${end}+${starts.length}`)
      end += starts.length
      return end - starts.length
    },
  } as unknown as PartitionLog
}

void describe('event log > embedded > packed appends', () => {
  void test('chunks asked back to back and framed on the worker write the bytes produce writes, in order', async () => {
    assert.equal(await packedFramerReady(), true)
    const chunks = [pack('a', 12_000), pack('b', 15_000), pack('c', 3)]
    const packedDir = tempDir()
    const packed = new EmbeddedEventLog({ dir: packedDir, clock: fixedClock })
    await packed.createTopic('t', 3)
    // All three asked before the first is written; the buffers are reused (overwritten) at once.
    const asked = chunks.map((chunk) => {
      const done = packed.producePacked('t', chunk)
      chunk.bytes.fill(0)
      return done
    })
    await Promise.all(asked)
    await packed.close()

    const producedDir = tempDir()
    const produced = new EmbeddedEventLog({ dir: producedDir, clock: fixedClock })
    await produced.createTopic('t', 3)
    for (const prefix of ['a', 'b', 'c'])
      await produced.produce('t', unpackRecords(pack(prefix, prefix === 'a' ? 12_000 : prefix === 'b' ? 15_000 : 3)))
    await produced.close()
    const expected = segmentFiles(producedDir)
    assert.equal(expected.size, 3)
    assert.deepEqual(segmentFiles(packedDir), expected)
  })

  void test('a chunk is written only once the one before is; behind a failed write, chunks fail unwritten', async () => {
    const written: string[] = []
    const partitions = [fakePartition(written, 'p0', () => false), fakePartition(written, 'p1', (batch) => batch === 1)]
    const appends = new PackedAppends(() => {})
    const first = appends.append('t', partitions, takePacked(pack('a', 40)), 0)
    assert.equal(appends.canJoin('t'), true)
    assert.equal(appends.canJoin('other'), false)
    const second = appends.append('t', partitions, takePacked(pack('b', 40)), 0)
    const third = appends.append('t', partitions, takePacked(pack('c', 40)), 0)
    await first
    await assert.rejects(second, /write to p1 failed/)
    await assert.rejects(third, /a packed append before it failed/)
    await appends.drain()
    assert.equal(appends.busy, false)
    // The first chunk whole, then the second's share of p0 (p1's write of it failed), then nothing.
    const p0 = written.filter((w) => w.startsWith('p0'))
    const p1 = written.filter((w) => w.startsWith('p1'))
    assert.equal(p0.length, 2)
    assert.equal(p1.length, 1)
    assert.ok(written.indexOf(p1[0]!) < written.indexOf(p0[1]!))
    // The second chunk's offsets start where the first chunk's ended.
    assert.equal(p0[1], `p0:${p0[0]!.split('+')[1]}+${p0[1]!.split('+')[1]}`)
  })
})
