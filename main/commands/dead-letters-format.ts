/** Text and JSON renderings of dead letters for `kfs dead-letters` (./dead-letters.ts). */
import type { DecodeResult } from '../../schemas/decoder.ts'
import { positionId, type DeadLetterEntry } from '../../replay/dead-letters/dead-letter-entry.ts'
import type { AssessedLetter, LetterStatus } from '../../replay/dead-letters/redrive-plan.ts'
import type { RedriveMarker } from '../../replay/dead-letters/redrive.ts'
import { table } from './registry-format.ts'

const DETAIL_WIDTH = 60

/** `redrivable`, `held` or `redriven`: the words of `--status` and of the JSON. */
function statusLabel(status: LetterStatus): LetterStatus['kind'] {
  return status.kind
}

function counted(values: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const v of values) counts[v] = (counts[v] ?? 0) + 1
  return counts
}

function countsText(counts: Record<string, number>): string {
  return Object.entries(counts)
    .sort(([a, x], [b, y]) => y - x || (a < b ? -1 : 1))
    .map(([k, n]) => `${k} ${n}`)
    .join(', ')
}

export function letterJson(a: AssessedLetter, marker?: RedriveMarker): Record<string, unknown> {
  const e = a.entry
  return {
    letter: positionId(e.at),
    partition: e.at.partition,
    offset: e.at.offset,
    writtenAt: new Date(e.timeMs).toISOString(),
    reason: e.reason,
    detail: e.detail,
    view: e.view ?? null,
    viewVersion: e.viewVersion ?? null,
    refusedBy: a.refusers,
    read: positionId(e.read),
    origin: e.origin ? positionId(e.origin) : null,
    record: positionId(e.target),
    redriveTo: positionId(a.redriveTo),
    status: statusLabel(a.status),
    ...(a.status.kind === 'held' ? { why: a.status.why } : {}),
    ...(marker ? { redrivenAt: new Date(marker.redrivenAtMs).toISOString(), redrivenFrom: marker.letter } : {}),
  }
}

/** One summary of a selection: totals by reason and status, distinct records. */
export function summaryJson(selected: readonly AssessedLetter[]): Record<string, unknown> {
  return {
    letters: selected.length,
    records: new Set(selected.map((a) => positionId(a.entry.target))).size,
    byReason: counted(selected.map((a) => a.entry.reason)),
    byStatus: counted(selected.map((a) => statusLabel(a.status))),
  }
}

export function renderList(topic: string, selected: readonly AssessedLetter[], shown: readonly AssessedLetter[], total: number): string {
  if (total === 0) return `${topic}: no dead letters\n`
  if (selected.length === 0) return `${topic}: ${total} dead letters, none matches\n`
  const records = new Set(selected.map((a) => positionId(a.entry.target))).size
  const lines = [
    `${topic}: ${selected.length} dead letters of ${records} records${selected.length === total ? '' : ` (of ${total} in all)`}`,
    `  by reason: ${countsText(counted(selected.map((a) => a.entry.reason)))}`,
    `  by status: ${countsText(counted(selected.map((a) => statusLabel(a.status))))}`,
    '',
  ]
  const rows = shown.map((a) => [
    positionId(a.entry.at).slice(topic.length + 1),
    new Date(a.entry.timeMs).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    a.entry.reason,
    a.refusers.join(',') || '-',
    positionId(a.entry.target),
    statusLabel(a.status),
    oneLine(a.entry.detail, DETAIL_WIDTH),
  ])
  lines.push(table([['LETTER', 'WRITTEN', 'REASON', 'REFUSED BY', 'RECORD', 'STATUS', 'DETAIL'], ...rows]).trimEnd())
  if (shown.length < selected.length) lines.push('', `showing the last ${shown.length} of ${selected.length} (--limit for more)`)
  lines.push(...heldLines(selected))
  lines.push('', 'kfs dead-letters show <letter> inspects one; kfs dead-letters redrive re-drives a selection.', '')
  return lines.join('\n')
}

/** Why held letters are held, most frequent first (one line per distinct reason). */
export function heldLines(selected: readonly AssessedLetter[]): string[] {
  const whys = counted(selected.flatMap((a) => (a.status.kind === 'held' ? [a.status.why] : [])))
  const entries = Object.entries(whys).sort(([, x], [, y]) => y - x)
  if (entries.length === 0) return []
  return ['', 'held back (letters):', ...entries.map(([why, n]) => `  ${String(n).padStart(6)}  ${why}`)]
}

function oneLine(text: string, width: number): string {
  const flat = text.replace(/\s+/g, ' ')
  return flat.length <= width ? flat : `${flat.slice(0, width - 1)}…`
}

