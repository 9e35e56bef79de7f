/**
 * Issue #17 item 5, "PyIceberg loads every kfs table by name": after `kfs run` of the example,
 * PyIceberg's RestCatalog against the feature server's read-only Iceberg REST catalog lists the
 * tables `kfs tables` lists and loads and scans each by name, at the same metadata file.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { systemClock } from '../../../core/clock.ts'
import { LocalObjectStore } from '../../../adapters/object-store/index.ts'
import { EmbeddedOnlineStore } from '../../../adapters/online-store/embedded/embedded-online-store.ts'
import { commands } from '../../../main/commands/index.ts'
import { createProcessContext } from '../../../main/commands/context.ts'
import { runCli } from '../../../main/commands/router.ts'
import { catalogTablesOf, type TableListing } from '../../../main/commands/tables.ts'
import { createServer, type FeatureServer } from '../../../serving/server/index.ts'

const run = promisify(execFile)
const repo = fileURLToPath(new URL('../../../', import.meta.url))
const API_KEY = 'catalog-test-key'

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

const SCRIPT = `
import json, sys
from pyiceberg.catalog.rest import RestCatalog
catalog = RestCatalog('kfs', uri=sys.argv[1], token=sys.argv[2])
out = {'namespaces': [list(n) for n in catalog.list_namespaces()], 'tables': {}}
for ident in catalog.list_tables('kfs'):
    table = catalog.load_table('.'.join(ident))
    out['tables']['.'.join(ident)] = {'metadata': table.metadata_location, 'rows': table.scan().to_arrow().num_rows}
try:
    catalog.load_table('kfs.no_such_table')
    out['missing'] = 'loaded'
except Exception as e:
    out['missing'] = type(e).__name__
print(json.dumps(out))
`

void describe('Iceberg REST catalog of kfs serve', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'kfs-catalog-'))
  let python = ''
  let server: FeatureServer
  let base = ''
  before(async () => {
    python = (await run('bash', [join(repo, 'scripts/pyiceberg/ensure-venv.sh')], { maxBuffer: 1 << 24 })).stdout.trim()
    for (const args of [['apply'], ['produce', '--generate', '500'], ['run', '--until-caught-up', '--idle', '300ms']]) {
      const r = await kfs(args, dataDir)
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`)
    }
    const objects = new LocalObjectStore(join(dataDir, 'objects'))
    server = createServer({
      store: new EmbeddedOnlineStore({ clock: systemClock }),
      views: [],
      options: { apiKeys: [API_KEY], icebergTables: () => catalogTablesOf(objects) },
    })
    base = `http://127.0.0.1:${await server.listen(0)}`
  })
  after(async () => {
    await server?.close()
    rmSync(dataDir, { recursive: true, force: true })
  })

  void test('PyIceberg RestCatalog lists and loads every table kfs tables lists, by name', async () => {
    const listed = JSON.parse((await kfs(['tables', '--json'], dataDir)).stdout) as TableListing[]
    assert.ok(listed.length >= 6, `feature tables, archives and a re-key archive (${listed.length})`)
    const { stdout } = await run(python, ['-c', SCRIPT, base, API_KEY], { maxBuffer: 1 << 24 })
    const got = JSON.parse(stdout) as { namespaces: string[][]; tables: Record<string, { metadata: string; rows: number }>; missing: string }
    assert.deepEqual(got.namespaces, [['kfs']])
    assert.deepEqual(Object.keys(got.tables).sort(), listed.map((t) => t.identifier).sort())
    for (const t of listed) {
      assert.equal(got.tables[t.identifier]!.metadata, t.metadataLocation, `${t.identifier}: the current metadata file`)
      if (t.kind !== 'rekey-archive') assert.ok(got.tables[t.identifier]!.rows > 0, `${t.identifier} has rows`)
    }
    assert.equal(got.missing, 'NoSuchTableError')
  })

  void test('the catalog answers only with the API key, and 404 for another namespace', async () => {
    assert.equal((await fetch(`${base}/v1/namespaces`)).status, 401)
    const other = await fetch(`${base}/v1/namespaces/default/tables`, { headers: { authorization: `Bearer ${API_KEY}` } })
    assert.equal(other.status, 404)
    assert.equal(((await other.json()) as { error: { code: string } }).error.code, 'NOT_FOUND')
  })
})
