/**
 * The key rule at the doors that read files (docs/semantics.md §20), over the corpus (corpus.ts):
 * `kfs produce --file` (NDJSON plain events, Debezium JSON to a JSON and to an Avro changelog) —
 * a usage error (exit 2) naming each bad line `invalid_key: … join key <field> is <core's reason>`,
 * nothing sent; `kfs ingest` of a CSV and of a Parquet snapshot — each bad row rejected naming
 * `primary-key column account_id is <core's reason>`; a training set's label file (CSV, Parquet)
 * — refused naming the row and `user_id is <core's reason>`, where serving answers the same key
 * `user_id is invalid: <core's reason>`. A lone surrogate reaches a JSON line (as an escape);
 * UTF-8 files cannot hold one, so there its bytes make the file itself refused as not UTF-8.
 * Every tricky-but-valid key goes through each door.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { createParquetCodec } from '../../../adapters/offline/parquet/parquet-codec.ts'
import { runKfsInProcess } from '../../support/in-process-cli.ts'
import { CORPUS_FEATURES } from '../cli/ingest-corpus.ts'
import { writeAccountsParquet } from '../ingest/snapshots.ts'
import { stamped, trainAndServe, userProbe } from '../training/serving-agreement.ts'
import { BAD_PARTS, BYTE_CARRIABLE, GOOD_PARTS, reasonOf, SURROGATES, wtf8 } from './corpus.ts'

const dir = mkdtempSync(join(tmpdir(), 'kfs-key-file-doors-'))
after(() => rmSync(dir, { recursive: true, force: true }))
const parquet = createParquetCodec({ worker: false })
const FEATURES = ['--features', 'test/fixtures/features/key-doors.ts']
const T = 1_700_000_000_000
let runs = 0
const fresh = (): string => join(dir, `run-${runs++}`)
const escaped = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** In chunks of at most 5: the most bad lines a usage error lists. */
function chunks<T>(items: readonly T[], n = 5): T[][] {
  return Array.from({ length: Math.ceil(items.length / n) }, (_, i) => items.slice(i * n, i * n + n))
}

