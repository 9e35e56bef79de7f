import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync as makeTempDir, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { KFS_BIN } from '../../support/node-ts.ts'

const repo = fileURLToPath(new URL('../../../', import.meta.url))

const tempDirs: string[] = []
function mkdtempSync(prefix: string): string {
  const dir = makeTempDir(prefix)
  tempDirs.push(dir)
  return dir
}
after(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true })
})

/** Runs `kfs` as users do, with only the environment the test chooses (no stray KFS_* from the shell). */
function kfs(args: readonly string[], dataDir: string): { code: number | null; stdout: string; stderr: string } {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmpdir(), KFS_DATA_DIR: dataDir }
  const r = spawnSync(process.execPath, [KFS_BIN, ...args], { cwd: repo, env, encoding: 'utf8' })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

/** A copy of examples/features.ts outside the repo, importing the repo by absolute path, edited by `edit`. */
function exampleCopy(edit: (text: string) => string): string {
  const dir = mkdtempSync(join(tmpdir(), 'kfs-cli-defs-'))
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}')
  const text = readFileSync(join(repo, 'examples/features.ts'), 'utf8')
    .replaceAll("from '../", `from '${repo}`)
    .replaceAll("new URL('../", `new URL('file://${repo}`)
  const edited = edit(text)
  assert.notEqual(edited, text, 'the edit must change the example')
  writeFileSync(join(dir, 'features.ts'), edited)
  return join(dir, 'features.ts')
}

void describe('cli > kfs', () => {
  void test('help and usage errors', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'kfs-cli-'))
    const help = kfs(['--help'], dataDir)
    assert.equal(help.code, 0)
    assert.match(help.stdout, /apply\s+Publish feature definitions/)
    assert.match(help.stdout, /registry\s+Inspect the registry/)
    const applyHelp = kfs(['apply', '--help'], dataDir)
    assert.equal(applyHelp.code, 0)
    assert.match(applyHelp.stdout, /Usage: kfs apply/)
    assert.match(applyHelp.stdout, /Examples:/)
    assert.equal(kfs(['nope'], dataDir).code, 2)
    const badFlag = kfs(['apply', '--bogus'], dataDir)
    assert.equal(badFlag.code, 2)
    assert.match(badFlag.stderr, /Usage: kfs apply/)
    assert.equal(kfs(['registry', 'frobnicate'], dataDir).code, 2)
    assert.equal(kfs([], dataDir).code, 2)
  })

  void test('apply twice (second changes nothing), then a changed view without a version bump is refused', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'kfs-cli-'))
    const first = kfs(['apply', '--features', 'examples/features.ts', '--json'], dataDir)
    assert.equal(first.code, 0, first.stderr)
    const plan1 = JSON.parse(first.stdout) as { plan: { views: { name: string; version: number; change: string; hash: string }[] } }
    assert.deepEqual(plan1.plan.views.map((v) => [v.name, v.version, v.change]), [
      ['item_clicks', 1, 'added'],
      ['user_clicks', 1, 'added'],
      ['user_purchases', 1, 'added'],
    ])
    assert.ok(existsSync(join(dataDir, 'objects/registry/views/user_clicks/v1.json')), 'registry lives under KFS_DATA_DIR')

    const second = kfs(['apply', '--features', 'examples/features.ts'], dataDir)
    assert.equal(second.code, 0, second.stderr)
    assert.match(second.stdout, /user_clicks v1\s+[0-9a-f]{12}\s+unchanged/)
    assert.doesNotMatch(second.stdout, /\badded\b/)
    assert.ok(second.stdout.includes(plan1.plan.views[1]!.hash.slice(0, 12)), 'prints the short hash')

    const modified = exampleCopy((t) => t.replace("{ op: 'count', windows: ['5m', '1h', '1d'] }", "{ op: 'count', windows: ['5m', '1h', '2d'] }"))
    const refused = kfs(['apply', '--features', modified], dataDir)
    assert.equal(refused.code, 1)
    assert.match(refused.stderr, /view user_clicks v1 changed \(hash [0-9a-f]{12}… → [0-9a-f]{12}…\): publish it as version 2/)
    assert.match(refused.stderr, /feature count_2d added/)

    const diff = kfs(['registry', 'diff', '--features', modified], dataDir)
    assert.equal(diff.code, 1, 'diff exits 1 when apply would be refused')
    assert.match(diff.stdout, /! view user_clicks v1\s+changed/)

    const bumped = exampleCopy((t) =>
      t.replace("{ op: 'count', windows: ['5m', '1h', '1d'] }", "{ op: 'count', windows: ['5m', '1h', '2d'] }").replace("name: 'user_clicks',\n  version: 1,", "name: 'user_clicks',\n  version: 2,"),
    )
    const published = kfs(['apply', '--features', bumped, '--json'], dataDir)
    assert.equal(published.code, 0, published.stderr)
    const plan3 = JSON.parse(published.stdout) as { plan: { views: { name: string; version: number; change: string }[] } }
    assert.deepEqual(plan3.plan.views.filter((v) => v.name === 'user_clicks').map((v) => [v.version, v.change]), [[2, 'added']])
  })

  void test('registry list, show and lineage read what apply wrote', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'kfs-cli-'))
    assert.equal(kfs(['apply'], dataDir).code, 0, 'apply defaults to examples/features.ts')
    const list = kfs(['registry', 'list', '--json'], dataDir)
    assert.equal(list.code, 0, list.stderr)
    const snap = JSON.parse(list.stdout) as { views: { name: string; backfill: { state: string } }[]; services: { name: string }[] }
    assert.deepEqual(snap.views.map((v) => [v.name, v.backfill.state]), [['item_clicks', 'pending'], ['user_clicks', 'pending'], ['user_purchases', 'pending']])
    assert.deepEqual(snap.services.map((s) => s.name), ['fraud_model', 'recommender'])

    const show = kfs(['registry', 'show', 'user_purchases'], dataDir)
    assert.equal(show.code, 0, show.stderr)
    assert.match(show.stdout, /owner\s+risk@shop\.example/)
    assert.match(show.stdout, /amount_avg_7d\s+double\s+avg\(amount\)\s+7d \/ hop 1h/)
    assert.match(show.stdout, /used by\s+.*service fraud_model/)
    const missing = kfs(['registry', 'show', 'no_such_view'], dataDir)
    assert.equal(missing.code, 2, 'a view the registry does not have is a usage error')
    assert.match(missing.stderr, /no view named no_such_view/)

    const lineage = kfs(['registry', 'lineage', 'purchases'], dataDir)
    assert.equal(lineage.code, 0, lineage.stderr)
    assert.match(lineage.stdout, /source purchases \(topic purchases\)\n\s+└─ view user_purchases v1/)
    assert.match(lineage.stdout, /request feature amount_vs_avg_7d\s+\[amount_avg_7d\]/)
    assert.doesNotMatch(lineage.stdout, /source clicks/)
  })
})
