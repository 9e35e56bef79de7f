/**
 * A live engine left running while `kfs groups retire` retires its group
 * (test/unit/engine/retired-while-running.test.ts): one topic of one partition, its group's claim
 * made as `kfs run` makes it, the engine asking the claim before each checkpoint publish as
 * `kfs run` wires it, and every call the engine and the retire make to the one store they share
 * recorded in order — so a test can run the retire, or one engine checkpoint, before or after any
 * call of the other, and check what of the engine landed after the retire's markers.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { EmbeddedEventLog } from '../../adapters/event-log/embedded/index.ts'
import { MemoryObjectStore } from '../../adapters/object-store/index.ts'
import { IcebergOfflineSink } from '../../adapters/offline/iceberg/offline-sink.ts'
import { EmbeddedOnlineStore } from '../../adapters/online-store/embedded/embedded-online-store.ts'
import { EmbeddedSchemaRegistry } from '../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { silentLogger } from '../../core/logger.ts'
import { createLiveEngine, type LiveEngine } from '../../engine/live-engine.ts'
import { entity, featureView, source } from '../../features/index.ts'
import { consumedTopics, requireSoleLiveGroup } from '../../main/commands/live-groups.ts'
import { planRetire, retireGroup } from '../../main/commands/store-groups.ts'
import { claimKey, requireClaimHeld } from '../../main/commands/topic-claims.ts'
import type { ListedObject, ObjectStore } from '../../ports/object-store.ts'
import { createDecoder } from '../../schemas/decoder.ts'
import { createEncoder } from '../../schemas/encoder.ts'
import { fastRetryClock } from './checkpoint-fault-scenario.ts'
import { FaultyObjectStore } from './faulty-object-store.ts'
import { waitFor } from './scenario.ts'

export const GROUP = 'old-engine'
export const TOPIC = 'taps'

const taps = source({
  name: 'taps',
  topic: TOPIC,
  schema: {
    type: 'record',
    name: 'Tap',
    fields: [
      { name: 'user_id', type: 'string' },
      { name: 'ts', type: 'long' },
    ],
  } as never,
  eventTimeField: 'ts',
  keyedBy: 'user',
  partitions: 1,
  outOfOrderness: '2s',
  allowedLateness: '5s',
  idleTimeout: '1h',
  maxFutureSkew: '1h',
})
const tapCount = featureView({
  name: 'tap_count',
  version: 1,
  entity: entity({ name: 'user', joinKeys: ['user_id'] }),
  source: taps,
  aggregations: [{ op: 'count', windows: ['1m'] }],
  ttl: '30d',
  freshnessSla: '1m',
  owner: 'audit@kfs',
  description: 'taps per user',
})

export type Who = 'engine' | 'retire'
export type Operation = 'get' | 'put' | 'putIfAbsent' | 'delete' | 'list' | 'listWithTimes'
export interface Call {
  readonly who: Who
  readonly op: Operation
  readonly key: string
}

/** `inner` as one party sees it: each call it completes is recorded; `before` runs ahead of each. */
class TappedStore implements ObjectStore {
  before: ((call: Call) => Promise<void>) | undefined
  readonly #inner: ObjectStore
  readonly #who: Who
  readonly #journal: Call[]

  constructor(inner: ObjectStore, who: Who, journal: Call[]) {
    this.#inner = inner
    this.#who = who
    this.#journal = journal
  }

  get rootUri(): string {
    return this.#inner.rootUri
  }

  async #call<T>(op: Operation, key: string, run: () => Promise<T>): Promise<T> {
    const call = { who: this.#who, op, key }
    await this.before?.(call)
    const result = await run()
    this.#journal.push(call)
    return result
  }

