/**
 * The served-feature log on the real stack (Kafka, registry, Redis, MinIO): the engine computes a
 * view from generated events, `kfs serve` answers with the log at sample 1.0, `kfs run` archives
 * the log like any source, and `kfs skew-report` finds 100 % exact match for every served
 * feature; then a served record with a wrong value is written to the topic and the report shows
 * the mismatch and exits 1.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createEncoder } from '../../../schemas/encoder.ts'
import { SERVED_FEATURES_SCHEMA, toServedEvent } from '../../../serving/served-log/index.ts'
import { createEngineScenario } from '../../support/engine-scenario.ts'
import { runKfs, startKfs } from '../../support/kfs-process.ts'
import { generatePurchases } from '../../support/scenario.ts'

interface FeatureSkewJson {
  view: string
  feature: string
  compared: number
  exactMatches: number
  exactMatchPct: number
  numericPairs: number
  meanAbsDiff: number | null
  p99AbsDiff: number | null
}
interface ReportJson {
  ok: boolean
  failing: string[]
  records: number
  features: FeatureSkewJson[]
}

void test('served log archived like any source; skew-report: 100 % exact, then a tampered record fails it', async () => {
  const scenario = await createEngineScenario({ KFS_FEATURES: 'test/integration/serving/served-log-features.ts' })
  const topic = `served-${scenario.run}`
  const env = { ...scenario.env, KFS_SERVE_LOG_TOPIC: topic }
  const view = scenario.view
  const ref = `${view.name}@${view.version}`
  try {
    const users = 40
    const nowMs = Date.now()
    await scenario.produce(generatePurchases({ count: 2_000, users, seed: 5, startMs: nowMs - 3 * 3_600_000, stepMs: 4_000 }))
    await runKfs([...scenario.runArgs, '--until-caught-up', '--idle', '1s'], env)

    // Serve with every request logged.
    const serve = startKfs(['serve', '--port', '0', '--log-sample', '1', '--json'], env)
    let out = ''
    serve.child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
    while (!out.includes('\n')) {
      if (serve.child.exitCode !== null) assert.fail(`kfs serve exited: ${(await serve.done).stderr}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    const { url } = JSON.parse(out.split('\n')[0]!) as { url: string }
    const userIds = [...Array.from({ length: users }, (_, i) => `u${i}`), 'nobody']
    const batch = await fetch(`${url}/v1/features`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': `batch-${scenario.run}` },
      body: JSON.stringify({ entities: { user_id: userIds }, features: view.features.map((f) => `${view.name}:${f.name}`) }),
    })
    assert.equal(batch.status, 200)
    assert.equal(batch.headers.get('x-request-id'), `batch-${scenario.run}`)
    const body = (await batch.json()) as { features: string[]; rows: { entities: { user_id: string }; values: unknown[]; views: Record<string, { status: string }> }[] }
    const present = body.rows.filter((r) => r.views[view.name]!.status === 'PRESENT')
    assert.ok(present.length >= users - 5, `${present.length} users PRESENT`)
    for (const user of ['u1', 'u2', 'u3', 'nobody']) {
      const res = await fetch(`${url}/v1/features/${view.name}/${user}`)
      assert.equal(res.status, 200)
      assert.match(res.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/, 'a generated request id')
    }
    const lookups = userIds.length + 4
    serve.child.kill('SIGTERM')
    const served = await serve.done
    assert.equal(served.code, 0, served.stderr.slice(-2000))

    // The engine archives the log topic like any source; the report reads the archive.
    await runKfs([...scenario.runArgs, '--until-caught-up', '--idle', '1s'], env)
    const clean = await runKfs(['skew-report', '--json'], env)
    const report = JSON.parse(clean.stdout) as ReportJson
    assert.equal(report.ok, true)
    assert.equal(report.records, lookups)
    assert.deepEqual(report.features.map((f) => f.feature).sort(), view.features.map((f) => f.name).sort())
    for (const f of report.features) {
      assert.deepEqual([f.view, f.compared, f.exactMatchPct], [ref, lookups, 100], f.feature)
      if (f.numericPairs > 0) assert.deepEqual([f.meanAbsDiff, f.p99AbsDiff], [0, 0], f.feature)
    }
    assert.ok(report.features.some((f) => f.numericPairs >= present.length), 'served values were numbers, not only nulls')

    // A served record with a wrong value, written to the log topic like serving would.
    const feature = 'amount_sum_7d'
    const column = body.features.indexOf(`${view.name}:${feature}`)
    const victim = present.find((r) => typeof r.values[column] === 'number')!
    const encoder = await createEncoder({ registry: scenario.registry, subject: `${topic}-value`, schema: SERVED_FEATURES_SCHEMA })
    const values = victim.values.map((v, i) => (i === column ? (v as number) + 1.5 : v)) as (number | string | null)[]
    const tampered = toServedEvent({
      requestId: 'tampered',
      servedAtMs: Date.now(),
      viewName: view.name,
      viewVersion: view.version,
      entityKey: victim.entities.user_id,
      status: 'PRESENT',
      asOfMs: null,
      features: view.features.map((f) => f.name),
      values,
    })
    await scenario.log.produce(topic, [{ key: ref, value: encoder.encode(tampered) }])
    await runKfs([...scenario.runArgs, '--until-caught-up', '--idle', '1s'], env)
    const skewed = await startKfs(['skew-report', '--json'], env).done
    assert.equal(skewed.code, 1, skewed.stderr.slice(-2000))
    const bad = JSON.parse(skewed.stdout) as ReportJson
    assert.deepEqual([bad.ok, bad.failing, bad.records], [false, [`${ref}:${feature}`], lookups + 1])
    const f = bad.features.find((x) => x.feature === feature)!
    assert.deepEqual([f.compared, f.exactMatches], [lookups + 1, lookups])
    const diff = Math.abs((values[column] as number) - (victim.values[column] as number))
    assert.equal(f.p99AbsDiff, diff, 'fewer than 100 pairs: p99 is the largest difference')
    assert.ok(Math.abs(f.meanAbsDiff! - diff / f.numericPairs) < 1e-12)
    for (const other of bad.features) if (other.feature !== feature) assert.equal(other.exactMatchPct, 100, other.feature)
  } finally {
    await scenario.close()
  }
})
