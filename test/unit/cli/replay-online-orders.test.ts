/**
 * `kfs replay --online`, in every order beside the other replay invocations of a view, leaves the
 * online store holding the view's history: each entity's latest offline row (docs/semantics.md
 * §14). Before, a backfill run without --online marked the view complete, and the re-run with
 * --online said "already backfilled … nothing written" (exit 0) while the online store stayed
 * without the view — only --online-from-offline, a command the user was never told of, loaded it.
 * Now a view already complete is loaded from its offline table when --online is asked, said so on
 * stdout and in --json. Without --online nothing is written online, whatever ran before; an
 * offline-only view with --online is refused (exit 2) before anything is written.
 *
 * Each case runs in its own data dir where the live engine consumed the shop and the module with
 * the new views was applied (user_big_spends not computed yet).
 */
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { userBigSpends, userPurchases } from '../../../examples/with-new-view.ts'
import type { FeatureViewDef } from '../../../features/types.ts'
import { loadConfig } from '../../../main/config.ts'
import { createRuntime } from '../../../main/runtime.ts'
import { runKfsInProcess } from '../../support/in-process-cli.ts'
import { assertOnlineHoldsLastRows } from '../../support/scenario.ts'

const repo = fileURLToPath(new URL('../../../', import.meta.url))
const root = mkdtempSync(join(tmpdir(), 'kfs-replay-online-orders-'))
after(() => rmSync(root, { recursive: true, force: true }))

const modulePath = join(root, 'features.ts')
writeFileSync(
  modulePath,
  `import { featureView } from '${repo}features/index.ts'
import { purchases, user } from '${repo}examples/features.ts'
export * from '${repo}examples/with-new-view.ts'
export const userSpendsOffline = featureView({
  name: 'user_spends_offline', version: 1, entity: user, source: purchases, online: false,
  aggregations: [{ op: 'sum', field: 'amount', windows: ['7d'] }],
  ttl: '30d', freshnessSla: '1m', owner: 'test@kfs', description: 'offline only',
})
`,
)
const NEW = ['--features', modulePath]

/** A data dir where the live engine consumed the shop, then the module with the new views was applied. */
async function shopWithNewViews(name: string): Promise<string> {
  const dir = join(root, name)
  for (const args of [
    ['apply'],
    ['produce', '--generate', '600'],
    ['run', '--until-caught-up', '--idle', '1s'],
    ['apply', ...NEW],
  ]) {
    const r = await runKfsInProcess(args, dir)
    assert.equal(r.code, 0, `kfs ${args.join(' ')}\n${r.stderr}`)
  }
  return dir
}

interface Step {
  readonly args: readonly string[]
  /** Expected stdout of the step, per view named, as a pattern. */
  readonly says?: RegExp
}

const ONLINE: Step = { args: ['--views', 'user_big_spends', '--online'] }
const OFFLINE: Step = { args: ['--views', 'user_big_spends'] }
/** The online store of a data dir lost (Redis flushed, the embedded store's files gone). */
const LOSE_ONLINE = 'lose the online store'

const BACKFILLED = /^user_big_spends v1: backfilled \d+ records → \d+ rows/
const LOADED =
  /^user_big_spends v1: already backfilled \(complete through purchases\/\d+@\d+(?:, purchases\/\d+@\d+)*\); online store loaded from its offline table: [1-9]\d* entities, \d+ rows written online, \d+ already fresher\n$/
const NOTHING =
  /^user_big_spends v1: already backfilled \(complete through purchases\/\d+@\d+(?:, purchases\/\d+@\d+)*\); nothing written — publish a new version to recompute it\n$/

const cases: { name: string; steps: (Step | typeof LOSE_ONLINE)[]; online: boolean }[] = [
  {
    name: 'offline, then --online',
    steps: [
      { ...OFFLINE, says: BACKFILLED },
      { ...ONLINE, says: LOADED },
    ],
    online: true,
  },
  { name: '--online alone', steps: [{ ...ONLINE, says: BACKFILLED }], online: true },
  {
    name: '--online, then --online again',
    steps: [
      { ...ONLINE, says: BACKFILLED },
      { ...ONLINE, says: LOADED },
    ],
    online: true,
  },
  {
    name: '--online, then offline',
    steps: [
      { ...ONLINE, says: BACKFILLED },
      { ...OFFLINE, says: NOTHING },
    ],
    online: true,
  },
  { name: 'offline alone', steps: [{ ...OFFLINE, says: BACKFILLED }], online: false },
  {
    name: 'offline, then offline again',
    steps: [
      { ...OFFLINE, says: BACKFILLED },
      { ...OFFLINE, says: NOTHING },
    ],
    online: false,
  },
  {
    name: 'offline, --online, offline, --online',
    steps: [
      { ...OFFLINE, says: BACKFILLED },
      { ...ONLINE, says: LOADED },
      { ...OFFLINE, says: NOTHING },
      { ...ONLINE, says: LOADED },
    ],
    online: true,
  },
  {
    name: '--online, the online store lost, --online again',
    steps: [{ ...ONLINE, says: BACKFILLED }, LOSE_ONLINE, { ...ONLINE, says: LOADED }],
    online: true,
  },
  {
    name: 'offline, the online store lost, --online',
    steps: [{ ...OFFLINE, says: BACKFILLED }, LOSE_ONLINE, { ...ONLINE, says: LOADED }],
    online: true,
  },
  {
    name: 'offline, then --online with a view live computed beside it',
    steps: [{ ...OFFLINE, says: BACKFILLED }, { args: ['--views', 'user_big_spends,user_purchases', '--online'] }],
    online: true,
  },
]