  get(key: string): Promise<Uint8Array | undefined> {
    return this.#call('get', key, () => this.#inner.get(key))
  }
  put(key: string, body: Uint8Array): Promise<void> {
    return this.#call('put', key, () => this.#inner.put(key, body))
  }
  putIfAbsent(key: string, body: Uint8Array): Promise<boolean> {
    return this.#call('putIfAbsent', key, () => this.#inner.putIfAbsent(key, body))
  }
  delete(key: string): Promise<void> {
    return this.#call('delete', key, () => this.#inner.delete(key))
  }
  list(prefix: string): Promise<string[]> {
    return this.#call('list', prefix, () => this.#inner.list(prefix))
  }
  listWithTimes(prefix: string): Promise<ListedObject[]> {
    return this.#call('listWithTimes', prefix, () => this.#inner.listWithTimes(prefix))
  }
  uriOf(key: string): string {
    return this.#inner.uriOf(key)
  }
}

export interface Running {
  readonly engine: LiveEngine
  /** Every completed store call of the engine and of the retire, in order. */
  readonly journal: Call[]
  readonly inner: MemoryObjectStore
  /** The engine's store under it: arm it to fault the engine's reads. */
  readonly faulty: FaultyObjectStore
  readonly engineStore: TappedStore
  readonly retireStore: TappedStore
  /**
   * Produces one record; the engine processes it and checkpoints (every record fills the buffer):
   * resolves once that checkpoint is done, fenced (a retire deleted its record before its check), or
   * the engine failed.
   */
  checkpointStep(): Promise<void>
  /** The engine's stop (once): its final checkpoints, and the reader left. */
  stop(): Promise<void>
  /** `kfs groups retire GROUP --yes` through the retire's store (its quiet guard aside). */
  retire(): Promise<void>
  close(): Promise<void>
}

export const CLAIM_KEY = claimKey(TOPIC)

/** A running engine of GROUP over TOPIC, its claim made; `checkpointed`: it has published a checkpoint. */
export async function startRunning(checkpointed: boolean): Promise<Running> {
  const dir = await mkdtemp(join(tmpdir(), 'kfs-retire-while-running-'))
  const log = new EmbeddedEventLog({ dir: join(dir, 'log'), fsync: 'never' })
  const registry = new EmbeddedSchemaRegistry({ dir: join(dir, 'schemas') })
  const encoder = await createEncoder({ registry, subject: `${TOPIC}-value`, schema: taps.schema })
  await log.createTopic(TOPIC, 1)
  const journal: Call[] = []
  const inner = new MemoryObjectStore()
  const faulty = new FaultyObjectStore(inner)
  const engineStore = new TappedStore(faulty, 'engine', journal)
  const retireStore = new TappedStore(inner, 'retire', journal)
  await requireSoleLiveGroup(engineStore, GROUP, consumedTopics([tapCount]), Date.now())
  const engine = createLiveEngine({
    log,
    stateStore: engineStore,
    offline: new IcebergOfflineSink(engineStore, { clock: fastRetryClock }),
    online: new EmbeddedOnlineStore(),
    deadLetters: { write: async () => {}, flush: async () => {} },
    decoderFor: (s) => createDecoder({ registry, readerSchema: s.schema }),
    views: [tapCount],
    groupId: GROUP,
    clock: fastRetryClock,
    logger: silentLogger,
    checkpointIntervalMs: 3_600_000,
    checkpointMaxRecords: 1,
    tickMs: 20,
    checkClaim: (topic) => requireClaimHeld(engineStore, GROUP, topic),
  })
  let produced = 0
  const checkpointStep = async (): Promise<void> => {
    const { checkpoints: before, fenced } = engine.stats
    const i = produced++
    await log.produce(TOPIC, [
      { key: `u${i % 3}`, partition: 0, value: encoder.encode({ user_id: `u${i % 3}`, ts: 1_767_225_600_000 + i * 1_000 }) },
    ])
    await waitFor(
      () => engine.failure !== undefined || engine.stats.checkpoints > before || engine.stats.fenced > fenced,
      'the checkpoint of one record, or the engine failing',
    )
  }
  let stopping: Promise<void> | undefined
  const stop = (): Promise<void> => (stopping ??= engine.stop())
  await engine.start()
  if (checkpointed) {
    await checkpointStep()
    assert.equal(engine.failure, undefined, `the first checkpoint: ${String(engine.failure)}`)
  }
  return {
    engine,
    journal,
    inner,
    faulty,
    engineStore,
    retireStore,
    checkpointStep,
    async retire() {
      const plan = await planRetire(retireStore, GROUP)
      assert.ok(plan !== undefined, 'the store knows the group')
      await retireGroup(retireStore, plan, Date.now())
    },
    stop,
    async close() {
      engineStore.before = undefined
      retireStore.before = undefined
      await stop().catch(() => undefined)
      await log.close()
      await rm(dir, { recursive: true, force: true })
    },
  }
}

