/**
 * The bad-input corpus tests' one check of `kfs ingest` on a snapshot file (docs/design.md §11):
 * either the file is refused — one line naming it, the exit code, nothing appended — or its rows
 * are ingested: each rejected row named with its reason, the counts adding up (rows read =
 * appended + unchanged + rejected), the log holding exactly the good rows once, and a re-run
 * appending nothing.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { runKfsInProcess } from '../../support/in-process-cli.ts'
import {
  accounts,
  accountsCsv,
  accountsIceberg,
  accountsIntCsv,
  accountsLongIntKey,
  accountsLongKey,
  docs,
} from '../ingest/corpus-sources.ts'
import { loggedEnvelopes } from './accounts-log.ts'

const SOURCES = {
  accounts,
  accounts_csv: accountsCsv,
  accounts_iceberg: accountsIceberg,
  accounts_int_csv: accountsIntCsv,
  accounts_long_key: accountsLongKey,
  accounts_long_int_key: accountsLongIntKey,
  docs,
}

export const CORPUS_FEATURES = ['--features', 'test/unit/ingest/corpus-sources.ts']

/** What ingesting a file must come to. */
export type Outcome =
  | { readonly refused: RegExp; readonly code?: number }
  | {
      /** The rows the log must hold afterwards, as `key@ts_ms`, in any order. */
      readonly logged: readonly string[]
      /** Rejected rows as `row:reason`, in row order. */
      readonly rejected?: readonly string[]
      /** A detail the first rejected row's must match. */
      readonly detail?: RegExp
      /** Where the rejected rows came from (`file line n`, `file row n`), in row order. */
      readonly at?: readonly string[]
    }

interface Summary {
  rowsRead: number
  appended: number
  unchanged: number
  rejected: number
  rejectedExamples: { row: number; reason: string; detail: string; at?: string }[]
}

/** `kfs ingest --source <source> [--snapshot <file or id>]` into the data directory `dataDir`, run twice (once when refused). */
export async function checkIngest(
  source: keyof typeof SOURCES,
  snapshot: string | undefined,
  dataDir: string,
  want: Outcome,
  what: string,
): Promise<void> {
  const args = [
    'ingest',
    '--source',
    source,
    ...(snapshot === undefined ? [] : ['--snapshot', snapshot]),
    ...CORPUS_FEATURES,
    '--json',
  ]
  const first = await runKfsInProcess(args, dataDir)
  if ('refused' in want) {
    assert.equal(first.code, want.code ?? 1, `${what}: exit ${first.code}: ${first.stdout}${first.stderr}`)
    const lines = first.stderr.trimEnd().split('\n')
    // A usage error's line is followed by the command's usage, as every command's is.
    if (first.code === 2) assert.match(lines[1] ?? '', /^Usage: kfs ingest /, what)
    else assert.equal(lines.length, 1, `${what}: one error line, got ${first.stderr}`)
    assert.match(lines[0]!, /^kfs ingest: /, what)
    assert.match(lines[0]!, want.refused, what)
    assert.doesNotMatch(first.stderr, /\n\s+at |unexpected error/i, `${what}: no stack trace`)
    assert.deepEqual(await loggedOrNone(dataDir, source), [], `${what}: nothing appended`)
    return
  }
  const rejected = want.rejected ?? []
  assert.equal(first.code, rejected.length > 0 ? 1 : 0, `${what}: ${first.stdout}${first.stderr}`)
  const s = JSON.parse(first.stdout) as Summary
  assert.equal(s.rowsRead, s.appended + s.unchanged + s.rejected, `${what}: the counts add up`)
  assert.equal(s.appended, want.logged.length, `${what}: appended`)
  assert.deepEqual(
    s.rejectedExamples.slice(0, 5).map((r) => `${r.row}:${r.reason}`),
    rejected.slice(0, 5),
    `${what}: rejected rows`,
  )
  assert.equal(s.rejected, rejected.length, `${what}: rejected count`)
  if (want.detail !== undefined) assert.match(s.rejectedExamples[0]!.detail, want.detail, what)
  if (want.at !== undefined)
    assert.deepEqual(
      s.rejectedExamples.map((r) => r.at),
      want.at.slice(0, 5),
      `${what}: where the rejected rows are`,
    )
  const again = JSON.parse((await runKfsInProcess(args, dataDir)).stdout) as Summary
  assert.deepEqual([again.appended, again.unchanged], [0, s.appended + s.unchanged], `${what}: a re-run appends nothing`)
  assert.deepEqual(
    (await loggedOrNone(dataDir, source)).sort(),
    [...want.logged].sort(),
    `${what}: the log holds exactly the good rows, once`,
  )
}

async function loggedOrNone(dataDir: string, source: keyof typeof SOURCES): Promise<string[]> {
  return (await loggedEnvelopes(dataDir, SOURCES[source])).map(({ key, envelope }) => `${key}@${envelope.ts_ms}`)
}

export const dataDirIn = (dir: string, name: string): string => join(dir, `data-${name.replace(/\W+/g, '-')}`)
