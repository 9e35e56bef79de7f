/** Text renderings of registry state for the apply and registry commands. */
import { formatDurationMs } from '../../core/duration.ts'
import { ATTRIBUTE_OP, windowLabel } from '../../features/index.ts'
import { consumedTopicName } from '../../engine/plan-sources.ts'
import type { BackfillStatus, FeatureLogic, Lineage, RegistryPlan, RegistrySnapshot, StoredView } from '../../registry/index.ts'
import { featureOpText, shortHash, sourceKindText } from '../../registry/index.ts'
import { backfillJson, backfillStateText, completeThroughText, isLiveFromStart, neverBackfilledStatusText } from './backfill-wording.ts'

export function table(rows: readonly (readonly string[])[], indent = '  '): string {
  if (rows.length === 0) return ''
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)))
  return rows.map((r) => `${indent}${r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ')}`.trimEnd()).join('\n') + '\n'
}

export function featureWindow(f: FeatureLogic): string {
  if (f.op === ATTRIBUTE_OP) return 'current row'
  return f.windowMs === null ? 'lifetime' : `${windowLabel(f.windowMs)} / hop ${windowLabel(f.hopMs)}`
}

export function renderFeatures(features: readonly FeatureLogic[], indent = '      '): string {
  return table(features.map((f) => [f.name, f.type, featureOpText(f), featureWindow(f)]), indent)
}

function isoTime(ms: number): string {
  return new Date(ms).toISOString()
}

function viewRoute(v: Pick<StoredView, 'logic' | 'metadata'>): string {
  const rekey = v.logic.source.keyedBy !== null && v.logic.source.keyedBy !== v.logic.entity.name ? `, re-keyed from ${v.logic.source.keyedBy}` : ''
  return `entity ${v.logic.entity.name} ← source ${v.metadata.source} (topic ${v.logic.source.topic}${rekey})`
}

export function renderApply(plan: RegistryPlan, where: string): string {
  const lines: string[] = [`Registry at ${where}`, '', 'views:']
  for (const v of plan.views) {
    lines.push(`  ${v.name} v${v.version}  ${shortHash(v.hash)}  ${v.change}  ${viewRoute(v)}`)
    for (const m of v.metadataChanges) lines.push(`      ~ ${m}`)
    lines.push(renderFeatures(v.logic.features).trimEnd())
  }
  for (const v of plan.notInDefinitions) lines.push(`  ${v.name} v${v.version}  (published, not in these definitions: kept)`)
  const items = (title: string, list: RegistryPlan['services']): void => {
    if (list.length === 0) return
    lines.push('', `${title}:`, table(list.map((i) => [i.name, i.change, i.changes.join('; ')])).trimEnd())
  }
  items('services', plan.services)
  items('request features', plan.requestFeatures)
  items('sources', plan.sources)
  items('entities', plan.entities)
  const counts = new Map<string, number>()
  for (const i of [...plan.views, ...plan.services, ...plan.requestFeatures, ...plan.sources, ...plan.entities]) counts.set(i.change, (counts.get(i.change) ?? 0) + 1)
  const summary = ['added', 'metadata-changed', 'changed', 'unchanged'].filter((c) => counts.has(c)).map((c) => `${counts.get(c)} ${c}`)
  lines.push('', `Summary: ${summary.join(', ')}`, '')
  return lines.join('\n')
}

