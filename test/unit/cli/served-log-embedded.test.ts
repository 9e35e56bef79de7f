/**
 * `kfs run` and `kfs serve --log-topic` on the embedded defaults, as real processes on one
 * KFS_DATA_DIR. Before, serve took ownership of the embedded log at its first served-feature
 * record: a `kfs run` started after that was refused ("embedded log … is in use by process
 * <serve's pid>"), and serve's log could not write while run held it. Now serve never owns the
 * log: it hands its records over in files beside it and run moves them in while both run.
 *
 * For each start order (serve first, run first) × serve stopping cleanly or being killed
 * (SIGKILL) with records in a file it had not finished × run restarting in between after a clean
 * stop or a SIGKILL: run is never refused, serve never takes the log's LOCK, records reach the
 * topic while both run, and at the end every request serve logged is in the topic, with nothing
 * left waiting. Exactly once where run stopped cleanly; after run was killed a record may be there
 * twice (the move is at least once), but only as an identical copy — same request id, view,
 * entity and served-at time.
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { EmbeddedLogReader } from '../../../adapters/event-log/embedded/embedded-log-reader.ts'
import { pendingDirOf } from '../../../adapters/event-log/embedded/pending-records.ts'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { readToEnd } from '../../../replay/dead-letters/read-to-end.ts'
import { createDecoder } from '../../../schemas/decoder.ts'
import { SERVED_FEATURES_SCHEMA } from '../../../serving/served-log/index.ts'

const ROOT = fileURLToPath(new URL('../../..', import.meta.url))
const dataDir = mkdtempSync(join(tmpdir(), 'kfs-served-log-embedded-'))
/** Every process launched: none outlives the file, even when a test timed out while waiting. */
const launched: Kfs[] = []
after(async () => {
  await killAll(launched)
  rmSync(dataDir, { recursive: true, force: true })
})

async function killAll(all: readonly Kfs[]): Promise<void> {
  for (const kfs of all) {
    kfs.child.kill('SIGCONT')
    kfs.child.kill('SIGKILL')
    await kfs.exited
  }
}
/** The running test's signal: a wait stops when the runner gives up on the test. */
let testSignal: AbortSignal | undefined
const logDir = join(dataDir, 'log')
const env = {
  PATH: process.env.PATH ?? '',
  HOME: process.env.HOME ?? tmpdir(),
  KFS_LOG_LEVEL: 'warn',
  KFS_DATA_DIR: dataDir,
  KFS_FEATURES: join(ROOT, 'examples/features.ts'),
  KFS_EMBEDDED_LOG_HANDOVER_MS: '200',
}

interface Kfs {
  readonly child: ChildProcess & { pid: number }
  stderr: string
  readonly exited: Promise<number | null>
}

function launch(args: readonly string[]): Kfs {
  const child = spawn(process.execPath, [join(ROOT, 'bin/kfs.mjs'), ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const kfs: Kfs = {
    child: child as ChildProcess & { pid: number },
    stderr: '',
    exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))),
  }
  child.stderr.on('data', (chunk: Buffer) => (kfs.stderr += chunk.toString()))
  child.stdout.resume()
  launched.push(kfs)
  return kfs
}

