/**
 * `kfs replay` hands its view over to one live group (docs/semantics.md §14), and writes where it is
 * told. Every invocation that would hand the backfill over to no live engine, or ignore what it
 * was asked to write, is refused before anything is written: a --group whose engine never consumed
 * the view's topic, or --online for a view with no online store (exit 2); the default group when
 * the topic was consumed under another (exit 1). Before, each exited 0: the view was marked
 * complete under a group no `kfs run` reads, and the next `kfs run` started it without its history
 * (verify-parity then differed), or --online wrote nothing online.
 * The refused data dir stays usable: the right invocation then backfills, and live = replay.
 */
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { runKfsInProcess } from '../../support/in-process-cli.ts'

const repo = fileURLToPath(new URL('../../../', import.meta.url))
const root = mkdtempSync(join(tmpdir(), 'kfs-replay-hand-over-'))
after(() => rmSync(root, { recursive: true, force: true }))

// The module with the new views: user_big_spends (examples/with-new-view.ts), an offline-only view,
// and a re-keyed view added later (backfilled from the internal topic's archive).
const modulePath = join(root, 'features.ts')
writeFileSync(
  modulePath,
  `import { featureView } from '${repo}features/index.ts'
import { clicks, item, purchases, user } from '${repo}examples/features.ts'
export * from '${repo}examples/with-new-view.ts'
export const userSpendsOffline = featureView({
  name: 'user_spends_offline', version: 1, entity: user, source: purchases, online: false,
  aggregations: [{ op: 'sum', field: 'amount', windows: ['7d'] }],
  ttl: '30d', freshnessSla: '1m', owner: 'audit@kfs', description: 'offline only',
})
export const itemViews = featureView({
  name: 'item_views', version: 1, entity: item, source: clicks,
  aggregations: [{ op: 'count', windows: ['1d'] }],
  ttl: '30d', freshnessSla: '1m', owner: 'audit@kfs', description: 're-keyed, added later',
})
`,
)
const NEW = ['--features', modulePath]

/** A data dir whose live engine (group `group`) consumed the base module's topics. */
async function consumedBy(name: string, group: string[]): Promise<string> {
  const dir = join(root, name)
  for (const args of [
    ['apply'],
    ['produce', '--generate', '600'],
    ['run', '--until-caught-up', '--idle', '1s', ...group],
    ['apply', ...NEW],
  ]) {
    const r = await runKfsInProcess(args, dir)
    assert.equal(r.code, 0, `kfs ${args.join(' ')}\n${r.stderr}`)
  }
  return dir
}

/** Nothing of a backfill: no checkpoint group of one, no feature table of the new views. */
function assertNothingWritten(dir: string, what: string): void {
  const groups = existsSync(join(dir, 'objects', 'checkpoints')) ? readdirSync(join(dir, 'objects', 'checkpoints')) : []
  assert.deepEqual(
    groups.filter((g) => decodeURIComponent(g).includes('.backfill.')),
    [],
    `${what}: no backfill checkpoints`,
  )
  for (const view of ['user_big_spends', 'user_spends_offline', 'item_views'])
    assert.equal(existsSync(join(dir, 'objects', 'warehouse', 'features', `${view}_v1`)), false, `${what}: no table of ${view}`)
}

let defaultGroup: string
let otherGroup: string
let unchecked: string
before(async () => {
  defaultGroup = await consumedBy('default', [])
  otherGroup = await consumedBy('other', ['--group', 'shop'])
  // An archive no live engine has a checkpoint beside (its checkpoints gone).
  unchecked = await consumedBy('unchecked', [])
  rmSync(join(unchecked, 'objects', 'checkpoints'), { recursive: true, force: true })
})

