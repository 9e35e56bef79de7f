/**
 * When and how compaction passes run (adapters/event-log/embedded/compaction-schedule.ts): never
 * inside the append that seals a segment, but queued after it, a segment per step with appends,
 * reads and closes (a crash) between steps, against a reference of every record written; a key
 * map bounded by `maxKeys` that removes less per pass, never a record it should keep, and whose
 * passes take turns over the whole partition; and a topic stored before its compaction setting
 * was kept, which takes it when declared with one.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/embedded-event-log.ts'
import { CompactionQueue } from '../../../adapters/event-log/embedded/compaction-schedule.ts'
import { PartitionLog, type PartitionLogOptions } from '../../../adapters/event-log/embedded/partition-log.ts'
import { encodeRecords } from '../../../adapters/event-log/embedded/record-format.ts'
import { SegmentHandles } from '../../../adapters/event-log/embedded/segment-handles.ts'
import type { Logger } from '../../../core/logger.ts'
import { prng } from '../../../examples/generate-events.ts'
import { readPartitionLog } from '../../support/read-partition-log.ts'

const AFTER_MS = 1000

interface Written {
  readonly offset: number
  readonly key: string | null
  readonly value: string
  readonly timestampMs: number
}

const segmentNames = (dir: string) =>
  readdirSync(dir)
    .filter((n) => n.endsWith('.log'))
    .sort()

const readAll = (log: PartitionLog) => readPartitionLog(log, 5, 300)

/** Every record held reads as written; every record no pass may remove is held; `late`: nothing removable is left. */
function assertHolds(
  log: PartitionLog,
  dir: string,
  written: readonly Written[],
  now: number,
  what: string,
  late = false,
): number {
  assert.equal(log.endOffset, written.length, `${what}: end offset`)
  const held = readAll(log)
  for (const r of held) {
    const w = written[r.offset]!
    assert.deepEqual(
      [r.key === null ? null : Buffer.from(r.key).toString(), Buffer.from(r.value!).toString(), r.timestampMs],
      [w.key, w.value, w.timestampMs],
      `${what}: record ${r.offset} as written`,
    )
  }
  const latest = new Map<string, number>()
  for (const w of written) if (w.key !== null) latest.set(w.key, w.offset)
  const bases = segmentNames(dir).map((n) => Number(n.slice(0, 20)))
  const heldOffsets = new Set(held.map((r) => r.offset))
  for (const w of written) {
    const mustStay =
      w.key === null ||
      latest.get(w.key) === w.offset ||
      now - w.timestampMs < AFTER_MS ||
      w.offset >= bases.at(-1)! ||
      bases.includes(w.offset + 1)
    if (mustStay) assert.ok(heldOffsets.has(w.offset), `${what}: record ${w.offset} (key ${w.key}) removed`)
    else if (late) assert.ok(!heldOffsets.has(w.offset), `${what}: record ${w.offset} (key ${w.key}) left by passes run through`)
  }
  return held.length
}

function appendTo(
  log: PartitionLog,
  written: Written[],
  records: readonly { key: string | null; value: string; timestampMs: number }[],
): void {
  const base = log.append(
    records.map((r) => ({
      timestampMs: r.timestampMs,
      key: r.key === null ? null : Buffer.from(r.key),
      value: Buffer.from(r.value),
      headers: {},
    })),
  )
  records.forEach((r, i) => written.push({ offset: base + i, ...r }))
}

