/**
 * Backfills of one view running at once (two `kfs replay`s, or `kfs replay` beside `kfs run`
 * settling the same view): they share the view's checkpoint group, so one publishes a checkpoint
 * first and fences the others. A fenced backfill must go on from the newest checkpoint, not report
 * the view complete: whichever backfill says complete, the view's offline table then holds every
 * row the backfill of one process commits, and the status names the same offsets.
 */
import assert from 'node:assert/strict'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import type { Logger } from '../../../core/logger.ts'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { purchases } from '../../../examples/with-new-view.ts'
import type { DeadLetterSink } from '../../../ports/dead-letters.ts'
import type { ObjectStore } from '../../../ports/object-store.ts'
import { createRegistry, type BackfillStatus } from '../../../registry/index.ts'
import { backfillRecorded } from '../../../replay/backfill-before-live.ts'
import { createDecoder } from '../../../schemas/decoder.ts'
import { BACKFILLED_VIEW, buildBaseline, type Baseline } from '../../support/backfill-fault-scenario.ts'
import { fastRetryClock as clock } from '../../support/checkpoint-fault-scenario.ts'

/** Keeps each warning's message, drops the rest. */
function messageLogger(): Logger & { messages: string[] } {
  const messages: string[] = []
  const logger = {
    warn: (_: unknown, msg: string) => messages.push(msg),
    info: () => {},
    error: () => {},
    debug: () => {},
    child: () => logger,
    messages,
  }
  return logger as unknown as Logger & { messages: string[] }
}

const noLetters: DeadLetterSink = { write: async () => undefined, flush: async () => undefined }

interface Completed {
  readonly status: BackfillStatus | undefined
  /** The view's offline rows the moment this backfill returned, as sorted lines. */
  readonly rows: readonly string[]
}

async function viewRows(storage: ObjectStore): Promise<string[]> {
  const rows = await new IcebergOfflineSink(storage, { parquetWorker: false }).readFeatureRows(BACKFILLED_VIEW)
  return [...rows].flatMap(([key, list]) => list.map((r) => `${key} ${r.asOfMs} ${JSON.stringify(r.values)}`)).sort()
}

/** One backfill process over the shared storage, wired as `kfs replay` wires it (no online store). */
async function backfill(baseline: Baseline, storage: ObjectStore, logger: Logger, every: number): Promise<Completed> {
  const registry = createRegistry({ store: storage, clock })
  const env = {
    offline: new IcebergOfflineSink(storage, { clock, parquetWorker: false }),
    stateStore: storage,
    decoderFor: () =>
      createDecoder({
        registry: new EmbeddedSchemaRegistry({ dir: join(baseline.dir, 'schemas') }),
        readerSchema: purchases.schema,
      }),
    clock,
    online: () => Promise.reject(new Error('no online store in this test')),
    deadLetters: async () => noLetters,
  }
  await backfillRecorded(registry, env, {
    view: BACKFILLED_VIEW,
    liveGroupId: 'kfs-engine',
    logger,
    archiveSnapshotId: baseline.snapshotId,
    checkpointEveryRecords: every,
  })
  return {
    status: await registry.getBackfillStatus(BACKFILLED_VIEW.name, BACKFILLED_VIEW.version),
    rows: await viewRows(storage),
  }
}

async function storageOf(baseline: Baseline): Promise<MemoryObjectStore> {
  const storage = new MemoryObjectStore()
  for (const [key, body] of baseline.objects) await storage.put(key, body)
  return storage
}

/** What the partition slot logs when another owner published its checkpoint first. */
/**
 * Shared storage as several processes see it: the first of them to publish a checkpoint record
 * stalls right after it (a GC pause, a slow disk: its writes wait until `release`, its reads go
 * on), while the others run. They find that record published, so each is fenced at its own first
 * publish, and nothing prunes the record until the stalled one is released.
 */
class StallFirstPublisher {
  #stalled: number | undefined
  #release = () => {}
  readonly #released = new Promise<void>((resolve) => (this.#release = resolve))

  readonly storage: ObjectStore
  constructor(storage: ObjectStore) {
    this.storage = storage
  }

  release(): void {
    this.#release()
  }

  /** Which process stalled (its index), once one has. */
  get stalled(): number | undefined {
    return this.#stalled
  }

