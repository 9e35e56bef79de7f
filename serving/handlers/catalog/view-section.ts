/**
 * One view's section of the catalog page: its definition (entity, source, owner, TTL, SLA,
 * features) and its live state — freshness against the SLA (docs/design.md §5), last as_of,
 * backfill state (§8), dead letters by reason — with links to its JSON and its online endpoint.
 */
import { age, duration, esc, isoTime } from './html.ts'
import { freshnessOf, newest, viewId, type CatalogViewStatus } from './status.ts'

export interface ViewDoc {
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

export interface ViewLive {
  readonly nowMs: number
  /** The newest as_of the server saw for this view version. */
  readonly seenAsOfMs: number | undefined
  /** What the status provider knows; undefined = no provider, or it knows nothing of this view. */
  readonly status: CatalogViewStatus | undefined
}

export function sectionId(v: Pick<ViewDoc, 'name' | 'version'>): string {
  return `view-${v.name}-${v.version}`
}

function freshnessCell(v: ViewDoc, live: ViewLive): string {
  const f = freshnessOf(newest(live.seenAsOfMs, live.status?.newestAsOfMs), live.nowMs, v.freshnessSlaMs)
  const sla = `SLA ${duration(v.freshnessSlaMs)}`
  if (f.ageMs === undefined) return `<span class="freshness unknown" data-state="unknown">no rows seen yet (${sla})</span>`
  if (f.breached) return `<span class="freshness breach" data-state="breach" data-age-ms="${f.ageMs}">⚠ SLA breach: newest row ${age(f.ageMs)} old (${sla})</span>`
  return `<span class="freshness ok" data-state="ok" data-age-ms="${f.ageMs}">✓ ${age(f.ageMs)} old (${sla})</span>`
}

function lastAsOfCell(live: ViewLive): string {
  const at = newest(live.seenAsOfMs, live.status?.newestAsOfMs)
  return at === undefined ? '—' : `<time class="as-of" datetime="${isoTime(at)}">${isoTime(at)}</time>`
}

function backfillCell(status: CatalogViewStatus | undefined): string {
  const b = status?.backfill
  if (b === undefined) return '<span class="backfill" data-state="unknown">unknown</span>'
  return `<span class="backfill ${esc(b.state)}" data-state="${esc(b.state)}">${esc(b.state)}</span> <small>(updated ${isoTime(b.updatedAtMs)})</small>`
}

function progressCell(status: CatalogViewStatus | undefined): string {
  const p = status?.progress
  if (p === undefined) return '<span class="progress" data-state="unknown">unknown</span>'
  const checkpoint = p.lastCheckpointMs === undefined ? 'no checkpoint yet' : `last checkpoint ${isoTime(p.lastCheckpointMs)}`
  return `<span class="progress" data-lag="${p.lagRecords}">${checkpoint} · ${p.lagRecords.toLocaleString('en')} records behind</span> <small>(as of ${isoTime(p.readAtMs)})</small>`
}

function deadLetterCell(status: CatalogViewStatus | undefined): string {
  const d = status?.deadLetters
  if (d === undefined) return '<span class="dead-letters" data-total="unknown">unknown (not read by this server)</span>'
  const reasons = Object.entries(d.byReason).filter(([, n]) => n > 0).sort(([a], [b]) => a.localeCompare(b))
  const total = reasons.reduce((sum, [, n]) => sum + n, 0)
  const asOf = `<small>(as of ${isoTime(d.readAtMs)})</small>`
  if (total === 0) return `<span class="dead-letters" data-total="0">none</span> ${asOf}`
  const list = reasons.map(([reason, n]) => `<li data-reason="${esc(reason)}"><code>${esc(reason)}</code> ${n}</li>`).join('')
  return `<span class="dead-letters warn" data-total="${total}">${total}</span> ${asOf}<ul class="reasons">${list}</ul>`
}

function lookupForm(v: ViewDoc): string {
  const inputs = v.entity.joinKeys.map((k) => `<input name="${esc(k)}" placeholder="${esc(k)}" required>`).join(' ')
  return `<form class="lookup" id="lookup-${esc(sectionId(v))}" method="get" action="/v1/features/${encodeURIComponent(v.name)}">${inputs} <button>read online</button></form>`
}

export function renderViewSection(v: ViewDoc, live: ViewLive): string {
  const search = [v.name, v.source.name, v.source.topic, v.entity.name, v.owner].join(' ').toLowerCase()
  const endpoint = `/v1/features/${encodeURIComponent(v.name)}`
  const table = live.status?.table
  const nullRate = (name: string): string => {
    const nulls = table?.nullsByFeature[name]
    if (table === undefined || table.rows === 0 || nulls === undefined) return '<td class="null-rate">—</td>'
    const rate = nulls / table.rows
    return `<td class="null-rate" data-rate="${rate}">${(rate * 100).toFixed(1)} %</td>`
  }
  const features = v.features
    .map(
      (f) =>
        `<tr class="feature" data-search="${esc(`${v.name}:${f.name}`.toLowerCase())}"><td><a href="#lookup-${esc(sectionId(v))}" title="online: GET ${esc(endpoint)}/&lt;entityKey&gt;">${esc(f.name)}</a></td><td>${esc(f.type)}</td><td>${esc(f.op)}</td><td>${duration(f.windowMs)}</td>${nullRate(f.name)}</tr>`,
    )
    .join('\n')
  return `<section class="view searchable" id="${esc(sectionId(v))}" data-view="${esc(viewId(v))}" data-search="${esc(search)}">
<h3>${esc(v.name)} <small>v${v.version}</small></h3>
<p>${esc(v.description)}</p>
<div class="live">
<dl><dt>Freshness</dt><dd>${freshnessCell(v, live)}</dd>
<dt>Last as_of</dt><dd>${lastAsOfCell(live)}</dd>
<dt>Backfill</dt><dd>${backfillCell(live.status)}</dd>
<dt>Engine</dt><dd>${progressCell(live.status)}</dd>
<dt>Dead letters</dt><dd>${deadLetterCell(live.status)}</dd></dl>
</div>
<dl><dt>Entity</dt><dd>${esc(v.entity.name)} (${v.entity.joinKeys.map(esc).join(', ')})</dd>
<dt>Source</dt><dd>${esc(v.source.name)} (topic ${esc(v.source.topic)})</dd>
<dt>Owner</dt><dd>${esc(v.owner)}</dd><dt>TTL</dt><dd>${duration(v.ttlMs)}</dd><dt>Freshness SLA</dt><dd>${duration(v.freshnessSlaMs)}</dd>
<dt>Links</dt><dd><a class="json" href="/v1/registry">JSON (in /v1/registry)</a> · online <code>GET ${esc(endpoint)}/&lt;entityKey&gt;</code></dd></dl>
${lookupForm(v)}
<p class="rows">Offline rows: ${table === undefined ? 'unknown' : `<span data-rows="${table.rows}">${table.rows.toLocaleString('en')}</span>`}</p>
<table><thead><tr><th>Feature</th><th>Type</th><th>Aggregation</th><th>Window</th><th>Null rate</th></tr></thead><tbody>
${features}
</tbody></table></section>`
}
