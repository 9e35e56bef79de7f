/**
 * The feature endpoints as pure functions of (request, deps) → JSON body; serving/server/ does
 * the HTTP. Every request makes exactly one store call, however many views and entities it spans.
 *
 * Batch request (`POST /v1/features`):
 *   { "entities": { "<joinKey>": [v1, v2, …], … },
 *     "features": ["view:feature", "<request feature>", …]  |  "service": "<name>",
 *     "request": { …inputs of request features… } }
 * Entity lists are zipped into rows; a list of length 1 is repeated for every row, so
 * `{user_id: [u1, u2], item_id: [i9]}` means rows (u1, i9) and (u2, i9). Each view is looked up by
 * its entity's join keys, so one row can carry user, item and user×item features. A view whose
 * join keys are missing from the request is a 400 naming them.
 *
 * Response: `{ "features": [names…], "rows": [{ "entities": {…}, "values": [one per name],
 * "views": { "<view>": { "status", "as_of", "age_ms" } } }] }` — names once, values positional,
 * which halves the JSON of a 100-entity batch compared with a name → value object per row.
 * `views` is keyed by the view's plain name; only when one request reads two versions of the
 * same view (`user_clicks@1:x` and `user_clicks@2:x`) are *those* views keyed `name@version`, so
 * neither overwrites the other.
 *
 * Served-feature log: when `servedLog` is given and the request id is sampled, every (view,
 * entity) lookup of the request is recorded after the read — the values exactly as returned, the
 * status, as_of, and the time the store was read (see serving/served-log/). Recording never
 * awaits and never throws.
 *
 * Request-time features run the definition's own `fn` on the request inputs and the stored
 * features it declares (keyed `view:feature`), the same call training-set generation makes.
 * Stored values are null unless PRESENT, so `fn` sees what a point-in-time join would give it.
 * Ill-typed request inputs are the client's 400; a `fn` that throws or returns a value of another
 * type is the definition's fault, a 500 (serving/request-features.ts).
 */
import type { Clock } from '../../core/clock.ts'
import type { FeatureValue, FeatureViewDef, RequestFeatureDef } from '../../features/types.ts'
import type { OnlineRead } from '../../ports/online-store.ts'
import { checkJoinKeyValue, entityKeyOf } from '../entity-input.ts'
import { badRequest, HttpError } from '../errors.ts'
import type { FeatureCatalog, FeaturePlan } from '../feature-catalog.ts'
import { JsonBody, readValueJson, valueJson } from '../json-body.ts'
import { readLookups, type Lookup, type ReaderDeps } from '../feature-reader.ts'
import { runRequestFeature } from '../request-features.ts'
import { clippedName } from '../clipped-name.ts'
import type { ServedLogRecorder } from '../served-log/served-log.ts'

export interface FeatureHandlerDeps extends ReaderDeps {
  readonly catalog: FeatureCatalog
  readonly clock: Pick<Clock, 'nowMs'>
  /** Most (view, entity) lookups one request may make. */
  readonly maxLookups: number
  /** The served-feature log; absent = off. */
  readonly servedLog?: ServedLogRecorder | undefined
  /** Counts each lookup's status by view (serving/metrics.ts); absent = not counted. */
  readonly countLookup?: ((view: string, status: OnlineRead['status']) => void) | undefined
}

/** Counts the status of every (view, entity) lookup a request made. */
function countStatuses(deps: FeatureHandlerDeps, lookups: readonly Lookup[], reads: readonly OnlineRead[]): void {
  const count = deps.countLookup
  if (count === undefined) return
  for (let i = 0; i < lookups.length; i++) count(lookups[i]!.view.name, reads[i]!.status)
}

/** Records a sampled request's lookups in the served-feature log. */
function logServed(deps: FeatureHandlerDeps, requestId: string | undefined, lookups: readonly Lookup[], reads: readonly OnlineRead[], servedAtMs: number): void {
  const log = deps.servedLog
  if (log === undefined || requestId === undefined || !log.isSampled(requestId)) return
  log.record(
    lookups.map((lookup, i) => ({
      requestId,
      servedAtMs,
      viewName: lookup.view.name,
      viewVersion: lookup.view.version,
      entityKey: lookup.entityKey,
      status: reads[i]!.status,
      asOfMs: reads[i]!.asOfMs,
      features: lookup.features,
      values: reads[i]!.values,
    })),
  )
}

