/**
 * The lineage graph source → view → (request feature →) service as inline SVG: one column per
 * kind, a box per node, a curve per edge. Laid out on the server from the registry's lineage
 * (serving/handlers/registry.ts), so it needs no script; the search box dims what does not match.
 */
import type { RegistryDocument } from '../registry.ts'
import { esc } from './html.ts'

const KINDS = ['source', 'view', 'requestFeature', 'service'] as const
const TITLES: Record<(typeof KINDS)[number], string> = { source: 'sources', view: 'views', requestFeature: 'request features', service: 'services' }
const BOX_W = 190
const BOX_H = 26
const COL_GAP = 70
const ROW_GAP = 10
const TOP = 24

function kindOf(node: string): (typeof KINDS)[number] {
  const kind = node.slice(0, node.indexOf(':'))
  return (KINDS as readonly string[]).includes(kind) ? (kind as (typeof KINDS)[number]) : 'view'
}

function labelOf(node: string): string {
  const label = node.slice(node.indexOf(':') + 1)
  return label.length > 26 ? `${label.slice(0, 25)}…` : label
}

/** The node's search name: the definition's name without kind or version. */
function nameOf(node: string): string {
  return node.slice(node.indexOf(':') + 1).replace(/@\d+$/, '')
}

/** `breached`: view nodes (`view:name@version`) past their freshness SLA, drawn in red. */
export function renderLineageSvg(lineage: RegistryDocument['lineage'], breached: ReadonlySet<string> = new Set()): string {
  const columns = KINDS.filter((k) => lineage.nodes.some((n) => kindOf(n) === k))
  const at = new Map<string, { x: number; y: number }>()
  columns.forEach((kind, col) => {
    lineage.nodes
      .filter((n) => kindOf(n) === kind)
      .forEach((node, row) => at.set(node, { x: col * (BOX_W + COL_GAP), y: TOP + row * (BOX_H + ROW_GAP) }))
  })
  const rows = Math.max(1, ...columns.map((k) => lineage.nodes.filter((n) => kindOf(n) === k).length))
  const width = Math.max(1, columns.length) * (BOX_W + COL_GAP) - COL_GAP
  const height = TOP + rows * (BOX_H + ROW_GAP)
  const headers = columns.map((k, col) => `<text class="col" x="${col * (BOX_W + COL_GAP)}" y="14">${TITLES[k]}</text>`).join('')
  const edges = lineage.edges
    .map((e) => {
      const a = at.get(e.from)
      const b = at.get(e.to)
      if (!a || !b) return ''
      const x1 = a.x + BOX_W
      const y1 = a.y + BOX_H / 2
      const x2 = b.x
      const y2 = b.y + BOX_H / 2
      const mid = (x1 + x2) / 2
      return `<path class="edge" data-from="${esc(e.from)}" data-to="${esc(e.to)}" d="M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2 - 4},${y2}" marker-end="url(#arrow)"/>`
    })
    .join('\n')
  const nodes = [...at]
    .map(
      ([node, { x, y }]) =>
        `<g class="node ${kindOf(node)}${breached.has(node) ? ' breach' : ''}" data-node="${esc(node)}" data-search="${esc(nameOf(node).toLowerCase())}"><title>${esc(node)}</title><rect x="${x}" y="${y}" width="${BOX_W}" height="${BOX_H}" rx="5"/><text x="${x + 8}" y="${y + 17}">${esc(labelOf(node))}</text></g>`,
    )
    .join('\n')
  return `<svg id="lineage" role="img" aria-label="lineage: sources, views, request features, services" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">
<defs><marker id="arrow" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L8,4 L0,8 z"/></marker></defs>
${headers}
${edges}
${nodes}
</svg>`
}
