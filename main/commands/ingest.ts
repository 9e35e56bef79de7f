/** `kfs ingest`: append a table source's snapshot to its log, idempotently (docs/design.md §11). */
import { existsSync, statSync } from 'node:fs'
import { FeatureStoreError } from '../../core/errors.ts'
import { dirname, extname, resolve } from 'node:path'
import type { TableLocation } from '../../features/types.ts'
import { declaredTableColumns } from '../../ingest/row-columns.ts'
import { ingestSnapshot, tableSpecOf, type IngestProgress, type IngestResult } from '../../ingest/ingest-snapshot.ts'
import { REJECT_REASONS } from '../../ingest/plan-snapshot.ts'
import { tableSnapshotReader } from '../offline-adapters.ts'
import { createRuntime } from '../runtime.ts'
import { numberOption, stringOption, UsageError, type Command } from './command.ts'
import { FEATURES_HELP, FEATURES_OPTION, loadFeatures, openRegistry } from './definitions.ts'
import { didYouMean } from './did-you-mean.ts'
import { RejectsFile } from './ingest-rejects.ts'
import { refuseOutputOverInputs } from './output-over-input.ts'
import { progressFor } from './progress.ts'
import { listenForStop } from './stop-signal.ts'

const EXAMPLES = 5
const BAR = 24

