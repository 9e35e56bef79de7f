/** `kfs ingest`: append a table source's snapshot to its log, idempotently (docs/design.md §11). */
import { existsSync } from 'node:fs'
import { FeatureStoreError } from '../../core/errors.ts'
import { resolve } from 'node:path'
import { declaredTableColumns } from '../../ingest/row-columns.ts'
import { ingestSnapshot, tableSpecOf, type IngestProgress, type IngestResult } from '../../ingest/ingest-snapshot.ts'
import { REJECT_REASONS } from '../../ingest/plan-snapshot.ts'
import { tableSnapshotReader } from '../offline-adapters.ts'
import { createRuntime } from '../runtime.ts'
import { numberOption, stringOption, UsageError, type Command } from './command.ts'
import { FEATURES_HELP, FEATURES_OPTION, loadFeatures, openRegistry } from './definitions.ts'
import { didYouMean } from './did-you-mean.ts'
import { progressFor } from './progress.ts'

const EXAMPLES = 5
const BAR = 24

export const ingestCommand: Command = {
  name: 'ingest',
  summary: "Append a table source's snapshot to its log (idempotent)",
  usage: 'kfs ingest --source <name> [--snapshot <id|path>] [--batch <records>] [--features <path>] [--json]',
  help: `
Reads a snapshot of a table source (its declared location: a Parquet or CSV file, or a folder of
them read in name order) and appends to the source's topic one change record for every
(primary key, event time, row) the log does not hold yet, in event-time then primary-key order.
Each record is a change envelope (op c for a new key, u with the previous row as before) carrying
the snapshot's id. What the log holds is read from the log itself, so ingesting the same snapshot
again appends nothing, and a run that was killed is completed by running it again. Two runs of
one source at once append nothing twice either: the later one fences the earlier before it reads
the log (on Kafka each batch is appended in a transaction of id kfs-ingest.<topic>), and the
earlier one stops with exit 1, the later appending the rest.

Rows without a primary key or event time, with a value not of the row schema's type, too large
for a change record (over 523,776 bytes of values: a record over 1 MiB no reader takes), or repeating
a (primary key, event time) of the snapshot with other values are rejected with a reason (the
first examples are listed with their row numbers) and the others are appended; the command then
exits 1. A snapshot whose columns no longer fit the row schema (a column missing, or of another
type) is refused before anything is appended (exit 1), and so is a snapshot with no rows at all.
Extra columns are ignored and listed.

Options:
${FEATURES_HELP}
  --source <name>        the table source to ingest
  --snapshot <id|path>   a file or folder to ingest instead of the source's location
                         (an Iceberg snapshot id for an Iceberg table)
  --batch <records>      records per append to the log (default 100000): each append is
                         written whole, so smaller batches show progress sooner and larger
                         ones are faster; a killed run resumes the same either way
  --json                 print one JSON summary

Examples:
  kfs ingest --source accounts
  kfs ingest --source accounts --snapshot exports/accounts-2026-11-02.parquet
`,
  options: {
    ...FEATURES_OPTION,
    source: { type: 'string', kind: 'name' },
    snapshot: { type: 'string', kind: 'text' },
    batch: { type: 'string', kind: 'count' },
  },
  async run(args, ctx) {
    const name = stringOption(args, 'source')
    if (name === undefined) throw new UsageError('name the table source to ingest with --source')
    const { registry } = await openRegistry(ctx)
    const { set } = await loadFeatures(args, ctx, registry)
    const source = set.sources.find((s) => s.name === name)
    if (source === undefined) {
      const names = set.sources.map((s) => s.name)
      throw new UsageError(`no source named ${name}.${didYouMean(name, names)} Sources: ${names.join(', ') || '(none)'}`)
    }
    const spec = tableSpecOf(source)
    if (typeof spec === 'string') throw new UsageError(spec)
    const batch = numberOption(args, 'batch')
    let at = stringOption(args, 'snapshot')
    // An Iceberg snapshot is named by its id, a (64-bit) integer: anything else is the invocation's mistake.
    if (at !== undefined && spec.location.format === 'iceberg' && !/^-?\d{1,20}$/.test(at))
      throw new UsageError(`--snapshot ${at}: an Iceberg snapshot id is an integer (kfs ingest reads the current snapshot without --snapshot)`)
    if (at !== undefined && spec.location.format !== 'iceberg') {
      at = resolve(ctx.cwd, at)
      if (!existsSync(at)) throw new UsageError(`--snapshot ${stringOption(args, 'snapshot')}: no such file or folder`)
    }
    const config = ctx.config()
    const runtime = await createRuntime(config)
    const reader = tableSnapshotReader(spec.location, { parquetWorker: config.parquetWorker, columns: declaredTableColumns(spec.rowSchema), cwd: ctx.cwd, store: runtime.store })
    const progress = progressFor(ctx)
    try {
      const log = await runtime.eventLog()
      const result = await ingestSnapshot(
        { log, reader, encoder: await runtime.encoderFor(source), decoder: runtime.decoderFor(source) },
        { source, ...(at === undefined ? {} : { at }), ...(batch === undefined ? {} : { chunkRecords: batch }), onProgress: (p) => progress.update(progressText(source.name, p)) },
      )
      progress.done()
      // A snapshot without rows checked nothing (a nightly export that came out empty): a failure, not "nothing new".
      if (result.rowsRead === 0) throw new FeatureStoreError('BAD_REQUEST', `nothing to ingest: the snapshot at ${result.where} holds no rows; nothing was appended`)
      ctx.out(ctx.json ? `${JSON.stringify(summaryJson(source.name, result))}\n` : summaryText(source.name, result))
      return result.rejected.length > 0 ? 1 : 0
    } finally {
      progress.done()
      await runtime.close()
    }
  },
}

