/**
 * Compaction of the embedded log's compacted topics (adapters/event-log/embedded/compaction.ts;
 * TopicOptions.compactAfterMs): random appends, clock steps, passes and reopens against a
 * reference of every record written — offsets never change, a key's latest record and every
 * record younger than the lag stay, a read from a removed offset starts at the next record kept,
 * and a pass run late leaves in the sealed segments only each key's latest and each segment's last.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FeatureStoreError } from '../../../core/errors.ts'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/embedded-event-log.ts'
import { EmbeddedLogReader } from '../../../adapters/event-log/embedded/embedded-log-reader.ts'
import { TOMBSTONE_RETENTION_MS } from '../../../adapters/event-log/embedded/compaction.ts'
import { CompactionQueue } from '../../../adapters/event-log/embedded/compaction-schedule.ts'
import { PartitionLog } from '../../../adapters/event-log/embedded/partition-log.ts'
import { prng } from '../../../examples/generate-events.ts'
import { readPartitionLog } from '../../support/read-partition-log.ts'
import { eventually } from '../../contracts/event-log.ts'

const AFTER_MS = 1000

interface Written {
  readonly offset: number
  readonly key: string | null
  readonly value: string | null
  readonly timestampMs: number
}

const segmentBases = (dir: string) =>
  readdirSync(dir)
    .filter((n) => n.endsWith('.log'))
    .sort()
    .map((n) => Number(n.slice(0, 20)))

const readAll = (log: PartitionLog) => readPartitionLog(log, 7, 400)

/** What the log holds against what was written, at time `now`; `late`: a pass ran at `now`, so nothing removable is left. */
function assertHolds(
  log: PartitionLog,
  dir: string,
  written: readonly Written[],
  now: number,
  what: string,
  late: boolean,
): void {
  assert.equal(log.endOffset, written.length, `${what}: end offset`)
  const held = readAll(log)
  const latest = new Map<string, number>()
  for (const w of written) if (w.key !== null) latest.set(w.key, w.offset)
  const bases = segmentBases(dir)
  const active = bases.at(-1)!
  const isSegmentLast = (offset: number) => bases.includes(offset + 1)
  const heldOffsets = new Set(held.map((r) => r.offset))
  for (let i = 0; i < held.length; i++) {
    const r = held[i]!
    const w = written[r.offset]!
    assert.ok(i === 0 || r.offset > held[i - 1]!.offset, `${what}: offsets increase`)
    assert.deepEqual(
      [
        r.key === null ? null : Buffer.from(r.key).toString(),
        r.value === null ? null : Buffer.from(r.value).toString(),
        r.timestampMs,
      ],
      [w.key, w.value, w.timestampMs],
      `${what}: record ${r.offset} as written`,
    )
  }
  for (const w of written) {
    const mustStay =
      w.key === null ||
      latest.get(w.key) === w.offset ||
      now - w.timestampMs < AFTER_MS ||
      w.offset >= active ||
      isSegmentLast(w.offset)
    if (mustStay) assert.ok(heldOffsets.has(w.offset), `${what}: record ${w.offset} (key ${w.key}) removed`)
    else if (late)
      assert.ok(
        !heldOffsets.has(w.offset),
        `${what}: record ${w.offset} (key ${w.key}, superseded, ${now - w.timestampMs} ms old) left by a pass run now`,
      )
  }
  // A read from any offset starts at the first record held at or after it.
  for (let at = 0; at < written.length; at += 3) {
    const next = held.find((r) => r.offset >= at)!
    assert.equal(log.read(at, 1, 1)[0]!.offset, next.offset, `${what}: a read from ${at}`)
  }
}