/**
 * Where the retire took the topic from the group: its retired claim written (a topic the group
 * checkpointed) or its claim deleted (a topic it only claimed). -1: not yet.
 */
export function markerAt(journal: readonly Call[]): number {
  return journal.findIndex((c) => c.who === 'retire' && c.key === CLAIM_KEY && (c.op === 'put' || c.op === 'delete'))
}

/** A commit to a table: a metadata version past the first (a table is created empty, with no snapshot: version 1). */
const isTableCommit = (c: Call) =>
  c.op === 'putIfAbsent' && Number(/\/metadata\/v(\d+)\.metadata\.json$/.exec(c.key)?.[1] ?? 0) >= 2

/**
 * Nothing of the engine landed after the retire's marker (or after call `from` of the journal): no
 * checkpoint record, no table commit, and no checkpoint object it wrote is still there (a refused
 * checkpoint deletes its state blobs; its staged data files are unreferenced, like those of any
 * checkpoint never published).
 */
export async function assertNothingLandedAfterMarker(running: Running, from?: number): Promise<void> {
  const { journal, inner } = running
  const at = from ?? markerAt(journal)
  assert.ok(at >= 0, 'the retire took the topic')
  for (const call of journal.slice(at + 1)) {
    if (call.who !== 'engine') continue
    assert.ok(!isTableCommit(call), `the engine committed ${call.key} after the retire's marker`)
    assert.ok(
      !/\/ckpt-\d+\.json$/.test(call.key) || call.op !== 'putIfAbsent',
      `the engine published ${call.key} after the retire's marker`,
    )
    if (call.key.startsWith('checkpoints/') && (call.op === 'put' || call.op === 'putIfAbsent'))
      assert.equal(
        await inner.get(call.key),
        undefined,
        `the engine's ${call.key}, written after the retire's marker, is still there`,
      )
  }
}

/**
 * The engine failed with the retire's error; its stop's own final checkpoint (the partition still
 * held) is refused the same way, so the stop rejects naming it (or resolves: no partition left).
 */
export async function assertStoppedByRetire(running: Running, reason: RegExp): Promise<void> {
  const { engine } = running
  // The checkpoint step waited for the checkpoint, or for the engine to fail.
  const failed = engine.failure
  assert.ok(failed !== undefined, 'the engine went on after the retire: its checkpoint published')
  const named = (message: string) => {
    assert.match(message, new RegExp(`group ${GROUP} no longer holds topic ${TOPIC}: `))
    assert.match(message, reason)
    assert.match(message, /this engine stops without publishing or committing anything more/)
  }
  named(failed.message)
  assert.match(failed.message, new RegExp(`^group ${GROUP} `))
  const stopped = await running.stop().then(
    () => undefined,
    (err: unknown) => err,
  )
  // A partition still held: its final checkpoint is refused the same way. One the engine already
  // dropped (its checkpoint deleted under it, so it restored and met the retire there) has none to
  // take: the stop resolves, and the callers' assertNothingLandedAfterMarker shows nothing landed.
  if (stopped !== undefined) named(stopped instanceof Error ? stopped.message : String(stopped))
}
