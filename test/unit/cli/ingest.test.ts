/**
 * `kfs ingest` on embedded defaults (docs/design.md §11): a Parquet snapshot ingested twice (the
 * second appends nothing), a newer snapshot appending only changed rows, a snapshot with bad rows
 * (exit 1, reasons), a schema change (exit 1, nothing appended), usage errors (exit 2).
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { createParquetCodec } from '../../../adapters/offline/parquet/parquet-codec.ts'
import type { ChangeEnvelope } from '../../../features/change-envelope.ts'
import { runKfsInProcess } from '../../support/in-process-cli.ts'
import { loggedEnvelopes } from './accounts-log.ts'
import { ACCOUNT_PARQUET_COLUMNS, writeAccountsParquet } from '../ingest/snapshots.ts'

const dir = mkdtempSync(join(tmpdir(), 'kfs-cli-ingest-'))
after(() => rmSync(dir, { recursive: true, force: true }))
const dataDir = join(dir, 'data')
const parquet = createParquetCodec({ worker: false })
const FEATURES = ['--features', 'test/unit/ingest/fixtures.ts']

interface Summary {
  snapshot: string
  rowsRead: number
  appended: number
  unchanged: number
  rejected: number
  rejectedByReason: Record<string, number>
  rejectedExamples: { row: number; reason: string }[]
  ignoredColumns: string[]
  logRecords: number
}

async function ingest(file: string, extra: readonly string[] = []): Promise<{ code: number; summary: Summary | undefined; stderr: string }> {
  const r = await runKfsInProcess(['ingest', '--source', 'accounts', '--snapshot', file, ...FEATURES, '--json', ...extra], dataDir)
  let summary: Summary | undefined
  try {
    summary = JSON.parse(r.stdout) as Summary
  } catch {
    summary = undefined
  }
  return { code: r.code, summary, stderr: r.stderr }
}

/** The accounts topic's envelopes, per partition in offset order, concatenated. */
const logged = (): Promise<{ key: string; envelope: ChangeEnvelope }[]> => loggedEnvelopes(dataDir)

const acct = (id: string | null, t: number | null, balance: number, tier: string | null = null) => ({ account_id: id, updated_at: t, balance, tier, visits: null })

void describe('kfs ingest', () => {
  void it('appends a snapshot once, then only what a newer snapshot changed', async () => {
    const s1 = join(dir, 's1.parquet')
    await writeAccountsParquet(parquet, s1, [acct('b', 2_000, 5), acct('a', 1_000, 1, 'gold'), acct('c', 2_000, 7)])
    const first = await ingest(s1)
    assert.equal(first.code, 0, first.stderr)
    assert.deepEqual([first.summary!.rowsRead, first.summary!.appended, first.summary!.unchanged, first.summary!.rejected], [3, 3, 0, 0])
    assert.match(first.summary!.snapshot, /^[0-9a-f]{16}$/)

    const again = await ingest(s1)
    assert.equal(again.code, 0, again.stderr)
    assert.deepEqual([again.summary!.appended, again.summary!.unchanged, again.summary!.logRecords], [0, 3, 3])

    const s2 = join(dir, 's2.parquet')
    await writeAccountsParquet(parquet, s2, [acct('a', 1_000, 1, 'gold'), acct('b', 3_000, 6), acct('c', 2_000, 7), acct('d', 2_500, 0)])
    const newer = await ingest(s2)
    assert.equal(newer.code, 0, newer.stderr)
    assert.deepEqual([newer.summary!.appended, newer.summary!.unchanged], [2, 2])

    const records = await logged()
    assert.equal(records.length, 5)
    const b = records.filter((r) => r.key === 'b').map((r) => r.envelope)
    assert.deepEqual(b.map((e) => [e.op, e.before?.balance ?? null, e.after?.balance, e.ts_ms]), [['c', null, 5, 2_000], ['u', 5, 6, 3_000]])
    assert.deepEqual(new Set(records.map((r) => r.envelope.snapshot)), new Set([first.summary!.snapshot, newer.summary!.snapshot]))
  })

  void it('rejects bad rows with reasons and row numbers (exit 1), appending the good ones', async () => {
    const bad = join(dir, 'bad.parquet')
    await writeAccountsParquet(parquet, bad, [acct(null, 4_000, 1), acct('e', null, 1), acct('f', 4_000, 2), acct('f', 4_000, 3)])
    const r = await ingest(bad)
    assert.equal(r.code, 1)
    assert.deepEqual(r.summary!.rejectedByReason, { missing_key: 1, missing_event_time: 1, duplicate: 1 })
    assert.deepEqual(r.summary!.rejectedExamples.map((e) => [e.row, e.reason]), [[1, 'missing_key'], [2, 'missing_event_time'], [4, 'duplicate']])
    assert.equal(r.summary!.appended, 1)
    const text = await runKfsInProcess(['ingest', '--source', 'accounts', '--snapshot', bad, ...FEATURES], dataDir)
    assert.equal(text.code, 1)
    assert.match(text.stdout, /rows read 4, appended 0, unchanged 1, rejected 3/)
    assert.match(text.stdout, /row 1: missing_key: primary-key column account_id is null/)
  })

  void it('refuses a schema change before appending anything (exit 1)', async () => {
    const before = (await logged()).length
    const changed = join(dir, 'changed.parquet')
    await writeAccountsParquet(
      parquet,
      changed,
      [{ account_id: 'z', updated_at: 9_000, tier: null, visits: null }],
      ACCOUNT_PARQUET_COLUMNS.filter((c) => c.name !== 'balance'),
    )
    const r = await runKfsInProcess(['ingest', '--source', 'accounts', '--snapshot', changed, ...FEATURES], dataDir)
    assert.equal(r.code, 1)
    assert.match(r.stderr, /does not have the source's row schema: column balance \(double\) is missing; nothing was appended/)
    assert.equal((await logged()).length, before)
  })

  void it('usage errors exit 2: no --source, an unknown source, a source that is not a table, a missing snapshot file', async () => {
    const cases: [readonly string[], RegExp][] = [
      [['ingest', ...FEATURES], /name the table source to ingest with --source/],
      [['ingest', '--source', 'acounts', ...FEATURES], /no source named acounts\. Did you mean 'accounts'\?/],
      [['ingest', '--source', 'clicks'], /source clicks is not a table source \(an event source\)/],
      [['ingest', '--source', 'accounts', '--snapshot', join(dir, 'nope.parquet'), ...FEATURES], /no such file or folder/],
    ]
    for (const [args, message] of cases) {
      const r = await runKfsInProcess(args, dataDir)
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
      assert.match(r.stderr, message)
    }
  })
})
