/**
 * Run-scoped scenarios for table and changelog sources on the real stack (docs/design.md §11):
 * a run's env and object store, PyIceberg as the foreign engine writing and reading tables, the
 * change envelopes a topic holds, a view's offline rows and its online rows in Redis.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import type { FeatureRow, FeatureViewDef, SourceDef } from '../../features/types.ts'
import type { ChangeEnvelope } from '../../features/change-envelope.ts'
import type { EventLog } from '../../ports/event-log.ts'
import type { OnlineRead } from '../../ports/online-store.ts'
import { scanTopic } from '../../ingest/scan-topic.ts'
import { createDecoder } from '../../schemas/decoder.ts'
import { createChangeJsonDecoder } from '../../schemas/change-json-decoder.ts'
import { ConfluentSchemaRegistry } from '../../adapters/schema-registry/confluent/confluent-schema-registry.ts'
import type { S3ObjectStore } from '../../adapters/object-store/s3/index.ts'
import { stackObjectStore } from './stack-store.ts'
import { RedisOnlineStore } from '../../adapters/online-store/redis/redis-online-store.ts'
import { readFeatureRowsByEntity } from '../../adapters/offline/iceberg/feature-rows.ts'
import { runKfs, type KfsChild } from './kfs-process.ts'
import { valuesClose } from './scenario.ts'
import { newRunId } from './stack-env.ts'
import { encodeEntityKey } from '../../core/entity-key.ts'
import type { UserRow } from '../../examples/generate-tables.ts'

const execFileP = promisify(execFile)
const ROOT = fileURLToPath(new URL('../..', import.meta.url))

export interface ChangesRun {
  readonly id: string
  readonly env: Record<string, string>
  /** `kfs run` arguments for this run's own consumer group. */
  readonly runArgs: readonly string[]
  readonly group: string
  readonly store: S3ObjectStore
}

/** A run scoped by KFS_TEST_RUN: its own topics, views, S3 prefix, data dir and group; `kfs apply` done. */
export async function prepareChangesRun(base: Record<string, string>, features: string, dataRoot: string, label: string): Promise<ChangesRun> {
  const id = `${newRunId()}${label}`
  const env = {
    ...base,
    KFS_TEST_RUN: id,
    KFS_FEATURES: features,
    KFS_S3_PREFIX: `it/${id}`,
    KFS_DATA_DIR: join(dataRoot, id),
    KFS_CHECKPOINT_INTERVAL_MS: '1000',
    KFS_CHECKPOINT_MAX_RECORDS: '5000',
  }
  await runKfs(['apply'], env)
  const store = stackObjectStore(base, `it/${id}`)
  return { id, env, group: `kfs-${id}`, runArgs: ['run', '--group', `kfs-${id}`], store }
}

/** A fresh instance of a run-scoped fixture module: its names follow KFS_TEST_RUN at import time. */
export async function importScoped<T>(specifier: string, run: string): Promise<T> {
  const previous = process.env.KFS_TEST_RUN
  process.env.KFS_TEST_RUN = run
  try {
    return (await import(`${specifier}?run=${run}`)) as T
  } finally {
    if (previous === undefined) delete process.env.KFS_TEST_RUN
    else process.env.KFS_TEST_RUN = previous
  }
}

/** The PyIceberg venv's python (scripts/pyiceberg/ensure-venv.sh creates it once). */
export async function pyicebergPython(): Promise<string> {
  const { stdout } = await execFileP('bash', [join(ROOT, 'scripts/pyiceberg/ensure-venv.sh')], { maxBuffer: 16 * 1024 * 1024 })
  return stdout.trim()
}

export async function runPython(python: string, args: readonly string[], env: Record<string, string>): Promise<string> {
  const { stdout } = await execFileP(python, [...args], { env: { ...process.env, ...env }, maxBuffer: 512 * 1024 * 1024 })
  return stdout
}

export interface LoggedChange {
  readonly partition: number
  readonly offset: string
  readonly key: string | null
  readonly envelope: ChangeEnvelope
}

/** Every committed change envelope of a topic, decoded as the engine decodes it; a record that does not decode fails. */
export async function changesInTopic(log: EventLog, source: SourceDef, registryUrl: string): Promise<LoggedChange[]> {
  const decoder =
    source.changes?.format === 'json'
      ? createChangeJsonDecoder({ rowSchema: source.changes.rowSchema })
      : createDecoder({ registry: new ConfluentSchemaRegistry({ url: registryUrl }), readerSchema: source.schema })
  const out: LoggedChange[] = []
  await scanTopic(
    log,
    source.topic,
    async (records) => {
      const decoded = await decoder.decodeBatch(records.map((r) => r.value))
      decoded.forEach((d, i) => {
        const r = records[i]!
        assert.ok(d.ok, `${source.topic} ${r.partition}@${r.offset} decodes`)
        out.push({ partition: r.partition, offset: r.offset, key: r.key === null ? null : new TextDecoder().decode(r.key), envelope: d.event as unknown as ChangeEnvelope })
      })
    },
    { groupPrefix: `check-${source.topic}` },
  )
  return out
}

/** Offline rows of each view by entity, in archive order; `deleted` kept (tombstones). */
export async function offlineRows(store: S3ObjectStore, views: readonly FeatureViewDef[]): Promise<Map<FeatureViewDef, Map<string, FeatureRow[]>>> {
  const out = new Map<FeatureViewDef, Map<string, FeatureRow[]>>()
  for (const view of views) out.set(view, await readFeatureRowsByEntity(store, view))
  return out
}