/** `"status":…,"as_of":…,"age_ms":…`: a view's state in a response, without braces. */
function viewStateMembers(read: OnlineRead, nowMs: number): string {
  const age = read.asOfMs === null ? null : nowMs - read.asOfMs
  return `"status":${JSON.stringify(read.status)},"as_of":${valueJson(read.asOfMs)},"age_ms":${valueJson(age)}`
}

/**
 * `GET /v1/features/:view/:entityKey` (single join key) or `GET /v1/features/:view?<joinKey>=…` (composite).
 * Body: `{ view, version, entity, status, as_of, age_ms, features: { name: value } }`, written as
 * JSON directly (serving/json-body.ts).
 */
export async function getViewFeatures(
  input: { readonly view: string; readonly entityKey?: string | undefined; readonly query?: Readonly<Record<string, string>> },
  deps: FeatureHandlerDeps,
  requestId?: string,
): Promise<JsonBody> {
  const view = deps.catalog.view(input.view)
  const { entity } = view
  // A parameter no route reads (a misspelt join key, an `as_of` this endpoint does not take) would
  // otherwise be ignored and the caller served something it did not ask for.
  const accepted = input.entityKey === undefined ? entity.joinKeys : []
  for (const name of Object.keys(input.query ?? {})) {
    if (!accepted.includes(name)) {
      throw badRequest(
        input.entityKey === undefined
          ? `query parameter ${clippedName(name)} is not a join key of view ${view.name} (join keys: ${entity.joinKeys.join(', ')})`
          : `query parameter ${clippedName(name)} is not accepted: GET /v1/features/${view.name}/:key takes no query parameters`,
        { view: view.name, parameter: clippedName(name) },
      )
    }
  }
  let parts: Record<string, unknown>
  if (input.entityKey !== undefined) {
    if (entity.joinKeys.length !== 1) {
      throw badRequest(`view ${view.name} has a composite key: pass ${entity.joinKeys.join(', ')} as query parameters`, { view: view.name })
    }
    parts = { [entity.joinKeys[0]!]: input.entityKey }
  } else {
    parts = { ...input.query }
  }
  const entityKey = entityKeyOf(entity, parts)
  const features = view.features.map((f) => f.name)
  const nowMs = deps.clock.nowMs()
  const lookups = [{ view, entityKey, features }]
  const [read] = await readLookups(lookups, deps, nowMs)
  countStatuses(deps, lookups, [read!])
  logServed(deps, requestId, lookups, [read!], nowMs)
  const entityOut: Record<string, unknown> = {}
  for (const k of entity.joinKeys) entityOut[k] = parts[k]
  let text = `{"view":${JSON.stringify(view.name)},"version":${valueJson(view.version)},"entity":${JSON.stringify(entityOut)},${viewStateMembers(read!, nowMs)},"features":{`
  for (let i = 0; i < features.length; i++) text += `${i === 0 ? '' : ','}${JSON.stringify(features[i])}:${readValueJson(read!, i)}`
  return new JsonBody(`${text}}}`)
}

interface BatchBody {
  readonly entities: Readonly<Record<string, readonly unknown[]>>
  readonly plan: FeaturePlan
  readonly request: Readonly<Record<string, unknown>>
}

const BATCH_FIELDS: readonly string[] = ['entities', 'features', 'service', 'request']

