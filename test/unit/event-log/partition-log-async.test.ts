/**
 * PartitionLog.appendEncodedAsync (bulk appends: `kfs ingest`) fsyncs on libuv's threads while
 * the caller goes on. Whichever way a batch is written, the segment files must hold the same
 * bytes as synchronous appends would, across segment rolls and interleaved with synchronous
 * appends, and read back the same after a reopen.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PartitionLog } from '../../../adapters/event-log/embedded/partition-log.ts'
import { encodeRecords } from '../../../adapters/event-log/embedded/record-format.ts'

type Way = 'sync' | 'async'

/** Batch b of `sizes[b]` records, numbered from `base`. */
function batch(b: number, size: number, base: number): { buf: Buffer; starts: number[] } {
  const records = Array.from({ length: size }, (_, i) => ({
    timestampMs: 1_700_000_000_000 + b,
    key: Buffer.from(`k${b}-${i}`),
    value: Buffer.from(`value ${b}-${i} `.repeat(1 + ((b + i) % 5))),
    headers: {},
  }))
  return encodeRecords(records, base)
}

/** Appends the batches, each the way `ways` says; the segment files' names and bytes. */
async function written(
  dir: string,
  sizes: readonly number[],
  ways: readonly Way[],
  fsync: boolean,
): Promise<Map<string, Buffer>> {
  const log = PartitionLog.open(dir, { segmentBytes: 600, fsync })
  try {
    for (let b = 0; b < sizes.length; b++) {
      const { buf, starts } = batch(b, sizes[b]!, log.endOffset)
      const before = log.endOffset
      const first = ways[b] === 'async' ? await log.appendEncodedAsync(buf, starts) : log.appendEncoded(buf, starts)
      assert.equal(first, before)
      assert.equal(log.endOffset, before + sizes[b]!)
    }
  } finally {
    log.close()
  }
  return new Map(
    readdirSync(dir)
      .filter((n) => n.endsWith('.log'))
      .sort()
      .map((n) => [n, readFileSync(join(dir, n))]),
  )
}

void describe('PartitionLog.appendEncodedAsync', () => {
  const sizes = [3, 1, 7, 2, 5, 4, 1, 6]
  const patterns: Record<string, Way[]> = {
    'all async': sizes.map(() => 'async'),
    alternating: sizes.map((_, b) => (b % 2 === 0 ? 'async' : 'sync')),
    'sync then async': sizes.map((_, b) => (b < 4 ? 'sync' : 'async')),
  }
  for (const fsync of [true, false])
    for (const [name, ways] of Object.entries(patterns))
      void test(`${name}, fsync ${fsync ? 'on' : 'off'}: the same segment bytes as synchronous appends, read back after a reopen`, async () => {
        const root = mkdtempSync(join(tmpdir(), 'kfs-partition-async-'))
        try {
          const expected = await written(
            join(root, 'sync'),
            sizes,
            sizes.map(() => 'sync'),
            fsync,
          )
          const actual = await written(join(root, 'mixed'), sizes, ways, fsync)
          assert.ok(expected.size > 2, 'the batches roll over several segments')
          assert.deepEqual([...actual.keys()], [...expected.keys()])
          for (const [segment, bytes] of expected) assert.ok(actual.get(segment)!.equals(bytes), `segment ${segment} differs`)
          const reopened = PartitionLog.open(join(root, 'mixed'), { segmentBytes: 600, fsync })
          try {
            const total = sizes.reduce((a, b) => a + b, 0)
            assert.equal(reopened.endOffset, total)
            const keys: string[] = []
            for (let at = 0; at < total;) {
              const records = reopened.read(at, 1000, 1 << 20)
              keys.push(...records.map((r) => Buffer.from(r.key!).toString()))
              at += records.length
            }
            assert.deepEqual(
              keys,
              sizes.flatMap((size, b) => Array.from({ length: size }, (_, i) => `k${b}-${i}`)),
            )
          } finally {
            reopened.close()
          }
        } finally {
          rmSync(root, { recursive: true, force: true })
        }
      })
})
