/**
 * What a data folder holds, for tests that compare two folders or check that one was left alone:
 * every file's bytes (by hash), every offline table's rows, and the answers `kfs serve` gives.
 */
import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { LocalObjectStore } from '../../adapters/object-store/local/local-object-store.ts'
import { loadTable, readRows } from '../../adapters/offline/iceberg/index.ts'
import { listStoredTables } from '../../adapters/offline/iceberg/table-listing.ts'
import { createParquetCodec } from '../../adapters/offline/parquet/parquet-codec.ts'
import { runKfsInProcess } from './in-process-cli.ts'

/** Every file under `dir` (relative path → sha256 of its bytes); an absent folder holds none. */
export function fileHashes(dir: string): Map<string, string> {
  const out = new Map<string, string>()
  const walk = (at: string): void => {
    for (const e of readdirSync(at, { withFileTypes: true })) {
      const path = join(at, e.name)
      if (e.isDirectory()) walk(path)
      else out.set(relative(dir, path), createHash('sha256').update(readFileSync(path)).digest('hex'))
    }
  }
  if (existsSync(dir)) walk(dir)
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : 1)))
}

/** Columns stamped with the wall clock when a row was written: two runs over the same events differ there alone. */
const WALL_CLOCK_COLUMNS = new Set(['created_at', 'ingestion_time'])

const shown = (value: unknown): string =>
  JSON.stringify(value, (_k, v: unknown) =>
    typeof v === 'bigint' ? `${v}n` : v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v,
  )

/** Each offline table of the folder (by path) with its current rows, sorted, wall-clock columns left out. */
export async function tableRows(dataDir: string): Promise<Map<string, string[]>> {
  const store = new LocalObjectStore(join(dataDir, 'objects'))
  const out = new Map<string, string[]>()
  for (const listed of await listStoredTables(store)) {
    const rows: string[] = []
    for await (const row of readRows(await loadTable(store, listed.path))) {
      rows.push(shown(Object.fromEntries(Object.entries(row).filter(([k]) => !WALL_CLOCK_COLUMNS.has(k)))))
    }
    out.set(listed.path, rows.sort())
  }
  return out
}

/** A Parquet file's rows, in file order (a training set's rows are in its labels' order). */
export async function parquetRows(bytes: Uint8Array): Promise<string[]> {
  const rows: string[] = []
  for await (const batch of createParquetCodec().readBatches(bytes)) {
    for (let i = 0; i < batch.numRows; i++)
      rows.push(shown(Object.fromEntries(Object.entries(batch.columns).map(([name, values]) => [name, values[i]]))))
  }
  return rows
}

export interface ServedAnswers {
  readonly code: number
  /** `GET`/`POST` path → status and body, ages (wall-clock) left out. */
  readonly answers: Readonly<Record<string, string>>
  readonly stderr: string
}

/** `kfs serve` over `dataDir`: the answers to `requests` (a GET without a body), then stopped. */
export async function servedAnswers(
  dataDir: string,
  features: string,
  requests: readonly { readonly path: string; readonly body?: unknown }[],
): Promise<ServedAnswers> {
  let stop!: (signal: string) => void
  const stopped = new Promise<string>((resolve) => (stop = resolve))
  let ready!: (line: string) => void
  const readyLine = new Promise<string>((resolve) => (ready = resolve))
  let stdout = ''
  const run = runKfsInProcess(['serve', '--features', features, '--port', '0', '--json'], dataDir, {
    listenForStop: () => ({ received: stopped, dispose: () => undefined }),
    out: (text: string) => {
      stdout += text
      if (stdout.includes('\n')) ready(stdout.slice(0, stdout.indexOf('\n')))
    },
  })
  const answers: Record<string, string> = {}
  const outcome = await Promise.race([run.then((r) => ({ ended: r })), readyLine.then((line) => ({ line }))])
  if ('line' in outcome) {
    const { url } = JSON.parse(outcome.line) as { url: string }
    for (const { path, body } of requests) {
      const res = await fetch(
        `${url}${path}`,
        body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) },
      )
      answers[`${body === undefined ? 'GET' : 'POST'} ${path}`] =
        `${res.status} ${(await res.text()).replace(/"age_ms":\d+/g, '"age_ms":_')}`
    }
    stop('the test')
  }
  const result = await run
  return { code: result.code, answers, stderr: result.stderr }
}
