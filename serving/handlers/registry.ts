/**
 * `GET /v1/registry`: what this server serves — views (features, owner, TTL, freshness SLA),
 * services, request-time features — and the lineage graph source → view → (request feature →)
 * service. Built once from the catalog; functions are described, never serialised.
 */
import type { FeatureCatalog } from '../feature-catalog.ts'

export interface LineageEdge {
  readonly from: string
  readonly to: string
}

export interface RegistryDocument {
  readonly views: readonly object[]
  readonly services: readonly object[]
  readonly requestFeatures: readonly object[]
  readonly lineage: { readonly nodes: readonly string[]; readonly edges: readonly LineageEdge[] }
}

function viewOfRef(ref: string): string {
  return ref.slice(0, ref.lastIndexOf(':'))
}

export function buildRegistry(catalog: FeatureCatalog): RegistryDocument {
  const nodes = new Set<string>()
  const edges: LineageEdge[] = []
  const edge = (from: string, to: string): void => {
    nodes.add(from)
    nodes.add(to)
    if (!edges.some((e) => e.from === from && e.to === to)) edges.push({ from, to })
  }
  const viewNode = (name: string): string => {
    const v = catalog.view(name)
    return `view:${v.name}@${v.version}`
  }
  const views = catalog.views.map((v) => {
    edge(`source:${v.source.name}`, `view:${v.name}@${v.version}`)
    return {
      name: v.name,
      version: v.version,
      entity: { name: v.entity.name, joinKeys: v.entity.joinKeys, keyType: v.entity.keyType },
      source: { name: v.source.name, topic: v.source.topic },
      features: v.features.map((f) => ({ name: f.name, type: f.type, op: f.aggregation.op, windowMs: f.aggregation.windowMs })),
      ttlMs: v.ttlMs,
      freshnessSlaMs: v.freshnessSlaMs,
      owner: v.owner,
      description: v.description,
      tags: v.tags,
      online: v.online,
      offline: v.offline,
    }
  })
  const requestFeatures = catalog.requestFeatures.map((r) => {
    for (const ref of r.features) edge(viewNode(viewOfRef(ref)), `requestFeature:${r.name}`)
    return { name: r.name, request: r.request, features: r.features, outputType: r.outputType, description: r.description }
  })
  const services = catalog.services.map((s) => {
    for (const ref of s.features) edge(viewNode(viewOfRef(ref)), `service:${s.name}`)
    for (const rf of s.requestFeatures) edge(`requestFeature:${rf}`, `service:${s.name}`)
    return { name: s.name, features: s.features, requestFeatures: s.requestFeatures, owner: s.owner, description: s.description, tags: s.tags }
  })
  return { views, services, requestFeatures, lineage: { nodes: [...nodes], edges } }
}