void describe('event log > embedded > compaction passes off the append path', () => {
  void test('random appends, pass steps, reads and closes mid-pass against the reference: the sealing append rewrites nothing, reads between steps see whole segments, a pass stopped anywhere leaves a readable log', async () => {
    for (const seed of [61, 62, 63]) {
      const rand = prng(seed)
      const dir = mkdtempSync(join(tmpdir(), 'kfs-compaction-passes-'))
      let now = 1_000_000
      let queue = new CompactionQueue()
      const options = (): PartitionLogOptions => ({
        segmentBytes: 250,
        fsync: false,
        compaction: { afterMs: AFTER_MS, nowMs: () => now },
        compactionQueue: queue,
        handles: new SegmentHandles(2),
      })
      let log = PartitionLog.open(dir, options())
      const written: Written[] = []
      let rewrittenLater = 0
      try {
        for (let step = 0; step < 120; step++) {
          const what = `seed ${seed}, step ${step}`
          const roll = rand()
          if (roll < 0.55) {
            const sealedBefore = new Map(
              segmentNames(dir)
                .slice(0, -1)
                .map((n) => [n, readFileSync(join(dir, n))]),
            )
            appendTo(
              log,
              written,
              Array.from({ length: 1 + Math.floor(rand() * 4) }, () => {
                const k = Math.floor(rand() * 7)
                return {
                  key: k === 6 ? null : `k${k}`,
                  value: `v${written.length}`.padEnd(8 + Math.floor(rand() * 30), '.'),
                  timestampMs: now - Math.floor(rand() * 300),
                }
              }),
            )
            for (const [name, bytes] of sealedBefore)
              assert.deepEqual(readFileSync(join(dir, name)), bytes, `${what}: the append rewrote sealed segment ${name}`)
          } else if (roll < 0.85) {
            // One step of a queued pass (if any): appends and reads go on between steps.
            const sealed = new Map(
              segmentNames(dir)
                .slice(0, -1)
                .map((n) => [n, readFileSync(join(dir, n)).length]),
            )
            await nextTurn()
            if ([...sealed].some(([name, size]) => readFileSync(join(dir, name)).length !== size)) rewrittenLater++
          } else if (roll < 0.95) now += Math.floor(rand() * 1500)
          else {
            // A crash mid-pass: the pass stops at its next step; its copy of a segment may be left half written.
            log.close()
            const names = segmentNames(dir)
            if (rand() < 0.5) writeFileSync(join(dir, `${names[Math.floor(rand() * names.length)]}.compacting`), 'half a copy')
            queue = new CompactionQueue()
            log = PartitionLog.open(dir, options())
          }
          assertHolds(log, dir, written, now, what)
        }
        assert.ok(rewrittenLater > 0, `seed ${seed}: no pass rewrote a segment after its append returned`)
        await queue.settled()
        now += AFTER_MS
        for (let i = 0; i <= segmentNames(dir).length; i++) log.compact()
        const held = assertHolds(log, dir, written, now, `seed ${seed}: passes run through`, true)
        assert.ok(held < written.length, `seed ${seed}: nothing removed`)
      } finally {
        log.close()
      }
    }
  })

  void test("a pass's key map stops at maxKeys: it removes less, never a record to keep, and the passes after it take turns over the older segments until every removable record is gone", () => {
    for (const maxKeys of [1, 2, 5]) {
      const dir = mkdtempSync(join(tmpdir(), 'kfs-compaction-passes-'))
      let now = 1_000_000
      const options = { segmentBytes: 200, fsync: false, compaction: { afterMs: AFTER_MS, nowMs: () => now, maxKeys } }
      const log = PartitionLog.open(dir, options)
      const written: Written[] = []
      const rand = prng(70 + maxKeys)
      try {
        for (let i = 0; i < 150; i++)
          appendTo(log, written, [{ key: `k${Math.floor(rand() * 12)}`, value: `value ${i}`.padEnd(24, '.'), timestampMs: now }])
        now += AFTER_MS
        log.compact()
        const afterOne = assertHolds(log, dir, written, now, `maxKeys ${maxKeys}: one pass`)
        const segments = segmentNames(dir).length
        for (let pass = 0; pass < segments; pass++) {
          log.compact()
          assertHolds(log, dir, written, now, `maxKeys ${maxKeys}: pass ${pass + 2}`)
        }
        const afterAll = assertHolds(log, dir, written, now, `maxKeys ${maxKeys}: ${segments + 1} passes`, true)
        assert.ok(
          afterAll < afterOne,
          `maxKeys ${maxKeys}: one pass left ${afterOne} records, the passes after it ${afterAll}: the first mapped every key`,
        )
      } finally {
        log.close()
      }
    }
  })
})

void describe('event log > embedded > a reader beside a compacting writer', () => {
  void test('segments the writer compacted after the reader opened them read as the writer reads them, however often the reader closed and reopened their files', () => {
    for (const limit of [1, 2, 50]) {
      const dir = mkdtempSync(join(tmpdir(), 'kfs-compaction-passes-'))
      let now = 1_000_000
      const writer = PartitionLog.open(dir, {
        segmentBytes: 400,
        fsync: false,
        compaction: { afterMs: AFTER_MS, nowMs: () => now },
      })
      const written: Written[] = []
      const rand = prng(80 + limit)
      for (let i = 0; i < 200; i++)
        appendTo(writer, written, [
          { key: `k${Math.floor(rand() * 5)}`, value: `value ${i}`.padEnd(10 + Math.floor(rand() * 40), '.'), timestampMs: now },
        ])
      const reader = PartitionLog.openReadOnly(dir, writer.endOffset, true, new SegmentHandles(limit))
      try {
        const before = readAll(reader)
        assert.equal(before.length, written.length, `limit ${limit}: the reader before any pass`)
        now += AFTER_MS
        assert.ok(writer.compact() > 0, `limit ${limit}: the pass removed nothing`)
        const kept = readAll(writer).map((r) => r.offset)
        for (let from = 0; from < written.length; from += 7) {
          const got = reader.read(from, 3, 10_000).map((r) => r.offset)
          const want = kept.filter((o) => o >= from).slice(0, got.length)
          // The reader's open descriptor may be of the file before the pass (its records all there), or after it.
          const fromOld = got.every((o, i) => o === from + i)
          assert.ok(
            got.length > 0 && (fromOld || got.join() === want.join()),
            `limit ${limit}: a read from ${from} gave ${got.join()}, the writer holds ${want.join()}`,
          )
        }
        const after = readAll(reader)
        for (const r of after)
          assert.equal(Buffer.from(r.value!).toString(), written[r.offset]!.value, `limit ${limit}: record ${r.offset}`)
        if (limit < 50)
          assert.deepEqual(
            after.map((r) => r.offset),
            kept,
            `limit ${limit}: every segment reopened after the pass reads as compacted`,
          )
      } finally {
        reader.close()
        writer.close()
      }
    }
  })
})

