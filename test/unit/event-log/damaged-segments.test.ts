/**
 * The embedded log's recovery cuts a torn final write (a crash mid-append: records nobody was told
 * about) and nothing else. Damage to records an append returned for — a byte flipped anywhere, the
 * segment cut short anywhere, a segment file gone — is refused on reopen, naming the segment; it
 * is never taken for a torn tail, which would cut every record after it without a word.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FeatureStoreError } from '../../../core/errors.ts'
import { silentLogger, type LogFn, type Logger } from '../../../core/logger.ts'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/embedded-event-log.ts'
import { crc32 } from '../../../adapters/event-log/embedded/record-format.ts'
import { eventually } from '../../contracts/event-log.ts'

const tempDir = () => mkdtempSync(join(tmpdir(), 'kfs-log-damage-'))

/** A one-partition topic of `batches` acknowledged appends of 3 records each; its partition dir. */
async function writtenLog(batches: number, segmentBytes?: number): Promise<{ dir: string; partitionDir: string }> {
  const dir = tempDir()
  const log = new EmbeddedEventLog({ dir, ...(segmentBytes === undefined ? {} : { segmentBytes }) })
  await log.createTopic('t', 1)
  for (let b = 0; b < batches; b++) await log.produce('t', [0, 1, 2].map((i) => ({ key: `k${b}-${i}`, value: Buffer.from(`value ${b}-${i}`.padEnd(30, '.')) })))
  await log.close()
  return { dir, partitionDir: join(dir, 'topics', 't', '0') }
}

/** The end offset a reopen reports, or the error it fails with (the log closed either way). */
async function reopen(dir: string): Promise<string | unknown> {
  const log = new EmbeddedEventLog({ dir })
  try {
    return (await log.endOffsets('t'))[0]!
  } catch (err: unknown) {
    return err
  } finally {
    await log.close().catch(() => {})
  }
}

function assertRefused(result: unknown, what: string, names: RegExp): void {
  assert.ok(result instanceof FeatureStoreError, `${what}: reopened with end offset ${String(result)}`)
  assert.equal(result.code, 'DATA_CORRUPT', `${what}: ${result.message}`)
  assert.match(result.message, names, what)
}

const segmentsOf = (partitionDir: string) =>
  readdirSync(partitionDir)
    .filter((n) => n.endsWith('.log'))
    .sort()