function parseBatch(body: unknown, catalog: FeatureCatalog): BatchBody {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('body must be a JSON object')
  const b = body as Record<string, unknown>
  // A field nothing reads (a misspelt `service`, an `as_of` this endpoint does not take) would be
  // ignored and the caller answered as if it had been honoured.
  for (const field of Object.keys(b)) {
    if (!BATCH_FIELDS.includes(field)) throw badRequest(`unknown field ${clippedName(field)}: a feature request has entities, features or service, and request`, { field: clippedName(field) })
  }
  const entities = b.entities
  if (typeof entities !== 'object' || entities === null || Array.isArray(entities)) throw badRequest('entities must be an object of join key → list of values')
  // Rows are made of entities: none is a request that would check nothing.
  if (Object.keys(entities).length === 0) throw badRequest('entities must name at least one join key')
  for (const [k, list] of Object.entries(entities)) {
    // Every row echoes every entity list, so a name no served view has (a typo, or a 1 MiB
    // value repeated over 2,000 rows) is refused rather than carried unchecked into the answer.
    if (!catalog.joinKeys.has(k)) {
      throw badRequest(`entities.${clippedName(k)} is not a join key of any served view (join keys: ${[...catalog.joinKeys].join(', ')})`, { joinKey: clippedName(k) })
    }
    if (!Array.isArray(list) || list.length === 0) throw badRequest(`entities.${k} must be a non-empty list`, { joinKey: k })
  }
  if ((b.features === undefined) === (b.service === undefined)) throw badRequest('give exactly one of features or service')
  let plan: FeaturePlan
  if (b.service !== undefined) {
    if (typeof b.service !== 'string') throw badRequest('service must be a string')
    plan = catalog.servicePlan(b.service)
  } else {
    if (!Array.isArray(b.features) || b.features.length === 0) throw badRequest('features must be a non-empty list')
    plan = catalog.plan(b.features as string[])
  }
  const request = b.request ?? {}
  if (typeof request !== 'object' || request === null || Array.isArray(request)) throw badRequest('request must be an object')
  return { entities: entities as Record<string, unknown[]>, plan, request: request as Record<string, unknown> }
}

function checkRequestInputs(defs: readonly RequestFeatureDef[], request: Readonly<Record<string, unknown>>): void {
  for (const def of defs) {
    for (const [field, type] of Object.entries(def.request)) {
      const v = request[field]
      // JSON reads a literal beyond a double's range (1e400) as ±Infinity: the client's number, not the definition's fault.
      if (type === 'double' && typeof v === 'number' && !Number.isFinite(v)) {
        throw badRequest(`request.${field} is beyond the range of a double (read as ${v}); request feature ${def.name} needs a finite number`, { field, feature: def.name })
      }
      const ok =
        type === 'long'
          ? Number.isSafeInteger(v)
          : type === 'double'
            ? typeof v === 'number'
            : type === 'string'
              ? typeof v === 'string'
              : typeof v === 'boolean'
      if (!ok) throw badRequest(`request.${field} (${type}) is required by request feature ${def.name}`, { field, feature: def.name })
    }
  }
}

