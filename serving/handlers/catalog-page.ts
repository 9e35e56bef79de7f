/**
 * `GET /`: the team's window on kfs, rendered on the server (every value HTML-escaped, no
 * front-end stack): per view its live freshness against the SLA, last as_of, backfill state and
 * dead letters by reason (serving/handlers/catalog/view-section.ts), the request features with
 * their inputs, the services, the lineage graph as inline SVG, and a search box (a tiny inline
 * script). Rendered per request from the static registry plus the live status, which the server
 * keeps in memory (serving/handlers/catalog/status.ts), so a page load reads no store.
 */
import { esc } from './catalog/html.ts'
import { renderLineageSvg } from './catalog/lineage-svg.ts'
import { SEARCH_SCRIPT } from './catalog/search-script.ts'
import { freshnessOf, newest, viewId, type CatalogStatus } from './catalog/status.ts'
import { renderViewSection, type ViewDoc } from './catalog/view-section.ts'
import type { RegistryDocument } from './registry.ts'

interface ServiceDoc {
  name: string
  features: string[]
  requestFeatures: string[]
  owner: string
  description: string
}

interface RequestFeatureDoc {
  name: string
  request: Record<string, string>
  features: string[]
  outputType: string
  description: string
}

/** The live part of the page; absent = the registry only (every live cell says unknown). */
export interface CatalogLive {
  readonly nowMs: number
  /** Newest as_of the server saw per view id (`name@version`). */
  seenAsOf(viewId: string): number | undefined
  readonly status?: CatalogStatus | undefined
}

const STYLE = `body{font-family:system-ui,sans-serif;margin:2rem;max-width:72rem;color:#222}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2rem .5rem;text-align:left}
dl{display:grid;grid-template-columns:max-content auto;gap:.1rem 1rem;margin:.4rem 0}dt{font-weight:600}
section{border-top:1px solid #eee;padding-top:.5rem}.live{background:#f7f7f9;padding:.2rem .6rem;border-radius:6px}
.freshness.ok{color:#17692b}.freshness.breach{color:#fff;background:#b3261e;padding:0 .4rem;border-radius:4px;font-weight:600}
.freshness.unknown,.backfill[data-state=unknown]{color:#777}.backfill.complete{color:#17692b}.backfill.pending,.backfill.running{color:#8a5a00}
.dead-letters.warn{color:#b3261e;font-weight:600}ul.reasons{margin:.2rem 0;padding-left:1.2rem}
#search{font-size:1rem;padding:.3rem .5rem;width:24rem}form.lookup{margin:.4rem 0}
#lineage rect{fill:#eef3fb;stroke:#5b7db1}#lineage .source rect{fill:#f1f7ee;stroke:#5d9150}#lineage .service rect{fill:#fbf1e8;stroke:#b97a3c}
#lineage .requestFeature rect{fill:#f4eefb;stroke:#8663b3}#lineage text{font-size:12px}#lineage text.col{font-weight:600;fill:#555}
#lineage .breach rect{fill:#fde8e6;stroke:#b3261e;stroke-width:2}#lineage .edge{fill:none;stroke:#999;stroke-width:1.2}#lineage .dim{opacity:.2}[hidden]{display:none!important}`

function renderService(s: ServiceDoc): string {
  const refs = [...s.features, ...s.requestFeatures]
  const search = [s.name, s.owner].join(' ').toLowerCase()
  return `<section class="service searchable" id="service-${esc(s.name)}" data-search="${esc(search)}"><h3>${esc(s.name)}</h3><p>${esc(s.description)}</p>
<dl><dt>Owner</dt><dd>${esc(s.owner)}</dd></dl>
<ul>${refs.map((f) => `<li class="ref" data-search="${esc(f.toLowerCase())}">${esc(f)}</li>`).join('')}</ul></section>`
}

function renderRequestFeature(r: RequestFeatureDoc): string {
  const inputs = Object.entries(r.request)
  const search = [r.name, ...inputs.map(([k]) => k), ...r.features].join(' ').toLowerCase()
  return `<section class="request-feature searchable" id="request-feature-${esc(r.name)}" data-search="${esc(search)}"><h3>${esc(r.name)} <small>→ ${esc(r.outputType)}</small></h3><p>${esc(r.description)}</p>
<dl><dt>Request inputs</dt><dd class="inputs">${inputs.length === 0 ? 'none' : inputs.map(([k, t]) => `<code>${esc(k)}</code>: ${esc(t)}`).join(', ')}</dd>
<dt>Reads</dt><dd class="reads">${r.features.map((f) => `<code>${esc(f)}</code>`).join(', ') || 'none'}</dd></dl></section>`
}

export function renderCatalogPage(doc: RegistryDocument, live?: CatalogLive): string {
  const nowMs = live?.nowMs ?? Date.now()
  const views = (doc.views as ViewDoc[])
    .map((v) =>
      renderViewSection(v, {
        nowMs,
        seenAsOfMs: live?.seenAsOf(viewId(v)),
        status: live?.status?.views[viewId(v)],
      }),
    )
    .join('\n')
  const services = (doc.services as ServiceDoc[]).map(renderService).join('\n')
  const requestFeatures = (doc.requestFeatures as RequestFeatureDoc[]).map(renderRequestFeature).join('\n')
  const breached = (doc.views as ViewDoc[]).filter(
    (v) => freshnessOf(newest(live?.seenAsOf(viewId(v)), live?.status?.views[viewId(v)]?.newestAsOfMs), nowMs, v.freshnessSlaMs).breached,
  )
  const breaches = breached.length === 0 ? '' : `<p id="breaches" class="freshness breach">⚠ ${breached.length} of ${doc.views.length} views breach their freshness SLA: ${breached.map((v) => esc(v.name)).join(', ')}</p>`
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>kfs feature catalog</title>
<style>${STYLE}</style></head>
<body><h1>kfs feature catalog</h1>
<p>${doc.views.length} views, ${doc.services.length} services, ${doc.requestFeatures.length} request features. JSON: <a href="/v1/registry">/v1/registry</a> · <a href="/openapi.json">/openapi.json</a> · <a href="/metrics">/metrics</a></p>
${breaches}
<p><input id="search" type="search" placeholder="search views, features, services…" aria-label="search"> <span id="search-count"></span></p>
<h2>Lineage</h2>
${renderLineageSvg(doc.lineage, new Set(breached.map((v) => `view:${viewId(v)}`)))}
<h2>Feature views</h2>
${views || '<p>none</p>'}
<h2>Request features</h2>
${requestFeatures || '<p>none</p>'}
<h2>Feature services</h2>
${services || '<p>none</p>'}
${SEARCH_SCRIPT}
</body></html>`
}
