/**
 * `kfs run` and `kfs serve` in two processes on the embedded defaults (no servers), as a user runs
 * them in two terminals: serve started first, then `kfs run` starts beside it (serve's catalog reads
 * the embedded event log without owning it) and the catalog page shows the view's progress from
 * run's checkpoints; serve follows the rows run writes — those of a new `kfs run` after serve
 * started too, by GET and WebSocket push; a second writer (`kfs replay --online-from-offline`)
 * while run holds the store fails with a clear message and changes nothing; stopping serve and
 * restarting run loses no row. Before, serve served the rows it found at start forever, and its
 * close wrote them over run's file: every row run had written since was gone; and a serve started
 * first held the event log's LOCK for its catalog, so a kfs run started after it was refused.
 */
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { createServer as createNetServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { encodeEntityKey } from '../../../core/entity-key.ts'
import { userPurchases } from '../../../examples/features.ts'
import { loadConfig } from '../../../main/config.ts'
import { createRuntime } from '../../../main/runtime.ts'
import { plainRead } from '../../contracts/online-store.ts'
import { runKfs, startKfs as startChild, type KfsChild } from '../../support/kfs-process.ts'
import { openWs } from '../../unit/serving/ws-client.ts'

const USERS = ['u0', 'u1', 'u2', 'u3', 'u4', 'u5']

/** A kfs child whose stderr so far can be read while it runs. */
function startKfs(args: readonly string[], env: Record<string, string>): KfsChild & { stderr(): string } {
  const started = startChild(args, env)
  let stderr = ''
  started.child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
  return { ...started, stderr: () => stderr }
}

async function freePort(): Promise<number> {
  const server = createNetServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** Waits (up to a minute: two processes start on a shared machine) until `probe` answers something. */
async function eventually<T>(what: string, probe: () => Promise<T | undefined>, child?: KfsChild): Promise<T> {
  for (let i = 0; i < 600; i++) {
    const got = await probe().catch(() => undefined)
    if (got !== undefined) return got
    if (child?.child.exitCode != null)
      assert.fail(`${what}: the process exited ${child.child.exitCode}: ${(await child.done).stderr}`)
    await new Promise((r) => setTimeout(r, 100))
  }
  return assert.fail(`${what}: not within a minute`)
}

async function stop(child: KfsChild): Promise<string> {
  child.child.kill('SIGTERM')
  const result = await child.done
  assert.equal(result.code, 0, `stopped with SIGTERM: ${result.stderr}`)
  return result.stderr
}

/** The catalog page's progress line of `view` ("last checkpoint … · N records behind"), undefined while it shows none. */
async function catalogProgress(base: string, view: string): Promise<{ lag: number; text: string } | undefined> {
  const page = await (await fetch(`${base}/`)).text()
  const section = page.split('<section class="view').find((s) => s.includes(`data-view="${view}@`))
  const progress = section?.match(/<span class="progress" data-lag="(\d+)">(last checkpoint [^<]*)<\/span>/)
  return progress === null || progress === undefined ? undefined : { lag: Number(progress[1]), text: progress[2]! }
}

void test("serving > kfs serve started first, then kfs run beside it: serve follows run on the embedded store and its catalog shows run's progress; a second writer is refused; nothing is lost", async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'kfs-run-and-serve-'))
  const port = await freePort()
  const env = { KFS_DATA_DIR: dataDir, KFS_SERVE_PORT: String(port), KFS_CHECKPOINT_INTERVAL_MS: '300' }
  const base = `http://127.0.0.1:${port}`
  const onlineDir = join(dataDir, 'online')
  const readAll = async (): Promise<unknown[]> => {
    const runtime = await createRuntime(loadConfig({ ...env, KFS_LOG_LEVEL: 'silent' }))
    try {
      const store = await runtime.onlineStore('read')
      const reads = await store.readRows(
        USERS.map((u) => ({
          view: userPurchases,
          entityKey: encodeEntityKey([u]),
          features: userPurchases.features.map((f) => f.name),
        })),
        Date.now(),
      )
      return reads.map(plainRead)
    } finally {
      await runtime.close()
    }
  }
  let serve: ReturnType<typeof startKfs> | undefined
  let run: ReturnType<typeof startKfs> | undefined
  try {
    await runKfs(['apply'], env)
    await runKfs(
      ['produce', '--generate', '3000', '--start', new Date(Date.now() - 30 * 60_000).toISOString(), '--seed', '3'],
      env,
    )
    // serve first: its catalog reads the event log (progress, dead letters) without taking its LOCK.
    serve = startKfs(['serve'], env)
    await eventually('kfs serve listens', async () => ((await fetch(`${base}/healthz`)).ok ? true : undefined), serve)
    await eventually('the catalog page lists the view', async () => ((await fetch(`${base}/`)).ok ? true : undefined), serve)
    assert.ok(!existsSync(join(dataDir, 'log', 'LOCK')), "serve's catalog holds no LOCK of the event log")
    run = startKfs(['run'], env)
    await eventually(
      'kfs run writes the online store',
      async () => ((await readdir(onlineDir).catch(() => [] as string[])).includes('LOCK') ? true : undefined),
      run,
    )
    await eventually(
      'kfs run owns the event log, started after serve',
      async () =>
        (await readFile(join(dataDir, 'log', 'LOCK'), 'utf8')).split(' ')[0] === String(run!.child.pid) ? true : undefined,
      run,
    )
    // The page refreshes its progress every 15 s (when looked at): run's checkpoints show up then.
    const progress = await eventually(
      "serve's catalog shows run's progress on the view's topic",
      async () => catalogProgress(base, 'user_purchases'),
      run,
    )
    assert.match(progress.text, /^last checkpoint \d{4}-\d\d-\d\dT.* · [\d,]+ records behind$/)
    assert.doesNotMatch(serve.stderr(), /catalog: cannot read/, 'the catalog read the log beside run')
    const first = await eventually(
      'kfs serve serves the rows kfs run writes',
      async () => {
        const body = (await (await fetch(`${base}/v1/features/user_purchases/u0`)).json()) as { status: string; as_of: number }
        return body.status === 'PRESENT' ? body : undefined
      },
      run,
    )

    // A second writer while run holds the store: refused, clearly, having changed nothing.
    const lock = await readFile(join(onlineDir, 'LOCK'), 'utf8')
    assert.equal(lock.split(' ')[0], String(run.child.pid), 'kfs run holds the store')
    const replayChild = startKfs(['replay', '--online-from-offline'], env)
    const replay = await replayChild.done
    assert.equal(replay.code, 1, replay.stderr)
    assert.match(
      replay.stderr,
      new RegExp(
        `kfs replay: embedded online store ${onlineDir} is in use by process ${run.child.pid}: .*one writer at a time.*KFS_REDIS_URL`,
      ),
    )
    assert.doesNotMatch(replay.stderr, /\n\s+at /, 'no stack trace')
    assert.equal(await readFile(join(onlineDir, 'LOCK'), 'utf8'), lock, "run's LOCK is left as it was")
    assert.deepEqual(
      (await readdir(onlineDir)).filter((name) => name.includes(String(replayChild.child.pid))),
      [],
      'no file of the refused writer',
    )

    // New events, and a new kfs run: rows written after serve started are served and pushed.
    await stop(run)
    run = undefined
    const ws = await openWs(port, '/v1/subscribe')
    ws.send(JSON.stringify({ subscribe: [{ view: 'user_purchases', entity: 'u0' }] }))
    assert.equal(JSON.parse(await ws.next()).type, 'subscribed')
    const snapshot = JSON.parse(await ws.next()) as { status: string; as_of: number }
    assert.equal(snapshot.status, 'PRESENT')
    assert.ok(snapshot.as_of >= first.as_of)
    await runKfs(
      ['produce', '--generate', '1000', '--start', new Date(Date.now() - 5 * 60_000).toISOString(), '--seed', '4'],
      env,
    )
    run = startKfs(['run'], env)
    const later = await eventually(
      'kfs serve serves a row kfs run wrote after serve started',
      async () => {
        const body = (await (await fetch(`${base}/v1/features/user_purchases/u0`)).json()) as { status: string; as_of: number }
        return body.as_of > snapshot.as_of ? body : undefined
      },
      run,
    )
    const pushed = JSON.parse(await ws.next(60_000)) as { type: string; entity: string; as_of: number }
    assert.deepEqual([pushed.type, pushed.entity], ['row', 'u0'], 'pushed across processes')
    assert.ok(pushed.as_of > snapshot.as_of && pushed.as_of <= later.as_of)
    ws.close()

    await stop(run)
    run = undefined
    const landed = await readAll()
    assert.ok(landed.filter((r) => (r as { status: string }).status === 'PRESENT').length >= 3, JSON.stringify(landed))
    // serve stops after run: before, its close wrote the rows it had loaded at start over run's.
    await stop(serve)
    serve = undefined
    assert.deepEqual(await readAll(), landed, 'serve stopping changed no row')
    await runKfs(['run', '--until-caught-up', '--idle', '1s'], env)
    assert.deepEqual(await readAll(), landed, 'run restarted: every row is still there')
  } finally {
    if (run) await stop(run).catch(() => undefined)
    if (serve) await stop(serve).catch(() => undefined)
    await rm(dataDir, { recursive: true, force: true })
  }
})