function progressText(source: string, p: IngestProgress): string {
  switch (p.phase) {
    case 'read':
      return `ingest ${source}: reading the snapshot, ${p.rows.toLocaleString('en')} rows${p.total === undefined ? '' : ` of ${p.total.toLocaleString('en')}`}`
    case 'scan':
      return `ingest ${source}: reading the log, ${p.records.toLocaleString('en')} records`
    case 'append': {
      const share = p.total > 0 ? p.appended / p.total : 1
      const filled = Math.floor(share * BAR)
      return `ingest ${source}: appending [${'#'.repeat(filled)}${'.'.repeat(BAR - filled)}] ${Math.floor(share * 100)}% ${p.appended.toLocaleString('en')}/${p.total.toLocaleString('en')}`
    }
  }
}

function rejectedByReason(result: IngestResult): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const reason of REJECT_REASONS) {
    const n = result.rejected.filter((r) => r.reason === reason).length
    if (n > 0) counts[reason] = n
  }
  return counts
}

function summaryJson(source: string, result: IngestResult): Record<string, unknown> {
  return {
    source,
    snapshot: result.snapshotId,
    where: result.where,
    rowsRead: result.rowsRead,
    appended: result.appended,
    unchanged: result.unchanged,
    rejected: result.rejected.length,
    rejectedByReason: rejectedByReason(result),
    rejectedExamples: result.rejected.slice(0, EXAMPLES),
    ignoredColumns: result.ignoredColumns,
    logRecords: result.logRecords,
    unreadableLogRecords: result.unreadableLogRecords,
  }
}

function summaryText(source: string, result: IngestResult): string {
  const lines = [
    `ingested snapshot ${result.snapshotId} of ${source} (${result.where})`,
    `  rows read ${result.rowsRead}, appended ${result.appended}, unchanged ${result.unchanged}, rejected ${result.rejected.length}`,
  ]
  if (result.rejected.length > 0) {
    lines.push(`  rejected by reason: ${Object.entries(rejectedByReason(result)).map(([r, n]) => `${r} ${n}`).join(', ')}`)
    for (const r of result.rejected.slice(0, EXAMPLES)) lines.push(`    row ${r.row}${r.at === undefined ? '' : ` (${r.at})`}: ${r.reason}: ${r.detail}`)
    if (result.rejected.length > EXAMPLES) lines.push(`    … and ${result.rejected.length - EXAMPLES} more`)
  }
  if (result.ignoredColumns.length > 0) lines.push(`  ignored columns (not in the row schema): ${result.ignoredColumns.join(', ')}`)
  if (result.unreadableLogRecords > 0)
    lines.push(`  note: ${result.unreadableLogRecords} of the log's ${result.logRecords} records are not change envelopes of this table and were skipped`)
  return `${lines.join('\n')}\n`
}
