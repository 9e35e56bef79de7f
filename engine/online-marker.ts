/**
 * The online store's marker, one per consumer group: a row the live engine plants in the store it
 * writes to and reads back now and then (online-loss-watch.ts). A store that lost its data —
 * restarted without persistence, flushed, failed over to an empty replica — has lost the marker
 * too: the engine then knows its rows are gone, which the rows themselves cannot tell it (a missing
 * entity is an ordinary answer).
 *
 * The marker is a row of a view no definition can declare (view names are `[a-z][a-z0-9_]*`; this
 * one holds a `-`), written and read through the OnlineStore port like any row: so it lives, dies
 * and persists exactly as the views' rows do, in every adapter (one Redis key — one hash slot on a
 * Cluster —, or a row of the embedded store, saved with its file and journal). Its value is
 * `<generation>` once a reload is complete, `<generation>/reloading` while one runs — so a process
 * that dies during a reload leaves a marker its successor reloads again for.
 */
import type { EntityDef, FeatureViewDef, SourceDef } from '../features/types.ts'
import type { OnlineStore } from '../ports/online-store.ts'

const RELOADING = '/reloading'

const markerEntity: EntityDef = {
  kind: 'entity',
  name: 'kfs_group',
  joinKeys: ['group'],
  keyType: 'string',
  description: 'a consumer group of kfs run',
}

const markerSource: SourceDef = {
  kind: 'source',
  name: 'kfs_online_marker',
  topic: 'kfs.online-marker',
  schema: { type: 'record', name: 'OnlineMarker', fields: [] },
  eventTimeField: 'at',
  keyedBy: 'kfs_group',
  partitions: 1,
  outOfOrdernessMs: 0,
  allowedLatenessMs: 0,
  idleTimeoutMs: 0,
  maxFutureSkewMs: 0,
  description: 'no topic: the marker is written by the engine itself',
}

/** The marker's view: never expires in practice (ten years), like the data it vouches for. */
export const MARKER_VIEW: FeatureViewDef = {
  kind: 'featureView',
  name: 'kfs-online-marker',
  version: 1,
  entity: markerEntity,
  source: markerSource,
  filter: undefined,
  map: undefined,
  features: [
    {
      name: 'generation',
      type: 'string',
      aggregation: {
        name: 'generation',
        op: 'last',
        field: 'generation',
        windowMs: null,
        hopMs: 0,
        n: undefined,
        quantile: undefined,
      },
    },
  ],
  ttlMs: 10 * 365 * 86_400_000,
  owner: 'kfs',
  description: "the live engine's online-store marker (engine/online-marker.ts)",
  tags: {},
  freshnessSlaMs: Number.MAX_SAFE_INTEGER,
  online: true,
  offline: false,
}

/** What the store holds for the group: no marker, or its generation and whether a reload was still running. */
export type MarkerState =
  | { readonly present: false }
  | { readonly present: true; readonly generation: string; readonly reloading: boolean; readonly value: string }

export class OnlineMarker {
  readonly #online: OnlineStore
  readonly #group: string
  /** The as_of of the last marker written: each write is newer, so the conditional write lands. */
  #lastAsOfMs = 0

  constructor(online: OnlineStore, group: string) {
    this.#online = online
    this.#group = group
  }

  async read(nowMs: number): Promise<MarkerState> {
    const [read] = await this.#online.readRows([{ view: MARKER_VIEW, entityKey: this.#group, features: ['generation'] }], nowMs)
    const value = read?.status === 'PRESENT' ? read.values[0] : undefined
    if (typeof value !== 'string') return { present: false }
    if (read?.asOfMs !== null && read?.asOfMs !== undefined) this.#lastAsOfMs = Math.max(this.#lastAsOfMs, read.asOfMs)
    const reloading = value.endsWith(RELOADING)
    return { present: true, generation: reloading ? value.slice(0, -RELOADING.length) : value, reloading, value }
  }

  /** Writes the marker (newer than any this process saw, so it lands) and returns the value written. */
  async write(generation: string, reloading: boolean, nowMs: number): Promise<string> {
    const value = reloading ? `${generation}${RELOADING}` : generation
    this.#lastAsOfMs = Math.max(this.#lastAsOfMs + 1, nowMs)
    await this.#online.writeRows(MARKER_VIEW, [{ entityKey: this.#group, asOfMs: this.#lastAsOfMs, values: [value] }])
    return value
  }
}