void describe('the key rule at kfs produce, kfs ingest and training-set labels', () => {
  const targets = [
    { what: 'plain events', topic: 'keys.events', field: 'user_id', line: (k: string) => ({ user_id: k, raw: '"x"', ts: T }) },
    ...['json', 'avro'].map((format) => ({
      what: `a changelog in ${format}`,
      topic: `keys.orders.${format}`,
      field: 'order_id',
      line: (k: string) => ({ op: 'c', before: null, after: { order_id: k, user_id: 'u1' }, ts_ms: T }),
    })),
  ]
  for (const target of targets) {
    void test(`kfs produce --file, ${target.what}: each bad key a usage error with core's reason, nothing sent; valid keys sent`, async () => {
      for (const group of chunks(BAD_PARTS)) {
        const file = join(dir, `produce-${runs}.ndjson`)
        // JSON.stringify escapes a lone surrogate (`\ud800`): the line is text any UTF-8 file holds.
        writeFileSync(
          file,
          [target.line('good'), ...group.map((b) => target.line(b.part))].map((l) => JSON.stringify(l)).join('\n') + '\n',
        )
        const r = await runKfsInProcess(['produce', '--topic', target.topic, '--file', file, ...FEATURES], fresh())
        assert.equal(r.code, 2, r.stderr.slice(0, 500))
        assert.match(r.stderr, new RegExp(`${group.length} bad events? \\(of ${group.length + 1}\\); nothing was sent`))
        group.forEach((b, i) => {
          const listed = r.stderr.split('\n').find((l) => l.startsWith(`  line ${i + 2}: `)) ?? ''
          // The detail may say where (`after: `) and the size; the rule's words are core's.
          const want = `join key ${target.field} is ${reasonOf(b.part)}`
          const says = new RegExp(`^  line ${i + 2}: invalid_key: (after: )?${escaped(want)}( \\(\\d+ bytes\\))?$`)
          assert.match(listed, says, b.what)
        })
      }
      const file = join(dir, `produce-${runs}.ndjson`)
      writeFileSync(file, GOOD_PARTS.map((g) => JSON.stringify(target.line(g.part))).join('\n') + '\n')
      const r = await runKfsInProcess(['produce', '--topic', target.topic, '--file', file, ...FEATURES], fresh())
      assert.equal(r.code, 0, r.stderr.slice(0, 500))
    })
  }

  for (const format of ['csv', 'parquet'] as const) {
    void test(`kfs ingest, a ${format} snapshot: each bad key a rejected row with core's reason; valid keys appended`, async () => {
      const rows = [...BYTE_CARRIABLE.map((b) => b.part), ...GOOD_PARTS.map((g) => g.part)]
      const file = join(dir, `accounts-${runs}.${format}`)
      if (format === 'csv')
        writeFileSync(
          file,
          `account_id,updated_at,balance,tier,visits\n${rows.map((k) => `"${k.replaceAll('"', '""')}",1000,1.5,,\n`).join('')}`,
        )
      else
        await writeAccountsParquet(
          parquet,
          file,
          rows.map((k) => ({ account_id: k, updated_at: 1000, balance: 1.5, tier: null, visits: null })),
        )
      const r = await runKfsInProcess(
        ['ingest', '--source', format === 'csv' ? 'accounts_csv' : 'accounts', '--snapshot', file, ...CORPUS_FEATURES, '--json'],
        fresh(),
      )
      const s = JSON.parse(r.stdout) as {
        appended: number
        rejected: number
        rejectedExamples: { row: number; detail: string }[]
      }
      assert.deepEqual([s.appended, s.rejected], [GOOD_PARTS.length, BYTE_CARRIABLE.length], r.stdout.slice(0, 500))
      // The summary shows the first examples; the others are judged by the same function.
      for (const ex of s.rejectedExamples) {
        const b = BYTE_CARRIABLE[ex.row - 1]!
        assert.equal(ex.detail, `primary-key column account_id is ${reasonOf(b.part)}`, b.what)
      }
      assert.ok(s.rejectedExamples.length > 0)
    })
  }

  void test('kfs ingest of each bad key alone: the rejected row names core reason (every kind, not the first five)', async () => {
    for (const b of BYTE_CARRIABLE) {
      const file = join(dir, `alone-${runs}.csv`)
      writeFileSync(file, `account_id,updated_at,balance,tier,visits\n"${b.part.replaceAll('"', '""')}",1000,1.5,,\n`)
      const r = await runKfsInProcess(
        ['ingest', '--source', 'accounts_csv', '--snapshot', file, ...CORPUS_FEATURES, '--json'],
        fresh(),
      )
      const s = JSON.parse(r.stdout) as { rejectedExamples: { detail: string }[] }
      assert.equal(s.rejectedExamples[0]?.detail, `primary-key column account_id is ${reasonOf(b.part)}`, b.what)
    }
  })

  void test('a lone surrogate cannot be written to a UTF-8 file: its bytes make the CSV refused as not UTF-8', async () => {
    for (const b of SURROGATES) {
      const file = join(dir, `surrogate-${runs}.csv`)
      writeFileSync(
        file,
        Buffer.concat([Buffer.from('account_id,updated_at,balance,tier,visits\n"'), wtf8(b.part), Buffer.from('",1000,1.5,,\n')]),
      )
      const r = await runKfsInProcess(
        ['ingest', '--source', 'accounts_csv', '--snapshot', file, ...CORPUS_FEATURES, '--json'],
        fresh(),
      )
      assert.notEqual(r.code, 0, b.what)
      assert.match(r.stderr, /not UTF-8/, b.what)
    }
  })

  for (const labelFormat of ['csv', 'parquet'] as const) {
    void test(`training-set labels (${labelFormat}): each bad key refused naming its row and core's reason, as serving's 400 says it`, async () => {
      const problems: string[] = []
      for (const b of BYTE_CARRIABLE) {
        const { training, serving } = await trainAndServe({
          rows: new Map([[userProbe, [stamped('u0', T - 10, [1, 1, 'a'])]]]),
          labels: [
            { keys: { user_id: 'u0' }, tMs: T },
            { keys: { user_id: b.part }, tMs: T },
          ],
          features: ['user_probe@1:x_last'],
          labelFormat,
        })
        const reason = reasonOf(b.part)
        // An empty cell is how a label file writes "no entity" (null features), and serving leaves such an entity out.
        if (b.part === '') continue
        if (Array.isArray(training) || !training.message.includes(`: user_id is ${reason}, and serving refuses such a key`))
          problems.push(`${b.what}: training ${JSON.stringify(training).slice(0, 300)}`)
        if (JSON.stringify(serving[1]) !== JSON.stringify({ ok: false, message: `user_id is invalid: ${reason}` }))
          problems.push(`${b.what}: serving ${JSON.stringify(serving[1]).slice(0, 300)}`)
      }
      assert.deepEqual(problems, [])
    })

    void test(`training-set labels (${labelFormat}): every valid key joins its row, as serving answers it`, async () => {
      const { training, serving } = await trainAndServe({
        rows: new Map([[userProbe, GOOD_PARTS.map((g, i) => stamped(g.part, T - 10, [i, i, 's']))]]),
        labels: GOOD_PARTS.map((g) => ({ keys: { user_id: g.part }, tMs: T })),
        features: ['user_probe@1:n_last'],
        labelFormat,
      })
      assert.deepEqual(
        serving,
        GOOD_PARTS.map((_, i) => ({ ok: true, values: [i] })),
      )
      assert.deepEqual(training, serving)
    })
  }
})
