/**
 * ./backfill-fault-loop.test.ts's kill loop over change views (docs/table-and-changelog-sources.md):
 * a Debezium changelog of orders (creates, updates, orders moving to another user, deletes, commit
 * times out of order, poison changes: test/support/change-fault-workload.ts) is archived by a live
 * run of an attribute view and a current-state aggregation; then `kfs replay` of each view's logic
 * under a new name is killed at every kind of step it takes — its first, a middle and its last call
 * of each, before the call lands and after — and run again to completion. The backfill must end as
 * one never killed, and that one as live: the same offline rows (tombstones and retractions
 * included), online rows and dead letters (by origin).
 */
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { silentLogger } from '../../../core/logger.ts'
import type { FeatureRow, FeatureViewDef, SourceDef } from '../../../features/types.ts'
import { featureView } from '../../../features/index.ts'
import { createLiveEngine } from '../../../engine/live-engine.ts'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/index.ts'
import { EmbeddedOnlineStore } from '../../../adapters/online-store/embedded/embedded-online-store.ts'
import { readFeatureRowsByEntity } from '../../../adapters/offline/iceberg/feature-rows.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { LocalObjectStore } from '../../../adapters/object-store/index.ts'
import type { DeadLetter } from '../../../ports/dead-letters.ts'
import type { OnlineStore } from '../../../ports/online-store.ts'
import { createChangeJsonDecoder } from '../../../schemas/change-json-decoder.ts'
import { order, orderAttrs, orderTotals, orders } from '../../fixtures/features/change-faults.ts'
import { DEAD_LETTER_TOPIC, generateChangeBursts, produceChanges } from '../../support/change-fault-workload.ts'
import { waitFor } from '../../support/scenario.ts'
import { backfillKilledThenRerun, noWait } from '../../support/killed-process.ts'
import { unlockedStoreFiles } from '../../support/unlocked-store-files.ts'

const decoderFor = (source: SourceDef) => createChangeJsonDecoder({ rowSchema: source.changes!.rowSchema })
const common = { version: 1, source: orders, entity: order, ttl: '3650d', freshnessSla: '5m', owner: 'faults@kfs' } as const

/** Each live view's logic under another name: what `kfs replay` backfills. */
const PAIRS: readonly { live: FeatureViewDef; added: (name: string) => FeatureViewDef }[] = [
  {
    live: orderAttrs,
    added: (name) =>
      featureView({ ...common, name, attributes: ['user_id', 'amount', 'status'], description: 'replayed attributes' }),
  },
  {
    live: orderTotals,
    added: (name) =>
      featureView({
        ...common,
        name,
        aggregations: [{ op: 'count' }, { op: 'sum', field: 'amount' }],
        description: 'replayed current state',
      }),
  },
]

type Rows = Record<string, { asOfMs: number; values: unknown[]; deleted: boolean }[]>

function rowsOf(byEntity: Map<string, FeatureRow[]>): Rows {
  const out: Rows = {}
  for (const [key, rows] of [...byEntity].sort(([a], [b]) => (a < b ? -1 : 1)))
    out[key] = rows.map((r) => ({
      asOfMs: r.asOfMs,
      values: r.values.map((v) => (Object.is(v, -0) ? '-0' : v)),
      deleted: r.deleted === true,
    }))
  return out
}

async function onlineRows(online: OnlineStore, view: FeatureViewDef, keys: readonly string[]): Promise<unknown[]> {
  const features = view.features.map((f) => f.name)
  const reads = await online.readRows(
    keys.map((entityKey) => ({ view, entityKey, features })),
    Date.UTC(2026, 0, 3),
  )
  return reads.map((r) => ({ status: r.status, asOfMs: r.asOfMs, values: r.values.map((v) => (Object.is(v, -0) ? '-0' : v)) }))
}

let root = ''
let liveOnline: EmbeddedOnlineStore
/** The live run's dead letters of each view by origin and reason (a record's own, undecodable…, are live's alone). */
const liveLetters = new Map<string, string[]>()

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'kfs-change-backfill-loop-'))
  const log = new EmbeddedEventLog({ dir: join(root, 'log'), fsync: 'never' })
  try {
    await log.createTopic(orders.topic, orders.partitions)
    await produceChanges(log, generateChangeBursts(35_300, 2, 200).flat())
    const store = new LocalObjectStore(join(root, 'live', 'warehouse'))
    liveOnline = new EmbeddedOnlineStore()
    const letters: DeadLetter[] = []
    const engine = createLiveEngine({
      log,
      stateStore: store,
      offline: new IcebergOfflineSink(store),
      online: liveOnline,
      deadLetters: { write: async (l) => void letters.push(...l), flush: async () => undefined },
      deadLetterTopic: DEAD_LETTER_TOPIC,
      decoderFor,
      views: PAIRS.map((p) => p.live),
      groupId: 'kfs-engine',
      clock: noWait,
      logger: silentLogger,
      checkpointMaxRecords: 50,
      checkpointIntervalMs: 60_000,
      tickMs: 20,
    })
    await engine.start()
    await waitFor(() => engine.isCaughtUp(150), 'live caught up')
    await engine.stop()
    for (const { live } of PAIRS) liveLetters.set(live.name, letterKeys(letters.filter((l) => l.view === live.name)))
  } finally {
    await log.close()
  }
})
after(async () => {
  if (root !== '') await rm(root, { recursive: true, force: true })
})

