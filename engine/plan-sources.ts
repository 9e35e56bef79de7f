/**
 * What the engine consumes for a set of views (docs/design.md §2).
 *
 * A view whose entity is the one its topic is keyed by reads the topic directly. Any other view
 * reads an internal topic `<prefix>.<source topic>.by-<entity>` that a re-key stage fills with the
 * source's records, keyed by the view's entity (see rekey-stage.ts). For partitioning, archiving,
 * replay, backfill and verify-parity such a view's source *is* the internal topic: `consumedView`
 * gives the view as the engine runs it, with a source that differs from the declared one only in
 * name, topic, `keyedBy` and partition count (same Avro schema, same event-time rules).
 *
 * One re-key stage per (source, entity): every view that needs the same entity from the same source
 * shares it, so the stage cannot apply any view's filter or map — it keys the *raw* decoded event by
 * the entity's join-key fields and forwards the original bytes. Hence a re-keyed view's `map` must
 * leave the join-key fields as they are; the view's own filter/map run later, in its stage.
 */
import { ConfigError } from '../core/errors.ts'
import { isTopicName } from '../core/topic-name.ts'
import type { EntityDef, FeatureViewDef, SourceDef } from '../features/types.ts'

export const DEFAULT_REKEY_PREFIX = 'kfs'

export interface RekeyOptions {
  /** Prefix of internal topic names (default `kfs`). */
  readonly prefix?: string
  /** Partition count of the internal topics (default: the source's partition count). */
  readonly partitions?: number
}

export interface SourcePlan {
  /** The source as consumed: the declared one, or the internal topic's source for re-keyed views. */
  readonly source: SourceDef
  readonly topic: string
  /** Views as consumed (`consumedView`), sorted by name and version. */
  readonly views: readonly FeatureViewDef[]
}

/** One re-key stage: the declared source, re-keyed by `entity` into `topic`. */
export interface RekeyPlan {
  readonly source: SourceDef
  readonly entity: EntityDef
  readonly topic: string
  /** The internal topic's source, as the views consume it. */
  readonly internalSource: SourceDef
  /** Declared views served by this stage. */
  readonly views: readonly FeatureViewDef[]
}

export function isKeyedForView(view: FeatureViewDef): boolean {
  return isKeyedFor(view.source.keyedBy, view.entity.name)
}

/** A source keyed by `keyedBy` (none: the entity's own key) needs no re-key for `entityName`. */
function isKeyedFor(keyedBy: string | null | undefined, entityName: string): boolean {
  return keyedBy === undefined || keyedBy === null || keyedBy === entityName
}

/**
 * The topic a view reads, from its source's topic and `keyedBy` and its entity's name (a stored
 * view's logic holds no FeatureViewDef): the declared topic, or the internal one that re-keys it.
 */
export function consumedTopicName(sourceTopic: string, keyedBy: string | null | undefined, entityName: string): string {
  return isKeyedFor(keyedBy, entityName) ? sourceTopic : internalTopicName(sourceTopic, entityName)
}

export function internalTopicName(sourceTopic: string, entityName: string, prefix = DEFAULT_REKEY_PREFIX): string {
  const topic = `${prefix}.${sourceTopic}.by-${entityName}`
  if (!isTopicName(topic)) {
    throw new ConfigError(`internal topic name '${topic}' is not a valid Kafka topic name: choose a re-key prefix of letters, digits, '.', '_', '-'`)
  }
  return topic
}

/** A topic named as internalTopicName names a re-key stage's internal topic: `<prefix>.<source topic>.by-<entity>`. */
export function isInternalTopicName(topic: string, prefix = DEFAULT_REKEY_PREFIX): boolean {
  return topic.startsWith(`${prefix}.`) && /\.by-[^.]+$/.test(topic)
}

/** The source of the internal topic that re-keys `source` by `entity`. */
export function rekeyedSource(source: SourceDef, entity: EntityDef, options: RekeyOptions = {}): SourceDef {
  const partitions = options.partitions ?? source.partitions
  if (!Number.isInteger(partitions) || partitions < 1) throw new ConfigError(`re-key partitions must be a positive integer, got ${partitions}`)
  return {
    ...source,
    name: `${source.name}.by-${entity.name}`,
    topic: internalTopicName(source.topic, entity.name, options.prefix),
    keyedBy: entity.name,
    partitions,
    description: `${source.description} (re-keyed by ${entity.name})`,
  }
}

/**
 * True for a source made by rekeyedSource: its name carries `.by-<entity>`, which a declared
 * source's name (lower_snake_case, features/validate.ts) cannot.
 */
export function isRekeyedSource(source: SourceDef): boolean {
  return source.keyedBy !== undefined && source.name.endsWith(`.by-${source.keyedBy}`)
}

/** The view as the engine runs it: reading its declared topic, or the internal topic that re-keys it. */
export function consumedView(view: FeatureViewDef, options: RekeyOptions = {}): FeatureViewDef {
  if (isKeyedForView(view)) return view
  return { ...view, source: rekeyedSource(view.source, view.entity, options) }
}

/** The re-key stages the views need: one per (declared source, entity), sorted by internal topic. */
export function planRekeys(views: readonly FeatureViewDef[], options: RekeyOptions = {}): RekeyPlan[] {
  const byTopic = new Map<string, { source: SourceDef; entity: EntityDef; views: FeatureViewDef[] }>()
  for (const view of views) {
    if (isKeyedForView(view)) continue
    const topic = internalTopicName(view.source.topic, view.entity.name, options.prefix)
    const entry = byTopic.get(topic) ?? { source: view.source, entity: view.entity, views: [] }
    if (entry.source.name !== view.source.name || entry.entity.joinKeys.join('\u0000') !== view.entity.joinKeys.join('\u0000') || entry.entity.keyType !== view.entity.keyType) {
      throw new ConfigError(`views ${entry.views[0]?.name} and ${view.name} would share internal topic ${topic} but disagree on its source or entity definition`)
    }
    entry.views.push(view)
    byTopic.set(topic, entry)
  }
  return [...byTopic]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([topic, { source, entity, views: vs }]) => ({ source, entity, topic, internalSource: rekeyedSource(source, entity, options), views: sortViews(vs) }))
}

/** Groups the views, as consumed, by the topic they read. */
export function planSources(views: readonly FeatureViewDef[], options: RekeyOptions = {}): SourcePlan[] {
  const byTopic = new Map<string, { source: SourceDef; views: FeatureViewDef[] }>()
  for (const declared of views) {
    const view = consumedView(declared, options)
    const entry = byTopic.get(view.source.topic) ?? { source: view.source, views: [] }
    if (entry.source.name !== view.source.name) {
      throw new ConfigError(`sources ${entry.source.name} and ${view.source.name} both read topic ${view.source.topic}: declare one source per topic`)
    }
    entry.views.push(view)
    byTopic.set(view.source.topic, entry)
  }
  return [...byTopic.values()]
    .sort((a, b) => (a.source.name < b.source.name ? -1 : 1))
    .map(({ source, views: vs }) => ({ source, topic: source.topic, views: sortViews(vs) }))
}

function sortViews(views: readonly FeatureViewDef[]): FeatureViewDef[] {
  return [...views].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.version - b.version))
}
