/**
 * A backfill's dead letters are re-drivable with `kfs dead-letters redrive`, like live ones: a
 * producer with a wrong clock gets purchases refused (`future_event_time`) live by user_purchases;
 * user_big_spends, added later, is backfilled from the archive and refuses them too (its own
 * letters). Once the clock is fixed, the redrive re-drives each record once, and after `kfs run`
 * both views count each refused purchase exactly once.
 */
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { after, test } from 'node:test'
import { userBigSpends, userPurchases } from '../../../examples/with-new-view.ts'
import { kfsIn, LATER, shopWithWrongClock, type ListedLetters } from './cli-harness.ts'

const kfs = kfsIn('kfs-backfill-redrive-')
after(() => rmSync(kfs.dataDir, { recursive: true, force: true }))

void test("a backfill's dead letters are re-driven once, and the backfilled view counts each record once", async () => {
  await shopWithWrongClock(kfs)
  // user_big_spends is added later: its backfill reads the archive and refuses u2's purchases too.
  const replayed = JSON.parse(await kfs.ok('replay', '--views', 'user_big_spends', '--online', '--json', ...LATER)) as {
    deadLetters: number
  }[]
  assert.equal(replayed[0]!.deadLetters, 4, 'the backfill dead-letters its own refusals')

  const listed = JSON.parse(await kfs.ok('dead-letters', 'list', '--json', ...LATER)) as ListedLetters
  assert.equal(listed.letters, 8, 'four letters of user_purchases (live), four of user_big_spends (backfill)')
  assert.deepEqual(listed.byStatus, { redrivable: 8 }, JSON.stringify(listed.list.map((l) => l.why ?? l.status)))
  assert.deepEqual(
    listed.list.map((l) => `${l.view} v${l.viewVersion}`).sort(),
    [...Array<string>(4).fill('user_big_spends v1'), ...Array<string>(4).fill('user_purchases v1')],
    'each letter names the version that refused it',
  )

  const first = JSON.parse(await kfs.ok('dead-letters', 'redrive', '--views', 'user_big_spends', '--json', ...LATER)) as {
    redriven: number
  }
  assert.equal(first.redriven, 4, 'one copy per record, whichever views refused it')
  const second = await kfs.run('dead-letters', 'redrive', '--all', ...LATER)
  assert.equal(second.code, 1, 'every record was re-driven: nothing left')

  await kfs.ok('run', '--until-caught-up', '--idle', '300ms', ...LATER)
  assert.deepEqual(
    await kfs.online(userBigSpends, 'count_7d', ['u1', 'u2']),
    [3, 4],
    'the backfilled view counts each refused purchase once',
  )
  assert.deepEqual(await kfs.online(userPurchases, 'count', ['u1', 'u2']), [3, 4], 'and so does the live one')
})
