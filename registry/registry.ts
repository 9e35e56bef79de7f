/**
 * The feature registry over an ObjectStore (local directory or S3): publishes definitions,
 * refuses edits to published view versions, answers list/show/diff/lineage, and tracks each view
 * version's backfill status for replay and training sets.
 *
 * Guarantees
 * - A view version is created once (putIfAbsent); two concurrent `apply`s of different logic under
 *   the same (name, version) cannot both win: the loser re-reads and is refused.
 * - `apply` checks every view before writing anything, so a refused apply writes nothing.
 * - One apply at a time (./apply-lock.ts): a second waits, then is checked against what the first
 *   wrote — two applies cannot both pass their checks against the same registry and both write.
 * - Metadata (owner, description, tags, SLA, online/offline) may change in place; logic may not,
 *   nor may offline be turned on (plan.ts: the offline table would start empty at that moment).
 */
import type { Clock } from '../core/clock.ts'
import { FeatureStoreError } from '../core/errors.ts'
import type { ObjectStore } from '../ports/object-store.ts'
import { objectStoreApplyLock, type ApplyLock } from './apply-lock.ts'
import type { TopicPartitionOffset } from '../ports/event-log.ts'
import type { DefinitionSet } from './collect-definitions.ts'
import { describeEntity, describeService, describeSource, requestFeatureLogic } from './describe.ts'
import { DefinitionChangedError } from './errors.ts'
import { hashLogic, shortHash } from './hash.ts'
import { buildLineage, type Lineage } from './lineage.ts'
import { planRegistry, type RegistryPlan, type ViewPlan } from './plan.ts'
import {
  parseViewKey,
  registryKeys,
  type BackfillState,
  type BackfillStatus,
  type RegistrySnapshot,
  type StoredEntity,
  type StoredRequestFeature,
  type StoredService,
  type StoredSource,
  type StoredView,
} from './records.ts'
import {
  backfillStatusProblem,
  nameOfKey,
  storedEntityProblem,
  storedRequestFeatureProblem,
  storedServiceProblem,
  storedSourceProblem,
  storedViewProblem,
} from './record-shapes.ts'
import { validateDefinitions, type KnownDefinitions } from './validate-definitions.ts'