export function renderList(snap: RegistrySnapshot): string {
  const out: string[] = []
  out.push('views:')
  out.push(
    table([
      ['NAME', 'VERSION', 'HASH', 'FEATURES', 'BACKFILL', 'OWNER', 'TAGS'],
      ...snap.views.map((v) => [
        v.name,
        `v${v.version}`,
        shortHash(v.hash),
        String(v.logic.features.length),
        backfillStateText(v.backfill),
        v.metadata.owner,
        Object.entries(v.metadata.tags).map(([k, t]) => `${k}=${t}`).join(','),
      ]),
    ]).trimEnd(),
  )
  out.push('', 'services:', table([['NAME', 'FEATURES', 'REQUEST FEATURES', 'OWNER'], ...snap.services.map((s) => [s.name, String(s.features.length), s.requestFeatures.join(',') || '-', s.owner])]).trimEnd())
  out.push('', 'request features:', table([['NAME', 'HASH', 'INPUTS', 'OUTPUT'], ...snap.requestFeatures.map((r) => [r.name, shortHash(r.hash), [...Object.keys(r.logic.request), ...r.logic.features].join(','), r.logic.outputType])]).trimEnd())
  out.push('', 'sources:', table([['NAME', 'TOPIC', 'KEYED BY', 'PARTITIONS', 'EVENT TIME', 'KIND'], ...snap.sources.map((s) => [s.name, s.topic, s.keyedBy ?? '-', String(s.partitions), s.eventTimeField, sourceKindText(s.changes)])]).trimEnd())
  out.push('', 'entities:', table([['NAME', 'JOIN KEYS', 'KEY TYPE'], ...snap.entities.map((e) => [e.name, e.joinKeys.join(','), e.keyType])]).trimEnd(), '')
  return out.join('\n')
}

type ShownBackfill = Pick<BackfillStatus, 'state' | 'updatedAtMs' | 'completeThrough'>

function backfillLine(view: Pick<StoredView, 'logic'> & { backfill?: ShownBackfill | undefined }): string {
  const status = view.backfill
  if (status === undefined) return 'unknown'
  const through = completeThroughText(status.completeThrough)
  if (isLiveFromStart(status)) {
    // The topic the view is computed from, as kfs replay names it: the internal one for a re-keyed view.
    const { source, entity } = view.logic
    return neverBackfilledStatusText(consumedTopicName(source.topic, source.keyedBy, entity.name), isoTime(status.updatedAtMs))
  }
  const updated = `${status.state} (updated ${isoTime(status.updatedAtMs)})`
  return through === '' ? updated : `${updated} through ${through}`
}

/** The --json of registry show: the view as stored, its backfill marked liveFromStart as replay's --json marks it. */
export function showJson(view: StoredView & { backfill?: ShownBackfill | undefined }, versions: readonly number[], usedBy: readonly string[]): Record<string, unknown> {
  return { ...view, backfill: backfillJson(view.backfill), versions, usedBy }
}

/** The --json of registry list: the snapshot, each view's backfill marked as showJson marks it. */
export function listJson(snap: RegistrySnapshot, where: string): Record<string, unknown> {
  return { registry: where, ...snap, views: snap.views.map((v) => ({ ...v, backfill: backfillJson(v.backfill) })) }
}

