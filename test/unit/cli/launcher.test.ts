/**
 * `bin/kfs.mjs` (what `npx kfs`, an installed `kfs` and the Docker image's ENTRYPOINT run):
 * - from any working directory: the launcher must find tsx beside itself, not in the cwd — it
 *   used to fail from every folder outside the checkout with Node's ERR_MODULE_NOT_FOUND stack
 *   trace, before kfs ran. Relative paths in options still mean the cwd's.
 * - a user's definitions module in any TypeScript (an enum, an import without extension), though
 *   kfs's own modules load by Node's type stripping;
 * - a signal sent to it reaches kfs: it ran kfs as a spawnSync child that never got the signal,
 *   so `docker stop` / `kill` / `timeout` did not stop `kfs serve` or `kfs run` cleanly, and
 *   killing the launcher left kfs running on, holding its port and the embedded log's lock.
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../../..', import.meta.url))
const outside = mkdtempSync(join(tmpdir(), 'kfs-launcher-'))
after(() => rmSync(outside, { recursive: true, force: true }))
mkdirSync(join(outside, 'nested', 'deeper'), { recursive: true })
writeFileSync(join(outside, 'events.ndjson'), '\n')

function kfsIn(cwd: string, args: readonly string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/kfs.mjs'), ...args], {
    cwd,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? tmpdir(),
      KFS_LOG_LEVEL: 'silent',
      KFS_DATA_DIR: join(outside, 'data'),
      KFS_FEATURES: join(ROOT, 'examples/features.ts'),
    },
    encoding: 'utf8',
    timeout: 120_000,
  })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

const CWDS: readonly [string, string][] = [
  ['a folder outside the checkout', outside],
  ['a folder two levels below it', join(outside, 'nested', 'deeper')],
  ['the filesystem root', '/'],
  ['the checkout', ROOT],
]

const CASES: readonly { args: readonly string[]; code: number; out?: RegExp; err?: RegExp }[] = [
  { args: ['--version'], code: 0, out: /^kfs \d+\.\d+\.\d+\n$/ },
  { args: ['apply', '--bogus'], code: 2, err: /^kfs apply: unknown option '--bogus'/ },
  {
    args: ['produce', '--topic', 'purchases', '--file', 'no-such.ndjson'],
    code: 2,
    err: /--file: .*no-such\.ndjson does not exist/,
  },
]

void describe('bin/kfs.mjs runs kfs from any working directory', () => {
  for (const [where, cwd] of CWDS) {
    for (const c of CASES) {
      void test(`${where}: kfs ${c.args.join(' ')} → exit ${c.code}`, () => {
        const r = kfsIn(cwd, c.args)
        assert.doesNotMatch(r.stderr, /ERR_MODULE_NOT_FOUND|\n\s+at /, r.stderr)
        assert.equal(r.code, c.code, r.stderr)
        if (c.out !== undefined) assert.match(r.stdout, c.out)
        if (c.err !== undefined) assert.match(r.stderr, c.err)
      })
    }
  }

  void test("a relative --file is the cwd's: the empty file beside the cwd is read (nothing to send: exit 1)", () => {
    const r = kfsIn(outside, ['produce', '--topic', 'purchases', '--file', 'events.ndjson'])
    assert.doesNotMatch(r.stderr, /\n\s+at /, r.stderr)
    assert.equal(r.code, 1, r.stderr)
    assert.match(r.stderr, new RegExp(`${join(outside, 'events.ndjson').replaceAll('/', '\\/')} holds no events`))
  })
})

/**
 * kfs's own modules load by Node's type stripping (Node 24), which takes neither an enum nor an
 * import without its extension; a user's definitions module may use both (tsx loads it), and its
 * hash is the one a tsx-run kfs gave it: a second apply under the other loader changes nothing.
 */
void describe('bin/kfs.mjs: a definitions module in any TypeScript', () => {
  const folder = join(outside, 'any-typescript')
  mkdirSync(folder, { recursive: true })
  writeFileSync(join(folder, 'tiers.ts'), "export enum Tier { Gold = 'gold' }\nexport namespace Notes { export const owner = 'ml@example.com' }\n")
  writeFileSync(
    join(folder, 'defs.ts'),
    [
      `import { entity, featureView, source } from ${JSON.stringify(join(ROOT, 'features/index.ts'))}`,
      `import { readAvroSchema } from ${JSON.stringify(join(ROOT, 'schemas/avro/read-schema.ts'))}`,
      "import { Notes, Tier } from './tiers'",
      "export const user = entity({ name: 'user', joinKeys: ['user_id'], description: `tier ${Tier.Gold}` })",
      `const schema = readAvroSchema(new URL(${JSON.stringify(`file://${join(ROOT, 'schemas/avro/clicks.avsc')}`)}))`,
      "export const clicks = source({ name: 'clicks', topic: 'clicks', schema, eventTimeField: 'ts', keyedBy: user })",
      "export const gold = featureView({ name: 'gold_clicks', version: 1, entity: user, source: clicks, filter: (e: Record<string, unknown>): boolean => e['category'] !== 'hidden', aggregations: [{ op: 'count', windows: ['1h'] }], ttl: '1d', freshnessSla: '1m', owner: Notes.owner, description: 'clicks' })",
    ].join('\n'),
  )
  const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmpdir(), KFS_LOG_LEVEL: 'silent', KFS_DATA_DIR: join(folder, 'data') }

  void test('kfs apply loads it from outside the checkout; applied again under tsx, nothing changed', () => {
    const native = spawnSync(process.execPath, [join(ROOT, 'bin/kfs.mjs'), 'apply', '--features', 'defs.ts'], { cwd: folder, env, encoding: 'utf8' })
    assert.equal(native.status, 0, native.stderr)
    assert.match(native.stdout, /Summary: 3 added/)
    const tsx = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'main/cli.ts'), 'apply', '--features', join(folder, 'defs.ts')], { cwd: ROOT, env, encoding: 'utf8' })
    assert.equal(tsx.status, 0, tsx.stderr)
    assert.match(tsx.stdout, /Summary: 3 unchanged/)
  })
})