void describe('event log > embedded > damaged segments', () => {
  void test('a byte flipped anywhere in acknowledged records is refused, never cut', async () => {
    const { dir, partitionDir } = await writtenLog(8)
    const segment = join(partitionDir, segmentsOf(partitionDir)[0]!)
    const original = readFileSync(segment)
    let checked = 0
    for (let at = 0; at < original.length; at += 7) {
      const damaged = Buffer.from(original)
      damaged[at]! ^= 0x20
      writeFileSync(segment, damaged)
      assertRefused(await reopen(dir), `flip at byte ${at} of ${original.length}`, /embedded log segment .* is damaged at byte \d+/)
      checked++
    }
    writeFileSync(segment, original)
    assert.equal(await reopen(dir), '24')
    assert.ok(checked > 50)
  })

  void test('a segment cut short anywhere inside acknowledged records is refused', async () => {
    const { dir, partitionDir } = await writtenLog(6)
    const segment = join(partitionDir, segmentsOf(partitionDir)[0]!)
    const original = readFileSync(segment)
    for (let size = 0; size < original.length; size += 11) {
      writeFileSync(segment, original.subarray(0, size))
      const result = await reopen(dir)
      assertRefused(result, `cut to ${size} of ${original.length} bytes`, /damaged at byte|records are missing/)
    }
    writeFileSync(segment, original)
    assert.equal(await reopen(dir), '18')
  })

  void test('a missing last segment is refused: the log is shorter than what was acknowledged', async () => {
    const { dir, partitionDir } = await writtenLog(12, 300)
    const segments = segmentsOf(partitionDir)
    assert.ok(segments.length > 2, `${segments.length} segments`)
    rmSync(join(partitionDir, segments.at(-1)!))
    assertRefused(await reopen(dir), 'last segment deleted', /ends at offset \d+, but appends up to offset 36 were acknowledged/)
  })

  void test('a missing segment between two present ones is refused, naming the offsets it held', async () => {
    const { dir, partitionDir } = await writtenLog(12, 300)
    const segments = segmentsOf(partitionDir)
    assert.ok(segments.length > 3, `${segments.length} segments`)
    for (let i = 1; i < segments.length - 1; i++) {
      const path = join(partitionDir, segments[i]!)
      const original = readFileSync(path)
      rmSync(path)
      const from = Number(segments[i]!.slice(0, 20))
      const next = join(partitionDir, segments[i + 1]!)
      assertRefused(await reopen(dir), `segment ${i} of ${segments.length} deleted`, new RegExp(`segment ${next} starts at offset ${Number(segments[i + 1]!.slice(0, 20))}, but the segments before it end at offset ${from}: a segment is missing`))
      writeFileSync(path, original)
    }
    assert.equal(await reopen(dir), '36')
  })

  void test('a byte flipped or a segment cut while the log is open: a reading consumer fails with DATA_CORRUPT naming the segment and byte, never skips, never rejects unhandled', async () => {
    const damages: [string, (b: Buffer) => Buffer][] = []
    for (let at = 0; at < 6 * 68; at += 17) damages.push([`byte ${at} flipped`, (b) => ((b[at]! ^= 0x01), b)])
    for (const size of [0, 7, 60, 100]) damages.push([`cut to ${size} bytes`, (b) => b.subarray(0, size)])
    for (const [how, damage] of damages) {
      for (const withOnCrash of [true, false]) {
        const { dir, partitionDir } = await writtenLog(2) // 6 records of 68 bytes
        const segment = join(partitionDir, segmentsOf(partitionDir)[0]!)
        const errors: unknown[] = []
        const error: LogFn = (a: object | string) => void (typeof a === 'object' && 'err' in a && errors.push(a.err))
        const logger: Logger = { ...silentLogger, error, child: () => logger }
        const log = new EmbeddedEventLog({ dir, pollIntervalMs: 5, retryBackoffMs: 5, logger })
        await log.endOffsets('t') // opened (indexed) before the damage
        writeFileSync(segment, damage(readFileSync(segment)))
        const seen: string[] = []
        const consumer = log.consumer({ groupId: `g-${String(withOnCrash)}`, topics: ['t'], ...(withOnCrash ? { onCrash: (err: unknown) => void errors.push(err) } : {}) })
        await consumer.run({ eachBatch: async (b) => void seen.push(...b.records.map((r) => r.offset)) })
        await eventually(() => errors.length > 0, `${how}: a failure reported`)
        await log.close()
        const failure = errors[0]
        const what = `${how}, onCrash ${String(withOnCrash)}`
        assert.ok(failure instanceof FeatureStoreError, `${what}: ${String(failure)}`)
        assert.equal(failure.code, 'DATA_CORRUPT', `${what}: ${failure.message}`)
        assert.match(failure.message, new RegExp(`segment ${segment} is damaged at byte \\d+`), what)
        assert.deepEqual(seen, [], `${what}: records delivered from a damaged read`)
      }
    }
  })

  void test('a torn write past the acknowledged end is still cut, and appends go on after it', async () => {
    const { dir, partitionDir } = await writtenLog(3)
    const segment = join(partitionDir, segmentsOf(partitionDir)[0]!)
    const goodSize = statSync(segment).size
    // Part of a fourth batch that never returned: a whole record copied from the start (its offset
    // is wrong for the end, as any torn bytes may be) and a length prefix promising more.
    appendFileSync(segment, readFileSync(segment).subarray(0, 40))
    appendFileSync(segment, Buffer.from([0, 0, 0, 90, 1, 2, 3]))
    const log = new EmbeddedEventLog({ dir })
    assert.deepEqual(await log.endOffsets('t'), ['9'])
    assert.equal(statSync(segment).size, goodSize)
    assert.deepEqual(await log.produce('t', [{ key: null, value: Buffer.from('after') }]), [{ partition: 0, offset: '9' }])
    await log.close()
    assert.equal(await reopen(dir), '10')
  })

  void test('an acknowledged-end file that does not read (torn, or from elsewhere) claims nothing: a torn tail is cut as before', async () => {
    const { dir, partitionDir } = await writtenLog(2)
    const marker = join(partitionDir, 'acked-end')
    writeFileSync(marker, Buffer.from([0, 0, 0, 0, 0, 0, 0, 99, 1, 2, 3, 4])) // offset 99, a CRC that does not match
    appendFileSync(join(partitionDir, segmentsOf(partitionDir)[0]!), Buffer.from([0, 0, 0, 90, 1]))
    assert.equal(await reopen(dir), '6')
  })

  void test('an acknowledged-end file of any content: a torn tail is cut unless it claims more than the segments hold, which is refused', async () => {
    const marker = (offset: bigint, extra = Buffer.alloc(0)) => {
      const buf = Buffer.alloc(12)
      buf.writeBigInt64BE(offset, 0)
      buf.writeUInt32BE(crc32(buf, 0, 8), 8)
      return Buffer.concat([buf, extra])
    }
    const cases: [string, Buffer | undefined, string | RegExp][] = [
      ['missing', undefined, '6'],
      ['empty', Buffer.alloc(0), '6'],
      ['cut to 11 bytes', marker(6n).subarray(0, 11), '6'],
      ['a CRC that does not match', Buffer.from([0, 0, 0, 0, 0, 0, 0, 6, 0, 0, 0, 0]), '6'],
      ['the right end', marker(6n), '6'],
      ['an older end (a machine crash before it was written)', marker(3n), '6'],
      ['a negative end', marker(-1n), '6'],
      ['the right end and bytes after it', marker(6n, Buffer.from('junk')), '6'],
      ['one record more than the segments hold', marker(7n), /damaged at byte 408 \(the record at offset 6; appends up to offset 7 were acknowledged\)/],
      ['an end past 2^53', marker(2n ** 62n), /appends up to offset \d{19} were acknowledged/],
    ]
    for (const [what, content, expected] of cases) {
      const { dir, partitionDir } = await writtenLog(2)
      const file = join(partitionDir, 'acked-end')
      if (content === undefined) rmSync(file)
      else writeFileSync(file, content)
      appendFileSync(join(partitionDir, segmentsOf(partitionDir)[0]!), Buffer.from([0, 0, 0, 90, 1, 2])) // a torn tail
      const result = await reopen(dir)
      if (typeof expected === 'string') assert.equal(result, expected, what)
      else assertRefused(result, what, expected)
    }
  })
})
