/**
 * Columns named like a member of every JavaScript object (`constructor`, `toString`, `valueOf`,
 * `hasOwnProperty`…) are columns like any other. Before, `kfs ingest` of a CSV snapshot appended
 * null for each of them on every row (the planner found the member every object inherits and kept
 * it as the column), exit 0, nothing rejected: the values were lost without a word; and a Debezium
 * JSON image without such a column was refused `schema_mismatch` ("is a function") instead of
 * taking the column's default. A field named `__proto__` cannot be held by a decoded record at all
 * (an assignment sets the prototype; avsc's records drop it): the definition is refused, naming it.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { createParquetCodec } from '../../../adapters/offline/parquet/parquet-codec.ts'
import { changeEnvelopeSchema } from '../../../features/change-envelope.ts'
import { changelogSource, entity, source, tableSource } from '../../../features/index.ts'
import type { AvroRecordSchema } from '../../../features/types.ts'
import type { ParquetColumnSpec } from '../../../ports/parquet-codec.ts'
import { parseDebeziumLine } from '../../../schemas/debezium-json.ts'
import { runKfsInProcess } from '../../support/in-process-cli.ts'
import { writeAccountsParquet } from '../ingest/snapshots.ts'
import { loggedEnvelopes } from './accounts-log.ts'

const repo = fileURLToPath(new URL('../../../', import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'kfs-audit-prototype-columns-'))
after(() => rmSync(dir, { recursive: true, force: true }))

/** Every member of Object.prototype but `__proto__`, which no record can hold (the last describe). */
const NAMES = Object.getOwnPropertyNames(Object.prototype).filter((n) => n !== '__proto__')

const rowSchema: AvroRecordSchema = {
  type: 'record',
  name: 'Odd',
  fields: [
    { name: 'account_id', type: 'string' },
    { name: 'updated_at', type: { type: 'long', logicalType: 'timestamp-millis' } },
    ...NAMES.map((name) => ({ name, type: ['null', 'string'], default: null })),
  ],
}

const MODULE = `import { entity, tableSource } from '${repo}features/index.ts'
const rowSchema = ${JSON.stringify(rowSchema)}
export const account = entity({ name: 'account', joinKeys: ['account_id'] })
export const odd_csv = tableSource({ name: 'odd_csv', topic: 'odd_csv', schema: rowSchema, keyedBy: account, eventTimeField: 'updated_at', location: { format: 'csv', path: '${dir}/odd.csv' } })
export const odd_parquet = tableSource({ name: 'odd_parquet', topic: 'odd_parquet', schema: rowSchema, keyedBy: account, eventTimeField: 'updated_at', location: { format: 'parquet', path: '${dir}/odd.parquet' } })
`

/** Row a1 holds `<name>-a1` in each odd column; row a2 holds none (nulls). */
const T = Date.UTC(2026, 10, 1)
const rows: Record<string, unknown>[] = [
  { account_id: 'a1', updated_at: T, ...Object.fromEntries(NAMES.map((n) => [n, `${n}-a1`])) },
  { account_id: 'a2', updated_at: T + 1, ...Object.fromEntries(NAMES.map((n) => [n, null])) },
]

void describe('columns named like a member of every JavaScript object', () => {
  void test('kfs ingest of a CSV and of a Parquet snapshot: every value of every such column reaches the log', async () => {
    const module = join(dir, 'odd.ts')
    writeFileSync(join(dir, 'package.json'), '{"type":"module"}')
    writeFileSync(module, MODULE)
    const header = ['account_id', 'updated_at', ...NAMES]
    const cell = (v: unknown) => (v === null ? '' : typeof v === 'number' ? new Date(v).toISOString() : String(v))
    writeFileSync(
      join(dir, 'odd.csv'),
      [header, ...rows.map((r) => header.map((c) => cell(r[c])))].map((l) => l.join(',')).join('\n') + '\n',
    )
    const columns: ParquetColumnSpec[] = [
      { name: 'account_id', type: 'string', required: false },
      { name: 'updated_at', type: 'timestamptz', required: false },
      ...NAMES.map((name) => ({ name, type: 'string' as const, required: false })),
    ]
    await writeAccountsParquet(createParquetCodec({ worker: false }), join(dir, 'odd.parquet'), rows, columns)
    const dataDir = join(dir, 'data')
    for (const name of ['odd_csv', 'odd_parquet']) {
      const r = await runKfsInProcess(['ingest', '--source', name, '--features', module, '--json'], dataDir)
      assert.equal(r.code, 0, `${name}: ${r.stdout}${r.stderr}`)
      const logged = await loggedEnvelopes(dataDir, { topic: name, schema: changeEnvelopeSchema(rowSchema) })
      const afters = logged
        .map(({ envelope }) => envelope.after as Record<string, unknown>)
        .sort((a, b) => String(a.account_id).localeCompare(String(b.account_id)))
      assert.equal(afters.length, rows.length, name)
      for (const [i, row] of rows.entries())
        for (const column of NAMES)
          assert.equal(
            Object.hasOwn(afters[i]!, column) ? afters[i]![column] : 'no such column',
            row[column],
            `${name}: row ${String(row.account_id)}, column ${column}`,
          )
    }
  })

  void test('a Debezium JSON image without such a column takes its default; with it, its value', () => {
    const change = (after: Record<string, unknown>) =>
      parseDebeziumLine(JSON.stringify({ op: 'c', before: null, after, ts_ms: 5 }), rowSchema)
    const without = change({ account_id: 'a1', updated_at: T })
    assert.ok(without.ok, without.ok ? '' : without.detail)
    const withValues = change(rows[0]!)
    assert.ok(withValues.ok, withValues.ok ? '' : withValues.detail)
    for (const column of NAMES) {
      assert.equal(
        Object.hasOwn(without.event.after as object, column)
          ? (without.event.after as Record<string, unknown>)[column]
          : 'absent',
        null,
        column,
      )
      assert.equal((withValues.event.after as Record<string, unknown>)[column], `${column}-a1`, column)
    }
  })
})

