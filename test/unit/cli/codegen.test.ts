/**
 * `kfs codegen --service s` (issue #17 item 3): the printed module type-checks under strict tsc,
 * a use of a feature the service does not have is a compile error (tsc on temp files), and the
 * generated client returns, against a real server, the rows of the HTTP answer — typed.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { generateServiceClient } from '../../../main/commands/codegen-template.ts'
import { runKfsInProcess } from '../../support/in-process-cli.ts'
import { createFeatureCatalog } from '../../../serving/feature-catalog.ts'
import { allViews, rankingService, spendPerClick } from '../serving/fixtures.ts'
import { startServer } from '../serving/server-harness.ts'

const repo = fileURLToPath(new URL('../../../', import.meta.url))
// Inside the checkout (.cache/ is ignored by git) so tsc finds node's types in node_modules.
mkdirSync(join(repo, '.cache'), { recursive: true })
const work = mkdtempSync(join(repo, '.cache', 'codegen-test-'))
const dataDir = mkdtempSync(join(tmpdir(), 'kfs-codegen-'))
after(() => {
  rmSync(work, { recursive: true, force: true })
  rmSync(dataDir, { recursive: true, force: true })
})

const kfs = (args: readonly string[]) => runKfsInProcess(args, dataDir)

/** Strict tsc on the given files (no tsconfig: files on the command line); its diagnostics, one per line. */
function tsc(files: readonly string[]): { code: number; errors: string[] } {
  const r = spawnSync(
    process.execPath,
    [join(repo, 'node_modules/typescript/bin/tsc'), '--noEmit', '--strict', '--noUncheckedIndexedAccess', '--target', 'ES2022', '--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--allowImportingTsExtensions', '--types', 'node', '--skipLibCheck', ...files],
    { cwd: work, encoding: 'utf8' },
  )
  return { code: r.status ?? -1, errors: r.stdout.split('\n').filter((l) => /error TS\d+/.test(l)) }
}

