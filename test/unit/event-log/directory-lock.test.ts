/**
 * The embedded log's directory LOCK: whatever a previous process left in it — its own pid now
 * dead, a pid reused by another process, this process's pid after a restart, nothing readable —
 * the directory is taken over exactly when no live owner holds it, and refused naming the owner
 * when one does; several processes opening it at once leave exactly one owning it.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ConfigError } from '../../../core/errors.ts'
import { lockDirectory, startTimeOf, unlockDirectory } from '../../../adapters/local-disk/directory-lock.ts'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/embedded-event-log.ts'
import { TS_NODE_ARGS } from '../../support/node-ts.ts'

const tempDir = () => mkdtempSync(join(tmpdir(), 'kfs-log-lock-'))

/** A process that has exited: its pid names nobody (until reused). */
const deadPid = () => spawnSync(process.execPath, ['-e', '']).pid!

async function living(): Promise<ChildProcess & { pid: number }> {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 120000)'], { stdio: 'ignore' })
  await new Promise((resolve) => child.once('spawn', resolve))
  return child as ChildProcess & { pid: number }
}

void describe('event log > embedded > directory lock', () => {
  void test('a LOCK is taken over exactly when no live process owns it', async () => {
    const child = await living()
    try {
      const dead = deadPid()
      const own = `${process.pid} ${startTimeOf(process.pid)}`
      const cases: [string, string, 'taken' | RegExp][] = [
        ['a dead pid and its start time', `${dead} 12345`, 'taken'],
        ['a dead pid (no start time)', String(dead), 'taken'],
        [
          'a live pid whose start time matches',
          `${child.pid} ${startTimeOf(child.pid)}`,
          new RegExp(`in use by process ${child.pid} .*remove the LOCK file`),
        ],
        ['a live pid (no start time)', String(child.pid), new RegExp(`in use by process ${child.pid}`)],
        ['a pid reused by another process (another start time)', `${child.pid} 1`, 'taken'],
        ["this process's pid, left by a previous process", `${process.pid} 1`, 'taken'],
        ["this process's pid, with no start time", String(process.pid), 'taken'],
        ['this process itself', own, /already open in this process/],
        ['empty', '', 'taken'],
        ['not a pid', 'garbage', 'taken'],
        ['a negative pid', '-5 1', 'taken'],
        ['pid 0', '0 1', 'taken'],
      ]
      assert.notEqual(startTimeOf(child.pid), '', '/proc gives start times here')
      for (const [what, content, expected] of cases) {
        const dir = tempDir()
        writeFileSync(join(dir, 'LOCK'), content)
        const log = new EmbeddedEventLog({ dir })
        const outcome = await log.createTopic('t', 1).then(
          () => 'taken' as const,
          (err: unknown) => err,
        )
        if (expected === 'taken') {
          assert.equal(outcome, 'taken', `${what}: ${String(outcome)}`)
          assert.equal(readFileSync(join(dir, 'LOCK'), 'utf8'), own, what)
        } else {
          assert.ok(outcome instanceof ConfigError, `${what}: ${String(outcome)}`)
          assert.match(outcome.message, expected, what)
          assert.equal(readFileSync(join(dir, 'LOCK'), 'utf8'), content, `${what}: the owner's LOCK changed`)
        }
        await log.close()
        assert.deepEqual(
          readdirSync(dir).filter((n) => n.startsWith('LOCK')),
          expected === 'taken' ? [] : ['LOCK'],
          `${what}: files left`,
        )
      }
    } finally {
      child.kill()
    }
  })

  void test('one directory under two spellings of its path is one directory', async () => {
    const dir = tempDir()
    const first = new EmbeddedEventLog({ dir })
    await first.createTopic('t', 1)
    const second = new EmbeddedEventLog({ dir: relative(process.cwd(), dir) })
    await assert.rejects(second.endOffsets('t'), /already open in this process/)
    await first.close()
    assert.deepEqual(await second.endOffsets('t'), ['0'])
    await second.close()
  })

  void test('processes opening one directory at once over a stale LOCK: exactly one owns it', async () => {
    const lockModule = fileURLToPath(new URL('../../../adapters/local-disk/directory-lock.ts', import.meta.url))
    {
      const dir = tempDir()
      writeFileSync(join(dir, 'LOCK'), `${deadPid()} 1`)
      const goAt = Date.now() + 2500
      // Each waits for the same moment, tries to lock, says how it went, and holds what it got a while.
      const script = `
        import { lockDirectory } from ${JSON.stringify(lockModule)}
        await new Promise((resolve) => setTimeout(resolve, ${goAt} - Date.now()))
        let outcome = 'locked'
        try { lockDirectory(${JSON.stringify(dir)}) } catch (err) { outcome = err.code ?? String(err) }
        process.stdout.write(outcome)
        setTimeout(() => {}, 1500)
      `
      const children = Array.from({ length: 3 }, () =>
        spawn(process.execPath, [...TS_NODE_ARGS, '--input-type=module', '-e', script], {
          stdio: ['ignore', 'pipe', 'inherit'],
        }),
      )
      const outcomes = await Promise.all(
        children.map(
          (child) =>
            new Promise<string>((resolve) => {
              let out = ''
              child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()))
              child.once('exit', () => resolve(out))
            }),
        ),
      )
      assert.deepEqual(outcomes.sort(), ['CONFIG_INVALID', 'CONFIG_INVALID', 'locked'])
    }
  })

  void test('lock and unlock leave no file behind, and a closed directory opens again', () => {
    const dir = tempDir()
    lockDirectory(dir)
    assert.deepEqual(readdirSync(dir), ['LOCK'])
    assert.throws(() => lockDirectory(dir), /already open in this process/)
    unlockDirectory(dir)
    assert.deepEqual(readdirSync(dir), [])
    lockDirectory(dir)
    unlockDirectory(dir)
  })
})