/** Exact equality of two views' rows: entities, per-entity order, as_of, values and the tombstone mark. */
export function assertSameChangeRows(actual: Map<string, FeatureRow[]>, expected: Map<string, FeatureRow[]>, what: string): number {
  const norm = (r: FeatureRow) => ({ asOfMs: r.asOfMs, values: [...r.values], deleted: r.deleted === true })
  assert.deepEqual([...actual.keys()].sort(), [...expected.keys()].sort(), `${what}: entities`)
  let rows = 0
  for (const [key, exp] of expected) {
    const act = actual.get(key)!
    assert.deepEqual(act.map(norm), exp.map(norm), `${what}: rows of ${key}`)
    rows += exp.length
  }
  assert.ok(rows > 0, `${what}: expected some rows`)
  return rows
}

/** The online (Redis) answer for each key of a view, all features. */
export async function onlineRows(redisUrl: string, view: FeatureViewDef, keys: readonly string[], nowMs: number): Promise<OnlineRead[]> {
  const online = new RedisOnlineStore({ url: redisUrl })
  try {
    await online.ready()
    const features = view.features.map((f) => f.name)
    const out: OnlineRead[] = []
    for (let i = 0; i < keys.length; i += 2_000)
      out.push(...(await online.readRows(keys.slice(i, i + 2_000).map((entityKey) => ({ view, entityKey, features })), nowMs)))
    return out
  } finally {
    await online.close()
  }
}

/** An online read equals what the key's last offline row says: a tombstone answers MISSING. */
export function assertOnlineIsLatest(read: OnlineRead, latest: FeatureRow, what: string): void {
  if (latest.deleted === true) {
    assert.equal(read.status, 'MISSING', `${what}: a deleted key answers MISSING`)
    return
  }
  assert.equal(read.status, 'PRESENT', `${what}: status`)
  assert.equal(read.asOfMs, latest.asOfMs, `${what}: as_of`)
  assert.ok(read.values.every((v, i) => valuesClose(v, latest.values[i])), `${what}: values ${JSON.stringify(read.values)} vs ${JSON.stringify(latest.values)}`)
}

export async function sigkill(child: KfsChild, what: string): Promise<void> {
  assert.equal(child.child.exitCode, null, `${what} was still running when killed`)
  child.child.kill('SIGKILL')
  const result = await child.done
  assert.equal(result.signal, 'SIGKILL', `${what} ended badly:\n${result.stderr.slice(-2000)}`)
}

/**
 * Runs `child` in short slices (SIGCONT … SIGSTOP) and SIGKILLs it, stopped, as soon as `due()`
 * holds between two slices: a child that appends a few thousand records per slice cannot finish
 * unseen between two checks, however fast the machine.
 */
export async function killWhenDue(child: KfsChild, due: () => Promise<boolean>, what: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  try {
    while (!(await due())) {
      if (child.child.exitCode !== null || Date.now() > deadline) break
      child.child.kill('SIGCONT')
      await new Promise((r) => setTimeout(r, 20))
      child.child.kill('SIGSTOP')
    }
  } finally {
    if (child.child.exitCode === null) child.child.kill('SIGCONT')
  }
  await sigkill(child, what)
}

/**
 * Sum of a topic's end offsets: how far a producer has got. The topic must exist (create it first
 * the way its writer does): end offsets of a missing topic take the client ~35 s to refuse.
 */
export async function endOffsetSum(log: EventLog, topic: string): Promise<number> {
  const ends = await log.endOffsets(topic)
  return ends.reduce((n, e) => n + Number(e), 0)
}

/**
 * `endOffsetSum` once it has stopped moving (the same on reads `quietMs` apart): after a producer
 * is killed, a produce request it had already sent still lands on the broker a moment later, so a
 * read right after the kill can miss records the log will hold.
 */
export async function settledEndOffsetSum(log: EventLog, topic: string, quietMs = 500): Promise<number> {
  let last = await endOffsetSum(log, topic)
  for (;;) {
    await new Promise((r) => setTimeout(r, quietMs))
    const now = await endOffsetSum(log, topic)
    if (now === last) return now
    last = now
  }
}

/** A users row's primary key as the topic keys it. */
export const userKey = (userId: string): string => encodeEntityKey([userId])
/** A users row by every column: what must be in the log once. */
export const userRowId = (r: UserRow): string => JSON.stringify([r.user_id, r.updated_at, r.status, r.credit_limit, r.country])

/** The log holds exactly the expected rows, each once, as an upsert of its key, keyed by its primary key. */
export function assertEachUserRowOnce(logged: readonly LoggedChange[], expected: readonly UserRow[], what: string): void {
  const seen = new Map<string, number>()
  for (const c of logged) {
    const after = c.envelope.after as unknown as UserRow | null
    assert.ok(after !== null && (c.envelope.op === 'c' || c.envelope.op === 'u'), `${what}: an upsert`)
    assert.equal(c.key, userKey(after.user_id), `${what}: keyed by the primary key`)
    assert.equal(c.envelope.ts_ms, after.updated_at, `${what}: commit time is the row's event time`)
    seen.set(userRowId(after), (seen.get(userRowId(after)) ?? 0) + 1)
  }
  const doubled = [...seen].filter(([, n]) => n > 1)
  assert.deepEqual(doubled.slice(0, 5), [], `${what}: no row doubled (${doubled.length} are)`)
  const missing = expected.filter((r) => !seen.has(userRowId(r)))
  assert.deepEqual(missing.slice(0, 5), [], `${what}: no row lost (${missing.length} are)`)
  assert.equal(logged.length, expected.length, `${what}: record count`)
}

