/**
 * A long-running command listens for SIGINT and SIGTERM from before it says it is ready. A
 * supervisor (or a test, or `docker stop` right after start) that sends the signal on seeing the
 * ready line must find kfs's listener there: without one, Node's default action kills the process
 * with no final checkpoint and no clean close (the launcher test's `kfs run, SIGTERM` read exit
 * code null on a loaded machine). Each command runs in this process; at the moment it writes its
 * ready line the test looks for its listener, then stops it through that listener.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { systemClock } from '../../../core/clock.ts'
import type { CommandContext } from '../../../main/commands/command.ts'
import { openObjectStore } from '../../../main/commands/context.ts'
import { commands } from '../../../main/commands/index.ts'
import { runCli } from '../../../main/commands/router.ts'
import { listenForStop } from '../../../main/commands/stop-signal.ts'
import { loadConfig } from '../../../main/config.ts'

const ROOT = fileURLToPath(new URL('../../..', import.meta.url))
const dataDir = mkdtempSync(join(tmpdir(), 'kfs-stop-signal-'))
after(() => rmSync(dataDir, { recursive: true, force: true }))
const env = {
  KFS_DATA_DIR: dataDir,
  KFS_FEATURES: join(ROOT, 'examples/features.ts'),
  KFS_LOG_LEVEL: 'silent',
}

/** Runs `args` in this process; when a stderr line matches `ready`, the signal listeners added since the start must be there, and the SIGTERM one is called. */
async function stopOnReady(
  args: readonly string[],
  ready: RegExp,
): Promise<{ code: number; out: string; err: string; listenersAtReady: number[] }> {
  const baseline = [process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')]
  const captured = { out: '', err: '', listenersAtReady: [] as number[] }
  let signalled = false
  const context = (json: boolean): CommandContext => ({
    cwd: dataDir,
    json,
    env,
    clock: systemClock,
    out: (t) => void (captured.out += t),
    err: (t) => {
      captured.err += t
      if (signalled || !ready.test(t)) return
      signalled = true
      captured.listenersAtReady = [
        process.listenerCount('SIGINT') - baseline[0]!,
        process.listenerCount('SIGTERM') - baseline[1]!,
      ]
      // What the process would do on SIGTERM: call the listeners kfs added (the runner's own stay
      // out of it) — a moment later, so a command that adds them only after its ready line still
      // stops, and fails on the counts above rather than hanging.
      setImmediate(() => {
        for (const listener of process.listeners('SIGTERM').slice(baseline[1])) (listener as () => void)()
      })
    },
    config: () => loadConfig(env),
    openObjectStore: () => openObjectStore(loadConfig(env)),
  })
  const code = await runCli(args, commands, context)
  assert.deepEqual(
    [process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')],
    baseline,
    'the command removed its listeners',
  )
  return { code, ...captured }
}

/** A port nothing listens on now (the kernel's pick for port 0, released). */
async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

void describe('cli > long-running commands listen for their stop signal before they say they are ready', () => {
  void test('listenForStop: one listener per signal, the first signal named, none left after dispose', async () => {
    const before = [process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')]
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      const stop = listenForStop()
      assert.deepEqual([process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')], [before[0]! + 1, before[1]! + 1])
      for (const listener of process.listeners(signal).slice(before[signal === 'SIGINT' ? 0 : 1])) (listener as () => void)()
      assert.equal(await stop.received, signal)
      stop.dispose()
      assert.deepEqual([process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')], before)
    }
  })

  void test('kfs apply, then kfs run: listening at "engine running", stopped by it with the summary (exit 0)', async () => {
    let applyErr = ''
    const apply = await runCli(['apply'], commands, (json) => ({
      cwd: dataDir,
      json,
      env,
      clock: systemClock,
      out: () => undefined,
      err: (t) => void (applyErr += t),
      config: () => loadConfig(env),
      openObjectStore: () => openObjectStore(loadConfig(env)),
    }))
    assert.equal(apply, 0, applyErr)
    const run = await stopOnReady(['run'], /engine running/)
    assert.deepEqual(run.listenersAtReady, [1, 1], run.err)
    assert.equal(run.code, 0, run.err)
    assert.match(run.out, /engine stopped \(SIGTERM\)/)
  })

  void test('kfs serve: listening at "serving N views", stopped by it (exit 0)', async () => {
    const serve = await stopOnReady(['serve', '--port', String(await freePort())], /serving \d+ views on/)
    assert.deepEqual(serve.listenersAtReady, [1, 1], serve.err)
    assert.equal(serve.code, 0, serve.err)
    assert.match(serve.err, /stopping \(SIGTERM\)/)
  })
})