/** `POST /v1/features`. */
export async function getFeatures(body: unknown, deps: FeatureHandlerDeps, requestId?: string): Promise<JsonBody> {
  const { entities, plan, request } = parseBatch(body, deps.catalog)
  checkRequestInputs(plan.requestFeatures, request)
  const lengths = Object.values(entities).map((l) => l.length)
  const rowCount = Math.max(...lengths)
  for (const [k, list] of Object.entries(entities)) {
    if (list.length !== 1 && list.length !== rowCount) throw badRequest(`entities.${k} has ${list.length} values; expected 1 or ${rowCount}`, { joinKey: k })
  }
  if (rowCount * plan.reads.length > deps.maxLookups) {
    throw new HttpError(413, 'BATCH_TOO_LARGE', `request needs ${rowCount * plan.reads.length} lookups; the limit is ${deps.maxLookups}`)
  }
  // Request-time features that read no view make no lookups: their rows are bounded on their own.
  if (rowCount > deps.maxLookups) throw new HttpError(413, 'BATCH_TOO_LARGE', `request has ${rowCount} rows; the limit is ${deps.maxLookups}`)
  // Join keys no view of this request reads are not checked by the lookups below, but are echoed.
  const readKeys = new Set(plan.reads.flatMap((read) => read.view.entity.joinKeys))
  for (const [k, list] of Object.entries(entities)) if (!readKeys.has(k)) for (const value of list) checkJoinKeyValue(k, value)

  // One lookup per distinct (view, entity key); rows point at theirs.
  const lookups: Lookup[] = []
  const lookupIndex = new Map<string, number>()
  const rowLookups: number[][] = []
  const rowEntities: Record<string, unknown>[] = []
  for (let r = 0; r < rowCount; r++) {
    const parts: Record<string, unknown> = {}
    for (const [k, list] of Object.entries(entities)) parts[k] = list.length === 1 ? list[0] : list[r]
    rowEntities.push(parts)
    rowLookups.push(
      plan.reads.map(({ view, features }) => {
        for (const k of view.entity.joinKeys) {
          if (!(k in parts)) throw badRequest(`view ${view.name} needs join key ${k} in entities`, { view: view.name, joinKey: k })
        }
        const entityKey = entityKeyOf(view.entity, parts)
        const id = `${view.name}@${view.version}|${entityKey}`
        let index = lookupIndex.get(id)
        if (index === undefined) {
          index = lookups.push({ view, entityKey, features }) - 1
          lookupIndex.set(id, index)
        }
        return index
      }),
    )
  }

  // Where each output comes from, resolved once per request instead of once per row and feature.
  // By view definition, not name: `v@1:x` and `v@2:x` read different rows.
  const slot = (view: FeatureViewDef, feature: string): [number, number] => {
    const r = plan.reads.findIndex((read) => read.view === view)
    return [r, plan.reads[r]!.features.indexOf(feature)]
  }
  const sources = plan.outputs.map((out) => (out.kind === 'stored' ? slot(out.view, out.feature) : undefined))
  const rfInputs = plan.outputs.map((out) =>
    out.kind === 'request' ? out.def.features.map((ref) => ({ ref, at: slot(...resolveRef(deps.catalog, ref)) })) : undefined,
  )
  const viewKeys = viewKeysOf(plan.reads.map((r) => r.view)).map((key) => JSON.stringify(key))

  const nowMs = deps.clock.nowMs()
  const reads = await readLookups(lookups, deps, nowMs)
  countStatuses(deps, lookups, reads)
  // { features: [names], rows: [{ entities, values, views }] }, written as JSON directly
  // (serving/json-body.ts): a stored value's text goes in without being decoded.
  let text = `{"features":${JSON.stringify(plan.outputs.map((out) => out.name))},"rows":[`
  for (let r = 0; r < rowCount; r++) {
    const rowLookup = rowLookups[r]!
    text += `${r === 0 ? '' : ','}{"entities":${JSON.stringify(rowEntities[r])},"values":[`
    for (let o = 0; o < plan.outputs.length; o++) {
      const out = plan.outputs[o]!
      if (o > 0) text += ','
      if (out.kind === 'stored') {
        const [ri, fi] = sources[o]!
        text += readValueJson(reads[rowLookup[ri]!]!, fi)
        continue
      }
      const inputs: Record<string, FeatureValue> = {}
      for (const { ref, at } of rfInputs[o]!) inputs[ref] = reads[rowLookup[at[0]]!]!.values[at[1]] ?? null
      text += valueJson(runRequestFeature(out.def, request, inputs))
    }
    text += '],"views":{'
    for (let i = 0; i < viewKeys.length; i++) text += `${i === 0 ? '' : ','}${viewKeys[i]}:{${viewStateMembers(reads[rowLookup[i]!]!, nowMs)}}`
    text += '}}'
  }
  // After the rows: a request that fails (a request feature threw) answered nothing to log.
  logServed(deps, requestId, lookups, reads, nowMs)
  return new JsonBody(`${text}]}`)
}

/** A request feature's input `view:f` or `view@2:f`, as the catalog resolves it (plain name = latest served version). */
function resolveRef(catalog: FeatureCatalog, ref: string): [FeatureViewDef, string] {
  const colon = ref.lastIndexOf(':')
  return [catalog.view(ref.slice(0, colon)), ref.slice(colon + 1)]
}

/** Response keys of the views read: the plain name, or `name@version` for a name read in two versions. */
function viewKeysOf(views: readonly FeatureViewDef[]): string[] {
  const counts = new Map<string, number>()
  for (const v of views) counts.set(v.name, (counts.get(v.name) ?? 0) + 1)
  return views.map((v) => (counts.get(v.name)! > 1 ? `${v.name}@${v.version}` : v.name))
}
