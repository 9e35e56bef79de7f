/**
 * `GET /`: a small, dependency-free HTML catalog of the registry document, rendered on the server
 * (every value HTML-escaped) so it works without JavaScript and tests can read it as text.
 */
import type { RegistryDocument } from './registry.ts'

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

function esc(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ESCAPES[c]!)
}

function duration(ms: number | null): string {
  if (ms === null) return 'lifetime'
  if (!Number.isFinite(ms)) return '∞'
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`
  }
  return `${ms}ms`
}

interface ViewDoc {
  name: string
  version: number
  entity: { name: string; joinKeys: string[] }
  source: { name: string; topic: string }
  features: { name: string; type: string; op: string; windowMs: number | null }[]
  ttlMs: number
  freshnessSlaMs: number
  owner: string
  description: string
}

interface ServiceDoc {
  name: string
  features: string[]
  requestFeatures: string[]
  owner: string
  description: string
}

export function renderCatalogPage(doc: RegistryDocument): string {
  const views = (doc.views as ViewDoc[])
    .map(
      (v) => `<section class="view" id="view-${esc(v.name)}-${v.version}">
<h3>${esc(v.name)} <small>v${v.version}</small></h3>
<p>${esc(v.description)}</p>
<dl><dt>Entity</dt><dd>${esc(v.entity.name)} (${v.entity.joinKeys.map(esc).join(', ')})</dd>
<dt>Source</dt><dd>${esc(v.source.name)} (topic ${esc(v.source.topic)})</dd>
<dt>Owner</dt><dd>${esc(v.owner)}</dd><dt>TTL</dt><dd>${duration(v.ttlMs)}</dd><dt>Freshness SLA</dt><dd>${duration(v.freshnessSlaMs)}</dd></dl>
<table><thead><tr><th>Feature</th><th>Type</th><th>Aggregation</th><th>Window</th></tr></thead><tbody>
${v.features.map((f) => `<tr><td>${esc(f.name)}</td><td>${esc(f.type)}</td><td>${esc(f.op)}</td><td>${duration(f.windowMs)}</td></tr>`).join('\n')}
</tbody></table></section>`,
    )
    .join('\n')
  const services = (doc.services as ServiceDoc[])
    .map(
      (s) => `<section class="service" id="service-${esc(s.name)}"><h3>${esc(s.name)}</h3><p>${esc(s.description)}</p>
<dl><dt>Owner</dt><dd>${esc(s.owner)}</dd></dl>
<ul>${[...s.features, ...s.requestFeatures].map((f) => `<li>${esc(f)}</li>`).join('')}</ul></section>`,
    )
    .join('\n')
  const lineage = doc.lineage.edges.map((e) => `<li>${esc(e.from)} → ${esc(e.to)}</li>`).join('\n')
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>kfs feature catalog</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2rem .5rem;text-align:left}
dl{display:grid;grid-template-columns:max-content auto;gap:.1rem 1rem}dt{font-weight:600}section{border-top:1px solid #eee;padding-top:.5rem}</style></head>
<body><h1>kfs feature catalog</h1>
<p>${doc.views.length} views, ${doc.services.length} services, ${doc.requestFeatures.length} request features. JSON: <a href="/v1/registry">/v1/registry</a></p>
<h2>Feature views</h2>
${views || '<p>none</p>'}
<h2>Feature services</h2>
${services || '<p>none</p>'}
<h2>Lineage</h2>
<ul id="lineage">${lineage}</ul>
</body></html>`
}
