/**
 * The registry's apply lock (registry/apply-lock.ts): whatever a lock object holds — a live
 * process of this host, one that died, a reused pid, a process of another host within its lease
 * or past it, bytes that do not read — it is taken over exactly when its owner is gone, and
 * otherwise waited for and then refused naming the holder and what to do.
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { after, before, describe, test } from 'node:test'
import { isRunning, startTimeOf } from '../../../adapters/local-disk/directory-lock.ts'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import type { Clock } from '../../../core/clock.ts'
import { FeatureStoreError } from '../../../core/errors.ts'
import { APPLY_LOCK_KEY, objectStoreApplyLock } from '../../../registry/index.ts'

const NOW = 1_700_000_000_000
const LEASE = 60_000
const WAIT = 5_000

/** Time moves only when the lock sleeps: a wait ends after WAIT of it, whatever the machine does. */
function steppingClock(): Clock & { slept: number } {
  let now = NOW
  const clock = {
    slept: 0,
    nowMs: () => now,
    sleep: async (ms: number) => {
      clock.slept += ms
      now += ms
      await new Promise((resolve) => setImmediate(resolve)) // others run meanwhile, as in a real wait
    },
  }
  return clock
}

const self = { pid: process.pid, startTime: startTimeOf(process.pid), host: 'here' }
const owner = (o: { pid: number; startTime?: string; host?: string; acquiredAtMs?: number }) =>
  JSON.stringify({ startTime: '', host: 'here', acquiredAtMs: NOW, token: 't', ...o })

let child: ChildProcess & { pid: number }
before(async () => {
  child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 120000)'], { stdio: 'ignore' }) as ChildProcess & { pid: number }
  await new Promise((resolve) => child.once('spawn', resolve))
})
after(() => void child.kill())

void describe('registry > apply lock', () => {
  void test('a lock left in the store is taken over exactly when its owner is gone', async () => {
    const dead = spawnSync(process.execPath, ['-e', '']).pid!
    const cases: [string, () => string, 'taken' | RegExp][] = [
      [
        'a live process of this host',
        () => owner({ pid: child.pid, startTime: startTimeOf(child.pid) }),
        new RegExp(`process ${child.pid} on here`),
      ],
      [
        'a live process of this host (no start time)',
        () => owner({ pid: child.pid }),
        new RegExp(`process ${child.pid} on here`),
      ],
      ['a dead process of this host', () => owner({ pid: dead, startTime: '1' }), 'taken'],
      ['a pid reused by another process (another start time)', () => owner({ pid: child.pid, startTime: '1' }), 'taken'],
      [
        'another host, within its lease',
        () => owner({ pid: child.pid, host: 'there', acquiredAtMs: NOW - LEASE + WAIT + 1 }),
        /process \d+ on there/,
      ],
      ['another host, its lease run out', () => owner({ pid: child.pid, host: 'there', acquiredAtMs: NOW - LEASE - 1 }), 'taken'],
      ['no host (liveness unknown), within its lease', () => owner({ pid: 0, host: '' }), /another process, since/],
      ['empty', () => '', 'taken'],
      ['not JSON', () => 'garbage', 'taken'],
      ['JSON of another shape', () => JSON.stringify({ pid: 'x' }), 'taken'],
    ]
    assert.ok(isRunning(child.pid, startTimeOf(child.pid)), 'the child runs')
    for (const [what, content, expected] of cases) {
      const store = new MemoryObjectStore()
      await store.put(APPLY_LOCK_KEY, Buffer.from(content()))
      const clock = steppingClock()
      const lock = objectStoreApplyLock(store, clock, { self, isRunning, leaseMs: LEASE, waitMs: WAIT, pollMs: 1_000 })
      const outcome = await lock.acquire().then(
        async (release) => {
          const held = JSON.parse(Buffer.from((await store.get(APPLY_LOCK_KEY))!).toString()) as { pid: number }
          assert.equal(held.pid, process.pid, `${what}: the lock names its new owner`)
          await release()
          assert.equal(await store.get(APPLY_LOCK_KEY), undefined, `${what}: released`)
          return 'taken' as const
        },
        (err: unknown) => err,
      )
      if (expected === 'taken') {
        assert.equal(outcome, 'taken', `${what}: ${String(outcome)}`)
        assert.equal(clock.slept, 0, `${what}: without waiting`)
      } else {
        assert.ok(outcome instanceof FeatureStoreError, `${what}: ${String(outcome)}`)
        assert.match(outcome.message, expected, what)
        assert.match(
          outcome.message,
          /is publishing to the registry; waited 5 s for it: run kfs apply again once it has finished \(if no apply is running, remove memory:\/\/.*registry\/apply\.lock\)/,
          what,
        )
        assert.equal(clock.slept, WAIT, `${what}: waited, then gave up`)
        assert.equal(
          Buffer.from((await store.get(APPLY_LOCK_KEY))!).toString(),
          content(),
          `${what}: the holder's lock is left alone`,
        )
      }
    }
  })

  void test('a second holder in one process waits for the first; a release never removes a lock another took over', async () => {
    const store = new MemoryObjectStore()
    const clock = steppingClock()
    // A wait far longer than this test: the second must get the lock by the first's release, not by giving up.
    const lock = objectStoreApplyLock(store, clock, { self, isRunning, waitMs: Number.MAX_SAFE_INTEGER, pollMs: 1_000 })
    const releaseFirst = await lock.acquire()
    let secondHeld = false
    const second = lock.acquire().then((release) => ((secondHeld = true), release))
    while (clock.slept === 0) await new Promise((resolve) => setImmediate(resolve))
    assert.equal(secondHeld, false, 'waiting while the first holds it')
    await releaseFirst()
    const releaseSecond = await second
    assert.equal(secondHeld, true)
    // The first releasing again (late) must not remove the second's lock.
    await releaseFirst()
    assert.notEqual(await store.get(APPLY_LOCK_KEY), undefined)
    await releaseSecond()
    assert.equal(await store.get(APPLY_LOCK_KEY), undefined)
  })
})
