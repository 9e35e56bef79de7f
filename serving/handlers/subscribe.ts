/**
 * WebSocket `/v1/subscribe` protocol, as pure functions.
 *
 * Client → server: `{"subscribe": [{"view": "user_stats", "entity": "u1"}, …]}` and
 * `{"unsubscribe": [...]}`; `entity` is the key value, or an object of join keys for composite
 * entities. Server → client: `{"type":"subscribed","topics":n}`; then, per new subscription, the
 * current row as `{"type":"snapshot","view","version","entity","status","as_of","features"}`; then one
 * `{"type":"row","view","version","entity","as_of","features":{…}}` per row that lands. A row that
 * lands while the snapshot is being read may arrive before it: clients keep the highest `as_of`
 * (rows of a key never go back in time). `{"type":"error","code",…}` answers a bad or refused
 * message and the socket stays open; the limits (subscriptions per socket and server, message
 * rate and size, backlog) are enforced in serving/server/subscriptions.ts.
 */
import { featureMessageJson } from '../../core/feature-json.ts'
import { duplicateName } from '../../core/json-duplicate-names.ts'
import type { FeatureValue, FeatureViewDef } from '../../features/types.ts'
import type { OnlineChange } from '../../ports/online-semantics.ts'
import type { OnlineRead } from '../../ports/online-store.ts'
import { entityKeyOf } from '../entity-input.ts'
import { badRequest } from '../errors.ts'
import { clippedName } from '../clipped-name.ts'
import type { FeatureCatalog } from '../feature-catalog.ts'

export function topicOf(view: string, version: number, entityKey: string): string {
  return `rows|${view}@${version}|${entityKey}`
}

export interface SubscriptionRequest {
  readonly subscribe: readonly string[]
  readonly unsubscribe: readonly string[]
  /** The (view, entity) of each `subscribe` topic, same order, for the snapshot read. */
  readonly lookups: readonly { readonly view: FeatureViewDef; readonly entityKey: string }[]
}

export function parseSubscriptionMessage(text: string, catalog: FeatureCatalog, maxTopics: number): SubscriptionRequest {
  let msg: unknown
  try {
    msg = JSON.parse(text)
  } catch {
    throw badRequest('message is not JSON')
  }
  if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) throw badRequest('message must be an object')
  // As a POST body's (request-body.ts): JSON.parse keeps the last of two equal names silently, so
  // {"entity":"u1","entity":"u2"} subscribed to u2 while a client or proxy reading the first meant u1.
  const twice = duplicateName(text, msg)
  if (twice !== undefined)
    throw badRequest(`the message names ${clippedName(twice.name)} twice in one object${twice.path === '' ? '' : ` (at ${twice.path})`}: give each name once`)
  const m = msg as Record<string, unknown>
  const lookups: { view: FeatureViewDef; entityKey: string }[] = []
  const topics = (field: 'subscribe' | 'unsubscribe'): string[] => {
    const list = m[field]
    if (list === undefined) return []
    if (!Array.isArray(list)) throw badRequest(`${field} must be a list of {view, entity}`)
    if (list.length > maxTopics) throw badRequest(`at most ${maxTopics} subscriptions per message`)
    return list.map((item: unknown) => {
      if (typeof item !== 'object' || item === null) throw badRequest(`${field} entries must be {view, entity}`)
      const { view: name, entity } = item as { view?: unknown; entity?: unknown }
      if (typeof name !== 'string') throw badRequest(`${field} entries need a view name`)
      const view = catalog.view(name)
      const parts =
        typeof entity === 'object' && entity !== null ? (entity as Record<string, unknown>) : { [view.entity.joinKeys[0]!]: entity }
      if (typeof entity !== 'object' && view.entity.joinKeys.length !== 1) {
        throw badRequest(`view ${view.name} has a composite key: give entity as {${view.entity.joinKeys.join(', ')}}`)
      }
      const entityKey = entityKeyOf(view.entity, parts)
      if (field === 'subscribe') lookups.push({ view, entityKey })
      return topicOf(view.name, view.version, entityKey)
    })
  }
  const req = { subscribe: topics('subscribe'), unsubscribe: topics('unsubscribe'), lookups }
  if (req.subscribe.length === 0 && req.unsubscribe.length === 0) throw badRequest('nothing to subscribe to')
  return req
}

/** Feature values are written as the feature endpoints write them (core/feature-json.ts: -0 keeps its sign). */
export function rowMessage(change: OnlineChange): string {
  return featureMessageJson({ type: 'row', view: change.view, version: change.version, entity: change.entityKey, as_of: change.asOfMs, features: change.values })
}

export function snapshotMessage(view: FeatureViewDef, entityKey: string, read: OnlineRead): string {
  const features: Record<string, FeatureValue> = {}
  view.features.forEach((f, i) => (features[f.name] = read.values[i] ?? null))
  return featureMessageJson({ type: 'snapshot', view: view.name, version: view.version, entity: entityKey, status: read.status, as_of: read.asOfMs, features })
}
