/**
 * A backfill's dead letters are re-drivable with `kfs dead-letters redrive`, like live ones: a
 * producer with a wrong clock gets purchases refused (`future_event_time`) live by user_purchases;
 * user_big_spends, added later, is backfilled from the archive and refuses them too (its own
 * letters). Once the clock is fixed, the redrive re-drives each record once, and after `kfs run`
 * both views count each refused purchase exactly once.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { encodeEntityKey } from '../../../core/entity-key.ts'
import { purchases, userBigSpends, userPurchases } from '../../../examples/with-new-view.ts'
import type { FeatureViewDef } from '../../../features/types.ts'
import { commands } from '../../../main/commands/index.ts'
import { createProcessContext } from '../../../main/commands/context.ts'
import { runCli } from '../../../main/commands/router.ts'
import { loadConfig } from '../../../main/config.ts'
import { createRuntime } from '../../../main/runtime.ts'

const repo = fileURLToPath(new URL('../../../', import.meta.url))
const dataDir = mkdtempSync(join(tmpdir(), 'kfs-backfill-redrive-'))
after(() => rmSync(dataDir, { recursive: true, force: true }))
const env = { PATH: process.env.PATH, HOME: process.env.HOME, KFS_DATA_DIR: dataDir, KFS_LOG_LEVEL: 'silent' }
const LATER = ['--features', 'examples/with-new-view.ts']

async function kfs(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = ''
  let stderr = ''
  const sink = (append: (t: string) => void) => ({ write: (t: string) => (append(t), true) }) as unknown as NodeJS.WritableStream
  const code = await runCli(args, commands, (json) =>
    createProcessContext({ json, env, cwd: repo, stdout: sink((t) => (stdout += t)), stderr: sink((t) => (stderr += t)) }),
  )
  return { code, stdout, stderr }
}

async function ok(...args: string[]): Promise<string> {
  const r = await kfs(...args)
  assert.equal(r.code, 0, `kfs ${args.join(' ')}: exit ${r.code}\n${r.stderr}${r.stdout}`)
  return r.stdout
}

/** Lifetime (7d) purchase counts per user of `view`, as serving reads them. */
async function onlineCounts(view: FeatureViewDef, feature: string, users: readonly string[]): Promise<unknown[]> {
  const runtime = await createRuntime(loadConfig(env))
  try {
    const reads = await (
      await runtime.onlineStore()
    ).readRows(
      users.map((u) => ({ view, entityKey: encodeEntityKey([u]), features: [feature] })),
      Date.now(),
    )
    return reads.map((r) => r.values[0] ?? null)
  } finally {
    await runtime.close()
  }
}

interface Listed {
  letters: number
  byStatus: Record<string, number>
  list: { status: string; view: string; viewVersion: number | null; record: string; why?: string }[]
}

void test("a backfill's dead letters are re-driven once, and the backfilled view counts each record once", async () => {
  await ok('apply')
  const base = Date.now() - 30 * 60_000
  const runtime = await createRuntime(loadConfig(env))
  try {
    const log = await runtime.eventLog()
    await log.createTopic(purchases.topic, purchases.partitions)
    const encoder = await runtime.encoderFor(purchases)
    const event = (user: string, ts: number) => ({ user_id: user, item_id: 'i1', amount: 150, currency: 'EUR', ts })
    await log.produce(
      purchases.topic,
      [0, 1, 2].map((i) => ({ key: 'u1', value: encoder.encode(event('u1', base + i * 1000)) })),
    )
    // u2's producer clock was 3 h behind: every purchase of it is refused.
    await log.produce(
      purchases.topic,
      [0, 1, 2, 3].map((i) => ({
        key: 'u2',
        value: encoder.encode(event('u2', base + 10_000 + i * 1000)),
        timestampMs: base - 3 * 3_600_000,
      })),
    )
  } finally {
    await runtime.close()
  }
  await ok('run', '--until-caught-up', '--idle', '300ms')

  // user_big_spends is added later: its backfill reads the archive and refuses u2's purchases too.
  await ok('apply', ...LATER)
  const replayed = JSON.parse(await ok('replay', '--views', 'user_big_spends', '--online', '--json', ...LATER)) as {
    deadLetters: number
  }[]
  assert.equal(replayed[0]!.deadLetters, 4, 'the backfill dead-letters its own refusals')

  const listed = JSON.parse(await ok('dead-letters', 'list', '--json', ...LATER)) as Listed
  assert.equal(listed.letters, 8, 'four letters of user_purchases (live), four of user_big_spends (backfill)')
  assert.deepEqual(listed.byStatus, { redrivable: 8 }, JSON.stringify(listed.list.map((l) => l.why ?? l.status)))
  assert.deepEqual(
    listed.list.map((l) => `${l.view} v${l.viewVersion}`).sort(),
    [...Array(4).fill('user_big_spends v1'), ...Array(4).fill('user_purchases v1')],
    'each letter names the version that refused it',
  )

  const first = JSON.parse(await ok('dead-letters', 'redrive', '--views', 'user_big_spends', '--json', ...LATER)) as {
    redriven: number
  }
  assert.equal(first.redriven, 4, 'one copy per record, whichever views refused it')
  const second = await kfs('dead-letters', 'redrive', '--all', ...LATER)
  assert.equal(second.code, 1, 'every record was re-driven: nothing left')

  await ok('run', '--until-caught-up', '--idle', '300ms', ...LATER)
  assert.deepEqual(
    await onlineCounts(userBigSpends, 'count_7d', ['u1', 'u2']),
    [3, 4],
    'the backfilled view counts each refused purchase once',
  )
  assert.deepEqual(await onlineCounts(userPurchases, 'count', ['u1', 'u2']), [3, 4], 'and so does the live one')
})