const letterKeys = (letters: readonly DeadLetter[]): string[] =>
  [...new Set(letters.map((l) => `${l.partition}/${l.offset}/${l.reason}`))].sort()

interface Outcome {
  readonly offline: Rows
  readonly online: unknown
  readonly letters: string[]
  readonly trace: readonly string[]
}

/** A backfill of `added`, killed at `killAt` (0: never), then run again. */
async function backfillKilledAt(added: FeatureViewDef, killAt: number, landed: boolean): Promise<Outcome> {
  const onlinePath = join(root, added.name, 'rows.json')
  await mkdir(join(root, added.name), { recursive: true })
  const letters: DeadLetter[] = []
  const processes = await backfillKilledThenRerun({
    warehouse: join(root, 'live', 'warehouse'),
    onlinePath,
    view: added,
    decoder: decoderFor(orders),
    letters,
    killAt,
    landed,
    checkpointEveryRecords: 37,
  })
  const rows = rowsOf(await readFeatureRowsByEntity(new LocalObjectStore(join(root, 'live', 'warehouse')), added))
  const reopened = await EmbeddedOnlineStore.open({ path: onlinePath, files: unlockedStoreFiles })
  const outcome = {
    offline: rows,
    online: await onlineRows(reopened, added, Object.keys(rows)),
    letters: letterKeys(letters),
    trace: processes[0]!.trace,
  }
  await reopened.close()
  await rm(join(root, added.name), { recursive: true, force: true })
  return outcome
}

void describe('a backfill of a change view killed at any step, then run again, ends as live and as one never killed', () => {
  for (const pair of PAIRS) {
    void test(pair.live.name, async () => {
      const store = new LocalObjectStore(join(root, 'live', 'warehouse'))
      const liveRows = rowsOf(await readFeatureRowsByEntity(store, pair.live))
      const keys = Object.keys(liveRows)
      assert.ok(keys.length > 5, 'live wrote rows')
      assert.ok(
        Object.values(liveRows).some((rows) => rows.some((r) => r.deleted || r.values[0] === 0)),
        'live retracted or deleted rows: they are compared too',
      )
      const base = `${pair.live.name}_bf`
      const clean = await backfillKilledAt(pair.added(`${base}_clean`), 0, false)
      assert.deepEqual(clean.offline, liveRows, 'an uninterrupted backfill: offline rows = live')
      assert.deepEqual(clean.online, await onlineRows(liveOnline, pair.live, keys), 'online rows = live')
      assert.deepEqual(clean.letters, liveLetters.get(pair.live.name), 'dead letters = live')
      assert.ok(clean.letters.length > 0, 'the changelog held refused changes: dead letters are compared')
      const kindOf = (what: string) => what.replaceAll(`${base}_clean`, 'V').replace(/[0-9a-f]{8}-[0-9a-f-]{27}|\d+/g, '#')
      const byKind = new Map<string, number[]>()
      clean.trace.forEach((what, i) => byKind.set(kindOf(what), [...(byKind.get(kindOf(what)) ?? []), i + 1]))
      const killAt = [
        ...new Set([...byKind.values()].flatMap((at) => [at[0]!, at[Math.floor(at.length / 2)]!, at.at(-1)!])),
      ].sort((a, b) => a - b)
      assert.ok(byKind.size > 12, `the backfill took kinds of steps to kill: ${[...byKind.keys()].join(' · ')}`)
      for (const k of killAt)
        for (const landed of [false, true]) {
          const got = await backfillKilledAt(pair.added(`${base}_k${k}_${landed ? 'l' : 'n'}`), k, landed)
          const at = `killed at call ${k} (${clean.trace[k - 1]})${landed ? ', after it landed' : ''}`
          assert.deepEqual(got.offline, clean.offline, `${at}: offline rows`)
          assert.deepEqual(got.online, clean.online, `${at}: online rows`)
          assert.deepEqual(got.letters, clean.letters, `${at}: dead letters by origin`)
        }
    })
  }
})
