/**
 * The caught-up query (engine/caught-up.ts) on its own: a view's partition counts as caught up
 * only once its slot has processed every record of the partition, entries the log never delivers
 * (a Kafka commit marker) read past as the consumer reports them — internal (re-keyed) topics
 * included. It used to let an internal partition one short of its end pass once its slot had
 * been quiet: on the embedded log, whose commits leave no marker, that last offset is a record
 * (after one transaction, a partition's whole share in one bundle), so `kfs run --until-caught-up`
 * stopped before the views processed it (engine-io-faults.test.ts lost item_spend entities under
 * load). How quiet the slot is must not matter either way: every case asks with the slot quiet
 * for long, and again with it just busy.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { isCaughtUp } from '../../../engine/caught-up.ts'
import type { PartitionSlot } from '../../../engine/partition-slot.ts'
import type { SourcePlan } from '../../../engine/plan-sources.ts'
import type { RekeyStage } from '../../../engine/rekey-stage.ts'

const SOURCE = 'buys'
const INTERNAL = 'kfs.buys.by-item'
const NOW = 1_000_000
const QUIET_MS = 100

interface Case {
  readonly what: string
  readonly topic: typeof SOURCE | typeof INTERNAL
  readonly end: number
  /** The slot's next offset to process. */
  readonly processed: number
  /** How far the consumer read, undelivered entries included (undefined: it reported nothing beyond its records). */
  readonly readTo?: number
  readonly caughtUp: boolean
}

const cases: readonly Case[] = [
  {
    what: "an internal partition's only record (one transaction forwarded it all), not yet delivered",
    topic: INTERNAL,
    end: 1,
    processed: 0,
    caughtUp: false,
  },
  {
    what: "an internal partition's last record (a later transaction), not yet delivered",
    topic: INTERNAL,
    end: 9,
    processed: 8,
    caughtUp: false,
  },
  {
    what: 'an internal partition read up to its last record, that record not yet processed',
    topic: INTERNAL,
    end: 9,
    processed: 8,
    readTo: 8,
    caughtUp: false,
  },
  { what: 'an internal partition more than one short', topic: INTERNAL, end: 9, processed: 5, caughtUp: false },
  {
    what: 'an internal partition with every record processed (embedded log: no marker)',
    topic: INTERNAL,
    end: 9,
    processed: 9,
    caughtUp: true,
  },
  {
    what: 'an internal partition read past its trailing commit marker (Kafka)',
    topic: INTERNAL,
    end: 9,
    processed: 8,
    readTo: 9,
    caughtUp: true,
  },
  { what: "a source partition's last record not yet delivered", topic: SOURCE, end: 9, processed: 8, caughtUp: false },
  {
    what: 'a source partition read past a trailing commit marker',
    topic: SOURCE,
    end: 9,
    processed: 8,
    readTo: 9,
    caughtUp: true,
  },
  { what: 'a source partition with every record processed', topic: SOURCE, end: 9, processed: 9, caughtUp: true },
]

/** A stage that has re-keyed (and committed) every source record: only the views' side is in question. */
function stageDone(sourceEnd: string): RekeyStage {
  return {
    plan: { source: { topic: SOURCE } },
    groupId: 'g.rekey',
    start: () => Promise.resolve(),
    stop: () => Promise.resolve(),
    progress: () => new Map([[0, { position: sourceEnd, assignedAtMs: 0, lastBatchAtMs: 0 }]]),
    busy: false,
    lastActivityAtMs: 0,
    passDeleted: () => Promise.resolve(false),
  } as unknown as RekeyStage
}

async function ask(c: Case, lastRecordAtMs: number): Promise<boolean> {
  const slot = { topic: c.topic, partition: 0, nextOffset: String(c.processed), lastRecordAtMs } as unknown as PartitionSlot
  const plans = [{ topic: c.topic }] as unknown as SourcePlan[]
  return isCaughtUp({
    log: { endOffsets: () => Promise.resolve(['4']) },
    source: { ends: (topic) => Promise.resolve(topic === c.topic ? [String(c.end)] : []) },
    rekeyStages: [stageDone('4')],
    plans,
    slotAt: (topic, partition) => Promise.resolve(topic === c.topic && partition === 0 ? slot : undefined),
    readToOf: () => (c.readTo === undefined ? undefined : BigInt(c.readTo)),
    nowMs: NOW,
    quietMs: QUIET_MS,
    // Retention deleted nothing: the partition stays where it is.
    passDeleted: (_slot, at) => Promise.resolve(at.position),
  })
}

for (const c of cases) {
  void test(`caught up: ${c.what} → ${c.caughtUp ? 'caught up' : 'not caught up'}`, async () => {
    assert.equal(await ask(c, NOW - 60_000), c.caughtUp, 'with the slot quiet for a minute')
    assert.equal(await ask(c, NOW), c.caughtUp, 'with the slot having just processed a record')
  })
}