void describe('event log > embedded > a topic stored without its compaction setting', () => {
  void test('declared with compactAfterMs, it takes the setting (topic.json, logged once) and compacts from its next rolls; declared without, or already holding one, it is left as it was', async () => {
    for (const stored of ['old topic.json', 'no topic name'] as const) {
      const dir = mkdtempSync(join(tmpdir(), 'kfs-topic-upgrade-'))
      const topicDir = join(dir, 'topics', 'table')
      // Written the old way: topic.json without compactAfterMs, a segment of records in partition 0.
      mkdirSync(join(topicDir, '0'), { recursive: true })
      writeFileSync(
        join(topicDir, 'topic.json'),
        JSON.stringify(stored === 'old topic.json' ? { partitions: 1, topic: 'table' } : { partitions: 1 }),
      )
      let now = 50_000_000
      const old = Array.from({ length: 20 }, (_, i) => ({
        timestampMs: now,
        key: Buffer.from(`row-${i % 2}`),
        value: Buffer.from(`old ${i}`),
        headers: {},
      }))
      writeFileSync(join(topicDir, '0', `${'0'.padStart(20, '0')}.log`), encodeRecords(old, 0).buf)
      const warnings: string[] = []
      const logger = { warn: (_fields: unknown, message: string) => void warnings.push(message) } as unknown as Logger
      const withLogger = { ...logger, child: () => withLogger } as unknown as Logger
      const clock = { nowMs: () => now, sleep: async () => {} }
      let log = new EmbeddedEventLog({ dir, clock, logger: withLogger, segmentBytes: 300, fsync: 'never' })
      await log.createTopic('table', 1)
      assert.equal(
        JSON.parse(readFileSync(join(topicDir, 'topic.json'), 'utf8')).compactAfterMs,
        undefined,
        `${stored}: declared without, it is left`,
      )
      await log.createTopic('table', 4, { compactAfterMs: 60_000 })
      await log.createTopic('table', 1, { compactAfterMs: 5 })
      assert.deepEqual(
        JSON.parse(readFileSync(join(topicDir, 'topic.json'), 'utf8')),
        { partitions: 1, topic: 'table', compactAfterMs: 60_000 },
        `${stored}: topic.json`,
      )
      assert.equal(
        warnings.filter((w) => w.includes('compaction setting')).length,
        1,
        `${stored}: logged once: ${warnings.join('; ')}`,
      )
      now += 60_000
      for (let i = 0; i < 20; i++)
        await log.produce('table', [{ key: `row-${i % 2}`, value: Buffer.from(`new ${i}`.padEnd(30, '.')) }])
      await log.compactionsSettled()
      await log.close()
      log = new EmbeddedEventLog({ dir, clock, logger: withLogger, segmentBytes: 300, fsync: 'never' })
      await log.createTopic('table', 1, { compactAfterMs: 60_000 })
      assert.equal(warnings.filter((w) => w.includes('compaction setting')).length, 1, `${stored}: not logged again once stored`)
      await log.close()
      const partition = PartitionLog.open(join(topicDir, '0'), {
        segmentBytes: 300,
        fsync: false,
        compaction: { afterMs: 60_000, nowMs: () => now },
      })
      const held = readAll(partition).map((r) => Buffer.from(r.value!).toString())
      partition.close()
      assert.equal(
        held.length < 40 && !held.includes('old 0'),
        true,
        `${stored}: the old records superseded and past the lag were removed: ${held.join(', ')}`,
      )
      assert.ok(
        held.includes('new 19'.padEnd(30, '.')) && held.includes('new 18'.padEnd(30, '.')),
        `${stored}: each key's latest kept`,
      )
    }
  })
})