export const ingestCommand: Command = {
  name: 'ingest',
  summary: "Append a table source's snapshot to its log (idempotent)",
  usage: 'kfs ingest --source <name> [--snapshot <id|path>] [--rejects <file>] [--batch <records>] [--features <path>] [--json]',
  help: `
Reads a snapshot of a table source (its declared location: a Parquet or CSV file, or a folder of
them read in name order) and appends to the source's topic one change record for every
(primary key, event time, row) the log does not hold yet, in event-time then primary-key order.
Each record is a change envelope (op c for a new key, u with the previous row as before) carrying
the snapshot's id. What the log holds is read from the log itself, so ingesting the same snapshot
again appends nothing, and a run that was killed is completed by running it again. Two runs of
one source at once append nothing twice either: the later one fences the earlier before it reads
the log (on Kafka each batch is appended in a transaction of id kfs-ingest.<topic>), and the
earlier one stops with exit 1, the later appending the rest if it ingests the same snapshot.
SIGINT or SIGTERM stops a run at its next batch, the batch being appended written whole first
(exit 1, INTERRUPTED); run it again to append the rest. A second signal kills it at once.

Rows without a primary key (or with one the source's entity cannot hold: an int entity's key is
an integer, written as 7, never 007 or +7), without an event time, with a value not of the row
schema's type, too large
for a change record (over 523,776 bytes of values: a record over 1 MiB no reader takes), or repeating
a (primary key, event time) of the snapshot with other values are rejected with a reason and the
others are appended; the command then exits 1. The summary counts them by reason and lists the
first few; --rejects <file> writes every one of them, one JSON object a line: its row number, its
file and line or row, its reason and detail, and its values (a bigint, bytes, NaN or a date as
{"$bigint"|"$bytes"|"$double"|"$date": text}). The file is replaced whole once the snapshot is
read, before anything is appended (a run that fails before that leaves it as it was; one that
cannot write it appends nothing), and is written, empty, when no row is rejected. Which rows are
rejected depends on the snapshot alone: running again with --rejects lists them all, appending
nothing new.

A snapshot whose columns no longer fit the row schema (a column missing, or of another type) is
refused before anything is appended (exit 1), and so is a snapshot with no rows at all. Extra
columns are ignored and listed.

Options:
${FEATURES_HELP}
  --source <name>        the table source to ingest
  --snapshot <id|path>   a file or folder to ingest instead of the source's location
                         (an Iceberg snapshot id for an Iceberg table)
  --rejects <file>       write every rejected row to <file> (JSON lines), replacing it; its
                         folder must exist, and it must not be a file the command reads (the
                         snapshot, the definitions module) nor a .parquet/.csv file in the
                         snapshot's folder
  --batch <records>      records per append to the log (default 100000): each append is
                         written whole, so smaller batches show progress sooner and larger
                         ones are faster; a killed run resumes the same either way
  --json                 print one JSON summary

Examples:
  kfs ingest --source accounts
  kfs ingest --source accounts --snapshot exports/accounts-2026-11-02.parquet
  kfs ingest --source accounts --rejects rejects/accounts.ndjson --json
`,
  options: {
    ...FEATURES_OPTION,
    source: { type: 'string', kind: 'name' },
    snapshot: { type: 'string', kind: 'text' },
    batch: { type: 'string', kind: 'count' },
    rejects: { type: 'string', kind: 'output-file' },
  },
  async run(args, ctx) {
    const name = stringOption(args, 'source')
    if (name === undefined) throw new UsageError('name the table source to ingest with --source')
    const { registry } = await openRegistry(ctx)
    const { set, path: definitions } = await loadFeatures(args, ctx, registry)
    const source = set.sources.find((s) => s.name === name)
    if (source === undefined) {
      const names = set.sources.map((s) => s.name)
      throw new UsageError(`no source named ${name}.${didYouMean(name, names)} Sources: ${names.join(', ') || '(none)'}`)
    }
    const spec = tableSpecOf(source)
    if (typeof spec === 'string') throw new UsageError(spec)
    const entity = set.entities.find((e) => e.name === source.keyedBy)
    const batch = numberOption(args, 'batch')
    let at = stringOption(args, 'snapshot')
    // An Iceberg snapshot is named by its id, a (64-bit) integer: anything else is the invocation's mistake.
    if (at !== undefined && spec.location.format === 'iceberg' && !/^-?\d{1,20}$/.test(at))
      throw new UsageError(`--snapshot ${at}: an Iceberg snapshot id is an integer (kfs ingest reads the current snapshot without --snapshot)`)
    if (at !== undefined && spec.location.format !== 'iceberg') {
      at = resolve(ctx.cwd, at)
      if (!existsSync(at)) throw new UsageError(`--snapshot ${stringOption(args, 'snapshot')}: no such file or folder`)
      const kind = statSync(at)
      if (!kind.isFile() && !kind.isDirectory())
        throw new UsageError(`--snapshot ${stringOption(args, 'snapshot')}: not a file or folder (a pipe, device or socket); name the snapshot file or its folder`)
    }
    const rejectsPath = stringOption(args, 'rejects')
    if (rejectsPath !== undefined) refuseRejectsOverInputs(rejectsPath, spec.location, at, resolve(ctx.cwd, definitions), ctx.cwd)
    const config = ctx.config()
    const runtime = await createRuntime(config)
    const reader = tableSnapshotReader(spec.location, { parquetWorker: config.parquetWorker, columns: declaredTableColumns(spec.rowSchema), cwd: ctx.cwd, store: runtime.store })
    const progress = progressFor(ctx)
    let rejects: RejectsFile | undefined
    // SIGINT/SIGTERM (a cron job's timeout, Ctrl-C) stops the run at its next batch, the chunk
    // being appended committed first: killed mid-chunk instead, it left a transaction open that
    // readers of the topic wait at until the next ingest or Kafka's timeout ends it. A second
    // signal kills as usual.
    const stop = (ctx.listenForStop ?? listenForStop)()
    const stopping = new AbortController()
    void stop.received.then((signal) => stopping.abort(signal))
    try {
      // Created before the snapshot is read: a folder it cannot be written in fails the run at once.
      rejects = rejectsPath === undefined ? undefined : new RejectsFile(rejectsPath, source.name)
      const log = await runtime.eventLog()
      const result = await ingestSnapshot(
        { log, reader, encoder: await runtime.encoderFor(source), decoder: runtime.decoderFor(source) },
        {
          source,
          // Keys as the engine will key the rows: by the source's entity (a text or an integer key).
          ...(entity === undefined ? {} : { entity }),
          ...(at === undefined ? {} : { at }),
          ...(batch === undefined ? {} : { chunkRecords: batch }),
          ...(rejects === undefined ? {} : { rejects }),
          onProgress: (p) => progress.update(progressText(source.name, p)),
          signal: stopping.signal,
        },
      )
      progress.done()
      // A snapshot without rows checked nothing (a nightly export that came out empty): a failure, not "nothing new".
      if (result.rowsRead === 0) throw new FeatureStoreError('BAD_REQUEST', `nothing to ingest: the snapshot at ${result.where} holds no rows; nothing was appended`)
      const file = rejects === undefined ? undefined : { path: rejects.path, rows: rejects.rows }
      ctx.out(ctx.json ? `${JSON.stringify(summaryJson(source.name, result, file))}\n` : summaryText(source.name, result, file))
      return result.rejected.length > 0 ? 1 : 0
    } finally {
      stop.dispose()
      progress.done()
      await rejects?.discard()
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

/** Where --rejects wrote, and how many rows. */
interface RejectsWritten {
  readonly path: string
  readonly rows: number
}

/**
 * The rejects file must not destroy what the run reads: the snapshot (or the source's declared
 * table), the definitions module, nor be a .parquet/.csv file in a snapshot folder, which the next
 * ingest of that folder would read as part of the table.
 */
function refuseRejectsOverInputs(path: string, location: TableLocation, at: string | undefined, definitions: string, cwd: string): void {
  const tables = location.format === 'iceberg' ? [] : [...new Set([at ?? resolve(cwd, location.path), resolve(cwd, location.path)])]
  refuseOutputOverInputs('--rejects', path, [...tables.map((t) => ({ what: 'a snapshot of the table', path: t })), { what: 'the definitions module', path: definitions }])
  if (location.format === 'iceberg' || extname(path).toLowerCase() !== `.${location.format}`) return
  for (const table of tables)
    if (isFolder(table) && resolve(dirname(path)) === resolve(table))
      throw new UsageError(`--rejects: ${path} is a .${location.format} file in the snapshot folder ${table}; the next ingest would read it as part of the table — name another file`)
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory()
  } catch {
    return false
  }
}

function summaryJson(source: string, result: IngestResult, rejects: RejectsWritten | undefined): Record<string, unknown> {
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
    rejectsFile: rejects ?? null,
    ignoredColumns: result.ignoredColumns,
    logRecords: result.logRecords,
    unreadableLogRecords: result.unreadableLogRecords,
    topicRetention: result.topicRetention ?? null,
  }
}

function summaryText(source: string, result: IngestResult, rejects: RejectsWritten | undefined): string {
  const lines = [
    `ingested snapshot ${result.snapshotId} of ${source} (${result.where})`,
    `  rows read ${result.rowsRead}, appended ${result.appended}, unchanged ${result.unchanged}, rejected ${result.rejected.length}`,
  ]
  if (result.rejected.length > 0) {
    lines.push(`  rejected by reason: ${Object.entries(rejectedByReason(result)).map(([r, n]) => `${r} ${n}`).join(', ')}`)
    for (const r of result.rejected.slice(0, EXAMPLES)) lines.push(`    row ${r.row}${r.at === undefined ? '' : ` (${r.at})`}: ${r.reason}: ${r.detail}`)
    if (result.rejected.length > EXAMPLES) lines.push(`    … and ${result.rejected.length - EXAMPLES} more`)
    lines.push(
      rejects === undefined
        ? '  every rejected row, with its values: run again with --rejects <file> (it appends nothing new)'
        : `  every rejected row, with its values: ${rejects.path} (${rejects.rows} lines)`,
    )
  } else if (rejects !== undefined) lines.push(`  no row rejected: ${rejects.path} is empty`)
  if (result.ignoredColumns.length > 0) lines.push(`  ignored columns (not in the row schema): ${result.ignoredColumns.join(', ')}`)
  if (result.unreadableLogRecords > 0)
    lines.push(`  note: ${result.unreadableLogRecords} of the log's ${result.logRecords} records are not change envelopes of this table and were skipped`)
  if (result.topicRetention !== undefined) lines.push(`  warning: ${retentionWarning(source, result.topicRetention)}`)
  return `${lines.join('\n')}\n`
}

function retentionWarning(source: string, retention: string): string {
  return `the topic of ${source} deletes records (${retention}): once a row's record is gone, kfs ingest no longer finds the row and appends it again. kfs creates a table source's topic compacted; make this one so (cleanup.policy=compact)`
}
