/**
 * The short-held lock (embedded schema registry's register.lock): whatever holds or held the lock
 * file, the body runs exactly when no live process holds it — a lock a dead process (or an earlier
 * process given this pid) left is taken over, a live holder is waited for and, past the wait,
 * named in a retriable error — and bodies in one process never overlap.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SourceError } from '../../../core/errors.ts'
import { startTimeOf } from '../../../adapters/local-disk/directory-lock.ts'
import { withShortLock } from '../../../adapters/local-disk/short-lock.ts'

const lockIn = () => join(mkdtempSync(join(tmpdir(), 'kfs-short-lock-')), 'register.lock')
const deadPid = () => spawnSync(process.execPath, ['-e', '']).pid!

async function living(): Promise<ChildProcess & { pid: number }> {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 120000)'], { stdio: 'ignore' })
  await new Promise((resolve) => child.once('spawn', resolve))
  return child as ChildProcess & { pid: number }
}

void describe('local disk > short lock', () => {
  void test('a lock file no live process holds is taken over; one a live process holds is waited for, then refused naming it', async () => {
    const child = await living()
    try {
      const dead = deadPid()
      const cases: [string, string, 'ran' | 'refused'][] = [
        ['a dead pid and its start time', `${dead} 12345`, 'ran'],
        ['a dead pid (no start time)', String(dead), 'ran'],
        ["this process's pid and start time (its release failed)", `${process.pid} ${startTimeOf(process.pid)}`, 'ran'],
        ["this process's pid (an earlier process's)", `${process.pid} 1`, 'ran'],
        ['a pid reused by another process', `${child.pid} 1`, 'ran'],
        ['empty', '', 'ran'],
        ['not a pid', 'garbage', 'ran'],
        ['a live process', `${child.pid} ${startTimeOf(child.pid)}`, 'refused'],
        ['a live process (no start time)', String(child.pid), 'refused'],
      ]
      for (const [what, content, expected] of cases) {
        const lockFile = lockIn()
        writeFileSync(lockFile, content)
        let ran = false
        const outcome = await withShortLock(lockFile, { what: 'test registry', waitMs: 20 }, async () => {
          ran = true
          assert.equal(
            readFileSync(lockFile, 'utf8'),
            `${process.pid} ${startTimeOf(process.pid)}`,
            `${what}: held by this process`,
          )
          return 'ran' as const
        }).catch((err: unknown) => err)
        if (expected === 'ran') {
          assert.equal(outcome, 'ran', `${what}: ${String(outcome)}`)
          assert.deepEqual(readdirSync(join(lockFile, '..')), [], `${what}: released, nothing left`)
        } else {
          assert.equal(ran, false, what)
          assert.ok(
            outcome instanceof SourceError &&
              outcome.code === 'SOURCE_UNAVAILABLE' &&
              outcome.message.includes(`process ${child.pid}`),
            `${what}: ${String(outcome)}`,
          )
          assert.equal(readFileSync(lockFile, 'utf8'), content, `${what}: the holder's lock is untouched`)
        }
      }
    } finally {
      child.kill()
    }
  })

  void test('a live holder is waited for until it releases', async () => {
    const child = await living()
    try {
      const lockFile = lockIn()
      writeFileSync(lockFile, `${child.pid} ${startTimeOf(child.pid)}`)
      let ran = false
      const waiting = withShortLock(lockFile, { what: 'test registry' }, async () => (ran = true))
      await new Promise((resolve) => setImmediate(resolve))
      assert.equal(ran, false, 'not while the other process holds it')
      rmSync(lockFile)
      assert.equal(await waiting, true)
      assert.equal(existsSync(lockFile), false)
    } finally {
      child.kill()
    }
  })

  void test('holders in one process take turns, each holding the file, even when one fails', async () => {
    const lockFile = lockIn()
    let active = 0
    const order: number[] = []
    const runs = Array.from({ length: 6 }, (_, i) =>
      withShortLock(lockFile, { what: 'test registry' }, async () => {
        assert.equal(++active, 1, `holder ${i} alone`)
        assert.ok(existsSync(lockFile), `holder ${i} holds the file`)
        await new Promise((resolve) => setImmediate(resolve))
        order.push(i)
        active--
        if (i === 2) throw new Error('body failed')
        return i
      }),
    )
    const outcomes = await Promise.allSettled(runs)
    assert.deepEqual(order, [0, 1, 2, 3, 4, 5])
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled'],
    )
    assert.equal(existsSync(lockFile), false)
  })
})