void describe('kfs codegen', () => {
  void test('prints a module for fraud_model whose features are types: a missing feature, input or key is a compile error', async () => {
    const r = await kfs(['codegen', '--service', 'fraud_model'])
    assert.equal(r.code, 0, r.stderr)
    writeFileSync(join(work, 'fraud-model.ts'), r.stdout)
    writeFileSync(
      join(work, 'good.ts'),
      [
        "import { createFraudModelClient, FRAUD_MODEL_FEATURES, type FraudModelFeatureName } from './fraud-model.ts'",
        "const client = createFraudModelClient({ url: 'http://localhost:8080', apiKey: 'k' })",
        "const rows = await client.getOnlineFeatures([{ user_id: 'u1' }, { user_id: 'u2' }], { amount: 12.5 })",
        "const sum: number | null = rows[0]!.features['user_purchases:amount_sum_1h']",
        'const ratio: number | null = rows[0]!.features.amount_vs_avg_7d',
        "const status: 'PRESENT' | 'MISSING' | 'OUTSIDE_TTL' = rows[0]!.views.user_clicks.status",
        "const names: readonly FraudModelFeatureName[] = FRAUD_MODEL_FEATURES",
        'export { sum, ratio, status, names }',
        '',
      ].join('\n'),
    )
    writeFileSync(
      join(work, 'bad.ts'),
      [
        "import { createFraudModelClient, type FraudModelFeatureName } from './fraud-model.ts'",
        "const client = createFraudModelClient({ url: 'http://localhost:8080' })",
        "const row = await client.getOnlineFeature({ user_id: 'u1' }, { amount: 1 })",
        "export const nope = row.features['user_purchases:amount_sum_2h']",
        "export const name: FraudModelFeatureName = 'user_clicks:count_2h'",
        "export const noInput = await client.getOnlineFeature({ user_id: 'u1' })",
        "export const noKey = await client.getOnlineFeature({ item_id: 'i1' }, { amount: 1 })",
        "export const view = row.views.item_clicks",
        '',
      ].join('\n'),
    )
    const good = tsc(['good.ts'])
    assert.deepEqual(good.errors, [], 'the module and a correct use of it type-check')
    assert.equal(good.code, 0)
    const bad = tsc(['bad.ts'])
    // One error per planted mistake, each on its line: lines 4–8.
    const lines = bad.errors.map((e) => Number(/^bad\.ts\((\d+),/.exec(e)?.[1]))
    assert.deepEqual(lines, [4, 5, 6, 7, 8], bad.errors.join('\n'))
    assert.match(bad.errors[0]!, /user_purchases:amount_sum_2h/)
    assert.match(bad.errors[1]!, /user_clicks:count_2h/)
  })

  void test('the generated client returns the rows of the HTTP answer, typed; a changed service is CLIENT_OUT_OF_DATE', async () => {
    const catalog = createFeatureCatalog({ views: allViews, services: [rankingService], requestFeatures: [spendPerClick] })
    const file = join(work, 'ranking.ts')
    writeFileSync(file, generateServiceClient({ service: 'ranking', plan: catalog.servicePlan('ranking'), command: 'test' }))
    type Module = {
      createRankingClient(o: { url: string }): {
        getOnlineFeatures(e: readonly Record<string, unknown>[], r: Record<string, unknown>): Promise<{ entity: unknown; features: Record<string, unknown>; views: Record<string, unknown> }[]>
      }
    }
    const generated = (await import(pathToFileURL(file).href)) as Module
    const s = await startServer({ services: [rankingService], requestFeatures: [spendPerClick] })
    try {
      const entities = [{ user_id: 'u1', item_id: 9 }, { user_id: 'u2', item_id: 9 }]
      const rows = await generated.createRankingClient({ url: s.base }).getOnlineFeatures(entities, { discount: 0.5 })
      const res = await fetch(`${s.base}/v1/features`, {
        method: 'POST',
        body: JSON.stringify({ service: 'ranking', entities: { user_id: ['u1', 'u2'], item_id: [9] }, request: { discount: 0.5 } }),
      })
      const answer = (await res.json()) as { features: string[]; rows: { values: unknown[]; views: object }[] }
      assert.deepEqual(
        rows,
        answer.rows.map((row, i) => ({ entity: entities[i], features: Object.fromEntries(answer.features.map((f, j) => [f, row.values[j]])), views: row.views })),
      )
      assert.equal(rows[0]!.features['user_stats:clicks_1h'], 7, 'a stored value came through')
    } finally {
      await s.close()
    }
    const changed = await startServer({ services: [{ ...rankingService, features: ['user_stats:clicks_1h'] }], requestFeatures: [spendPerClick] })
    try {
      await assert.rejects(
        generated.createRankingClient({ url: changed.base }).getOnlineFeatures([{ user_id: 'u1', item_id: 9 }], { discount: 0 }),
        (err: Error & { code?: string }) => err.code === 'CLIENT_OUT_OF_DATE',
      )
      // An error answer is a KfsError with the server's code and status.
      await assert.rejects(
        generated.createRankingClient({ url: `${changed.base}/nowhere` }).getOnlineFeatures([{ user_id: 'u1' }], {}),
        (err: Error & { code?: string; status?: number }) => err.code === 'NOT_FOUND' && err.status === 404,
      )
    } finally {
      await changed.close()
    }
  })

  void test('usage errors exit 2: no --service, a service the definitions do not have', async () => {
    const missing = await kfs(['codegen'])
    assert.equal(missing.code, 2)
    assert.match(missing.stderr, /--service <name> is required/)
    const unknown = await kfs(['codegen', '--service', 'no_such_service'])
    assert.equal(unknown.code, 2)
    assert.match(unknown.stderr, /--service: no service no_such_service in .*\(services: fraud_model, recommender\)/)
  })
})
