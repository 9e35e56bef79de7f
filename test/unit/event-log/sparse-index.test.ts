/**
 * The embedded log's sparse segment indexes (adapters/event-log/embedded/sparse-index.ts): opening
 * reads them and scans only the bytes past their last entry, and an index file is a hint never
 * trusted over the data — torn at any byte, missing, stale, pointing past the data, damaged,
 * another segment's, or wrong with good CRCs, a reopen reads exactly the records written, and the
 * file is rebuilt as appends would have written it.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import {
  appendFileSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FeatureStoreError } from '../../../core/errors.ts'
import { PartitionLog } from '../../../adapters/event-log/embedded/partition-log.ts'
import { crc32, decodeRecord } from '../../../adapters/event-log/embedded/record-format.ts'
import { prng } from '../../../examples/generate-events.ts'

const SEGMENT_BYTES = 30_000
const open = (dir: string) => PartitionLog.open(dir, { segmentBytes: SEGMENT_BYTES, fsync: false })
const tempDir = () => mkdtempSync(join(tmpdir(), 'kfs-sparse-index-'))

/** Appends `count` records of 20–300 value bytes drawn from `rand`; returns their values. */
function appendRecords(log: PartitionLog, count: number, rand: () => number, tag: string): string[] {
  const values = Array.from({ length: count }, (_, i) =>
    `${tag}-${log.endOffset + i}-`.padEnd(20 + Math.floor(rand() * 280), 'x'),
  )
  const batch = Math.max(1, Math.floor(rand() * 40))
  for (let i = 0; i < values.length; i += batch)
    log.append(values.slice(i, i + batch).map((v) => ({ timestampMs: 1, key: null, value: Buffer.from(v), headers: {} })))
  return values
}

/** Every record read back: in batches of a few records and bytes from 0, then one at each of some offsets in random order. */
function assertReads(
  log: PartitionLog,
  expected: readonly string[],
  what: string,
  rand: () => number,
  everyOffset = false,
): void {
  assert.equal(log.endOffset, expected.length, `${what}: end offset`)
  const seen: string[] = []
  for (
    let batch = log.read(0, 7, 2000);
    batch.length > 0;
    batch = log.read(seen.length, 1 + Math.floor(rand() * 60), 500 + Math.floor(rand() * 20_000))
  ) {
    batch.forEach((r, i) => assert.equal(r.offset, seen.length + i, what))
    seen.push(...batch.map((r) => Buffer.from(r.value!).toString()))
  }
  assert.deepEqual(seen, expected, `${what}: records read in order`)
  for (let n = 0; n < (everyOffset ? expected.length : 20) && expected.length > 0; n++) {
    const at = everyOffset ? n : Math.floor(rand() * expected.length)
    assert.equal(Buffer.from(log.read(at, 1, 1)[0]!.value!).toString(), expected[at], `${what}: record ${at} read alone`)
  }
}

const indexFiles = (dir: string) =>
  readdirSync(dir)
    .filter((n) => n.endsWith('.index'))
    .sort()
const filesOf = (dir: string, names: readonly string[]) => new Map(names.map((n) => [n, readFileSync(join(dir, n))]))

/** A closed log of several segments, each with several index entries; its records and its index files. */
function writtenLog(seed: number): { dir: string; expected: string[]; indexes: Map<string, Buffer> } {
  const dir = tempDir()
  const log = open(dir)
  const expected = appendRecords(log, 900, prng(seed), 'a')
  log.close()
  return { dir, expected, indexes: filesOf(dir, indexFiles(dir)) }
}

/** Reopens `dir`: its records are exactly `expected`, and its index files are again `indexes` (what appends wrote). */
function assertReopens(
  dir: string,
  expected: readonly string[],
  indexes: Map<string, Buffer>,
  what: string,
  seed: number,
  everyOffset = false,
): void {
  const log = open(dir)
  try {
    assertReads(log, expected, what, prng(seed), everyOffset)
  } finally {
    log.close()
  }
  assert.deepEqual(filesOf(dir, indexFiles(dir)), indexes, `${what}: index files rebuilt as appends wrote them`)
}

function entry(relative: number, position: number): Buffer {
  const buf = Buffer.alloc(16)
  buf.writeUInt32BE(relative, 0)
  buf.writeUInt32BE(Math.floor(position / 2 ** 32), 4)
  buf.writeUInt32BE(position % 2 ** 32, 8)
  buf.writeUInt32BE(crc32(buf, 0, 12), 12)
  return buf
}