const cases: { name: string; dir: () => string; args: string[]; code: number; message: RegExp }[] = [
  {
    name: '--group that never ran',
    dir: () => defaultGroup,
    args: ['--views', 'user_big_spends', '--group', 'typo'],
    code: 2,
    message: /--group: the live engine of group typo has no checkpoint of purchases.*groups that consumed purchases: kfs-engine/,
  },
  {
    name: '--group that never ran, --online',
    dir: () => defaultGroup,
    args: ['--views', 'user_big_spends', '--online', '--group', 'typo'],
    code: 2,
    message: /--group: the live engine of group typo/,
  },
  {
    name: '--group that never ran, a re-keyed view',
    dir: () => defaultGroup,
    args: ['--views', 'item_views', '--group', 'typo'],
    code: 2,
    message: /--group: the live engine of group typo has no checkpoint of kfs\.clicks\.by-item/,
  },
  {
    name: "--group of another data dir's engine",
    dir: () => defaultGroup,
    args: ['--views', 'user_big_spends', '--group', 'shop'],
    code: 2,
    message: /groups that consumed purchases: kfs-engine/,
  },
  {
    name: 'the default group, the topic consumed under another',
    dir: () => otherGroup,
    args: ['--views', 'user_big_spends'],
    code: 1,
    message:
      /nothing to hand user_big_spends v1 over to: the live engine of group kfs-engine.*--group \(groups that consumed purchases: shop\)/,
  },
  {
    name: 'an archive no live engine has checkpointed',
    dir: () => unchecked,
    args: ['--views', 'user_big_spends'],
    code: 1,
    message:
      /nothing to hand user_big_spends v1 over to: .*; no live engine has a checkpoint of purchases yet; run kfs run first/,
  },
  {
    name: '--online for a view with no online store',
    dir: () => defaultGroup,
    args: ['--views', 'user_spends_offline', '--online'],
    code: 2,
    message: /--online: user_spends_offline has no online store \(online: false\)/,
  },
  {
    name: '--online, one of the views with no online store',
    dir: () => defaultGroup,
    args: ['--views', 'user_big_spends,user_spends_offline', '--online'],
    code: 2,
    message: /--online: user_spends_offline has no online store/,
  },
]

void describe('kfs replay: a backfill no live group would take over, or a write it would ignore, is refused', () => {
  for (const c of cases.filter((c) => c.code !== 0)) {
    void test(c.name, async () => {
      const r = await runKfsInProcess(['replay', ...c.args, ...NEW], c.dir())
      assert.equal(r.code, c.code, `${r.stdout}\n${r.stderr}`)
      assert.match(r.stderr, c.message)
      assertNothingWritten(c.dir(), c.name)
    })
  }

  void test('the group that consumed the topics: backfilled (a re-keyed view too), handed over, live = replay', async () => {
    for (const [dir, group] of [
      [defaultGroup, []],
      [otherGroup, ['--group', 'shop']],
    ] as const) {
      const replay = await runKfsInProcess(
        ['replay', '--views', 'user_big_spends,item_views,user_spends_offline', ...group, ...NEW],
        dir,
      )
      assert.equal(replay.code, 0, replay.stderr)
      for (const args of [
        ['produce', '--generate', '200'],
        ['run', '--until-caught-up', '--idle', '1s', ...group, ...NEW],
      ]) {
        const r = await runKfsInProcess(args, dir)
        assert.equal(r.code, 0, `kfs ${args.join(' ')}\n${r.stderr}`)
      }
      const parity = await runKfsInProcess(
        ['verify-parity', '--views', 'user_big_spends,item_views,user_spends_offline', '--json', ...group, ...NEW],
        dir,
      )
      const got = (JSON.parse(parity.stdout) as { view: string; status: string }[]).map((v) => [v.view, v.status])
      assert.deepEqual(
        got,
        [
          ['item_views@1', 'match'],
          ['user_big_spends@1', 'match'],
          ['user_spends_offline@1', 'match'],
        ],
        parity.stdout,
      )
      assert.equal(parity.code, 0)
    }
  })
})
