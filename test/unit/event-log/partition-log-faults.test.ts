/**
 * A partition's append whose write or fsync fails (EIO, ENOSPC: the `fault` seam throws once the
 * bytes are in the file): the append rejects, nothing of the batch is read — not while open, not
 * after a reopen, where its records, whole on disk, used to come back past the acknowledged end —
 * and the next append takes its offsets, read back as written.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PartitionLog } from '../../../adapters/event-log/embedded/partition-log.ts'
import { encodeRecords } from '../../../adapters/event-log/embedded/record-format.ts'

type Step = 'written' | 'fsync'

function batch(name: string, size: number, base: number): { buf: Buffer; starts: number[] } {
  const records = Array.from({ length: size }, (_, i) => ({
    timestampMs: 1,
    key: null,
    value: Buffer.from(`${name}-${i}`.padEnd(40, '.')),
    headers: { n: String(i) },
  }))
  return encodeRecords(records, base)
}

/** Every record, read as a consumer reads (one segment a read). */
function values(log: PartitionLog): string[] {
  const out: string[] = []
  for (let batch = log.read(0, 1000, 1 << 20); batch.length > 0; batch = log.read(out.length, 1000, 1 << 20))
    out.push(...batch.map((r) => `${r.offset}:${Buffer.from(r.value!).toString().replace(/\.+$/, '')}`))
  return out
}

void describe('PartitionLog > a failing write or fsync', () => {
  const cases: { way: 'sync' | 'async'; step: Step; segmentBytes: number; then: 'reopen' | 'append, then reopen' }[] = []
  for (const way of ['sync', 'async'] as const)
    for (const step of ['written', 'fsync'] as const)
      // 10 000: the failed batch goes into the open segment; 100: it starts a new one (a roll).
      for (const segmentBytes of [10_000, 100])
        for (const then of ['reopen', 'append, then reopen'] as const) cases.push({ way, step, segmentBytes, then })

  void test('the failed batch is never read, and the next append takes its offsets', async () => {
    for (const { way, step, segmentBytes, then } of cases) {
      const what = `${way}, failing once ${step}, segments of ${segmentBytes} bytes, ${then}`
      const dir = mkdtempSync(join(tmpdir(), 'kfs-partition-fault-'))
      let failing: Step | undefined
      const fault = (at: Step) => {
        if (at !== failing) return
        failing = undefined
        throw Object.assign(new Error(`EIO: i/o error, ${at}`), { code: 'EIO' })
      }
      const log = PartitionLog.open(dir, { segmentBytes, fsync: true, fault })
      const append = async (b: { buf: Buffer; starts: number[] }) =>
        way === 'async' ? await log.appendEncodedAsync(b.buf, b.starts) : log.appendEncoded(b.buf, b.starts)
      await append(batch('a', 3, 0))
      failing = step
      await assert.rejects(append(batch('failed', 3, 3)), /EIO/, what)
      assert.equal(log.endOffset, 3, what)
      const expected = ['0:a-0', '1:a-1', '2:a-2']
      if (then === 'append, then reopen') {
        assert.equal(await append(batch('c', 1, 3)), 3, what)
        expected.push('3:c-0')
      }
      assert.deepEqual(values(log), expected, `${what}: while open`)
      log.close()
      const reopened = PartitionLog.open(dir, { segmentBytes, fsync: true })
      assert.deepEqual(values(reopened), expected, `${what}: after a reopen`)
      assert.equal(reopened.appendEncoded(batch('d', 1, expected.length).buf, [0]), expected.length, what)
      reopened.close()
    }
  })
})