void describe('event log > embedded > compaction (compactAfterMs)', () => {
  void test('random appends, clock steps, passes and reopens against the reference: offsets kept, latest and young records kept, the rest removed', () => {
    for (const seed of [21, 22, 23]) {
      const rand = prng(seed)
      const dir = mkdtempSync(join(tmpdir(), 'kfs-compaction-'))
      let now = 1_000_000
      const options = { segmentBytes: 700, fsync: false, compaction: { afterMs: AFTER_MS, nowMs: () => now } }
      let log = PartitionLog.open(dir, options)
      const written: Written[] = []
      try {
        for (let step = 0; step < 60; step++) {
          const what = `seed ${seed}, step ${step}`
          const roll = rand()
          if (roll < 0.6) {
            const records = Array.from({ length: 1 + Math.floor(rand() * 6) }, () => {
              const k = Math.floor(rand() * 9)
              const key = k === 8 ? null : `k${k}`
              const value = rand() < 0.1 ? null : `v${written.length}-${'x'.repeat(Math.floor(rand() * 30))}`
              return { key, value, timestampMs: now - Math.floor(rand() * 200) }
            })
            const base = log.append(
              records.map((r) => ({
                timestampMs: r.timestampMs,
                key: r.key === null ? null : Buffer.from(r.key),
                value: r.value === null ? null : Buffer.from(r.value),
                headers: {},
              })),
            )
            records.forEach((r, i) => written.push({ offset: base + i, ...r }))
          } else if (roll < 0.8) now += Math.floor(rand() * 600)
          else if (roll < 0.9) {
            log.close()
            log = PartitionLog.open(dir, options)
          } else if (roll < 0.95) {
            log.compact()
            assertHolds(log, dir, written, now, `${what}, a pass now`, true)
            continue
          } else {
            // A crash mid-pass leaves a copy beside a segment, or a segment without its index.
            const bases = segmentBases(dir)
            const name = `${String(bases[Math.floor(rand() * bases.length)]).padStart(20, '0')}`
            log.close()
            if (rand() < 0.5) writeFileSync(join(dir, `${name}.log.compacting`), 'half a copy')
            else rmSync(join(dir, `${name}.index`), { force: true })
            log = PartitionLog.open(dir, options)
            assert.ok(!readdirSync(dir).some((n) => n.endsWith('.compacting')), `${what}: a copy left`)
          }
          assertHolds(log, dir, written, now, what, false)
        }
        now += AFTER_MS
        log.compact()
        assertHolds(log, dir, written, now, `seed ${seed}, a pass at the end`, true)
        assert.ok(readAll(log).length < written.length, `seed ${seed}: nothing removed`)
        log.close()
        log = PartitionLog.open(dir, options)
        assertHolds(log, dir, written, now, `seed ${seed}, reopened after the last pass`, true)
      } finally {
        log.close()
      }
    }
  })

  void test("a tombstone stays its key's latest record for a day past the lag, then goes", () => {
    const dir = mkdtempSync(join(tmpdir(), 'kfs-compaction-'))
    let now = 5_000_000
    const log = PartitionLog.open(dir, { segmentBytes: 1, fsync: false, compaction: { afterMs: AFTER_MS, nowMs: () => now } })
    try {
      const put = (key: string, value: string | null) =>
        log.append([{ timestampMs: now, key: Buffer.from(key), value: value === null ? null : Buffer.from(value), headers: {} }])
      put('a', 'one')
      put('a', null)
      put('b', 'x')
      put('b', 'y') // each append its own segment (of 1 byte at most)
      const keys = () =>
        readAll(log).map(
          (r) => `${r.offset}:${Buffer.from(r.key!).toString()}=${r.value === null ? 'null' : Buffer.from(r.value).toString()}`,
        )
      now += AFTER_MS
      log.compact()
      assert.deepEqual(keys(), ['0:a=one', '1:a=null', '2:b=x', '3:b=y'], "each record is its segment's last: all stay")
    } finally {
      log.close()
    }
    const many = mkdtempSync(join(tmpdir(), 'kfs-compaction-'))
    now = 5_000_000
    const big = PartitionLog.open(many, {
      segmentBytes: 10_000,
      fsync: false,
      compaction: { afterMs: AFTER_MS, nowMs: () => now },
    })
    try {
      const record = (key: string, value: string | null) => ({
        timestampMs: now,
        key: Buffer.from(key),
        value: value === null ? null : Buffer.from(value),
        headers: {},
      })
      big.append([record('a', 'one'), record('a', null), record('b', 'x'), record('z', 'last')])
      big.append([record('pad', 'p'.repeat(10_000))]) // rolls: the first segment is sealed
      big.append([record('c', 'active')])
      const held = () => readAll(big).map((r) => r.offset)
      now += AFTER_MS
      big.compact()
      assert.deepEqual(held(), [1, 2, 3, 4, 5], 'the superseded value goes, the tombstone stays')
      now += TOMBSTONE_RETENTION_MS - 1
      big.compact()
      assert.deepEqual(held(), [1, 2, 3, 4, 5], 'a day less a ms: the tombstone stays')
      now += 1
      big.compact()
      assert.deepEqual(held(), [2, 3, 4, 5], 'a day past the lag: the tombstone goes')
    } finally {
      big.close()
    }
  })

  void test('EmbeddedEventLog: a topic created with compactAfterMs keeps it (topic.json), compacts as segments roll, and a consumer in a removed range reads on from the next record kept', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kfs-compaction-'))
    let now = 10_000_000
    const clock = { nowMs: () => now, sleep: (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)) }
    let log = new EmbeddedEventLog({ dir, clock, segmentBytes: 600, pollIntervalMs: 5 })
    await log.createTopic('table', 1, { compactAfterMs: 60_000 })
    await log.createTopic('plain', 1)
    await assert.rejects(
      log.createTopic('bad', 1, { compactAfterMs: Number.NaN }),
      (err: unknown) => err instanceof FeatureStoreError && err.code === 'BAD_REQUEST',
    )
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'topics', 'table', 'topic.json'), 'utf8')), {
      partitions: 1,
      topic: 'table',
      compactAfterMs: 60_000,
    })
    for (let round = 0; round < 30; round++) {
      for (const topic of ['table', 'plain'])
        await log.produce(
          topic,
          [0, 1, 2].map((k) => ({ key: `row-${k}`, value: Buffer.from(`round ${round} ${'.'.repeat(40)}`) })),
        )
      now += 10_000
    }
    await log.close()
    log = new EmbeddedEventLog({ dir, clock, segmentBytes: 600, pollIntervalMs: 5 })
    // The records of the first rounds are more than the lag old now: the passes queued by the next rolls remove them.
    for (let round = 30; round < 40; round++)
      for (const topic of ['table', 'plain'])
        await log.produce(
          topic,
          [0, 1, 2].map((k) => ({ key: `row-${k}`, value: Buffer.from(`round ${round} ${'.'.repeat(40)}`) })),
        )
    await log.compactionsSettled()
    const offsets = async (topic: string, from: string) => {
      const seen: string[] = []
      const first: string[] = []
      const consumer = log.consumer({ groupId: `g-${topic}-${from}`, topics: [topic] })
      consumer.seek({ topic, partition: 0, offset: from })
      await consumer.run({
        eachBatch: async (b) => {
          if (seen.length === 0) first.push(b.span?.from ?? b.records[0]!.offset)
          seen.push(...b.records.map((r) => r.offset))
        },
      })
      await eventually(() => seen.at(-1) === '119', `${topic} read to its end`)
      await consumer.stop()
      return { seen, from: first[0] }
    }
    const plain = await offsets('plain', '0')
    assert.deepEqual(
      plain.seen,
      Array.from({ length: 120 }, (_, i) => String(i)),
      'a topic without compactAfterMs keeps every record',
    )
    const table = await offsets('table', '0')
    assert.ok(table.seen.length < 60, `${table.seen.length} of 120 records left in the compacted topic`)
    assert.deepEqual(await log.endOffsets('table'), ['120'])
    assert.deepEqual(await log.startOffsets('table'), ['0'])
    const removed = Array.from({ length: 120 }, (_, i) => String(i)).find((o) => !table.seen.includes(o))!
    const fromRemoved = await offsets('table', removed)
    assert.equal(fromRemoved.from, removed, 'the batch says where its read started')
    assert.deepEqual(
      fromRemoved.seen,
      table.seen.filter((o) => Number(o) > Number(removed)),
      `a consumer at removed offset ${removed} reads on from the next record kept`,
    )
    // Another process reading beside the writer (kfs serve) reads the compacted segments the same.
    const reader = new EmbeddedLogReader({ dir, pollIntervalMs: 5 })
    const besideSeen: string[] = []
    const beside = reader.consumer({ groupId: 'beside', topics: ['table'] })
    await beside.run({ eachBatch: async (b) => void besideSeen.push(...b.records.map((r) => r.offset)) })
    await eventually(() => besideSeen.at(-1) === '119', 'the reader read to the end')
    await reader.close()
    assert.deepEqual(besideSeen, table.seen)
    await log.close()
  })

  void test('a compacted segment cut short anywhere is refused on reopen, never read as a shorter segment', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kfs-compaction-'))
    let now = 1_000_000
    const options = { segmentBytes: 400, fsync: false, compaction: { afterMs: AFTER_MS, nowMs: () => now } }
    const log = PartitionLog.open(dir, options)
    for (let i = 0; i < 60; i++)
      log.append([
        { timestampMs: now, key: Buffer.from(`k${i % 3}`), value: Buffer.from(`value ${i}`.padEnd(30, '.')), headers: {} },
      ])
    now += AFTER_MS
    assert.ok(log.compact() > 0, 'a pass removed records')
    log.close()
    const first = join(
      dir,
      readdirSync(dir)
        .filter((n) => n.endsWith('.log'))
        .sort()[0]!,
    )
    const original = readFileSync(first)
    for (let size = 0; size < original.length; size += 5) {
      writeFileSync(first, original.subarray(0, size))
      assert.throws(
        () => PartitionLog.open(dir, options).close(),
        (err: unknown) => err instanceof FeatureStoreError && err.code === 'DATA_CORRUPT',
        `cut to ${size} of ${original.length}`,
      )
    }
    writeFileSync(first, original)
    const reopened = PartitionLog.open(dir, options)
    assert.equal(reopened.endOffset, 60)
    reopened.close()
  })
})

