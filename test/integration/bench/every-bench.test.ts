/**
 * Every benchmark (bench/*.ts, found as bench/run.ts finds them) runs to its BENCH line at a smoke
 * scale (KFS_BENCH_SCALE, bench/_support/scale.ts), one at a time, on the stack the suite started:
 * an engine change that breaks a bench fails here, not in the next manual bench run. The figures
 * of so small a run mean nothing; that each bench finishes, and prints its figures, its same-run
 * bound and the ratio as finite numbers, is what is checked.
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { realpathSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { benchNames } from '../../../bench/_support/bench-names.ts'
import { benchRunProblems, stderrTail, type BenchExpectation, type BenchRun } from '../../support/bench-line.ts'
import { stackEnv } from '../../support/stack-env.ts'
import { TS_NODE_ARGS } from '../../support/node-ts.ts'

const ROOT = fileURLToPath(new URL('../../..', import.meta.url))
/** Small enough that each bench takes seconds; every size has a floor (bench/_support/scale.ts). */
const SMOKE_SCALE = '0.002'
/** A bench that hangs fails rather than stalling the suite. */
const BENCH_TIMEOUT_MS = 180_000

/**
 * What each bench's line must carry (its figures, its bound, the ratio). A bench not listed here
 * still runs, and must still print finite numbers and at least one bound or ratio.
 */
const EXPECTED: Record<string, BenchExpectation> = {
  checkpoint: {
    keys: ['checkpoint_ms', 'bound_ms', 'checkpoint_over_put', 'baseline_put_ms', 'full_checkpoint_ms', 'restore_ms'],
    text: ['store'],
  },
  e2e: { keys: ['events_per_s', 'baseline_events_per_s', 'ratio', 'ceiling_events_per_s', 'ceiling_ratio'] },
  freshness: { keys: ['p50_ms', 'p99_ms', 'baseline_p99_ms', 'ratio_p99'] },
  ingest: { keys: ['ingest_rows_per_s', 'scan_rows_per_s', 'ratio', 'reingest_rows_per_s'] },
  operators: { keys: ['events_per_s', 'baseline_events_per_s', 'ratio', 'floor_events_per_s', 'vs_floor'] },
  push: { keys: ['p50_ms', 'p99_ms', 'redis_p99_ms', 'baseline_p99_ms'] },
  rekey: {
    keys: ['events_per_s', 'baseline_events_per_s', 'ratio', 'copy_floor_events_per_s', 'vs_copy_floor'],
    text: ['baseline_runs'],
  },
  replay: { keys: ['events_per_s', 'baseline_events_per_s', 'ratio'] },
  restart: { keys: ['restart_to_first_row_ms', 'old_default_ms', 'clean_restart_ms', 'ratio'] },
  serving: { keys: ['p99_ms', 'floor_p99_ms', 'p99_ratio', 'max_rps', 'floor_max_rps', 'ratio'] },
  'serving-batch': { keys: ['p99_ms', 'floor_p99_ms', 'max_rps', 'floor_max_rps', 'ratio'] },
  'training-set': { keys: ['seconds', 'duckdb_seconds', 'ratio'] },
}

/**
 * The serving benches' floor is a raw uWebSockets.js server, which loads only on a Node with a
 * native build of it (README: Node 20 here; scripts/test-all.sh runs the serving suite on it too).
 */
const NEEDS_UWS = new Set(['serving', 'serving-batch'])

/** This Node, then every other `node` on PATH: the first that loads uWebSockets.js. */
function nodeWithUws(): string | undefined {
  const probe = 'import("./serving/server/transport/uws.ts").then((m) => m.loadNativeUws())'
  const candidates = [process.execPath, ...(process.env.PATH ?? '').split(delimiter).map((dir) => join(dir, 'node'))]
  const seen = new Set<string>()
  for (const candidate of candidates) {
    let real: string
    try {
      real = realpathSync(candidate)
    } catch {
      continue
    }
    if (seen.has(real)) continue
    seen.add(real)
    if (spawnSync(real, ['--import', 'tsx', '-e', probe], { cwd: ROOT, stdio: 'ignore' }).status === 0) return real
  }
  return undefined
}

/**
 * `node bench/run.ts <name>` in its own process group, so a timeout ends its children too: on this
 * Node by its own type stripping, on another (the uWS one, older) through tsx.
 */
function runBench(node: string, name: string, env: NodeJS.ProcessEnv): Promise<BenchRun & { seconds: number }> {
  const started = performance.now()
  const loader = node === process.execPath ? TS_NODE_ARGS : ['--import', 'tsx']
  const child = spawn(node, [...loader, 'bench/run.ts', name], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const timer = setTimeout(() => {
    stderr += `\n[every-bench] no exit after ${BENCH_TIMEOUT_MS} ms: killed`
    try {
      process.kill(-child.pid!, 'SIGKILL')
    } catch {
      // The group is gone already: the bench exited as the timer fired.
    }
  }, BENCH_TIMEOUT_MS)
  return new Promise((resolve) =>
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr, seconds: (performance.now() - started) / 1000 })
    }),
  )
}

void describe('every benchmark runs to its BENCH line at a smoke scale', () => {
  // The stack scripts/test-all.sh started, named in the environment: ensureStack
  // (bench/_support/stack.ts) uses it and never starts one of its own.
  const env = { ...process.env, ...stackEnv(), KFS_BENCH_SCALE: SMOKE_SCALE }
  const names = benchNames()

  void test('the benches are found (checking none is a failure)', () => {
    assert.ok(names.length > 0, 'no bench found in bench/: nothing would be checked')
  })

  for (const name of names) {
    void test(name, async (t) => {
      let node = process.execPath
      if (NEEDS_UWS.has(name)) {
        const found = nodeWithUws()
        assert.ok(found, `${name} needs a Node that loads uWebSockets.js (its floor is a raw uWS server); none on PATH does`)
        node = found
      }
      const run = await runBench(node, name, env)
      t.diagnostic(`${name}: ${run.seconds.toFixed(1)} s`)
      const problems = benchRunProblems(name, run, EXPECTED[name])
      assert.deepEqual(
        problems,
        [],
        `bench ${name} (KFS_BENCH_SCALE=${SMOKE_SCALE}): ${problems.join('; ')}\n--- stderr (tail) ---\n${stderrTail(run.stderr)}`,
      )
    })
  }
})
