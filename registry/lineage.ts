/**
 * Lineage as a graph: source → view → (request feature →) service, plus entity → view. Feature
 * refs without a pinned version resolve to the latest published version of their view.
 */
import { parseFeatureRef } from '../features/feature-ref.ts'
import { sourceKindText } from './describe.ts'
import type { RegistrySnapshot } from './records.ts'

export type LineageNodeKind = 'entity' | 'source' | 'view' | 'requestFeature' | 'service'

export interface LineageNode {
  /** `source:clicks`, `view:user_clicks@1`, `service:fraud_model`, `requestFeature:…`, `entity:user`. */
  readonly id: string
  readonly kind: LineageNodeKind
  readonly name: string
  readonly version?: number
  readonly label: string
}

export interface LineageEdge {
  readonly from: string
  readonly to: string
  /** Features carried along the edge (view → service / request feature). */
  readonly features: readonly string[]
}

export interface Lineage {
  readonly nodes: readonly LineageNode[]
  readonly edges: readonly LineageEdge[]
}

export function viewNodeId(name: string, version: number): string {
  return `view:${name}@${version}`
}

export function buildLineage(snap: RegistrySnapshot): Lineage {
  const nodes: LineageNode[] = []
  const edges = new Map<string, { from: string; to: string; features: string[] }>()
  const link = (from: string, to: string, feature?: string): void => {
    const key = `${from}→${to}`
    const edge = edges.get(key) ?? { from, to, features: [] }
    if (feature !== undefined) edge.features.push(feature)
    edges.set(key, edge)
  }
  for (const e of snap.entities) nodes.push({ id: `entity:${e.name}`, kind: 'entity', name: e.name, label: `entity ${e.name} (${e.joinKeys.join(', ')})` })
  for (const s of snap.sources) {
    const label = s.changes === undefined ? `source ${s.name} (topic ${s.topic})` : `source ${s.name} (topic ${s.topic}; ${sourceKindText(s.changes)})`
    nodes.push({ id: `source:${s.name}`, kind: 'source', name: s.name, label })
  }
  const latest = new Map<string, number>()
  for (const v of snap.views) {
    latest.set(v.name, Math.max(latest.get(v.name) ?? 0, v.version))
    const id = viewNodeId(v.name, v.version)
    const mode = v.logic.changeMode === undefined ? '' : ` (${v.logic.changeMode.replace('_', ' ')})`
    nodes.push({ id, kind: 'view', name: v.name, version: v.version, label: `view ${v.name} v${v.version}${mode}` })
    link(`source:${v.metadata.source}`, id)
    link(`entity:${v.logic.entity.name}`, id)
  }
  const resolve = (ref: string): { id: string; feature: string } | undefined => {
    const parsed = parseFeatureRef(ref)
    const version = parsed.version ?? latest.get(parsed.view)
    return version === undefined ? undefined : { id: viewNodeId(parsed.view, version), feature: parsed.feature }
  }
  for (const r of snap.requestFeatures) {
    const id = `requestFeature:${r.name}`
    nodes.push({ id, kind: 'requestFeature', name: r.name, label: `request feature ${r.name}` })
    for (const ref of r.logic.features) {
      const target = resolve(ref)
      if (target !== undefined) link(target.id, id, target.feature)
    }
  }
  for (const s of snap.services) {
    const id = `service:${s.name}`
    nodes.push({ id, kind: 'service', name: s.name, label: `service ${s.name}` })
    for (const ref of s.features) {
      const target = resolve(ref)
      if (target !== undefined) link(target.id, id, target.feature)
    }
    for (const r of s.requestFeatures) link(`requestFeature:${r}`, id)
  }
  const known = new Set(nodes.map((n) => n.id))
  return { nodes, edges: [...edges.values()].filter((e) => known.has(e.from) && known.has(e.to)) }
}

/**
 * The part of the graph upstream and downstream of the nodes matching `name` (a source, view,
 * service, request feature or entity name; `view@2` for one version).
 */
export function focusLineage(lineage: Lineage, name: string): Lineage {
  const [base, version] = name.split('@')
  const roots = lineage.nodes.filter((n) => n.name === base && (version === undefined || n.version === Number(version))).map((n) => n.id)
  const keep = new Set(roots)
  const walk = (start: readonly string[], next: (id: string) => string[]): void => {
    const queue = [...start]
    const seen = new Set(start)
    while (queue.length > 0) {
      const id = queue.shift() as string
      for (const n of next(id)) {
        if (!seen.has(n)) {
          seen.add(n)
          keep.add(n)
          queue.push(n)
        }
      }
    }
  }
  walk(roots, (id) => lineage.edges.filter((e) => e.to === id).map((e) => e.from))
  walk(roots, (id) => lineage.edges.filter((e) => e.from === id).map((e) => e.to))
  return { nodes: lineage.nodes.filter((n) => keep.has(n.id)), edges: lineage.edges.filter((e) => keep.has(e.from) && keep.has(e.to)) }
}
