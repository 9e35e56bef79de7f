/**
 * `npm run bench -- checkpoint`: checkpoint duration against state size, on a local directory and
 * on MinIO (the real stack's S3), for one partition slot of the benchmark view.
 *
 * For each size N (KFS_BENCH_CHECKPOINT_KEYS, default 10000,100000,500000 × KFS_BENCH_SCALE; 1000000 takes ~3.5 min
 * here, mostly the first checkpoint's 1M-row Parquet files) a fresh slot takes N
 * events of N distinct users (all inside one hop, so no boundary rows), then:
 *   - checkpoint 1 carries the N buffered archive and feature rows plus the state, a full base
 *     (the first checkpoint after a burst);
 *   - 1,000 more events follow and checkpoint 2 writes a delta of the 1,000 keys they changed —
 *     the steady-state cost of a checkpoint (incremental, engine/state-chain.ts) at that state size;
 *   - a restore from checkpoint 2 (the base and one delta) is timed and must equal the live state;
 *   - 1,000 more events follow and checkpoint 3 compacts (the slot runs with one delta per chain)
 *     into a full base — the periodic cost, once per 32 checkpoints or so by default.
 * Baseline, same run and store: a raw `put` of an object as large as the full state. The goal is
 * a steady checkpoint within 3× that put: `checkpoint_over_put` = checkpoint 2 / put ≤ 3, i.e.
 * `checkpoint_ms` ≤ `bound_ms`.
 *
 * BENCH checkpoint keys=… store=s3 checkpoint_ms=… bound_ms=… checkpoint_over_put=… baseline_put_ms=…
 *   full_checkpoint_ms=… restore_ms=… first_checkpoint_ms=… bytes=… delta_bytes=… local_…
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { systemClock } from '../core/clock.ts'
import type { SourceDef } from '../features/types.ts'
import { CheckpointStore } from '../engine/checkpoint-store.ts'
import { PartitionSlot } from '../engine/partition-slot.ts'
import type { LogRecord } from '../ports/event-log.ts'
import type { ObjectStore } from '../ports/object-store.ts'
import { createDecoder } from '../schemas/decoder.ts'
import { createEncoder, type Encoder } from '../schemas/encoder.ts'
import { EmbeddedSchemaRegistry } from '../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { IcebergOfflineSink } from '../adapters/offline/iceberg/offline-sink.ts'
import { LocalObjectStore } from '../adapters/object-store/index.ts'
import { S3ObjectStore } from '../adapters/object-store/s3/index.ts'
import { prng } from '../test/support/scenario.ts'
import { benchLine, progress, stderrLogger } from './_support/report.ts'
import { scaled } from './_support/scale.ts'
import { ensureStack } from './_support/stack.ts'
import { benchViews, newRunId } from './_support/views.ts'

const SIZES = process.env.KFS_BENCH_CHECKPOINT_KEYS?.split(',').map(Number) ?? [10_000, 100_000, 500_000].map((n) => scaled(n, 100))
/** Events between checkpoints 1 and 2, and 2 and 3: a tenth of the smallest size at most, so checkpoint 2 stays a delta. */
const FOLLOW = scaled(1_000, 10)
const BASE_MS = Date.UTC(2026, 0, 1, 12, 0, 1)

interface Result {
  store: string
  keys: number
  bytes: number
  deltaBytes: number
  firstMs: number
  steadyMs: number
  fullMs: number
  restoreMs: number
  putMs: number
}

/** `store`, counting the bytes of the state deltas it is given. */
function countingDeltas(store: ObjectStore): { store: ObjectStore; deltaBytes: () => number } {
  let bytes = 0
  const counting: ObjectStore = {
    rootUri: store.rootUri,
    get: (key) => store.get(key),
    put: (key, body) => ((bytes += /\/delta-[^/]*$/.test(key) ? body.length : 0), store.put(key, body)),
    putIfAbsent: (key, body) => store.putIfAbsent(key, body),
    delete: (key) => store.delete(key),
    list: (prefix) => store.list(prefix),
    listWithTimes: (prefix) => store.listWithTimes(prefix),
    uriOf: (key) => store.uriOf(key),
  }
  return { store: counting, deltaBytes: () => bytes }
}

function records(encoder: Encoder, from: number, count: number, keys: number, offset: number): LogRecord[] {
  const rand = prng(from + 1)
  const out: LogRecord[] = []
  for (let i = 0; i < count; i++) {
    const user = `u${(from + i) % keys}`
    // Within one 1-minute hop: rows on every event, none at hop boundaries.
    const ts = BASE_MS + Math.floor(((from + i) % keys) * (50_000 / keys))
    const value = encoder.encode({ user_id: user, item_id: `i${Math.floor(rand() * 500)}`, amount: Math.round(rand() * 20_000) / 100, currency: 'EUR', ts })
    out.push({ topic: 't', partition: 0, offset: String(offset + i), key: Buffer.from(user), value, timestampMs: ts, headers: {} })
  }
  return out
}

