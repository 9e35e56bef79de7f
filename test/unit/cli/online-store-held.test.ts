/**
 * A command that writes the embedded online store while another process writes it (a `kfs run`)
 * stops before it writes anything: exit 1, one line naming the directory, the holder's pid and
 * what to do (stop it, or use Redis), the same under --json as an error object — for a backfill
 * with --online and for --online-from-offline alike. Before, both wrote beside the running writer,
 * and the next open deleted the journal of whichever replaced the file second.
 */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { startTimeOf } from '../../../adapters/local-disk/directory-lock.ts'
import { userBigSpends } from '../../../examples/with-new-view.ts'
import { kfsIn, LATER, shopWithWrongClock } from '../dead-letters/cli-harness.ts'

const kfs = kfsIn('kfs-online-held-')
after(() => rmSync(kfs.dataDir, { recursive: true, force: true }))

function snapshot(dir: string): Record<string, string> {
  return Object.fromEntries(
    readdirSync(dir)
      .sort()
      .map((name) => [name, readFileSync(join(dir, name), 'latin1')]),
  )
}

void test('a replay writing the embedded online store while another process writes it stops before writing, naming that process', async () => {
  await shopWithWrongClock(kfs)
  const onlineDir = join(kfs.dataDir, 'online')
  // A process of our own holding the store's LOCK, as a running kfs run does.
  const holder: ChildProcess = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 120000)'], { stdio: 'ignore' })
  await new Promise((resolve) => holder.once('spawn', resolve))
  writeFileSync(join(onlineDir, 'LOCK'), `${holder.pid} ${startTimeOf(holder.pid!)}`)
  try {
    const before = snapshot(onlineDir)
    const cases: [string, string[]][] = [
      ['a backfill with --online', ['replay', '--views', 'user_big_spends', '--online', ...LATER]],
      // The computed views: user_big_spends is not backfilled yet, and a reload refuses it first.
      [
        'a reload from the offline tables',
        ['replay', '--online-from-offline', '--views', 'user_purchases,user_clicks', ...LATER],
      ],
    ]
    for (const [what, args] of cases) {
      const human = await kfs.run(...args)
      assert.equal(human.code, 1, `${what}: ${human.stderr}`)
      assert.match(
        human.stderr,
        new RegExp(
          `^kfs replay: embedded online store ${onlineDir} is in use by process ${holder.pid}: the embedded store takes one writer at a time — stop that kfs .* or use Redis \\(KFS_REDIS_URL\\)`,
        ),
        what,
      )
      assert.equal(human.stderr.split('\n').filter(Boolean).length, 1, `${what}: one line, no stack`)
      const json = await kfs.run(...args, '--json')
      assert.equal(json.code, 1, what)
      const { error } = JSON.parse(json.stdout) as { error: { code: string; context: unknown } }
      assert.deepEqual([error.code, error.context], ['CONFIG_INVALID', { dir: onlineDir, heldByPid: holder.pid }], what)
      assert.deepEqual(snapshot(onlineDir), before, `${what}: the store is as the holder left it`)
    }
  } finally {
    const exited = new Promise((resolve) => holder.once('exit', resolve))
    holder.kill()
    await exited
  }
  // Nothing was marked or written: with the holder gone, the backfill runs in full.
  const [summary] = JSON.parse(await kfs.ok('replay', '--views', 'user_big_spends', '--online', '--json', ...LATER)) as {
    records: number
  }[]
  assert.equal(summary!.records, 7)
  assert.deepEqual(await kfs.online(userBigSpends, 'count_7d', ['u1']), [3])
})
