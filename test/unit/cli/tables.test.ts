/**
 * Issue #17 item 5: `kfs tables` names every Iceberg table kfs keeps (feature tables, raw and
 * re-key archives) with its current metadata file and a DuckDB, PyIceberg and Spark line.
 */
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { MemoryObjectStore } from '../../../adapters/object-store/memory/memory-object-store.ts'
import { LocalObjectStore } from '../../../adapters/object-store/index.ts'
import { createTable, featureTablePartitionSpec, featureTableSchema, RAW_ARCHIVE_PARTITION_SPEC, RAW_ARCHIVE_SCHEMA } from '../../../adapters/offline/iceberg/index.ts'
import { listStoredTables } from '../../../adapters/offline/iceberg/table-listing.ts'
import * as examples from '../../../examples/features.ts'
import { commands } from '../../../main/commands/index.ts'
import { createProcessContext } from '../../../main/commands/context.ts'
import { runCli } from '../../../main/commands/router.ts'
import type { TableListing } from '../../../main/commands/tables.ts'

const repo = fileURLToPath(new URL('../../../', import.meta.url))
const dirs: string[] = []
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

async function kfs(args: readonly string[], dataDir: string): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = ''
  let stderr = ''
  const sink = (append: (t: string) => void) => ({ isTTY: false, write: (t: string) => (append(t), true) }) as unknown as NodeJS.WritableStream
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, KFS_DATA_DIR: dataDir, KFS_LOG_LEVEL: 'silent' }
  const code = await runCli(args, commands, (json) =>
    createProcessContext({ json, env, cwd: repo, stdout: sink((t) => (stdout += t)), stderr: sink((t) => (stderr += t)) }),
  )
  return { code, stdout, stderr }
}

void describe('cli > kfs tables', () => {
  void test('after kfs run of the example, every table is listed by name and its metadata file exists', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'kfs-tables-'))
    dirs.push(dataDir)
    const empty = await kfs(['tables', '--json'], dataDir)
    assert.equal(empty.code, 0, empty.stderr)
    assert.deepEqual(JSON.parse(empty.stdout), [])
    // Without --json: nothing on stdout, and a line on stderr saying there is nothing yet.
    const emptyText = await kfs(['tables'], dataDir)
    assert.equal(emptyText.code, 0, emptyText.stderr)
    assert.equal(emptyText.stdout, '')
    assert.match(emptyText.stderr, /^no tables yet: `kfs run` and `kfs replay` write them\n$/)
    for (const args of [['apply'], ['produce', '--generate', '500'], ['run', '--until-caught-up', '--idle', '300ms']]) {
      const r = await kfs(args, dataDir)
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`)
    }
    const r = await kfs(['tables', '--json'], dataDir)
    assert.equal(r.code, 0, r.stderr)
    const tables = JSON.parse(r.stdout) as TableListing[]

    // Every table directory the engine wrote is listed, and nothing else.
    const warehouse = join(dataDir, 'objects/warehouse')
    const onDisk = ['features', 'archive'].flatMap((d) => readdirSync(join(warehouse, d)).map((t) => `${d}/${t}`)).sort()
    assert.deepEqual(tables.map((t) => `${t.kind === 'feature' ? 'features' : 'archive'}/${t.location.slice(t.location.lastIndexOf('/') + 1)}`).sort(), onDisk)

    const byId = new Map(tables.map((t) => [t.identifier, t]))
    for (const id of ['kfs.user_clicks_v1', 'kfs.item_clicks_v1', 'kfs.user_purchases_v1', 'kfs.archive_clicks', 'kfs.archive_purchases']) {
      assert.ok(byId.has(id), `${id} is listed (got ${[...byId.keys()].join(', ')})`)
    }
    assert.deepEqual(byId.get('kfs.user_clicks_v1')!.view, { name: 'user_clicks', version: 1 })
    assert.equal(byId.get('kfs.archive_clicks')!.kind, 'archive')
    // What to join each feature table on: its entity's join keys, typed columns beside entity_key.
    assert.deepEqual(byId.get('kfs.user_clicks_v1')!.joinKeys, [{ name: 'user_id', type: 'string' }])
    assert.deepEqual(byId.get('kfs.item_clicks_v1')!.joinKeys, [{ name: 'item_id', type: 'string' }])
    assert.equal(byId.get('kfs.archive_clicks')!.joinKeys, undefined, 'archives have no entity')
    const rekey = tables.filter((t) => t.kind === 'rekey-archive')
    assert.ok(rekey.length > 0, 'item_clicks re-keys clicks by item: its internal topic is archived')
    for (const t of rekey) assert.match(t.name, /^archive_[A-Za-z0-9_]+$/, 'no dots: engines split identifiers on them')

    for (const t of tables) {
      const file = fileURLToPath(t.metadataLocation)
      assert.ok(existsSync(file), `${t.identifier}: ${file} exists`)
      const hint = readFileSync(join(fileURLToPath(t.location), 'metadata/version-hint.text'), 'utf8').trim()
      assert.ok(file.endsWith(`/v${hint}.metadata.json`), `${t.identifier}: the current version ${hint}`)
      assert.equal(t.read.duckdb, `INSTALL iceberg; LOAD iceberg; SELECT * FROM iceberg_scan('${file}');`)
      assert.ok(t.read.pyiceberg.includes(`StaticTable.from_metadata('${t.metadataLocation}')`))
      assert.ok(t.read.pyicebergCatalog.endsWith(`.load_table('${t.identifier}')`))
      assert.equal(t.read.spark, `spark.read.format('iceberg').load('${t.location}')`)
    }

    const text = await kfs(['tables'], dataDir)
    assert.equal(text.code, 0, text.stderr)
    for (const t of tables) assert.ok(text.stdout.includes(`${t.identifier}  `), `text lists ${t.identifier}`)
    assert.match(text.stdout, /kfs\.user_clicks_v1 {2}feature table of view user_clicks v1\n {2}metadata {3}file:\/\/[^\n]+\n {2}join on {4}user_id \(string\)\n {2}DuckDB/)
  })

  void test('a feature table created before kfs 0.2 (no join-key columns) is to be joined on entity_key', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'kfs-tables-'))
    dirs.push(dataDir)
    const schema = featureTableSchema(examples.userClicks)
    const legacy = { ...schema, fields: schema.fields.filter((f) => f.name !== 'user_id') }
    const properties = { 'kfs.view': 'user_clicks', 'kfs.version': '1' }
    await createTable(new LocalObjectStore(join(dataDir, 'objects')), 'warehouse/features/user_clicks_v1', { schema: legacy, partitionSpec: featureTablePartitionSpec(legacy), properties })
    const r = await kfs(['tables'], dataDir)
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /\n {2}join on {4}entity_key \(no typed join-key columns: the table was created before kfs 0\.2\)\n/)
  })

  void test('archive names: topic dots become _, and two topics that sanitize alike get distinct names', async () => {
    const store = new MemoryObjectStore()
    for (const topic of ['a.b', 'a_b']) {
      await createTable(store, `warehouse/archive/${topic}`, { schema: RAW_ARCHIVE_SCHEMA, partitionSpec: RAW_ARCHIVE_PARTITION_SPEC, properties: { 'kfs.topic': topic } })
    }
    const tables = await listStoredTables(store)
    assert.deepEqual(tables.map((t) => [t.name, t.topic]), [['archive_a_b', 'a.b'], ['archive_a_b_2', 'a_b']])
    assert.ok(tables.every((t) => t.metadataKey.endsWith('/metadata/v1.metadata.json')))
  })
})