async function measure(storeName: string, rawStore: ObjectStore, source: SourceDef, view: ReturnType<typeof benchViews>['view'], encoder: Encoder, registry: EmbeddedSchemaRegistry, keys: number): Promise<Result> {
  const { store, deltaBytes } = countingDeltas(rawStore)
  // One delta per chain: checkpoint 2 is a delta, checkpoint 3 the compaction into a new base.
  const chainPolicy = { maxDeltas: 1, maxDeltaBytesFraction: 0.5 }
  const deps = { offline: new IcebergOfflineSink(store), checkpoints: new CheckpointStore(store, `bench-${keys}`), clock: systemClock, logger: stderrLogger(), chainPolicy }
  // scratch: each size runs under its own group over the one store and topic, so a later size finds
  // the tables an earlier one committed; the fresh-start check (engine/fresh-start-guard.ts) is not
  // what this measures, and it would refuse the start.
  const options = { topic: source.topic, partition: 0, source, views: [view], decoder: createDecoder({ registry, readerSchema: source.schema }), archive: true, scratch: true }
  const slot = await PartitionSlot.restore(options, deps)
  const fill = performance.now()
  for (let from = 0; from < keys; from += 5_000) await slot.processRecords(records(encoder, from, Math.min(5_000, keys - from), keys, from), systemClock.nowMs())
  progress(`${storeName} ${keys} keys: state built in ${(performance.now() - fill).toFixed(0)} ms`)
  let t = performance.now()
  if (!(await slot.checkpoint())) throw new Error('checkpoint fenced')
  const firstMs = performance.now() - t
  await slot.processRecords(records(encoder, keys, FOLLOW, keys, keys), systemClock.nowMs())
  t = performance.now()
  if (!(await slot.checkpoint())) throw new Error('checkpoint fenced')
  const steadyMs = performance.now() - t
  const delta = deltaBytes()
  // A restart here reads the base and the delta: its state must be the live one, byte for byte.
  t = performance.now()
  const restored = await PartitionSlot.restore(options, deps)
  const restoreMs = performance.now() - t
  if (!Buffer.from(restored.processors[0]!.task.snapshot()).equals(slot.processors[0]!.task.snapshot())) throw new Error('base + delta restored another state')
  await slot.processRecords(records(encoder, keys + FOLLOW, FOLLOW, keys, keys + FOLLOW), systemClock.nowMs())
  t = performance.now()
  if (!(await slot.checkpoint())) throw new Error('checkpoint fenced')
  const fullMs = performance.now() - t
  if (deltaBytes() !== delta) throw new Error('checkpoint 3 wrote a delta, not the compaction')
  const bytes = slot.processors[0]!.task.snapshot().length
  const blob = new Uint8Array(bytes).fill(7)
  t = performance.now()
  await rawStore.put(`bench-put/${keys}.bin`, blob)
  const putMs = performance.now() - t
  const r = { store: storeName, keys, bytes, deltaBytes: delta, firstMs, steadyMs, fullMs, restoreMs, putMs }
  progress(
    `${storeName} ${keys} keys: state ${bytes} B, first checkpoint ${firstMs.toFixed(0)} ms, steady (delta ${delta} B) ${steadyMs.toFixed(0)} ms, compaction ${fullMs.toFixed(0)} ms, restore (base + delta) ${restoreMs.toFixed(0)} ms, raw put ${putMs.toFixed(0)} ms`,
  )
  return r
}

const stack = await ensureStack()
const dir = mkdtempSync(join(tmpdir(), 'kfs-bench-ckpt-'))
const run = newRunId()
const s3 = new S3ObjectStore({
  bucket: stack.s3.bucket,
  prefix: `bench/${run}`,
  region: stack.s3.region,
  endpoint: stack.s3.endpoint,
  credentials: { accessKeyId: stack.s3.accessKeyId, secretAccessKey: stack.s3.secretAccessKey },
})
try {
  const { source, view } = benchViews(run, { partitions: 1 })
  const registry = new EmbeddedSchemaRegistry({ dir: join(dir, 'schemas') })
  const encoder = await createEncoder({ registry, subject: `${source.topic}-value`, schema: source.schema })
  const results: Result[] = []
  for (const keys of SIZES) {
    results.push(await measure('local', new LocalObjectStore(join(dir, `local-${keys}`)), source, view, encoder, registry, keys))
    results.push(await measure('s3', s3, source, view, encoder, registry, keys))
  }
  const row = (c: string[]) => c.map((x, i) => x.padStart(i === 0 ? 6 : 12)).join(' ')
  process.stderr.write(`\n${row(['store', 'keys', 'state_B', 'delta_B', 'first_ms', 'ckpt_ms', 'full_ms', 'put_ms', 'ckpt/put'])}\n`)
  for (const r of results) {
    const cells = [r.store, String(r.keys), String(r.bytes), String(r.deltaBytes), r.firstMs.toFixed(0), r.steadyMs.toFixed(0), r.fullMs.toFixed(0), r.putMs.toFixed(0), (r.steadyMs / r.putMs).toFixed(2)]
    process.stderr.write(`${row(cells)}\n`)
  }
  const top = results.filter((r) => r.store === 's3').at(-1)!
  const local = results.filter((r) => r.store === 'local').at(-1)!
  benchLine('checkpoint', {
    keys: top.keys,
    store: 's3',
    checkpoint_ms: top.steadyMs,
    bound_ms: 3 * top.putMs,
    checkpoint_over_put: top.steadyMs / top.putMs,
    baseline_put_ms: top.putMs,
    full_checkpoint_ms: top.fullMs,
    restore_ms: top.restoreMs,
    first_checkpoint_ms: top.firstMs,
    bytes: top.bytes,
    delta_bytes: top.deltaBytes,
    local_checkpoint_ms: local.steadyMs,
    local_full_checkpoint_ms: local.fullMs,
    local_baseline_put_ms: local.putMs,
  })
} finally {
  rmSync(dir, { recursive: true, force: true })
  s3.close()
  stack.release()
}
