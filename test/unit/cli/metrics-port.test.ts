import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import client from 'prom-client'
import { listenForMetrics, MetricsPortError } from '../../../main/metrics-server.ts'
import { KFS_BIN } from '../../support/node-ts.ts'

const repo = fileURLToPath(new URL('../../../', import.meta.url))

/** A port this test holds open, so anything else binding it gets EADDRINUSE. */
let busy: Server
let busyPort: number
const dataDir = mkdtempSync(join(tmpdir(), 'kfs-metrics-port-'))

before(async () => {
  busy = createServer()
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve))
  busyPort = (busy.address() as { port: number }).port
})
after(() => {
  busy.close()
  rmSync(dataDir, { recursive: true, force: true })
})

function kfs(
  args: readonly string[],
  extraEnv: Record<string, string> = {},
): { code: number | null; stdout: string; stderr: string } {
  const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmpdir(), KFS_DATA_DIR: dataDir, ...extraEnv }
  const r = spawnSync(process.execPath, [KFS_BIN, ...args], {
    cwd: repo,
    env,
    encoding: 'utf8',
  })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

void describe('metrics port', () => {
  void test('a busy port is a MetricsPortError naming the variable and the fix', async () => {
    await assert.rejects(
      listenForMetrics('127.0.0.1', busyPort, () => undefined),
      (err: unknown) => {
        assert.ok(err instanceof MetricsPortError)
        assert.equal(err.code, 'EADDRINUSE')
        assert.match(err.message, new RegExp(`KFS_METRICS_PORT=${busyPort}: 127\\.0\\.0\\.1:${busyPort} is already in use`))
        assert.match(err.message, /unset KFS_METRICS_PORT/)
        return true
      },
    )
  })

  void test('a bound port answers 503 until the registry is exposed, then the metrics', async () => {
    const probe = createServer()
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
    const port = (probe.address() as { port: number }).port
    await new Promise<void>((resolve) => probe.close(() => resolve()))
    const metrics = await listenForMetrics('127.0.0.1', port, () => undefined)
    try {
      assert.equal((await fetch(`http://127.0.0.1:${port}/metrics`)).status, 503)
      const registry = new client.Registry()
      new client.Gauge({ name: 'kfs_probe', help: 'probe', registers: [registry] }).set(7)
      metrics.expose(registry)
      const res = await fetch(`http://127.0.0.1:${port}/metrics`)
      assert.equal(res.status, 200)
      assert.match(await res.text(), /^kfs_probe 7$/m)
      assert.equal((await fetch(`http://127.0.0.1:${port}/other`)).status, 404)
    } finally {
      metrics.close()
    }
  })

  void test('kfs run with KFS_METRICS_PORT busy exits 1 with one clear line, no stack, before consuming', () => {
    const apply = kfs(['apply'])
    assert.equal(apply.code, 0, apply.stderr)
    const run = kfs(['run', '--until-caught-up', '--json'], { KFS_METRICS_PORT: String(busyPort) })
    assert.equal(run.code, 1, run.stderr)
    assert.match(run.stderr, new RegExp(`kfs run: KFS_METRICS_PORT=${busyPort}: 127\\.0\\.0\\.1:${busyPort} is already in use`))
    assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace')
    assert.doesNotMatch(run.stderr, /Unhandled|engine running/)
    // Run with --json: the error object (a port in use is the environment's: CONFIG_INVALID, as kfs
    // serve's busy --port), and no run summary (the engine never started).
    const body = JSON.parse(run.stdout) as { error?: { code: string; message: string }; consumed?: number }
    assert.equal(body.error?.code, 'CONFIG_INVALID')
    assert.match(body.error?.message ?? '', new RegExp(`^KFS_METRICS_PORT=${busyPort}: `))
    assert.equal(body.consumed, undefined)
  })
})