  storeOf(process: number): ObjectStore {
    const { storage } = this
    const write = async <T>(call: () => Promise<T>): Promise<T> => {
      if (this.#stalled === process) await this.#released
      return call()
    }
    return {
      rootUri: storage.rootUri,
      uriOf: (key) => storage.uriOf(key),
      get: (key) => storage.get(key),
      list: (prefix) => storage.list(prefix),
      listWithTimes: (prefix) => storage.listWithTimes(prefix),
      put: (key, body) => write(() => storage.put(key, body)),
      delete: (key) => write(() => storage.delete(key)),
      putIfAbsent: (key, body) =>
        write(async () => {
          const created = await storage.putIfAbsent(key, body)
          if (created && key.includes('/ckpt-') && this.#stalled === undefined) this.#stalled = process
          return created
        }),
    }
  }
}

/**
 * Every partition's newest checkpoint still restores (what the live hand-off reads): a backfill run
 * once more restores each partition, finds it complete and commits nothing new.
 */
async function assertRestorable(baseline: Baseline, storage: ObjectStore, every: number): Promise<void> {
  const before = await viewRows(storage)
  const again = await backfill(baseline, storage, messageLogger(), every)
  assert.deepEqual([again.status?.state, again.rows], ['complete', before], 'a backfill run once more restores every checkpoint and adds nothing')
}

const FENCED = 'checkpoint fenced: another owner published first'

void describe('backfills of one view at once', async () => {
  const baseline = await buildBaseline()
  after(() => rm(baseline.dir, { recursive: true, force: true }))

  // Checkpoint often (every 7 and 40 records buffered), so that they race many times per partition.
  for (const every of [7, 40]) {
    const alone = messageLogger()
    const clean = await backfill(baseline, await storageOf(baseline), alone, every)

    for (const processes of [2, 3]) {
      void test(`${processes} backfills at once, checkpoints every ${every} records: each reports complete only with every row committed`, async () => {
        assert.equal(clean.status?.state, 'complete')
        assert.ok(clean.rows.length > 0, 'the clean backfill wrote rows')
        assert.deepEqual(
          alone.messages.filter((m) => m === FENCED),
          [],
          'a backfill alone is never fenced',
        )
        const storage = await storageOf(baseline)
        const loggers = Array.from({ length: processes }, () => messageLogger())
        const done = await Promise.all(loggers.map((logger) => backfill(baseline, storage, logger, every)))
        const fences = loggers.reduce((n, l) => n + l.messages.filter((m) => m === FENCED).length, 0)
        assert.ok(fences > 0, 'the backfills raced: at least one checkpoint was fenced')
        done.forEach((got, i) => {
          assert.equal(got.status?.state, 'complete', `backfill ${i}: status`)
          assert.deepEqual(got.status.completeThrough, clean.status!.completeThrough, `backfill ${i}: complete through`)
          assert.deepEqual(got.rows, clean.rows, `backfill ${i}: the view's offline rows when it returned`)
        })
        assert.deepEqual(await viewRows(storage), clean.rows, 'offline rows at the end')
        await assertRestorable(baseline, storage, every)
      })
    }

    void test(`the first backfill to publish a checkpoint stalls while another runs to the end, checkpoints every ${every} records`, async () => {
      const storage = await storageOf(baseline)
      const shared = new StallFirstPublisher(storage)
      const loggers = [messageLogger(), messageLogger()]
      const done = loggers.map((logger, i) => backfill(baseline, shared.storeOf(i), logger, every))
      while (shared.stalled === undefined) await new Promise((resolve) => setImmediate(resolve))
      const stalled = shared.stalled
      const running = 1 - stalled
      // The running one was fenced by the stalled one's record: it must go on from that checkpoint
      // and finish every partition — not report the view complete with its own rows never committed.
      const got = await done[running]!
      assert.ok(loggers[running]!.messages.includes(FENCED), 'the running backfill was fenced')
      assert.equal(got.status?.state, 'complete', 'the running backfill: status')
      assert.deepEqual(got.status.completeThrough, clean.status!.completeThrough, 'the running backfill: complete through')
      assert.deepEqual(got.rows, clean.rows, "the running backfill: the view's offline rows when it returned")
      shared.release()
      const late = await done[stalled]!
      assert.deepEqual([late.status?.state, late.rows], ['complete', clean.rows], 'the stalled backfill, released')
      assert.deepEqual(late.status!.completeThrough, clean.status!.completeThrough)
      await assertRestorable(baseline, storage, every)
    })
  }
})
