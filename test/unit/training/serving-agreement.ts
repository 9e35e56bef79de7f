/**
 * The training–serving agreement harness: the same feature rows go to the offline table (through
 * the engine's Iceberg sink) and to the online store (the embedded one), and for each label
 * (entity, time t) the training set's row is compared with what `POST /v1/features` answers on a
 * clock at t, over an online store holding the rows that had been written by t. The point of kfs
 * (docs/design.md §9) is that the two are the same value.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import type { Duration } from '../../../core/duration.ts'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as examples from '../../../examples/features.ts'
import { entity, featureView, source } from '../../../features/index.ts'
import type { FeatureValue, FeatureViewDef, RequestFeatureDef, StampedRow } from '../../../features/types.ts'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { encodeParquetColumns, readParquetBatches } from '../../../adapters/offline/parquet/index.ts'
import { EmbeddedOnlineStore } from '../../../adapters/online-store/embedded/embedded-online-store.ts'
import { collectDefinitions, createRegistry } from '../../../registry/index.ts'
import { createFeatureCatalog } from '../../../serving/feature-catalog.ts'
import { getFeatures } from '../../../serving/handlers/get-features.ts'
import { HotCache } from '../../../serving/hot-cache.ts'
import { createTrainingSet } from '../../../training/index.ts'
import { manualClock, trainingDeps, writeRows } from './fixtures.ts'

/** A source whose events carry every kind of value the probe views aggregate. */
export const probes = source({
  name: 'probes',
  topic: 'probes',
  schema: {
    type: 'record',
    name: 'Probe',
    fields: [
      { name: 'user_id', type: 'string' },
      { name: 'account_id', type: 'long' },
      { name: 'x', type: 'double' },
      { name: 'n', type: 'long' },
      { name: 's', type: 'string' },
      { name: 'ts', type: { type: 'long', logicalType: 'timestamp-millis' } },
    ],
  },
  eventTimeField: 'ts',
  keyedBy: examples.user,
  description: 'values at their edges',
})

export const account = entity({
  name: 'account',
  joinKeys: ['account_id'],
  keyType: 'int',
  description: 'an account, keyed by a 64-bit integer',
})
export const userAccount = entity({
  name: 'user_account',
  joinKeys: ['user_id', 'account_id'],
  description: 'a user in an account',
})

const lasts = (version: number, ttl: Duration) => ({
  version,
  source: probes,
  aggregations: [
    { op: 'last' as const, field: 'x', windows: ['lifetime' as const] },
    { op: 'last' as const, field: 'n', windows: ['lifetime' as const] },
    { op: 'last' as const, field: 's', windows: ['lifetime' as const] },
  ],
  ttl,
  freshnessSla: '1m' as const,
  owner: 'test@example.com',
  description: 'the last value of each probe field',
})

/** Features `x_last` (double), `n_last` (long), `s_last` (string) of a user, TTL 1 h. */
export const userProbe = featureView({ name: 'user_probe', entity: examples.user, ...lasts(1, '1h') })
/** Version 2 of user_probe: same features, another table. */
export const userProbeV2 = featureView({ name: 'user_probe', entity: examples.user, ...lasts(2, '1h') })
export const accountProbe = featureView({ name: 'account_probe', entity: account, ...lasts(1, '1h') })
/** Its entity's keys are text, so the probe's long account_id is written as one (else every record is refused `invalid_key`). */
export const userAccountProbe = featureView({
  name: 'user_account_probe',
  entity: userAccount,
  ...lasts(1, '1h'),
  map: (e) => ({ ...e, account_id: e.account_id === null || e.account_id === undefined ? e.account_id : String(e.account_id) }),
  mapFields: { account_id: 'string' },
})

export const probeViews: readonly FeatureViewDef[] = [userProbe, userProbeV2, accountProbe, userAccountProbe]

export interface AgreementLabel {
  /** Join key → value, as a CSV cell (join keys stay strings) and as the request's entity. */
  readonly keys: Readonly<Record<string, string>>
  readonly tMs: number
  /** Request inputs: the request's `request` object, and label columns written as their text. */
  readonly request?: Readonly<Record<string, number | string | boolean>>
}

export type Outcome =
  { readonly ok: true; readonly values: readonly unknown[] } | { readonly ok: false; readonly message: string }

/** Parquet int64 cells come back as bigints; serving's JSON numbers are compared with them as numbers. */
function plain(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v)
  if (Array.isArray(v)) return v.map(plain)
  return v ?? null
}

function csvCell(v: string | number | boolean): string {
  const s = String(v)
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s
}

async function parquetLabels(
  labels: readonly AgreementLabel[],
  joinKeys: readonly string[],
  inputs: readonly string[],
): Promise<Uint8Array> {
  const names = [...joinKeys, 'ts', ...inputs]
  const file = await encodeParquetColumns(
    names.map((name, i) => ({ name, type: name === 'ts' ? 'long' : 'string', fieldId: i + 1, required: false })),
    [
      ...joinKeys.map((k) => labels.map((l) => l.keys[k] ?? null)),
      labels.map((l) => l.tMs),
      ...inputs.map((f) => labels.map((l) => (l.request?.[f] === undefined ? null : String(l.request[f])))),
    ],
  )
  return file.bytes
}

/**
 * Builds a training set of `features` for `labels` over `rows` (view → rows, written offline in
 * order: the array order is archive order) and asks serving the same for each label.
 */