void describe('event fields named like a member of every JavaScript object', () => {
  void test('kfs produce --file: an event that leaves such a field out is sent with its default; one that gives it, with its value', async () => {
    const schema: AvroRecordSchema = {
      type: 'record',
      name: 'OddEvent',
      fields: [
        { name: 'user_id', type: 'string' },
        { name: 'ts', type: 'long' },
        ...NAMES.map((name) => ({ name, type: ['null', 'double'], default: null })),
      ],
    }
    const module = join(dir, 'odd-events.ts')
    writeFileSync(join(dir, 'package.json'), '{"type":"module"}')
    writeFileSync(
      module,
      `import { entity, source } from '${repo}features/index.ts'
export const user = entity({ name: 'user', joinKeys: ['user_id'] })
export const odd_events = source({ name: 'odd_events', topic: 'odd_events', schema: ${JSON.stringify(schema)}, eventTimeField: 'ts', keyedBy: user })
`,
    )
    const given = Object.fromEntries(NAMES.map((n, i) => [n, i + 0.5]))
    const events = [
      { user_id: 'u1', ts: T },
      { user_id: 'u2', ts: T, ...given },
    ]
    writeFileSync(join(dir, 'odd-events.ndjson'), events.map((e) => JSON.stringify(e)).join('\n') + '\n')
    const dataDir = join(dir, 'data-events')
    const r = await runKfsInProcess(
      ['produce', '--topic', 'odd_events', '--file', join(dir, 'odd-events.ndjson'), '--features', module],
      dataDir,
    )
    assert.equal(r.code, 0, r.stderr)
    const sent = (await loggedEnvelopes(dataDir, { topic: 'odd_events', schema })).map(
      ({ envelope }) => envelope as unknown as Record<string, unknown>,
    )
    const byUser = new Map(sent.map((e) => [e.user_id, e]))
    for (const name of NAMES) {
      assert.equal(byUser.get('u1')?.[name], null, `left out: ${name}`)
      assert.equal(byUser.get('u2')?.[name], given[name], `given: ${name}`)
    }
  })
})

void describe('a field named __proto__', () => {
  const withField = (field: object): AvroRecordSchema => ({
    type: 'record',
    name: 'Row',
    fields: [{ name: 'id', type: 'string' }, { name: 'ts', type: 'long' }, field],
  })
  const key = entity({ name: 'thing', joinKeys: ['id'] })
  const PROTO = { name: '__proto__', type: ['null', 'string'], default: null }
  const NESTED = { name: 'inner', type: ['null', { type: 'record', name: 'Inner', fields: [PROTO] }], default: null }
  const builders: Record<string, (schema: AvroRecordSchema) => unknown> = {
    'an event source': (schema) => source({ name: 's', topic: 's', schema, eventTimeField: 'ts', keyedBy: key }),
    'a table source': (schema) =>
      tableSource({
        name: 's',
        topic: 's',
        schema,
        keyedBy: key,
        eventTimeField: 'ts',
        location: { format: 'csv', path: 'x.csv' },
      }),
    'a changelog source': (schema) => changelogSource({ name: 's', topic: 's', schema, keyedBy: key }),
  }
  for (const [what, build] of Object.entries(builders)) {
    void test(`${what}: refused where it is defined, naming the record, at the top and nested`, () => {
      assert.throws(() => build(withField(PROTO)), /record Row has a field named '__proto__'.*rename it/)
      assert.throws(() => build(withField(NESTED)), /record Inner has a field named '__proto__'/)
      assert.doesNotThrow(() => build(withField({ name: 'constructor', type: ['null', 'string'], default: null })))
    })
  }
})
