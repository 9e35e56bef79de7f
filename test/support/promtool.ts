/**
 * The real promtool (Prometheus's own checker), installed into the kfs cache on first use by
 * scripts/prometheus/ensure-promtool.sh — a test that needs it fails when it cannot be had; it is
 * never skipped.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

export interface PromtoolResult {
  readonly status: number | null
  readonly stdout: string
  readonly stderr: string
}

let path: string | undefined

/** The installed promtool, asked of the install script once per test process. */
function promtoolPath(): string {
  if (path !== undefined) return path
  const found = spawnSync('bash', [join(root, 'scripts/prometheus/ensure-promtool.sh')], { encoding: 'utf8', timeout: 300_000 })
  assert.equal(found.status, 0, `scripts/prometheus/ensure-promtool.sh: ${found.stderr}`)
  path = found.stdout.trim()
  return path
}

/** Runs `promtool <args>`, with `input` on its standard input (for `check metrics`). */
export function promtool(args: readonly string[], input?: string): PromtoolResult {
  const r = spawnSync(promtoolPath(), args, { encoding: 'utf8', timeout: 120_000, input })
  if (r.error !== undefined) assert.fail(`promtool ${args.join(' ')}: ${r.error.message}`)
  return r
}