export async function trainAndServe(args: {
  readonly rows: ReadonlyMap<FeatureViewDef, readonly StampedRow[]>
  readonly labels: readonly AgreementLabel[]
  readonly features: readonly string[]
  readonly requestFeatures?: readonly RequestFeatureDef[]
  /** Build the training set as served (joined on created_at); default point in time. */
  readonly asServed?: boolean
  /** `parquet`: the labels as a Parquet file whose join keys and inputs are string columns (ts epoch ms); default CSV. */
  readonly labelFormat?: 'csv' | 'parquet'
  /** Serve through the hot-key cache (its values are decoded, not the stored text); default off. */
  readonly servingCache?: boolean
}): Promise<{
  readonly training: Outcome[] | { readonly ok: false; readonly message: string }
  /** The training set's feature columns, in the order asked (empty when it failed). */
  readonly trainingColumns: readonly string[]
  readonly serving: Outcome[]
}> {
  const store = new MemoryObjectStore()
  const registry = createRegistry({ store, clock: manualClock() })
  await registry.apply(
    collectDefinitions({ ...examples, probes, account, userAccount, userProbe, accountProbe, userAccountProbe }),
  )
  await registry.apply(
    collectDefinitions({ ...examples, probes, account, userAccount, userProbe: userProbeV2, accountProbe, userAccountProbe }),
  )
  for (const v of [...probeViews, examples.userClicks]) await registry.setBackfillStatus(v.name, v.version, { state: 'complete' })
  for (const [view, rows] of args.rows) {
    await writeRows(
      store,
      view,
      rows.map((r, offset) => ({
        entityKey: r.entityKey,
        asOfMs: r.asOfMs,
        createdAtMs: r.createdAtMs,
        offset,
        values: r.values,
      })),
    )
  }

  const joinKeys = [...new Set(args.labels.flatMap((l) => Object.keys(l.keys)))]
  const inputs = [...new Set(args.labels.flatMap((l) => Object.keys(l.request ?? {})))]
  const header = [...joinKeys, 'ts', ...inputs]
  const lines = [
    header.join(','),
    ...args.labels.map((l) =>
      [...joinKeys.map((k) => csvCell(l.keys[k] ?? '')), String(l.tMs), ...inputs.map((f) => csvCell(l.request?.[f] ?? ''))].join(
        ',',
      ),
    ),
  ]
  const dir = await mkdtemp(join(tmpdir(), 'kfs-agreement-'))
  let training: Outcome[] | { ok: false; message: string }
  let trainingColumns: readonly string[] = []
  try {
    const output = join(dir, 'set.parquet')
    await createTrainingSet({
      ...trainingDeps(store),
      registry,
      requestFeatures: args.requestFeatures ?? [],
      labels:
        args.labelFormat === 'parquet'
          ? { bytes: await parquetLabels(args.labels, joinKeys, inputs), format: 'parquet' }
          : { bytes: new TextEncoder().encode(`${lines.join('\n')}\n`), format: 'csv' },
      features: args.features,
      asServed: args.asServed ?? false,
      output,
    })
    // The feature columns follow the label columns, one per feature in the order asked: read by
    // position, their names (the training set's naming rule) are the caller's to check.
    const columns: Record<string, unknown[]> = {}
    for await (const batch of readParquetBatches(new Uint8Array(await readFile(output)), { longAs: 'bigint' })) {
      for (const [name, values] of Object.entries(batch.columns)) (columns[name] ??= []).push(...values)
    }
    const names = Object.keys(columns).slice(-args.features.length)
    trainingColumns = names
    training = args.labels.map((_, r) => ({ ok: true, values: names.map((n) => plain(columns[n]![r])) }))
  } catch (err: unknown) {
    training = { ok: false, message: (err as Error).message }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }

  const serving: Outcome[] = []
  for (const label of args.labels) {
    const clock = { nowMs: () => label.tMs, sleep: async () => {} }
    const online = new EmbeddedOnlineStore({ clock })
    // What Redis held at t: every row written by then, kept by its conditional write.
    for (const [view, rows] of args.rows)
      await online.writeRows(
        view,
        rows.filter((r) => r.createdAtMs <= label.tMs),
      )
    const catalog = createFeatureCatalog({
      views: probeViews.concat([examples.userClicks]),
      requestFeatures: args.requestFeatures ?? [],
    })
    try {
      const body = await getFeatures(
        {
          entities: Object.fromEntries(Object.entries(label.keys).map(([k, v]) => [k, [v]])),
          features: args.features,
          request: label.request ?? {},
        },
        {
          catalog,
          store: online,
          clock,
          maxLookups: 100,
          cache: args.servingCache === true ? new HotCache({ ttlMs: 1000, maxEntries: 100 }) : undefined,
        },
      )
      const parsed = JSON.parse(body.text) as { rows: { values: unknown[] }[] }
      serving.push({ ok: true, values: parsed.rows[0]!.values.map(plain) })
    } catch (err: unknown) {
      serving.push({ ok: false, message: (err as Error).message })
    }
  }
  return { training, trainingColumns, serving }
}

/** A row written to both stores at its as_of. */
export function stamped(entityKey: string, asOfMs: number, values: readonly FeatureValue[], createdAtMs = asOfMs): StampedRow {
  return { entityKey, asOfMs, createdAtMs, values }
}
