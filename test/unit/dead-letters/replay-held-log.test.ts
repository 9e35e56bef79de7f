/**
 * `kfs replay` while another process (a `kfs run`) holds the embedded event log: the backfill's
 * dead letters cannot go into the log then, and must neither fail the backfill half-way nor be
 * lost. They are kept beside the log, and the next kfs command that opens it moves them into
 * kfs.dead-letters, where they are listed and re-driven like any other.
 */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { startTimeOf } from '../../../adapters/local-disk/directory-lock.ts'
import { userBigSpends } from '../../../examples/with-new-view.ts'
import { kfsIn, LATER, shopWithWrongClock, type ListedLetters } from './cli-harness.ts'

const kfs = kfsIn('kfs-replay-held-log-')
after(() => rmSync(kfs.dataDir, { recursive: true, force: true }))

/** A process of our own that holds the embedded log's LOCK, as a running `kfs run` does. */
async function holdLog(dir: string): Promise<ChildProcess & { pid: number }> {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 120000)'], { stdio: 'ignore' })
  await new Promise((resolve) => child.once('spawn', resolve))
  writeFileSync(join(dir, 'LOCK'), `${child.pid} ${startTimeOf(child.pid!)}`)
  return child as ChildProcess & { pid: number }
}

async function release(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill()
  await exited
}

void test('a replay with dead letters completes while another process holds the embedded log; its letters reach the log when it is free', async () => {
  await shopWithWrongClock(kfs)
  const logDir = join(kfs.dataDir, 'log')
  const holder = await holdLog(logDir)
  try {
    const held = await kfs.run('dead-letters', 'list', ...LATER)
    assert.equal(held.code, 1)
    assert.match(held.stderr, new RegExp(`in use by process ${holder.pid}`), 'the lock is held: the log cannot be opened')

    const replay = await kfs.run('replay', '--views', 'user_big_spends', '--online', '--json', ...LATER)
    assert.equal(replay.code, 0, replay.stderr)
    const [summary] = JSON.parse(replay.stdout) as { deadLetters: number }[]
    assert.equal(summary!.deadLetters, 4)
    assert.match(
      replay.stderr,
      new RegExp(`4 dead letters .*process ${holder.pid} holds the event log`),
      'the replay says where its letters are',
    )
    assert.deepEqual(await kfs.online(userBigSpends, 'count_7d', ['u1']), [3], 'the backfill wrote its rows')
    assert.equal(
      readFileSync(join(logDir, 'LOCK'), 'utf8').split(' ')[0],
      String(holder.pid),
      "the holder's LOCK is left as it was",
    )
  } finally {
    await release(holder)
  }
  // The holder is gone: the next command to open the log moves the letters in, once.
  const listed = JSON.parse(await kfs.ok('dead-letters', 'list', '--json', ...LATER)) as ListedLetters
  assert.deepEqual(listed.list.map((l) => l.view).sort(), [
    ...Array<string>(4).fill('user_big_spends'),
    ...Array<string>(4).fill('user_purchases'),
  ])
  assert.deepEqual(listed.byStatus, { redrivable: 8 })
  const again = JSON.parse(await kfs.ok('dead-letters', 'list', '--json', ...LATER)) as ListedLetters
  assert.equal(again.letters, 8, 'moved once: not again by the next command')
  const redriven = JSON.parse(await kfs.ok('dead-letters', 'redrive', '--all', '--json', ...LATER)) as { redriven: number }
  assert.equal(redriven.redriven, 4)
  await kfs.ok('run', '--until-caught-up', '--idle', '300ms', ...LATER)
  assert.deepEqual(await kfs.online(userBigSpends, 'count_7d', ['u1', 'u2']), [3, 4])
  assert.deepEqual(
    readdirSync(kfs.dataDir)
      .filter((name) => name.includes('pending'))
      .flatMap((d) => readdirSync(join(kfs.dataDir, d))),
    [],
    'nothing left waiting',
  )
})