/** Waits for `child` to write a line matching `pattern` on stderr; its text so far. */
function stderrUntil(child: ReturnType<typeof spawn>, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = ''
    child.stderr!.on('data', (chunk: Buffer) => {
      text += chunk.toString()
      if (pattern.test(text)) resolve(text)
    })
    child.once('exit', (code) => reject(new Error(`exited (${code}) before ${pattern}: ${text}`)))
  })
}

void describe('bin/kfs.mjs: a signal sent to kfs stops kfs, cleanly', () => {
  const dataDir = join(outside, 'signals')
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? tmpdir(),
    KFS_LOG_LEVEL: 'silent',
    KFS_DATA_DIR: dataDir,
    KFS_FEATURES: join(ROOT, 'examples/features.ts'),
  }
  const launch = (args: readonly string[]) =>
    spawn(process.execPath, [join(ROOT, 'bin/kfs.mjs'), ...args], { cwd: outside, env, stdio: ['ignore', 'pipe', 'pipe'] })
  const exited = (child: ReturnType<typeof spawn>) =>
    new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    void test(`kfs serve, ${signal}: it stops (exit 0) and its port closes`, async () => {
      assert.equal(spawnSync(process.execPath, [join(ROOT, 'bin/kfs.mjs'), 'apply'], { cwd: outside, env }).status, 0)
      const child = launch(['serve', '--port', '0'])
      const started = await stderrUntil(child, /serving \d+ views on (http:\/\/127\.0\.0\.1:\d+)/)
      const base = /serving \d+ views on (http:\/\/127\.0\.0\.1:\d+)/.exec(started)![1]!
      assert.equal((await fetch(`${base}/healthz`)).status, 200)
      const stopping = stderrUntil(child, new RegExp(`stopping \\(${signal}\\)`))
      const code = exited(child)
      child.kill(signal)
      await stopping
      assert.equal(await code, 0)
      // Nothing of kfs is left behind serving on the port.
      await assert.rejects(fetch(`${base}/healthz`))
    })
  }

  void test('kfs run, SIGTERM: the engine stops with its summary (exit 0)', async () => {
    assert.equal(spawnSync(process.execPath, [join(ROOT, 'bin/kfs.mjs'), 'apply'], { cwd: outside, env }).status, 0)
    const child = launch(['run'])
    let stdout = ''
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    await stderrUntil(child, /engine running/)
    const code = exited(child)
    child.kill('SIGTERM')
    assert.equal(await code, 0)
    assert.match(stdout, /engine stopped \(SIGTERM\)/)
  })
})

/**
 * `kfs registry list | head -1`, `kfs --help | less` quit early: the reader closes the pipe and the
 * next write fails with EPIPE. That error was an unhandled 'error' event: kfs died with a stack
 * trace and exit 1, whatever the command was doing (a `kfs run | head` mid-run). What nobody reads
 * is dropped now; the command runs to its end and exits with its own code.
 */
void describe('bin/kfs.mjs: a reader that closes its pipe early', () => {
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? tmpdir(),
    KFS_LOG_LEVEL: 'silent',
    KFS_DATA_DIR: join(outside, 'pipes'),
  }
  const CASES: readonly { closed: 'stdout' | 'stderr'; args: readonly string[]; code: number }[] = [
    { closed: 'stdout', args: ['--help'], code: 0 },
    { closed: 'stdout', args: ['apply', '--bogus', '--json'], code: 2 },
    { closed: 'stderr', args: ['apply', '--bogus'], code: 2 },
  ]
  for (const { closed, args, code } of CASES) {
    void test(`kfs ${args.join(' ')} with its ${closed} closed: exit ${code}, no crash`, async () => {
      const child = spawn(process.execPath, [join(ROOT, 'bin/kfs.mjs'), ...args], {
        cwd: outside,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      // Closed before kfs has even started: its first write to that stream meets EPIPE.
      child[closed].destroy()
      const open = closed === 'stdout' ? child.stderr : child.stdout
      let other = ''
      open.on('data', (chunk: Buffer) => (other += chunk.toString()))
      const exitCode = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)))
      assert.doesNotMatch(other, /EPIPE|Unhandled 'error' event/, `the closed pipe crashed kfs:\n${other}`)
      assert.equal(exitCode, code, other)
    })
  }
})
