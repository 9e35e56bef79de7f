/**
 * A live group meets a view whose backfill is complete yet has no backfill state of its own
 * (docs/semantics.md §14): the registry keeps one status per view version, so another group's
 * `kfs replay` marked it complete (here: its status copied into this data dir's registry). Before, the
 * group's `kfs run` started the view at its checkpointed position without its history — counts too
 * low online and offline, exit 0 everywhere, and `verify-parity` differed. Each way a group meets
 * such a view: its checkpoints lack it (a plain view, a re-keyed one on its internal topic), or it
 * never ran; the group's rows must equal a replay of its own archive.
 */
import assert from 'node:assert/strict'
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { runKfsInProcess } from '../../support/in-process-cli.ts'

const repo = fileURLToPath(new URL('../../../', import.meta.url))
const root = mkdtempSync(join(tmpdir(), 'kfs-group-without-backfill-'))
after(() => rmSync(root, { recursive: true, force: true }))

const modulePath = join(root, 'features.ts')
writeFileSync(
  modulePath,
  `import { featureView } from '${repo}features/index.ts'
import { clicks, item } from '${repo}examples/features.ts'
export * from '${repo}examples/with-new-view.ts'
export const itemViews = featureView({
  name: 'item_views', version: 1, entity: item, source: clicks,
  aggregations: [{ op: 'count', windows: ['1d'] }],
  ttl: '30d', freshnessSla: '1m', owner: 'audit@kfs', description: 're-keyed, added later',
})
`,
)
const NEW = ['--features', modulePath]
const VIEWS = ['user_big_spends', 'item_views']

async function kfs(dir: string, args: string[]): Promise<string> {
  const r = await runKfsInProcess(args, dir)
  assert.equal(r.code, 0, `kfs ${args.join(' ')}\n${r.stdout}\n${r.stderr}`)
  return r.stdout
}

/** The registry another group backfilled the new views in: their status is complete. */
let backfilledElsewhere: string
before(async () => {
  backfilledElsewhere = join(root, 'elsewhere')
  for (const args of [
    ['apply'],
    ['produce', '--generate', '400'],
    ['run', '--until-caught-up', '--idle', '1s'],
    ['apply', ...NEW],
    ['replay', '--views', VIEWS.join(','), ...NEW],
  ])
    await kfs(backfilledElsewhere, args)
})

/** The shared registry: the new views' status as the other group's backfill left it. */
function shareStatus(dir: string): void {
  for (const view of VIEWS) {
    const key = join('objects', 'registry', 'views', view, 'v1.backfill.json')
    copyFileSync(join(backfilledElsewhere, key), join(dir, key))
  }
}

const cases: { name: string; group: string[]; before: string[][] }[] = [
  {
    name: 'a group whose checkpoints lack the views',
    group: [],
    before: [['run', '--until-caught-up', '--idle', '1s']],
  },
  {
    name: 'a named group whose checkpoints lack the views',
    group: ['--group', 'canary'],
    before: [['run', '--until-caught-up', '--idle', '1s', '--group', 'canary']],
  },
  { name: "a group's first run", group: ['--group', 'canary'], before: [] },
]

void describe('kfs run: a view complete in the registry but never backfilled for this group gets its whole history', () => {
  for (const c of cases) {
    void test(c.name, async () => {
      const dir = join(root, c.name.replaceAll(/\W+/g, '-'))
      for (const args of [['apply'], ['produce', '--generate', '400'], ...c.before, ['apply', ...NEW]]) await kfs(dir, args)
      shareStatus(dir)
      for (const args of [
        ['run', '--until-caught-up', '--idle', '1s', ...c.group, ...NEW],
        ['produce', '--generate', '200'],
        ['run', '--until-caught-up', '--idle', '1s', ...c.group, ...NEW],
      ])
        await kfs(dir, args)
      const parity = await runKfsInProcess(['verify-parity', '--views', VIEWS.join(','), '--json', ...c.group, ...NEW], dir)
      const got = (JSON.parse(parity.stdout) as { view: string; status: string }[]).map((v) => [v.view, v.status])
      assert.deepEqual(
        got,
        [
          ['item_views@1', 'match'],
          ['user_big_spends@1', 'match'],
        ],
        parity.stdout,
      )
      assert.equal(parity.code, 0)
    })
  }
})