/** Resolves once `kfs` said `pattern` on stderr; fails if it exits first (a refused run does). */
async function said(kfs: Kfs, pattern: RegExp): Promise<string> {
  let exited = false
  void kfs.exited.then(() => (exited = true))
  for (;;) {
    const m = pattern.exec(kfs.stderr)
    if (m) return m[1] ?? m[0]
    if (exited) assert.fail(`exited (${await kfs.exited}) before saying ${pattern}:\n${kfs.stderr}`)
    testSignal?.throwIfAborted()
    await sleep(20)
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Waits for `done`; bounded by the test runner's timeout, not a time of our own (nothing here is a deadline). */
async function until(done: () => Promise<boolean> | boolean): Promise<void> {
  while (!(await done())) {
    testSignal?.throwIfAborted()
    await sleep(25)
  }
}

const decoder = createDecoder({
  registry: new EmbeddedSchemaRegistry({ dir: join(dataDir, 'schemas') }),
  readerSchema: SERVED_FEATURES_SCHEMA,
})

async function decoded(value: Uint8Array | null): Promise<Record<string, unknown>> {
  const result = await decoder.decode(value)
  assert.ok(result.ok, `a served-feature record that does not decode: ${JSON.stringify(result)}`)
  return result.event
}

const requestIdOf = async (value: Uint8Array | null) => String((await decoded(value)).request_id)

/** The records of `topic` as the log's writer acknowledged them (read beside it, taking no lock): request id, and what tells a copy from another lookup. */
async function topicRecords(topic: string): Promise<{ id: string; identity: string }[]> {
  const reader = new EmbeddedLogReader({ dir: logDir })
  try {
    const records = (await readToEnd(reader, [topic], { groupPrefix: 'check' })).get(topic) ?? []
    return await Promise.all(
      records.map(async (r) => {
        const e = await decoded(r.value)
        return { id: String(e.request_id), identity: JSON.stringify([e.request_id, e.view, e.entity_key, e.served_at]) }
      }),
    )
  } finally {
    await reader.close()
  }
}

/** The distinct request ids in `topic`. */
const inTopic = async (topic: string) => [...new Set((await topicRecords(topic)).map((r) => r.id))]

/** Files waiting beside the log, with the request ids of their whole lines. */
async function pending(): Promise<{ name: string; ids: string[] }[]> {
  const dir = pendingDirOf(logDir)
  if (!existsSync(dir)) return []
  const out: { name: string; ids: string[] }[] = []
  for (const name of readdirSync(dir).sort()) {
    const lines = readFileSync(join(dir, name), 'utf8').split('\n')
    lines.pop() // a line being appended
    const ids: string[] = []
    for (const line of lines) ids.push(await requestIdOf(Buffer.from((JSON.parse(line) as { value: string }).value, 'base64')))
    out.push({ name, ids })
  }
  return out
}

async function get(base: string, requestId: string): Promise<void> {
  const res = await fetch(`${base}/v1/features/user_purchases/u1`, { headers: { 'x-request-id': requestId } })
  assert.equal(res.status, 200, await res.text())
  assert.equal(res.headers.get('x-request-id'), requestId)
}

/** Serves `ids` one request each; the ids, for the tally. */
async function serveRound(base: string, ids: string[]): Promise<string[]> {
  for (const id of ids) await get(base, id)
  return ids
}

const lockHolder = () => (existsSync(join(logDir, 'LOCK')) ? readFileSync(join(logDir, 'LOCK'), 'utf8').split(' ')[0] : undefined)

async function startRun(): Promise<Kfs> {
  const run = launch(['run'])
  await said(run, /engine running/)
  return run
}

async function stop(kfs: Kfs, signal: NodeJS.Signals): Promise<number | null> {
  kfs.child.kill(signal)
  return kfs.exited
}

/**
 * Logs one more request and kills serve while that record is in a file it has not finished: it
 * is stopped (SIGSTOP) once the record is on disk, and killed only if the file is still open then;
 * if serve finished the file in between, it goes on and tries again with the next request.
 */
async function killMidFile(serve: Kfs, base: string, prefix: string): Promise<string[]> {
  const sent: string[] = []
  const openFileWith = async (id: string) =>
    (await pending()).some((f) => f.name.startsWith(`${serve.child.pid}-`) && !f.name.includes('.ready') && f.ids.includes(id))
  for (let attempt = 0; ; attempt++) {
    const id = `${prefix}-killed-${attempt}`
    sent.push(...(await serveRound(base, [id])))
    await until(
      async () =>
        (await openFileWith(id)) ||
        (await pending()).some((f) => f.ids.includes(id)) ||
        (await inTopic(topicOf(prefix))).includes(id),
    )
    serve.child.kill('SIGSTOP')
    if (await openFileWith(id)) {
      serve.child.kill('SIGKILL')
      assert.equal(await serve.exited, null)
      return sent
    }
    serve.child.kill('SIGCONT')
  }
}

const topicOf = (name: string) => `served-${name}`

before(() => {
  const applied = spawnSync(process.execPath, [join(ROOT, 'bin/kfs.mjs'), 'apply'], { cwd: ROOT, env, encoding: 'utf8' })
  assert.equal(applied.status, 0, applied.stderr)
})

const CASES = (['serve first', 'run first'] as const).flatMap((order) =>
  (['SIGTERM', 'SIGKILL'] as const).flatMap((serveStops) =>
    (['SIGTERM', 'SIGKILL'] as const).map((runRestarts) => ({ order, serveStops, runRestarts })),
  ),
)

for (const [i, c] of CASES.entries()) {
  void test(`${c.order}, serve stopped by ${c.serveStops}, run restarted after ${c.runRestarts}: run is never refused, every logged request reaches the topic`, async (t) => {
    testSignal = t.signal
    const name = `case${i}`
    const topic = topicOf(name)
    const sent: string[] = []
    const children: Kfs[] = []
    try {
      let run: Kfs | undefined
      if (c.order === 'run first') children.push((run = await startRun()))
      const serve = launch(['serve', '--port', '0', '--log-topic', topic, '--log-sample', '1'])
      children.push(serve)
      const base = await said(serve, /serving \d+ views on (http:\/\/127\.0\.0\.1:\d+)/)
      await said(serve, new RegExp(`→ topic ${topic} \\(through ${logDir}\\.pending/, moved in by kfs run\\)`))
      sent.push(...(await serveRound(base, [`${name}-a1`, `${name}-a2`, `${name}-a3`])))
      if (run === undefined) {
        // The records are on disk beside the log, and serve took no LOCK for them.
        await until(async () => (await pending()).flatMap((f) => f.ids).includes(`${name}-a3`))
        assert.notEqual(lockHolder(), String(serve.child.pid), 'serve does not own the log')
        children.push((run = await startRun()))
      }
      assert.equal(lockHolder(), String(run.child.pid), 'run owns the log')
      // While both run, the records reach the topic.
      await until(async () => (await inTopic(topic)).length === sent.length)

      // run restarts; serve logs on meanwhile, and the restarted run is not refused either.
      assert.equal(await stop(run, c.runRestarts), c.runRestarts === 'SIGTERM' ? 0 : null, run.stderr)
      sent.push(...(await serveRound(base, [`${name}-b1`, `${name}-b2`])))
      children.push((run = await startRun()))
      sent.push(...(await serveRound(base, [`${name}-c1`, `${name}-c2`])))
      await until(async () => (await inTopic(topic)).length === sent.length)

      if (c.serveStops === 'SIGKILL') sent.push(...(await killMidFile(serve, base, name)))
      else {
        sent.push(...(await serveRound(base, [`${name}-d1`])))
        assert.equal(await stop(serve, 'SIGTERM'), 0, serve.stderr)
      }
      // What serve left behind is moved in by the running run, without a restart.
      await until(async () => (await inTopic(topic)).length >= sent.length && (await pending()).length === 0)
      assert.equal(await stop(run, 'SIGTERM'), 0, run.stderr)

      const got = await topicRecords(topic)
      assert.deepEqual([...new Set(got.map((r) => r.id))].sort(), [...sent].sort(), 'every logged request')
      for (const id of sent) {
        const copies = got.filter((r) => r.id === id)
        if (c.runRestarts === 'SIGTERM') assert.equal(copies.length, 1, `${id}: once, run never died`)
        else assert.equal(new Set(copies.map((r) => r.identity)).size, 1, `${id}: more than once only as an identical copy`)
      }
      assert.deepEqual(await pending(), [], 'nothing left waiting, nothing kept aside as damaged')
      for (const kfs of children)
        assert.doesNotMatch(kfs.stderr, /in use by process|served-log records dropped|cannot hand|cannot move/, kfs.stderr)
    } finally {
      await killAll(children)
    }
  })
}
