/**
 * Chaos loop over one archive table (docs/semantics.md §11, §22–§25): an engine's checkpointed
 * commits (the real offline sink, with its automatic expiry), `kfs compact`'s compaction, snapshot
 * expiry (keeping training-set pins), orphan removal, readers, and a zombie owner re-committing
 * the last checkpoint run at random, several at once in a round (as separate processes would),
 * over a store that faults calls the run picks at random (chaos-store.ts) — every kind of call,
 * failing before it happened, after it happened (answer lost), a create answered "already exists"
 * although it was this writer's own, and an answer lost followed by an outage that outlasts a
 * commit's retries. Orphan removal's minimum age is half a round, so every file of an earlier
 * round is eligible.
 *
 * After every round, with faults off: every snapshot the table keeps reads what it read the round
 * it first appeared (readers that ran during the round included); every file the metadata names
 * exists; the current snapshot holds every row of each commit that reported success once, and of
 * a commit that failed all its rows or none. At the end the engine's recovery commits the failed
 * ones again (as a restart does from its checkpoint record) and the table holds every row once.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { loadTable, compactPartitions, readRows } from '../../../adapters/offline/iceberg/index.ts'
import { manifestsOf, metadataKey } from '../../../adapters/offline/iceberg/iceberg-table.ts'
import { keyOfStoreUri } from '../../../ports/object-store-keys.ts'
import { decodeManifest } from '../../../adapters/offline/iceberg/manifests.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { removeOrphanFiles } from '../../../adapters/offline/iceberg/orphan-files.ts'
import { specById } from '../../../adapters/offline/iceberg/table-metadata.ts'
import { listStoredTables } from '../../../adapters/offline/iceberg/table-listing.ts'
import { FeatureStoreError, RetriesExhaustedError } from '../../../core/errors.ts'
import type { ObjectStore } from '../../../ports/object-store.ts'
import type { StagedFiles } from '../../../ports/offline.ts'
import { ChaosFault, ChaosStore, type FaultKind, type StoreCall } from './chaos-store.ts'
import { OrphanWorld, PATH, TOPIC } from './orphan-world.ts'

type Op =
  | { readonly kind: 'append'; readonly rows: number }
  | { readonly kind: 'compact' }
  | { readonly kind: 'expire'; readonly minKeep: number }
  | { readonly kind: 'orphans' }
  | { readonly kind: 'read' }
  | { readonly kind: 'zombie' }
  | { readonly kind: 'pin' }

const ROUND_MS = 1_000
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('append' as const), rows: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('compact' as const) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('expire' as const), minKeep: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('orphans' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('read' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('zombie' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('pin' as const) }) },
)
/** Calls per run: hundreds of gets and puts, a few lists (expiry's), so the n-th picked fits each. */
const CALLS: Readonly<Record<StoreCall, number>> = { get: 60, put: 30, putIfAbsent: 8, delete: 2, list: 2, listWithTimes: 2 }
const WAYS: readonly (readonly [StoreCall, FaultKind])[] = [
  ...(Object.keys(CALLS) as StoreCall[]).flatMap((c) => [[c, 'before'] as const, [c, 'after'] as const]),
  ['putIfAbsent', 'lost-create'],
  ['putIfAbsent', 'after-then-outage'],
]
interface Fault {
  readonly call: StoreCall
  readonly nth: number
  readonly kind: FaultKind
}
const faultArb: fc.Arbitrary<Fault[]> = fc.array(
  fc.record({
    call: fc.constantFrom(...(Object.keys(CALLS) as StoreCall[])),
    nth: fc.nat({ max: 1_000 }),
    kind: fc.constantFrom<FaultKind>('before', 'after', 'lost-create', 'after-then-outage'),
  }),
  { maxLength: 12 },
)