export interface Registry {
  /** Publishes the definitions; throws DefinitionChangedError (nothing written) if a published view version changed. */
  apply(set: DefinitionSet): Promise<RegistryPlan>
  /** What `apply` would do, without writing. */
  diff(set: DefinitionSet): Promise<RegistryPlan>
  snapshot(): Promise<RegistrySnapshot>
  /** A view version, or its latest version when `version` is omitted. */
  getView(name: string, version?: number): Promise<StoredView | undefined>
  lineage(): Promise<Lineage>
  /** What definitions may reference without defining (for loadDefinitions' cross-reference checks). */
  known(): Promise<KnownDefinitions>
  setBackfillStatus(view: string, version: number, status: { state: BackfillState; completeThrough?: readonly TopicPartitionOffset[]; detail?: string }): Promise<void>
  getBackfillStatus(view: string, version: number): Promise<BackfillStatus | undefined>
  /** Throws BACKFILL_INCOMPLETE unless the view version's backfill is complete (docs/design.md §8). */
  assertBackfillComplete(view: string, version: number): Promise<void>
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

function encode(value: unknown): Uint8Array {
  return encoder.encode(`${JSON.stringify(value, null, 2)}\n`)
}

/** Reads a registry object; `problem` checks its shape (record-shapes.ts) so a damaged one is named, not half-read. */
async function readJson<T>(
  store: ObjectStore,
  key: string,
  problem: (value: unknown) => string | undefined,
): Promise<T | undefined> {
  const bytes = await store.get(key)
  if (bytes === undefined) return undefined
  let value: unknown
  try {
    value = JSON.parse(decoder.decode(bytes))
  } catch (err: unknown) {
    throw new FeatureStoreError('INVARIANT_VIOLATED', `registry object ${key} is not valid JSON; restore it from a backup or delete it and re-apply`, { cause: err })
  }
  const wrong = problem(value)
  if (wrong !== undefined) {
    throw new FeatureStoreError(
      'INVARIANT_VIOLATED',
      `registry object ${key} is not what kfs stores there (${wrong}): damaged, or written by a newer kfs; restore it from a backup, or delete it and re-apply`,
      { context: { key } },
    )
  }
  return value as T
}

const viewShape = (name: string, version: number) => (value: unknown) => storedViewProblem(value, { name, version })

function changedMessage(changed: readonly ViewPlan[]): string {
  return changed
    .map((v) => {
      const how =
        v.storedHash === v.hash ? 'its offline store turned on' : `hash ${shortHash(v.storedHash ?? '')}… → ${shortHash(v.hash)}…`
      const head = `view ${v.name} v${v.version} changed (${how}): publish it as version ${v.nextVersion}`
      return [head, ...v.logicChanges.map((c) => `    ${c}`)].join('\n')
    })
    .join('\n')
}

export function createRegistry(deps: { store: ObjectStore; clock: Clock; applyLock?: ApplyLock }): Registry {
  const { store, clock } = deps
  const applyLock = deps.applyLock ?? objectStoreApplyLock(store, clock)

  async function listJson<T>(prefix: string, problem: (value: unknown, name: string) => string | undefined): Promise<T[]> {
    const keys = (await store.list(prefix)).filter((k) => k.endsWith('.json'))
    const values = await Promise.all(keys.map((k) => readJson<T>(store, k, (value) => problem(value, nameOfKey(k)))))
    return values.filter((v): v is Awaited<T> => v !== undefined) as T[]
  }

  async function snapshot(): Promise<RegistrySnapshot> {
    const viewKeys = (await store.list('registry/views/')).map(parseViewKey).filter((k) => k !== undefined)
    const views = await Promise.all(
      viewKeys.map(async ({ name, version }) => {
        const view = await readJson<StoredView>(store, registryKeys.view(name, version), viewShape(name, version))
        return view === undefined
          ? undefined
          : {
              ...view,
              backfill: await readJson<BackfillStatus>(store, registryKeys.backfill(name, version), backfillStatusProblem),
            }
      }),
    )
    const byName = (a: { name: string }, b: { name: string }): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
    return {
      entities: (await listJson<StoredEntity>('registry/entities/', storedEntityProblem)).sort(byName),
      sources: (await listJson<StoredSource>('registry/sources/', storedSourceProblem)).sort(byName),
      views: views.filter((v) => v !== undefined).sort((a, b) => byName(a, b) || a.version - b.version),
      services: (await listJson<StoredService>('registry/services/', storedServiceProblem)).sort(byName),
      requestFeatures: (await listJson<StoredRequestFeature>('registry/request-features/', storedRequestFeatureProblem)).sort(
        byName,
      ),
    }
  }

  function knownFrom(snap: RegistrySnapshot): KnownDefinitions {
    return {
      views: snap.views.map((v) => ({ name: v.name, version: v.version, features: v.logic.features.map((f) => f.name) })),
      requestFeatures: snap.requestFeatures.map((r) => r.name),
      entities: snap.entities.map((e) => e.name),
    }
  }

  async function planned(set: DefinitionSet): Promise<{ plan: RegistryPlan; snap: RegistrySnapshot }> {
    const snap = await snapshot()
    validateDefinitions(set, knownFrom(snap), {
      sources: snap.sources,
      services: snap.services,
      requestFeatures: snap.requestFeatures.map((r) => ({ name: r.name, features: r.logic.features })),
    })
    return { plan: planRegistry(set, snap), snap }
  }

  async function diff(set: DefinitionSet): Promise<RegistryPlan> {
    return (await planned(set)).plan
  }

  async function publishView(v: ViewPlan, nowMs: number): Promise<void> {
    const record: StoredView = { name: v.name, version: v.version, hash: v.hash, publishedAtMs: nowMs, metadataUpdatedAtMs: nowMs, logic: v.logic, metadata: v.metadata }
    const key = registryKeys.view(v.name, v.version)
    if (!(await store.putIfAbsent(key, encode(record)))) {
      const winner = await readJson<StoredView>(store, key, viewShape(v.name, v.version))
      if (winner?.hash !== v.hash) {
        throw new DefinitionChangedError(
          `view ${v.name} v${v.version} was just published by someone else with different logic (hash ${shortHash(winner?.hash ?? '')}…); publish yours as version ${v.version + 1}`,
          { context: { view: v.name, version: v.version } },
        )
      }
    }
    const pending: BackfillStatus = { state: 'pending', completeThrough: [], updatedAtMs: nowMs }
    await store.putIfAbsent(registryKeys.backfill(v.name, v.version), encode(pending))
  }

  async function apply(set: DefinitionSet): Promise<RegistryPlan> {
    // Checked and written under one lock: a concurrent apply is checked against what this one wrote.
    const release = await applyLock.acquire()
    try {
      return await applyLocked(set)
    } finally {
      await release()
    }
  }

  async function applyLocked(set: DefinitionSet): Promise<RegistryPlan> {
    const { plan, snap } = await planned(set)
    const changed = plan.views.filter((v) => v.change === 'changed')
    if (changed.length > 0) {
      throw new DefinitionChangedError(changedMessage(changed), { context: { views: changed.map((v) => `${v.name}@${v.version}`).join(',') } })
    }
    const nowMs = clock.nowMs()
    const changedNames = (items: RegistryPlan['entities']) => new Set(items.filter((i) => i.change !== 'unchanged').map((i) => i.name))
    // Order matters for readers that follow references: entities and sources, then views, then users of views.
    const entities = changedNames(plan.entities)
    for (const e of set.entities.filter((d) => entities.has(d.name))) {
      await store.put(registryKeys.entity(e.name), encode({ ...describeEntity(e), updatedAtMs: nowMs } satisfies StoredEntity))
    }
    const sources = changedNames(plan.sources)
    for (const s of set.sources.filter((d) => sources.has(d.name))) {
      await store.put(registryKeys.source(s.name), encode({ ...describeSource(s), updatedAtMs: nowMs } satisfies StoredSource))
    }
    // A version published by an apply stopped before its status was written gets it now, as if never stopped.
    const withoutStatus = new Set(snap.views.filter((v) => v.backfill === undefined).map((v) => `${v.name}@${v.version}`))
    for (const v of plan.views) {
      if (v.change !== 'added' && withoutStatus.has(`${v.name}@${v.version}`)) {
        const pending: BackfillStatus = { state: 'pending', completeThrough: [], updatedAtMs: nowMs }
        await store.putIfAbsent(registryKeys.backfill(v.name, v.version), encode(pending))
      }
      if (v.change === 'added') {
        await publishView(v, nowMs)
      } else if (v.change === 'metadata-changed') {
        const prior = await readJson<StoredView>(store, registryKeys.view(v.name, v.version), viewShape(v.name, v.version))
        if (prior === undefined) throw new FeatureStoreError('INVARIANT_VIOLATED', `view ${v.name} v${v.version} disappeared during apply`)
        await store.put(registryKeys.view(v.name, v.version), encode({ ...prior, metadata: v.metadata, metadataUpdatedAtMs: nowMs } satisfies StoredView))
      }
    }
    const requestFeatures = changedNames(plan.requestFeatures)
    for (const r of set.requestFeatures.filter((d) => requestFeatures.has(d.name))) {
      const logic = requestFeatureLogic(r)
      const record: StoredRequestFeature = { name: r.name, hash: hashLogic(logic), updatedAtMs: nowMs, logic, description: r.description }
      await store.put(registryKeys.requestFeature(r.name), encode(record))
    }
    const services = changedNames(plan.services)
    for (const s of set.services.filter((d) => services.has(d.name))) {
      await store.put(registryKeys.service(s.name), encode({ ...describeService(s), updatedAtMs: nowMs } satisfies StoredService))
    }
    return plan
  }

  async function getView(name: string, version?: number): Promise<StoredView | undefined> {
    if (version !== undefined) return readJson<StoredView>(store, registryKeys.view(name, version), viewShape(name, version))
    const versions = (await store.list(`registry/views/${name}/`))
      .map(parseViewKey)
      .filter((k) => k !== undefined && k.name === name)
      .map((k) => k!.version)
    if (versions.length === 0) return undefined
    const latest = Math.max(...versions)
    return readJson<StoredView>(store, registryKeys.view(name, latest), viewShape(name, latest))
  }

  async function requireView(name: string, version: number): Promise<StoredView> {
    const view = await getView(name, version)
    if (view === undefined) throw new FeatureStoreError('NOT_FOUND', `view ${name} v${version} is not in the registry; run kfs apply first`, { context: { view: name, version } })
    return view
  }

  return {
    apply,
    diff,
    snapshot,
    getView,
    async lineage() {
      return buildLineage(await snapshot())
    },
    async known() {
      return knownFrom(await snapshot())
    },
    async setBackfillStatus(view, version, status) {
      await requireView(view, version)
      if (status.state !== 'pending' && status.state !== 'running' && status.state !== 'complete') {
        throw new FeatureStoreError('BAD_REQUEST', `backfill state must be pending, running or complete, got ${JSON.stringify(status.state)}`)
      }
      const record: BackfillStatus = {
        state: status.state,
        completeThrough: [...(status.completeThrough ?? [])],
        updatedAtMs: clock.nowMs(),
        ...(status.detail === undefined ? {} : { detail: status.detail }),
      }
      await store.put(registryKeys.backfill(view, version), encode(record))
    },
    async getBackfillStatus(view, version) {
      return readJson<BackfillStatus>(store, registryKeys.backfill(view, version), backfillStatusProblem)
    },
    async assertBackfillComplete(view, version) {
      await requireView(view, version)
      const status = await readJson<BackfillStatus>(store, registryKeys.backfill(view, version), backfillStatusProblem)
      if (status?.state !== 'complete') {
        throw new FeatureStoreError(
          'BACKFILL_INCOMPLETE',
          `view ${view} v${version} backfill is ${status?.state ?? 'unknown'}; run kfs replay for it before using it in a training set`,
          { context: { view, version } },
        )
      }
    },
  }
}
