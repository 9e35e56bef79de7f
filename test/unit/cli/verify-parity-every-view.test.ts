/**
 * `kfs verify-parity` over several views checks every one of them: a view that cannot be checked
 * (not computed yet, its feature table gone, its metadata damaged) is reported as `unchecked` with
 * its reason, and the views after it are still compared. Before, the first such view ended the
 * command with its error, so CI saw neither the views that matched nor the others that failed.
 * Exit 1 when any view is not a match; 0 only when every one matched.
 */
import assert from 'node:assert/strict'
import { cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { runKfsInProcess } from '../../support/in-process-cli.ts'

const dataDir = mkdtempSync(join(tmpdir(), 'kfs-parity-every-view-'))
const backups = mkdtempSync(join(tmpdir(), 'kfs-parity-every-view-backup-'))
after(() => {
  rmSync(dataDir, { recursive: true, force: true })
  rmSync(backups, { recursive: true, force: true })
})
const WITH_NEW = ['--features', 'examples/with-new-view.ts']
const tableDir = (view: string) => join(dataDir, 'objects', 'warehouse', 'features', `${view}_v1`)

before(async () => {
  for (const args of [
    ['apply'],
    ['produce', '--generate', '1500'],
    ['run', '--until-caught-up', '--idle', '1s'],
    ['apply', ...WITH_NEW],
  ]) {
    const r = await runKfsInProcess(args, dataDir)
    assert.equal(r.code, 0, `kfs ${args.join(' ')}\n${r.stderr}`)
  }
})

interface Entry {
  readonly view: string
  readonly status: string
  readonly reason?: string
  readonly code?: string
  readonly matchingRows?: number
}

/**
 * Each case damages (or leaves alone) one view's feature table, runs `kfs verify-parity` over
 * several views, and restores the table in place (its metadata names absolute file URIs).
 */
const CASES: readonly {
  readonly name: string
  readonly views: readonly string[] | undefined
  readonly damage?: { readonly view: string; readonly apply: (dir: string) => void }
  readonly expected: Readonly<Record<string, { status: string; code?: string; reason?: RegExp }>>
}[] = [
  {
    name: 'every view by default, one not computed yet',
    views: undefined,
    expected: {
      'item_clicks@1': { status: 'match' },
      'user_big_spends@1': {
        status: 'unchecked',
        code: 'NOT_FOUND',
        reason: /has not been computed yet \(its backfill is pending\)/,
      },
      'user_clicks@1': { status: 'match' },
      'user_purchases@1': { status: 'match' },
    },
  },
  {
    name: 'a feature table gone, the view before and after it still compared',
    views: ['item_clicks', 'user_clicks', 'user_purchases'],
    damage: { view: 'user_clicks', apply: (dir) => rmSync(dir, { recursive: true }) },
    expected: {
      'item_clicks@1': { status: 'match' },
      'user_clicks@1': { status: 'unchecked', code: 'NOT_FOUND', reason: /user_clicks_v1 is missing or has no snapshot/ },
      'user_purchases@1': { status: 'match' },
    },
  },
  {
    name: "a feature table's metadata damaged",
    views: ['item_clicks', 'user_purchases'],
    damage: {
      view: 'item_clicks',
      apply: (dir) => {
        const metadata = readdirSync(join(dir, 'metadata')).filter((f) => f.endsWith('.metadata.json'))
        assert.ok(metadata.length > 0, 'the table has metadata files to damage')
        for (const f of metadata) writeFileSync(join(dir, 'metadata', f), 'not json')
      },
    },
    expected: {
      'item_clicks@1': { status: 'unchecked', code: 'DATA_CORRUPT', reason: /is not valid JSON: the file is damaged/ },
      'user_purchases@1': { status: 'match' },
    },
  },
  {
    name: 'the first view not computed, then two damaged: every one reported',
    views: ['user_big_spends', 'user_clicks', 'user_purchases'],
    damage: { view: 'user_purchases', apply: (dir) => rmSync(dir, { recursive: true }) },
    expected: {
      'user_big_spends@1': { status: 'unchecked', code: 'NOT_FOUND', reason: /has not been computed yet/ },
      'user_clicks@1': { status: 'match' },
      'user_purchases@1': { status: 'unchecked', code: 'NOT_FOUND', reason: /user_purchases_v1 is missing or has no snapshot/ },
    },
  },
]

void describe('kfs verify-parity over several views: one result per view, every view checked', () => {
  for (const c of CASES) {
    void test(c.name, async () => {
      const backup = join(backups, c.name.replace(/\W+/g, '-'))
      if (c.damage !== undefined) {
        cpSync(tableDir(c.damage.view), backup, { recursive: true })
        c.damage.apply(tableDir(c.damage.view))
      }
      try {
        const args = ['verify-parity', ...WITH_NEW, ...(c.views === undefined ? [] : ['--views', c.views.join(',')])]
        const json = await runKfsInProcess([...args, '--json'], dataDir)
        assert.equal(json.code, 1, json.stderr + json.stdout)
        assert.equal(json.stderr, '', 'no error: each failure is in its view')
        const entries = JSON.parse(json.stdout) as Entry[]
        assert.deepEqual(entries.map((e) => e.view).sort(), Object.keys(c.expected).sort(), 'one entry per view')
        for (const e of entries) {
          const want = c.expected[e.view]!
          assert.equal(e.status, want.status, `${e.view}: ${e.reason}`)
          assert.equal(e.code, want.code, e.view)
          if (want.reason !== undefined) assert.match(e.reason ?? '', want.reason, e.view)
          if (want.status === 'match') assert.ok((e.matchingRows ?? 0) > 0, `${e.view} compared rows`)
        }

        const human = await runKfsInProcess(args, dataDir)
        assert.equal(human.code, 1, human.stderr + human.stdout)
        assert.equal(human.stderr, '')
        const lines = human.stdout.split('\n').filter((l) => !l.startsWith('    ') && l !== '')
        for (const [view, want] of Object.entries(c.expected)) {
          const line = lines.find((l) => l.includes(` ${view}: `))
          assert.ok(line !== undefined, `a line for ${view}:\n${human.stdout}`)
          if (want.status === 'match') assert.match(line, /^✓ .* live rows identical to replay \(100\.00%\)/)
          else assert.match(line, new RegExp(`^✗ ${view}: not checked — .*${want.reason!.source}`))
        }
        const count = (s: string) => Object.values(c.expected).filter((w) => w.status === s).length
        assert.equal(
          lines.at(-1),
          `${Object.keys(c.expected).length} views: ${count('match')} match, 0 differ, ${count('unchecked')} not checked`,
        )
      } finally {
        if (c.damage !== undefined) {
          rmSync(tableDir(c.damage.view), { recursive: true, force: true })
          cpSync(backup, tableDir(c.damage.view), { recursive: true })
        }
      }
    })
  }

  void test('every view matching: exit 0, each restored table verifies again', async () => {
    const views = ['item_clicks', 'user_clicks', 'user_purchases']
    const r = await runKfsInProcess(['verify-parity', '--views', views.join(','), '--json'], dataDir)
    assert.equal(r.code, 0, r.stderr + r.stdout)
    const entries = JSON.parse(r.stdout) as Entry[]
    assert.deepEqual(
      entries.map((e) => [e.view, e.status]),
      views.map((v) => [`${v}@1`, 'match']),
    )
  })

  void test('an unknown view name among several is a usage error before anything is checked', async () => {
    const r = await runKfsInProcess(['verify-parity', '--views', 'user_purchases,nope', '--json'], dataDir)
    assert.equal(r.code, 2, r.stderr)
    assert.equal((JSON.parse(r.stdout) as { error: { code: string } }).error.code, 'USAGE')
    assert.match(r.stderr, /--views: nope is not defined/)
  })
})