/** A failure a caller can act on: an injected fault, a store or commit error, a bound reached — never a crash. */
function assertClean(err: unknown, what: string): void {
  if (err instanceof ChaosFault || err instanceof RetriesExhaustedError || err instanceof FeatureStoreError) return
  assert.fail(`${what} crashed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
}

const rowsText = (rows: readonly Record<string, unknown>[]): string =>
  JSON.stringify(rows, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v instanceof Uint8Array ? [...v] : v))

interface Checkpoint {
  readonly seq: number
  readonly staged: StagedFiles
  readonly offsets: readonly string[]
}

/** The engine: one checkpoint at a time; one that failed to commit is committed again before the next (its restart). */
class Engine {
  readonly confirmed: string[] = []
  pending: Checkpoint | undefined
  /** The last checkpoint committed: a zombie owner (another process) may commit it again. */
  last: Checkpoint | undefined
  #seq = 0
  #offset = 0

  readonly world: OrphanWorld
  readonly sink: IcebergOfflineSink
  constructor(world: OrphanWorld, sink: IcebergOfflineSink) {
    this.world = world
    this.sink = sink
  }

  async #commit(cp: Checkpoint): Promise<void> {
    try {
      await this.sink.commit(this.world.tableId, [cp.staged], { [`${TOPIC}/0`]: cp.seq }, {})
      this.confirmed.push(...cp.offsets)
      this.pending = undefined
      this.last = cp
    } catch (err: unknown) {
      assertClean(err, 'an engine commit')
      this.pending = cp
    }
  }

  #queue: Promise<void> = Promise.resolve()

  /** One checkpoint; checkpoints run one after the other, as the engine's do. */
  step(rows: number): Promise<void> {
    this.#queue = this.#queue.then(() => this.#step(rows))
    return this.#queue
  }

  async #step(rows: number): Promise<void> {
    if (this.pending !== undefined) return this.#commit(this.pending)
    const batch = Array.from({ length: rows }, () => {
      const offset = this.#offset++
      return {
        partition: 0,
        offset: String(offset),
        eventTimeMs: this.world.now,
        key: Uint8Array.of(offset % 251),
        schemaId: 1,
        payload: Uint8Array.of(0, 0, 0, 0, 1),
        markerWatermarkMs: null,
        timestampMs: this.world.now,
      }
    })
    let staged: StagedFiles
    try {
      staged = await this.sink.stageArchiveRows(TOPIC, batch)
    } catch (err: unknown) {
      assertClean(err, 'staging')
      return // nothing staged: the checkpoint never happened, its offsets are read again
    }
    return this.#commit({ seq: ++this.#seq, staged, offsets: batch.map((r) => r.offset) })
  }

  /** A zombie owner's commit of the last checkpoint, through its own sink: its markers are held, it must write nothing. */
  async zombie(store: ObjectStore): Promise<void> {
    const cp = this.last
    if (cp === undefined) return
    await new IcebergOfflineSink(store, { clock: this.world.clock, parquetWorker: false }).commit(
      this.world.tableId,
      [cp.staged],
      { [`${TOPIC}/0`]: cp.seq },
      {},
    )
  }

  /** What a published checkpoint record names: orphan removal keeps it (docs/semantics.md §25). */
  keep(): Set<string> {
    return new Set((this.pending?.staged.files ?? []).map((f) => (f as { filePath: string }).filePath))
  }
}

async function snapshotRows(world: OrphanWorld, snapshotId: bigint): Promise<Record<string, unknown>[]> {
  const rows: Record<string, unknown>[] = []
  for await (const r of readRows(await loadTable(world.memory, PATH), { snapshotId, longAs: 'bigint' })) rows.push(r)
  return rows
}

/** Every file the metadata names exists (read apart from the module under test). */
async function assertNamedFilesExist(world: OrphanWorld): Promise<void> {
  const table = await loadTable(world.memory, PATH)
  const { store, metadata } = table
  const exists = async (key: string, what: string): Promise<Uint8Array> => {
    const bytes = await world.memory.get(key)
    assert.ok(bytes !== undefined, `${what} ${key} is named by the table but was deleted`)
    return bytes
  }
  await exists(metadataKey(PATH, table.version), 'metadata')
  for (const e of metadata['metadata-log']) await exists(keyOfStoreUri(store, e['metadata-file']), 'logged metadata')
  for (const s of metadata.snapshots) {
    await exists(keyOfStoreUri(store, s['manifest-list']), 'manifest list')
    for (const m of await manifestsOf(table, s)) {
      const bytes = await exists(keyOfStoreUri(store, m.manifestPath), 'manifest')
      for (const e of decodeManifest(bytes, specById(metadata, m.partitionSpecId)))
        if (e.status !== 2) await exists(keyOfStoreUri(store, e.dataFile.filePath), 'data file')
    }
  }
}

const count = (xs: readonly string[]): Map<string, number> =>
  xs.reduce((m, x) => m.set(x, (m.get(x) ?? 0) + 1), new Map<string, number>())

interface Stats {
  rounds: number
  /** Rounds ending with a commit that reported failure and whose rows the table holds (its outcome was lost)… */
  failedLanded: number
  /** …and whose rows it does not. */
  failedUnlanded: number
  readonly reached: Map<string, number>
}

/** One run of the loop: `plan`'s rounds under `faults` and `way`; asserts the oracle after each round and at the end. */
async function runPlan(
  plan: readonly (readonly Op[])[],
  faults: readonly Fault[],
  way: readonly [StoreCall, FaultKind],
  stats: Stats,
): Promise<void> {
  const world = await OrphanWorld.create()
  const chaos = new ChaosStore(world.memory)
  const options = { clock: world.clock, parquetWorker: false }
  // The engine's sink expires by itself every two commits (its automatic expiry, queued after a commit).
  const snapshotExpiry = {
    everyCommits: 2,
    maxExpired: 2,
    retention: () => Promise.resolve({ maxAgeMs: ROUND_MS + ROUND_MS / 2, minSnapshots: 1, keep: new Set(pins) }),
    onError: (err: unknown) => assertClean(err, 'an automatic expiry'),
  }
  const engine = new Engine(world, new IcebergOfflineSink(chaos.store, { ...options, snapshotExpiry }))
  const seen = new Map<bigint, string>()
  /** Snapshots recorded training sets pinned: every expiry keeps them (the registry's records). */
  const pins = new Set<string>()
  chaos.schedule = new Map(faults.map((f) => [`${f.call}:${f.nth % (CALLS[f.call] + 1)}`, f.kind]))
  // And the way of failing under test, at that call's first use: every way is reached.
  if (!chaos.schedule.has(`${way[0]}:0`)) chaos.schedule.set(`${way[0]}:0`, way[1])
  for (const round of plan) {
    world.now += ROUND_MS
    const reads: { id: bigint; rows: string }[] = []
    chaos.enabled = true
    await Promise.all(
      round.map(async (op) => {
        try {
          switch (op.kind) {
            case 'append':
              return await engine.step(op.rows)
            case 'compact':
              await compactPartitions(await loadTable(chaos.store, PATH), { minFiles: 2, ...options })
              return
            case 'expire':
              await new IcebergOfflineSink(chaos.store, options).expireSnapshots(
                { kind: 'archive', topic: TOPIC },
                { maxAgeMs: ROUND_MS + ROUND_MS / 2, minSnapshots: op.minKeep, keep: new Set(pins) },
              )
              return
            case 'orphans':
              await removeOrphanFiles(chaos.store, PATH, {
                clock: world.clock,
                minAgeMs: ROUND_MS / 2,
                keep: engine.keep(),
              })
              return
            case 'pin': {
              // A training set built on the current snapshot records it.
              const id = (await loadTable(chaos.store, PATH)).metadata['current-snapshot-id']
              if (id >= 0n) pins.add(String(id))
              return
            }
            case 'zombie':
              return await engine.zombie(chaos.store)
            case 'read': {
              // As `kfs tables` and the catalog find it: listed, then loaded.
              assert.ok((await listStoredTables(chaos.store)).some((t) => t.path === PATH))
              const table = await loadTable(chaos.store, PATH)
              const id = table.metadata['current-snapshot-id']
              if (id < 0n) return
              const rows: Record<string, unknown>[] = []
              for await (const r of readRows(table, { snapshotId: id, longAs: 'bigint' })) rows.push(r)
              reads.push({ id, rows: rowsText(rows) })
            }
          }
        } catch (err: unknown) {
          assertClean(err, op.kind)
        }
      }),
    )
    // The engine's automatic expiry, queued after its commits, finishes (under the same faults).
    await chaos.settled()
    chaos.enabled = false
    stats.rounds++
    await assertNamedFilesExist(world)
    const table = await loadTable(world.memory, PATH)
    for (const s of table.metadata.snapshots) {
      const rows = rowsText(await snapshotRows(world, s['snapshot-id']))
      const before = seen.get(s['snapshot-id'])
      if (before === undefined) seen.set(s['snapshot-id'], rows)
      else assert.equal(rows, before, `kept snapshot ${s['snapshot-id']} reads other rows than when it was committed`)
    }
    const ids = new Set(table.metadata.snapshots.map((s) => String(s['snapshot-id'])))
    for (const pin of pins) assert.ok(ids.has(pin), `pinned snapshot ${pin} expired`)
    for (const r of reads)
      if (seen.has(r.id)) assert.equal(r.rows, seen.get(r.id), `a reader during the round read snapshot ${r.id} inconsistently`)
    const current = table.metadata['current-snapshot-id']
    const offsets = current < 0n ? [] : (await snapshotRows(world, current)).map((r) => String(r.offset))
    const have = count(offsets)
    for (const [o, n] of have) assert.equal(n, 1, `offset ${o} is read ${n} times`)
    for (const o of engine.confirmed) assert.ok(have.has(o), `offset ${o} of a commit that reported success is lost`)
    const pending = engine.pending?.offsets ?? []
    const landed = pending.filter((o) => have.has(o)).length
    assert.ok(landed === 0 || landed === pending.length, 'a failed commit landed in part')
    if (pending.length > 0) stats[landed === 0 ? 'failedUnlanded' : 'failedLanded']++
    assert.equal(offsets.length, engine.confirmed.length + landed, 'the table holds rows no commit wrote')
  }
  for (const [k, n] of chaos.injected) stats.reached.set(k, (stats.reached.get(k) ?? 0) + n)
  // The engine's restart commits its last checkpoint again: every row, once.
  if (engine.pending !== undefined) await engine.step(0)
  await chaos.settled()
  assert.equal(engine.pending, undefined)
  const table = await loadTable(world.memory, PATH)
  const current = table.metadata['current-snapshot-id']
  const offsets = current < 0n ? [] : (await snapshotRows(world, current)).map((r) => String(r.offset))
  assert.deepEqual([...offsets].sort(), [...engine.confirmed].sort())
}

/** Runs per way of failing: each of the 14 ways is forced into this many random runs (fast-check counts examples in numRuns)… */
const RUNS_PER_WAY = 3
/**
 * …and into this fixed one, with no other faults: random faults can keep a call from ever being
 * made (an outage swallowing the run's only deletes, a failed listing ending an expiry before it
 * deletes), so only a run without them surely reaches the way forced at that call's first use.
 */
const PLAIN_RUN: readonly [Op[][], Fault[]] = [
  [
    [{ kind: 'append', rows: 2 }],
    [{ kind: 'append', rows: 1 }, { kind: 'read' }],
    [{ kind: 'append', rows: 1 }, { kind: 'compact' }],
    [{ kind: 'append', rows: 1 }],
    [{ kind: 'expire', minKeep: 1 }, { kind: 'orphans' }],
  ],
  [],
]
/** Random rounds, then a round that surely expires and cleans (so deletes are faulted too). */
const planArb = fc
  .array(fc.array(opArb, { minLength: 1, maxLength: 3 }), { minLength: 3, maxLength: 6 })
  .map((rounds): Op[][] => [...rounds, [{ kind: 'append', rows: 1 }], [{ kind: 'expire', minKeep: 1 }, { kind: 'orphans' }]])

void describe('iceberg > offline store chaos', () => {
  void test('appends, compaction, expiry and orphan removal at once under faults at every kind of call: no row lost or doubled, kept snapshots unchanged, no named file deleted', async () => {
    const stats: Stats = { rounds: 0, failedLanded: 0, failedUnlanded: 0, reached: new Map() }
    const runsForcing = (way: (typeof WAYS)[number]) =>
      fc.assert(
        fc.asyncProperty(planArb, faultArb, (plan, faults) =>
          runPlan(plan, faults, way, stats).catch((err: unknown) => {
            // The way of failing forced on the run: fast-check's counterexample does not show it.
            throw new Error(`with ${way.join(':')} forced: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
          }),
        ),
        { numRuns: RUNS_PER_WAY + 1, examples: [PLAIN_RUN] },
      )
    for (const way of WAYS) await runsForcing(way)
    // A commit failing with none of its rows landed takes an outage before its metadata lands, which
    // the random faults make in most passes but not all (one CI run: 325 rounds, 23 failed commits,
    // every one landed): more random runs, a bounded number, until both kinds were seen.
    for (let more = 0; more < 3 * WAYS.length && (stats.failedLanded === 0 || stats.failedUnlanded === 0); more++) {
      await runsForcing(WAYS[more % WAYS.length]!)
    }
    // Not vacuous: each kind of call was faulted each way it can fail.
    for (const [call, kind] of WAYS)
      assert.ok(
        (stats.reached.get(`${call}:${kind}`) ?? 0) > 0,
        `no ${call}:${kind} fault was injected: ${JSON.stringify([...stats.reached])}`,
      )
    assert.ok(stats.rounds > 60, `${stats.rounds} rounds`)
    // Not vacuous either: commits failed both ways, their rows in the table and not.
    assert.ok(
      stats.failedLanded > 0 && stats.failedUnlanded > 0,
      JSON.stringify(stats, (_k, v: unknown) => (v instanceof Map ? [...v] : v)),
    )
  })
})