/** The latest offline row of every entity of `view` is its online row (none when `online` is false). */
async function assertOnline(dir: string, view: FeatureViewDef, online: boolean, what: string): Promise<void> {
  const runtime = await createRuntime(loadConfig({ KFS_DATA_DIR: dir, KFS_LOG_LEVEL: 'silent' }))
  try {
    const offline = await runtime.offline.readFeatureRows(view)
    assert.ok(offline.size > 0, `${what}: ${view.name} has offline rows`)
    const store = await runtime.onlineStore()
    if (online) return await assertOnlineHoldsLastRows(store, view, offline)
    const reads = await store.readRows(
      [...offline.keys()].map((entityKey) => ({ view, entityKey, features: view.features.map((f) => f.name) })),
      Date.now(),
    )
    assert.deepEqual(
      reads.filter((r) => r.asOfMs !== null),
      [],
      `${what}: no online row of ${view.name}`,
    )
  } finally {
    await runtime.close()
  }
}

void describe('kfs replay --online: the online store holds the view after any order of replays', () => {
  for (const [i, c] of cases.entries()) {
    void test(c.name, async () => {
      const dir = await shopWithNewViews(`case-${i}`)
      for (const step of c.steps) {
        if (step === LOSE_ONLINE) {
          assert.ok(existsSync(join(dir, 'online')), 'the embedded online store is in <data dir>/online')
          rmSync(join(dir, 'online'), { recursive: true, force: true })
          continue
        }
        const r = await runKfsInProcess(['replay', ...step.args, ...NEW], dir)
        assert.equal(r.code, 0, `kfs replay ${step.args.join(' ')}\n${r.stdout}${r.stderr}`)
        if (step.says) assert.match(r.stdout, step.says, `kfs replay ${step.args.join(' ')}`)
      }
      await assertOnline(dir, userBigSpends, c.online, c.name)
      // The live-computed view is untouched by an offline replay, and loaded alike with --online.
      await assertOnline(dir, userPurchases, !c.steps.includes(LOSE_ONLINE), `${c.name}, user_purchases`)
    })
  }

  void test('--json: a view already complete reports what --online loaded', async () => {
    const dir = await shopWithNewViews('json')
    assert.equal((await runKfsInProcess(['replay', ...OFFLINE.args, ...NEW], dir)).code, 0)
    const r = await runKfsInProcess(['replay', ...ONLINE.args, '--json', ...NEW], dir)
    assert.equal(r.code, 0, r.stderr)
    const [summary] = JSON.parse(r.stdout) as {
      view: string
      alreadyComplete: boolean
      onlineLoaded: { entities: number; written: number; stale: number }
    }[]
    assert.equal(summary!.view, 'user_big_spends@1')
    assert.equal(summary!.alreadyComplete, true)
    assert.ok(summary!.onlineLoaded.entities > 0, r.stdout)
    assert.equal(summary!.onlineLoaded.written + summary!.onlineLoaded.stale, summary!.onlineLoaded.entities)
    await assertOnline(dir, userBigSpends, true, '--json')
  })

  for (const views of ['user_spends_offline', 'user_big_spends,user_spends_offline']) {
    for (const before of [[], ['--views', views.split(',').at(-1)!]]) {
      void test(`an offline-only view with --online (${views}${before.length > 0 ? ', backfilled before' : ''}): exit 2 before anything is written`, async () => {
        const dir = await shopWithNewViews(`offline-only-${views}-${before.length}`)
        if (before.length > 0) assert.equal((await runKfsInProcess(['replay', ...before, ...NEW], dir)).code, 0)
        const r = await runKfsInProcess(['replay', '--views', views, '--online', ...NEW], dir)
        assert.equal(r.code, 2, r.stderr)
        assert.match(r.stderr, /--online: user_spends_offline has no online store \(online: false\)/)
        assert.equal(r.stdout, '')
        // Nothing was marked either: the online view named beside it is backfilled afterwards.
        if (views.includes('user_big_spends')) {
          const next = await runKfsInProcess(['replay', ...ONLINE.args, ...NEW], dir)
          assert.match(next.stdout, BACKFILLED, next.stderr)
          await assertOnline(dir, userBigSpends, true, views)
        }
      })
    }
  }
})