void describe('event log > embedded > compaction of a damaged segment', () => {
  void test('a pass meeting a byte flipped anywhere in a sealed segment rewrites nothing: the damage stays for a read to name, never copied or dropped as records', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kfs-compaction-'))
    let now = 1_000_000
    const options = { segmentBytes: 12_000, fsync: false, compaction: { afterMs: AFTER_MS, nowMs: () => now } }
    const log = PartitionLog.open(dir, options)
    for (let i = 0; i < 400; i++)
      log.append([
        { timestampMs: now, key: Buffer.from(`k${i % 2}`), value: Buffer.from(`value ${i}`.padEnd(30, '.')), headers: {} },
      ])
    log.close()
    now += AFTER_MS
    const first = join(
      dir,
      readdirSync(dir)
        .filter((n) => n.endsWith('.log'))
        .sort()[0]!,
    )
    const original = readFileSync(first)
    const index = readFileSync(first.replace('.log', '.index'))
    // Up to the index's last entry: what an open does not scan (./sparse-index.test.ts), so the pass is the first to meet it.
    const scannedFrom = index.readUInt32BE(index.length - 8)
    assert.ok(scannedFrom > 8000, `the last entry at ${scannedFrom}`)
    for (let at = 0; at < scannedFrom; at += 97) {
      const damaged = Buffer.from(original)
      damaged[at]! ^= 0x10
      writeFileSync(first, damaged)
      const reopened = PartitionLog.open(dir, options) // the first segment's damage is past its index's first entry: not scanned on open
      try {
        assert.equal(reopened.compact(), 0, `flip at ${at}: records removed`)
        assert.deepEqual(readFileSync(first), damaged, `flip at ${at}: the segment rewritten`)
      } finally {
        reopened.close()
      }
    }
  })
})

