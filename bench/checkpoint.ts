/**
 * `npm run bench -- checkpoint`: checkpoint duration against state size, on a local directory and
 * on MinIO (the real stack's S3), for one partition slot of the benchmark view.
 *
 * For each size N (KFS_BENCH_CHECKPOINT_KEYS, default 10000,100000,500000; 1000000 takes ~3.5 min
 * here, mostly the first checkpoint's 1M-row Parquet files) a fresh slot takes N
 * events of N distinct users (all inside one hop, so no boundary rows), then:
 *   - checkpoint 1 carries the N buffered archive and feature rows plus the state (the first
 *     checkpoint after a burst);
 *   - 1,000 more events follow and checkpoint 2 carries mostly state — the steady-state cost of a
 *     checkpoint at that state size.
 * Baseline, same run and store: a raw `put` of an object as large as the state blob. The ratio is
 * baseline / checkpoint 2 (1.0 = a checkpoint costs no more than writing its state).
 *
 * BENCH checkpoint keys=… store=s3 checkpoint_ms=… first_checkpoint_ms=… bytes=… baseline_put_ms=… ratio=…
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
import { ensureStack } from './_support/stack.ts'
import { benchViews, newRunId } from './_support/views.ts'

const SIZES = (process.env.KFS_BENCH_CHECKPOINT_KEYS ?? '10000,100000,500000').split(',').map(Number)
const BASE_MS = Date.UTC(2026, 0, 1, 12, 0, 1)

interface Result {
  store: string
  keys: number
  bytes: number
  firstMs: number
  steadyMs: number
  putMs: number
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

async function measure(storeName: string, store: ObjectStore, source: SourceDef, view: ReturnType<typeof benchViews>['view'], encoder: Encoder, registry: EmbeddedSchemaRegistry, keys: number): Promise<Result> {
  const deps = { offline: new IcebergOfflineSink(store), checkpoints: new CheckpointStore(store, `bench-${keys}`), clock: systemClock, logger: stderrLogger() }
  const slot = await PartitionSlot.restore({ topic: source.topic, partition: 0, source, views: [view], decoder: createDecoder({ registry, readerSchema: source.schema }), archive: true }, deps)
  const fill = performance.now()
  for (let from = 0; from < keys; from += 5_000) await slot.processRecords(records(encoder, from, Math.min(5_000, keys - from), keys, from), systemClock.nowMs())
  progress(`${storeName} ${keys} keys: state built in ${(performance.now() - fill).toFixed(0)} ms`)
  let t = performance.now()
  if (!(await slot.checkpoint())) throw new Error('checkpoint fenced')
  const firstMs = performance.now() - t
  await slot.processRecords(records(encoder, keys, 1_000, keys, keys), systemClock.nowMs())
  t = performance.now()
  if (!(await slot.checkpoint())) throw new Error('checkpoint fenced')
  const steadyMs = performance.now() - t
  const bytes = slot.processors[0]!.task.snapshot().length
  const blob = new Uint8Array(bytes).fill(7)
  t = performance.now()
  await store.put(`bench-put/${keys}.bin`, blob)
  const putMs = performance.now() - t
  const r = { store: storeName, keys, bytes, firstMs, steadyMs, putMs }
  progress(`${storeName} ${keys} keys: state ${bytes} B, first checkpoint ${firstMs.toFixed(0)} ms, steady ${steadyMs.toFixed(0)} ms, raw put ${putMs.toFixed(0)} ms`)
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
  process.stderr.write(`\n${row(['store', 'keys', 'state_B', 'first_ms', 'ckpt_ms', 'put_ms', 'put/ckpt'])}\n`)
  for (const r of results) process.stderr.write(`${row([r.store, String(r.keys), String(r.bytes), r.firstMs.toFixed(0), r.steadyMs.toFixed(0), r.putMs.toFixed(0), (r.putMs / r.steadyMs).toFixed(2)])}\n`)
  const top = results.filter((r) => r.store === 's3').at(-1)!
  const local = results.filter((r) => r.store === 'local').at(-1)!
  benchLine('checkpoint', {
    keys: top.keys,
    store: 's3',
    checkpoint_ms: top.steadyMs,
    first_checkpoint_ms: top.firstMs,
    bytes: top.bytes,
    baseline_put_ms: top.putMs,
    ratio: top.putMs / top.steadyMs,
    local_checkpoint_ms: local.steadyMs,
    local_baseline_put_ms: local.putMs,
  })
} finally {
  rmSync(dir, { recursive: true, force: true })
  s3.close()
  stack.release()
}