export function renderShow(view: StoredView & { backfill?: ShownBackfill | undefined }, versions: readonly number[], usedBy: readonly string[]): string {
  const m = view.metadata
  const l = view.logic
  const lines = [
    `view ${view.name} v${view.version}`,
    `  hash          ${view.hash}`,
    `  published     ${isoTime(view.publishedAtMs)}${view.metadataUpdatedAtMs !== view.publishedAtMs ? ` (metadata updated ${isoTime(view.metadataUpdatedAtMs)})` : ''}`,
    `  versions      ${versions.map((v) => `v${v}`).join(', ')}`,
    `  owner         ${m.owner}`,
    `  description   ${m.description}`,
    `  tags          ${Object.entries(m.tags).map(([k, v]) => `${k}=${v}`).join(', ') || '-'}`,
    `  ttl           ${formatDurationMs(l.ttlMs)}`,
    `  freshness SLA ${formatDurationMs(m.freshnessSlaMs)}`,
    `  stores        ${[m.online ? 'online' : null, m.offline ? 'offline' : null].filter(Boolean).join(', ') || 'none'}`,
    `  route         ${viewRoute(view)}`,
    // Only views over table and changelog sources (docs/design.md §11) have these two lines.
    ...(l.source.changes === undefined ? [] : [`  source kind   ${sourceKindText(l.source.changes)}`, `  mode          ${l.changeMode ?? '-'}`]),
    `  join keys     ${l.entity.joinKeys.join(', ')} (${l.entity.keyType})`,
    `  event time    ${l.source.eventTimeField}; out-of-orderness ${formatDurationMs(l.source.outOfOrdernessMs)}, allowed lateness ${formatDurationMs(l.source.allowedLatenessMs)}, idle timeout ${formatDurationMs(l.source.idleTimeoutMs)}`,
    `  filter        ${l.filter ?? '-'}`,
    `  map           ${l.map ?? '-'}`,
    // Only views with constants have this line (docs/semantics.md §27): what filter and map read.
    ...(l.constants === undefined ? [] : [`  constants     ${JSON.stringify(l.constants)}`]),
    `  backfill      ${backfillLine(view)}`,
    `  used by       ${usedBy.join(', ') || '-'}`,
    '  features:',
    renderFeatures(l.features, '    ').trimEnd(),
    '',
  ]
  return lines.join('\n')
}

export function renderDiff(plan: RegistryPlan): string {
  const lines: string[] = []
  for (const v of plan.views) {
    const head = `${v.change === 'added' ? '+' : v.change === 'changed' ? '!' : v.change === 'metadata-changed' ? '~' : '='} view ${v.name} v${v.version}  ${v.change}`
    if (v.change === 'changed') {
      lines.push(`${head} (hash ${shortHash(v.storedHash ?? '')} → ${shortHash(v.hash)}): refused; publish it as version ${v.nextVersion}`)
    } else {
      lines.push(`${head}  ${shortHash(v.hash)}`)
    }
    for (const c of v.logicChanges) lines.push(`    ${c}`)
    for (const c of v.metadataChanges) lines.push(`    ~ ${c}`)
  }
  for (const v of plan.notInDefinitions) lines.push(`  view ${v.name} v${v.version}  published, not in the definitions (kept)`)
  for (const [kind, list] of [['service', plan.services], ['request feature', plan.requestFeatures], ['source', plan.sources], ['entity', plan.entities]] as const) {
    for (const i of list) {
      lines.push(`${i.change === 'added' ? '+' : i.change === 'changed' ? '~' : '='} ${kind} ${i.name}  ${i.change}`)
      for (const c of i.changes) lines.push(`    ${c}`)
    }
  }
  return `${lines.join('\n')}\n`
}

export function renderLineage(lineage: Lineage): string {
  const label = new Map(lineage.nodes.map((n) => [n.id, n.label]))
  const children = (id: string) => lineage.edges.filter((e) => e.from === id)
  const lines: string[] = []
  const walk = (id: string, depth: number, via: readonly string[]): void => {
    for (const e of children(id)) {
      const features = e.features.length === 0 ? '' : `  [${e.features.join(', ')}]`
      lines.push(`${'  '.repeat(depth)}└─ ${label.get(e.to) ?? e.to}${features}`)
      if (!via.includes(e.to)) walk(e.to, depth + 1, [...via, e.to])
    }
  }
  const roots = lineage.nodes.filter((n) => n.kind === 'source' || (n.kind !== 'entity' && !lineage.edges.some((e) => e.to === n.id && !e.from.startsWith('entity:'))))
  for (const root of roots) {
    lines.push(root.label)
    walk(root.id, 1, [root.id])
  }
  const keyed = lineage.edges.filter((e) => e.from.startsWith('entity:'))
  if (keyed.length > 0) {
    lines.push('', 'keyed by:')
    for (const e of keyed) lines.push(`  ${label.get(e.to) ?? e.to} ← ${label.get(e.from) ?? e.from}`)
  }
  return `${lines.join('\n')}\n`
}