void describe('event log > embedded > sparse segment index', () => {
  void test('every segment has an index file of one entry per 4 KiB, and a reopen trusts it: only the bytes past its last entry are scanned', () => {
    const { dir, expected, indexes } = writtenLog(1)
    const segments = readdirSync(dir)
      .filter((n) => n.endsWith('.log'))
      .sort()
    assert.ok(segments.length >= 4, `${segments.length} segments`)
    assert.deepEqual(
      [...indexes.keys()],
      segments.map((n) => n.replace('.log', '.index')),
    )
    let entries = 0
    for (const [name, buf] of indexes) {
      const data = readFileSync(join(dir, name.replace('.index', '.log')))
      const base = Number(name.slice(0, 20))
      const positions: number[] = []
      for (let at = 8; at < buf.length; at += 16) {
        const position = buf.readUInt32BE(at + 8)
        const decoded = decodeRecord(data, position)
        assert.ok(
          typeof decoded !== 'string' && decoded.record.offset === base + buf.readUInt32BE(at),
          `${name}: entry ${(at - 8) / 16} names the record at its position`,
        )
        positions.push(position)
      }
      // The first record, then the first at least 4 KiB past the last entry (records are at most ~340 bytes).
      assert.equal(positions[0], 0, name)
      for (let i = 1; i < positions.length; i++)
        assert.ok(
          positions[i]! - positions[i - 1]! >= 4096 && positions[i]! - positions[i - 1]! < 4096 + 340,
          `${name}: entry ${i}`,
        )
      assert.ok(data.length - positions.at(-1)! < 4096 + 340, `${name}: its last entry`)
      entries += positions.length
    }
    assert.ok(entries * 20 < expected.length, `${entries} entries for ${expected.length} records`)
    // Zeros over the first segment's indexed records but its first and last entries' own: a scan of every record would refuse it on open.
    const first = join(dir, segments[0]!)
    const data = readFileSync(first)
    const index = indexes.get(segments[0]!.replace('.log', '.index'))!
    const secondEntry = index.readUInt32BE(8 + 16 + 8)
    data.fill(0, secondEntry, secondEntry + 100)
    writeFileSync(first, data)
    const log = open(dir)
    try {
      assert.equal(log.endOffset, expected.length, 'opened without reading the damaged records')
      const relative = index.readUInt32BE(8 + 16)
      assert.equal(log.read(0, relative, 1 << 20).length, relative, 'the records before the damage read')
      assert.throws(
        () => log.read(relative, 5, 1 << 20),
        (err: unknown) =>
          err instanceof FeatureStoreError &&
          err.code === 'DATA_CORRUPT' &&
          err.message.includes(`${first} is damaged at byte ${secondEntry}`),
      )
    } finally {
      log.close()
    }
  })

  void test("an index torn at every byte, missing, damaged at any byte, another segment's, or wrong under good CRCs: the reopen reads exactly what was written", () => {
    const { dir, expected, indexes } = writtenLog(2)
    const names = [...indexes.keys()]
    // Wrong entries under good CRCs are found by the read that uses them: those cases read every offset alone.
    const cases: [string, () => void, boolean?][] = []
    for (const name of [names[0]!, names.at(-1)!]) {
      const original = indexes.get(name)!
      for (let size = name === names[0] ? 8 : 0; size < original.length; size += name === names[0] ? 16 : 1)
        cases.push([`${name} torn at byte ${size}`, () => writeFileSync(join(dir, name), original.subarray(0, size))])
      for (let at = 0; at < original.length; at += 5)
        cases.push([
          `${name} byte ${at} flipped`,
          () => writeFileSync(join(dir, name), Buffer.from(original).fill(original[at]! ^ 0x40, at, at + 1)),
        ])
      // Good CRCs, wrong claims: each entry after the first names the record after its own, or the bytes after its own.
      for (let e = 1; (e + 1) * 16 + 8 <= original.length; e++) {
        const relative = original.readUInt32BE(8 + 16 * e)
        const position = original.readUInt32BE(8 + 16 * e + 8)
        const wrong = (r: number, p: number) =>
          Buffer.concat([original.subarray(0, 8 + 16 * e), entry(r, p), original.subarray(8 + 16 * (e + 1))])
        cases.push([
          `${name} entry ${e} names the next record`,
          () => writeFileSync(join(dir, name), wrong(relative + 1, position)),
          true,
        ])
        cases.push([
          `${name} entry ${e} points 8 bytes on`,
          () => writeFileSync(join(dir, name), wrong(relative, position + 8)),
          true,
        ])
      }
    }
    cases.push(['every index missing', () => names.forEach((n) => rmSync(join(dir, n)))])
    cases.push(['the first index over the second', () => writeFileSync(join(dir, names[1]!), indexes.get(names[0]!)!)])
    cases.push(['the second index over the first', () => writeFileSync(join(dir, names[0]!), indexes.get(names[1]!)!)])
    cases.push([
      'an index of entries past its segment',
      () => writeFileSync(join(dir, names[0]!), Buffer.concat([indexes.get(names[0]!)!, entry(100_000, 10_000_000)])),
    ])
    for (const [what, damage, everyOffset] of cases) {
      damage()
      try {
        assertReopens(dir, expected, indexes, what, 3, everyOffset)
      } finally {
        for (const [n, buf] of indexes) writeFileSync(join(dir, n), buf)
      }
    }
    // A directory where an index belongs: the log opens and reads without writing that index.
    for (const name of [names[0]!, names.at(-1)!]) {
      rmSync(join(dir, name))
      mkdirSync(join(dir, name))
      const log = open(dir)
      assertReads(log, expected, `${name} a directory`, prng(8))
      expected.push(...appendRecords(log, 1, prng(9), 'd'))
      log.close()
      rmSync(join(dir, name), { recursive: true })
      writeFileSync(join(dir, name), indexes.get(name)!)
    }
  })

  void test('an index older than the data, or newer (pointing past it): the reopen reads exactly the data, and appends after it read back', () => {
    const rand = prng(4)
    const dir = tempDir()
    let log = open(dir)
    const older = appendRecords(log, 400, rand, 'a')
    log.close()
    const before = tempDir()
    cpSync(dir, before, { recursive: true })
    log = open(dir)
    const newer = [...older, ...appendRecords(log, 500, rand, 'b')]
    log.close()
    const after = filesOf(dir, indexFiles(dir))
    assert.ok(after.size >= 4, `${after.size} index files`)
    // Stale: the data of 900 records under the indexes of the first 400.
    for (const n of indexFiles(dir)) rmSync(join(dir, n))
    for (const n of indexFiles(before)) writeFileSync(join(dir, n), readFileSync(join(before, n)))
    assertReopens(dir, newer, after, 'indexes older than the data', 5)
    // Pointing past the data: the 400 records' segments (a machine crash lost the rest) under the indexes of 900.
    for (const n of indexFiles(before)) rmSync(join(before, n))
    for (const [n, buf] of after) writeFileSync(join(before, n), buf)
    log = open(before)
    assertReads(log, older, 'indexes newer than the data', prng(6))
    const others = [...older, ...appendRecords(log, 500, rand, 'c')]
    log.close()
    log = open(before)
    assertReads(log, others, 'appended after indexes newer than the data', prng(7))
    log.close()
  })

  void test('random appends, reopens, torn tails and damaged indexes against a reference list', () => {
    for (const seed of [11, 12, 13]) {
      const rand = prng(seed)
      const dir = tempDir()
      const expected: string[] = []
      let log = open(dir)
      let snapshot = new Map<string, Buffer>()
      try {
        for (let step = 0; step < 40; step++) {
          const what = `seed ${seed}, step ${step}`
          const roll = rand()
          if (roll < 0.45) expected.push(...appendRecords(log, 1 + Math.floor(rand() * 150), rand, `s${step}`))
          else {
            log.close()
            const names = indexFiles(dir)
            const name = names[Math.floor(rand() * names.length)]
            const how = Math.floor(rand() * 6)
            if (name !== undefined && how === 0)
              truncateSync(join(dir, name), Math.floor(rand() * readFileSync(join(dir, name)).length))
            if (name !== undefined && how === 1) {
              const buf = readFileSync(join(dir, name))
              if (buf.length > 0) buf[Math.floor(rand() * buf.length)]! ^= 1 + Math.floor(rand() * 255)
              writeFileSync(join(dir, name), buf)
            }
            if (name !== undefined && how === 2) rmSync(join(dir, name))
            if (how === 3) for (const [n, buf] of snapshot) writeFileSync(join(dir, n), buf)
            if (how === 4) {
              // A torn append: part of a record past the acknowledged end of the last segment.
              const last = readdirSync(dir)
                .filter((n) => n.endsWith('.log'))
                .sort()
                .at(-1)!
              appendFileSync(join(dir, last), Buffer.from([0, 0, 1, 0, 9, 9, 9].slice(0, 1 + Math.floor(rand() * 7))))
            }
            if (how === 5) snapshot = filesOf(dir, indexFiles(dir))
            log = open(dir)
            assertReads(log, expected, what, rand)
            const segments = readdirSync(dir).filter((n) => n.endsWith('.log'))
            assert.deepEqual(
              indexFiles(dir),
              segments.map((n) => n.replace('.log', '.index')).sort(),
              `${what}: every segment indexed again`,
            )
          }
        }
      } finally {
        log.close()
      }
    }
  })
})
