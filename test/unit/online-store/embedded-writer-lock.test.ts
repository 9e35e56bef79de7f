/**
 * The embedded online store has one writer per directory: a second writer — in this process, or
 * in another (a `kfs replay --online` while `kfs run` writes) — is refused with a ConfigError
 * naming the directory, the holder and what to do, and changes nothing; a LOCK left by a process
 * that died is taken over, and the rows it synced are there. Before, two writers each folded
 * their own rows over the other's file and deleted the other's journal as a leftover.
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { ConfigError } from '../../../core/errors.ts'
import { startTimeOf } from '../../../adapters/local-disk/directory-lock.ts'
import { EmbeddedOnlineFollower } from '../../../adapters/online-store/embedded/embedded-online-follower.ts'
import { EmbeddedOnlineStore } from '../../../adapters/online-store/embedded/embedded-online-store.ts'
import { feature, plainRead, row, view } from '../../contracts/online-store.ts'
import { TS_NODE_ARGS } from '../../support/node-ts.ts'

const v = view('locked', [feature('x', 'double')], { ttlMs: 10_000_000_000 })
const STORE = fileURLToPath(new URL('../../../adapters/online-store/embedded/embedded-online-store.ts', import.meta.url))

async function withDir(fn: (dir: string, path: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'kfs-online-lock-'))
  try {
    await fn(dir, join(dir, 'online-store.json'))
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const name of (await readdir(dir)).sort()) out[name] = await readFile(join(dir, name), 'latin1')
  return out
}

const readX = async (store: Pick<EmbeddedOnlineStore, 'readRows'>, key: string) =>
  plainRead((await store.readRows([{ view: v, entityKey: key, features: ['x'] }], Date.now()))[0])?.values[0] ?? null

/** Another process writing the store at `path`: it writes and syncs key `k` = 7, says "ready", and holds the store until killed. */
async function otherWriter(path: string): Promise<{ pid: number; kill(): Promise<void> }> {
  const script = `
    import { EmbeddedOnlineStore } from ${JSON.stringify(STORE)}
    const v = ${JSON.stringify(v)}
    const store = await EmbeddedOnlineStore.open({ path: ${JSON.stringify(path)} })
    await store.writeRows(v, [{ entityKey: 'k', asOfMs: Date.now(), createdAtMs: Date.now(), values: [7] }])
    await store.sync()
    process.stdout.write('ready\\n')
    setTimeout(() => {}, 120000)
  `
  const child = spawn(process.execPath, [...TS_NODE_ARGS, '--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]()
  assert.equal((await lines.next()).value, 'ready')
  return {
    pid: child.pid!,
    async kill() {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGKILL')
      await exited
    },
  }
}

void describe('online store > embedded > one writer', () => {
  void test('a second writer in this process is refused until the first closes; a follower is not a writer', () =>
    withDir(async (dir, path) => {
      const first = await EmbeddedOnlineStore.open({ path })
      await first.writeRows(v, [row('k', Date.now(), [1])])
      await first.sync()
      const before = await snapshot(dir)
      await assert.rejects(
        EmbeddedOnlineStore.open({ path }),
        (err: unknown) =>
          err instanceof ConfigError && err.message.includes(`embedded online store ${dir} is already open in this process`),
      )
      assert.deepEqual(await snapshot(dir), before, 'the refused open changed nothing')
      const follower = await EmbeddedOnlineFollower.follow({ path, pollMs: 0 })
      assert.equal(await readX(follower, 'k'), 1)
      await follower.close()
      await first.close()
      const second = await EmbeddedOnlineStore.open({ path })
      assert.equal(await readX(second, 'k'), 1)
      await second.close()
      assert.deepEqual(
        (await readdir(dir)).filter((n) => n.startsWith('LOCK')),
        [],
        'closed: no LOCK left',
      )
    }))

  void test("another process's writer holds the directory: refused naming its pid and what to do; once it died, taken over with its rows", () =>
    withDir(async (dir, path) => {
      const other = await otherWriter(path)
      try {
        const before = await snapshot(dir)
        const refusal = await EmbeddedOnlineStore.open({ path }).then(
          () => undefined,
          (err: unknown) => err,
        )
        assert.ok(refusal instanceof ConfigError, String(refusal))
        assert.equal(refusal.code, 'CONFIG_INVALID')
        assert.deepEqual(refusal.context, { dir, heldByPid: other.pid })
        for (const said of [
          `embedded online store ${dir}`,
          `in use by process ${other.pid}`,
          'one writer at a time',
          'stop that kfs',
          'KFS_REDIS_URL',
          'kfs serve',
        ])
          assert.ok(refusal.message.includes(said), `${said}: ${refusal.message}`)
        assert.deepEqual(await snapshot(dir), before, 'the refused open changed nothing')
      } finally {
        await other.kill()
      }
      // It died without closing: its LOCK stays behind, naming a process that is gone.
      assert.equal((await readFile(join(dir, 'LOCK'), 'utf8')).split(' ')[0], String(other.pid))
      const next = await EmbeddedOnlineStore.open({ path })
      assert.equal(await readX(next, 'k'), 7, 'the rows it synced are there')
      assert.equal(await readFile(join(dir, 'LOCK'), 'utf8'), `${process.pid} ${startTimeOf(process.pid)}`)
      await next.close()
    }))

  void test('a stale LOCK (a dead process, a reused pid, nothing readable) is taken over', async () => {
    const dead = spawnSync(process.execPath, ['-e', '']).pid!
    for (const [what, content] of [
      ['a dead pid and its start time', `${dead} 12345`],
      ['a pid reused by another process', `${process.pid} 1`],
      ['empty', ''],
    ] as const) {
      await withDir(async (dir, path) => {
        await writeFile(join(dir, 'LOCK'), content)
        const store = await EmbeddedOnlineStore.open({ path })
        await store.writeRows(v, [row('k', 1, [2])])
        await store.close()
        // The LOCK is gone; the file and its acknowledged-end slots stay.
        assert.deepEqual(
          await readdir(dir),
          ['online-store.json', 'online-store.json.acked-0', 'online-store.json.acked-1'],
          what,
        )
      })
    }
  })
})
