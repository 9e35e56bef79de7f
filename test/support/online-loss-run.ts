/**
 * One loss of online rows while `kfs run` runs on the real stack, and the check that the engine
 * made every entity's row complete again by itself (test/integration/engine/online-loss*.test.ts).
 */
import assert from 'node:assert/strict'
import type { EngineScenario } from './engine-scenario.ts'
import { startKfs, runKfs, type KfsChild } from './kfs-process.ts'
import { expectedRowsByEntity, generatePurchases, valuesClose, waitFor, type ProducedRecord } from './scenario.ts'

const events = generatePurchases({ count: 12_000, users: 400, seed: 91 })
const BEFORE = events.slice(0, 8_000)
const AFTER = events.slice(8_000).filter((e) => Number(e.user_id.slice(1)) % 4 === 0)

/** True once Redis holds every entity's latest reference row (polled; the assertion is assertMatchesReference). */
async function onlineComplete(scenario: EngineScenario, produced: readonly ProducedRecord[]): Promise<boolean> {
  const expected = expectedRowsByEntity([scenario.view], scenario.source, produced).get(scenario.view.name)!
  const keys = [...expected.keys()]
  const features = scenario.view.features.map((f) => f.name)
  const reads = await scenario.online.readRows(
    keys.map((entityKey) => ({ view: scenario.view, entityKey, features })),
    Date.UTC(2026, 0, 1),
  )
  return keys.every((key, i) => {
    const latest = expected.get(key)!.at(-1)!
    return reads[i]!.asOfMs === latest.asOfMs && reads[i]!.values.every((v, j) => valuesClose(v, latest.values[j]))
  })
}

/**
 * Produces events, runs the engine, calls `lose` while it runs, then produces events for every
 * fourth user only: the other entities' rows come back only by the engine's reload.
 */
export async function lossAndRecovery(
  scenario: EngineScenario,
  metricsPort: number,
  lose: () => Promise<void>,
): Promise<KfsChild> {
  const first = await scenario.produce(BEFORE)
  await runKfs([...scenario.runArgs, '--until-caught-up'], scenario.env)
  const engine = startKfs(scenario.runArgs, { ...scenario.env, KFS_METRICS_PORT: String(metricsPort) })
  const metrics = async () => (await fetch(`http://127.0.0.1:${metricsPort}/metrics`).catch(() => undefined))?.text()
  let stderr = ''
  engine.child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
  await waitFor(() => stderr.includes('engine running'), 'the engine running', 120_000)
  await lose()
  const second = await scenario.produce(AFTER)
  const produced = [...first, ...second]
  await waitFor(() => onlineComplete(scenario, produced).catch(() => false), 'every entity online again', 120_000).catch(
    () => undefined,
  )
  const text = (await metrics()) ?? ''
  engine.child.kill('SIGTERM')
  const result = await engine.done
  assert.equal(result.code, 0, result.stderr.slice(-2000))
  await scenario.assertMatchesReference(produced)
  assert.match(text, /kfs_online_store_losses_total\{reason="[a-z_]+"\} [1-9]/)
  assert.match(result.stderr, /online store lost rows/)
  assert.match(result.stderr, /online store reloaded: \d+ rows of 1 views/)
  return engine
}