void describe('event log > embedded > compaction across reopens', () => {
  void test('the bytes a pass left are kept: a reopened partition waits for its sealed bytes to double again; without that record (missing, unreadable) its first roll runs a pass', async () => {
    for (const hint of ['kept', 'missing', 'garbage', 'a directory'] as const) {
      const dir = mkdtempSync(join(tmpdir(), 'kfs-compaction-'))
      let now = 1_000_000
      const compactionQueue = new CompactionQueue()
      const options = { segmentBytes: 300, fsync: false, compaction: { afterMs: AFTER_MS, nowMs: () => now }, compactionQueue }
      let log = PartitionLog.open(dir, options)
      const put = (key: string, i: number) =>
        log.append([{ timestampMs: now, key: Buffer.from(key), value: Buffer.from(`value ${i}`.padEnd(30, '.')), headers: {} }])
      // Keys of their own: a pass keeps ~2.7 KB of sealed segments.
      for (let i = 0; i < 40; i++) put(`u${i}`, i)
      await compactionQueue.settled()
      log.compact()
      for (let i = 40; i < 44; i++) put('dup', i) // superseded by the next ones, and old enough once the clock moves
      log.close()
      const file = join(dir, 'compacted')
      if (hint === 'missing') rmSync(file)
      if (hint === 'garbage') writeFileSync(file, '{"cleanBytes":')
      if (hint === 'a directory') {
        rmSync(file)
        mkdirSync(file)
      }
      log = PartitionLog.open(dir, options)
      now += AFTER_MS
      const before = readAll(log).length
      const segments = segmentBases(dir).length
      for (let i = 44; i < 52; i++) put('dup', i) // two rolls: ~600 more sealed bytes, far from doubling 2.7 KB
      await compactionQueue.settled()
      const rolled = segmentBases(dir).length - segments
      const held = readAll(log).length
      log.close()
      assert.ok(rolled >= 1, `${hint}: ${rolled} rolls`)
      if (hint === 'kept') assert.equal(held, before + 8, `${hint}: no pass at the rolls after the reopen`)
      else assert.ok(held < before + 8, `${hint}: a pass ran (${held} records held of ${before + 8})`)
    }
  })
})
