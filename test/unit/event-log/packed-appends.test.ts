/**
 * The embedded log's line of packed appends (adapters/event-log/embedded/packed-appends.ts)
 * against partitions whose writes the test settles by hand: a packed append asked right after
 * another is framed at once (its records are not read again), numbered after the one still being
 * written, and written only once that one is — and not at all if that one failed.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { PackedAppendLine, type PackedTarget } from '../../../adapters/event-log/embedded/packed-appends.ts'
import { decodeRecord } from '../../../adapters/event-log/embedded/record-format.ts'
import { PACKED_RUN_FIELDS, type PackedRecords } from '../../../ports/event-log.ts'

/** A partition whose each write waits until the test settles it. */
class HeldPartition implements PackedTarget {
  endOffset = 0
  readonly writes: { values: string[]; offsets: number[]; settle: (ok: boolean) => void }[] = []

  appendEncodedAsync(buf: Buffer, starts: ArrayLike<number>): Promise<number> {
    const records = Array.from(starts, (start) => {
      const decoded = decodeRecord(buf, start)
      if (typeof decoded === 'string') throw new Error(`record at ${start}: ${decoded}`)
      return decoded.record
    })
    return new Promise((resolve, reject) => {
      this.writes.push({
        values: records.map((r) => Buffer.from(r.value!).toString()),
        offsets: records.map((r) => r.offset),
        settle: (ok) => {
          if (!ok) return reject(new Error('disk full'))
          const base = this.endOffset
          this.endOffset += starts.length
          resolve(base)
        },
      })
    })
  }
}

/** One record per value, all with the same key (so one partition gets them all), runs over one source. */
function pack(values: readonly string[]): { packed: PackedRecords; source: Buffer } {
  const source = Buffer.from(`k${values.join('')}`)
  const runs = new Uint32Array(2 * PACKED_RUN_FIELDS * values.length)
  let at = 1
  values.forEach((v, i) => {
    runs.set([0, 0, 1, 0, at, (at += v.length)], 2 * PACKED_RUN_FIELDS * i)
  })
  return { packed: { count: values.length, sources: [source], runsPerRecord: 2, runs }, source }
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

void describe('PackedAppendLine', () => {
  void test('an append asked right after another is framed at once, numbered after it, and written once it is', async () => {
    const line = new PackedAppendLine()
    const partition = new HeldPartition()
    const first = line.append(
      't',
      [partition],
      pack(['a0', 'a1']).packed,
      1,
      () => {},
      () => {},
    )
    const { packed, source } = pack(['b0'])
    const second = line.append(
      't',
      [partition],
      packed,
      1,
      () => {},
      () => {},
    )
    // Framed already: overwriting its source changes nothing that is written.
    source.fill(0x7a)
    await tick()
    assert.equal(partition.writes.length, 1, 'the second waits for the first write')
    partition.writes[0]!.settle(true)
    await first
    await tick()
    assert.equal(partition.writes.length, 2)
    partition.writes[1]!.settle(true)
    await second
    assert.deepEqual(
      partition.writes.map((w) => [w.values, w.offsets]),
      [
        [
          ['a0', 'a1'],
          [0, 1],
        ],
        [['b0'], [2]],
      ],
    )
    assert.equal(line.inFlight, undefined)
  })

  void test('an append asked while the one before fails writes nothing and rejects; a later one writes again', async () => {
    const line = new PackedAppendLine()
    const partition = new HeldPartition()
    const first = line.append(
      't',
      [partition],
      pack(['a0']).packed,
      1,
      () => {},
      () => {},
    )
    const second = line.append(
      't',
      [partition],
      pack(['b0']).packed,
      1,
      () => {},
      () => {},
    )
    await tick()
    partition.writes[0]!.settle(false)
    await assert.rejects(first, /disk full/)
    await assert.rejects(second, /the one asked before it failed/)
    assert.equal(partition.writes.length, 1, 'the second was never written')
    assert.equal(partition.endOffset, 0)
    // Asked after both settled: not behind a failed one.
    const third = line.append(
      't',
      [partition],
      pack(['c0']).packed,
      1,
      () => {},
      () => {},
    )
    await tick()
    partition.writes[1]!.settle(true)
    await third
    assert.deepEqual(partition.writes[1]!.offsets, [0])
  })

  void test('an append asked after another kind of append waits for its turn and frames from the partitions then', async () => {
    const line = new PackedAppendLine()
    const partition = new HeldPartition()
    const first = line.append(
      't',
      [partition],
      pack(['a0']).packed,
      1,
      () => {},
      () => {},
    )
    // Another append (a produce) asked meanwhile: it waits for the packed writes, then appends
    // its 5 records — before the packed append asked after it is framed.
    line.asked++
    const produced = line.inFlight!.then(() => {
      partition.endOffset += 5
    })
    const second = line.append(
      't',
      [partition],
      pack(['b0']).packed,
      1,
      () => {},
      () => {},
    )
    await tick()
    partition.writes[0]!.settle(true)
    await Promise.all([first, produced])
    await tick()
    partition.writes[1]!.settle(true)
    await second
    assert.deepEqual(partition.writes[1]!.offsets, [6])
  })
})