/** The bytes of a key or value for a human: UTF-8 when printable, else hex (first 64 bytes). */
export function bytesText(bytes: Uint8Array | null): string {
  if (bytes === null) return '(null)'
  const text = Buffer.from(bytes).toString('utf8')
  if (!text.includes('\uFFFD') && !/[\u0000-\u0008\u000e-\u001f]/.test(text)) return `${JSON.stringify(text)} (${bytes.byteLength} bytes)`
  const hex = Buffer.from(bytes.subarray(0, 64)).toString('hex').replace(/(..)/g, '$1 ').trim()
  return `${hex}${bytes.byteLength > 64 ? ' …' : ''} (${bytes.byteLength} bytes)`
}

/** The Confluent wire format's schema id (magic byte 0, then 4 bytes), when the value has one. */
export function schemaIdOf(value: Uint8Array | null): number | undefined {
  if (value === null || value.byteLength < 5 || value[0] !== 0) return undefined
  return Buffer.from(value).readUInt32BE(1)
}

export interface ShowDetails {
  readonly assessed: AssessedLetter
  readonly siblings: readonly AssessedLetter[]
  readonly marker: RedriveMarker | undefined
  /** The value decoded now with its source's schema; undefined when no source of the module reads the topic. */
  readonly decoded: DecodeResult | undefined
  readonly source: string | undefined
}

export function showJson(d: ShowDetails): Record<string, unknown> {
  const e: DeadLetterEntry = d.assessed.entry
  return {
    ...letterJson(d.assessed, d.marker),
    key: e.key === null ? null : Buffer.from(e.key).toString('base64'),
    value: e.value === null ? null : Buffer.from(e.value).toString('base64'),
    schemaId: schemaIdOf(e.value) ?? null,
    source: d.source ?? null,
    decodesNow: d.decoded === undefined ? null : d.decoded.ok,
    event: d.decoded?.ok ? d.decoded.event : null,
    decodeError: d.decoded !== undefined && !d.decoded.ok ? { reason: d.decoded.reason, detail: d.decoded.detail } : null,
    otherLetters: d.siblings.map((s) => ({ letter: positionId(s.entry.at), reason: s.entry.reason, refusedBy: s.refusers })),
  }
}

export function renderShow(d: ShowDetails): string {
  const e = d.assessed.entry
  const s = d.assessed.status
  const status =
    s.kind === 'held' ? `held: ${s.why}` : s.kind === 'redriven' ? `redriven${d.marker ? ` at ${new Date(d.marker.redrivenAtMs).toISOString()} (from letter ${d.marker.letter})` : ''}` : 'redrivable'
  const rows: [string, string][] = [
    ['written', new Date(e.timeMs).toISOString()],
    ['reason', e.reason],
    ['detail', e.detail],
    ['refused by', (d.assessed.refusers.join(', ') || '(no view of the features module)') + (e.viewVersion === undefined ? '' : ` (v${e.viewVersion})`)],
    ['read at', positionId(e.read)],
    ['origin', e.origin ? positionId(e.origin) : '-'],
    ['record', positionId(e.target)],
    ['re-drive to', positionId(d.assessed.redriveTo)],
    ['status', status],
    ['key', bytesText(e.key)],
    ['value', `${e.value === null ? '(null)' : `${e.value.byteLength} bytes`}${schemaIdOf(e.value) === undefined ? '' : `, schema id ${schemaIdOf(e.value)}`}`],
  ]
  if (d.decoded === undefined) rows.push(['decoded', `no source of the features module reads ${e.target.topic}`])
  else if (d.decoded.ok) rows.push([`decoded (${d.source})`, JSON.stringify(d.decoded.event, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))])
  else rows.push(['decoded', `does not decode now: ${d.decoded.reason}: ${d.decoded.detail}`])
  const lines = [`dead letter ${positionId(e.at)}`, table(rows).trimEnd()]
  if (d.siblings.length > 0) {
    lines.push('', 'other letters of the same record:')
    for (const o of d.siblings) lines.push(`  ${positionId(o.entry.at)}  ${o.entry.reason}  ${o.refusers.join(',') || '-'}`)
  }
  return `${lines.join('\n')}\n`
}

/** `, 12 dead-lettered (late 9, undecodable 3) — kfs dead-letters list` for a run's summary; empty when none. */
export function deadLetteredText(byReason: Readonly<Record<string, number>>): string {
  const total = Object.values(byReason).reduce((a, b) => a + b, 0)
  return total === 0 ? '' : `, ${total} dead-lettered (${countsText({ ...byReason })}) — kfs dead-letters list`
}
