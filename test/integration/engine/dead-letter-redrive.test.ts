/**
 * Issue #18 on the real stack: purchases from a producer whose clock ran 3 h behind are refused
 * (`future_event_time`). `kfs dead-letters redrive` re-drives them into Kafka — the second run,
 * and one after a run killed midway, re-drive nothing again — and the engine then counts each
 * refused purchase exactly once (the view's lifetime count read back from Redis).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { encodeEntityKey } from '../../../core/entity-key.ts'
import { createEngineScenario } from '../../support/engine-scenario.ts'
import { runKfs, startKfs } from '../../support/kfs-process.ts'

void test('dead letters re-driven after a fix are applied exactly once (Kafka, Redis, S3)', async () => {
  const scenario = await createEngineScenario()
  const { log, source, view, encoder, env } = scenario
  try {
    const base = Date.now() - 30 * 60_000
    const event = (user: string, ts: number) => ({ user_id: user, item_id: 'i1', amount: 10, currency: 'EUR', ts })
    await log.produce(source.topic, [0, 1, 2].map((i) => ({ key: 'u1', value: encoder.encode(event('u1', base + i * 1000)) })))
    const refused = 12
    await log.produce(
      source.topic,
      Array.from({ length: refused }, (_, i) => ({ key: 'u2', value: encoder.encode(event('u2', base + 10_000 + i * 1000)), timestampMs: base - 3 * 3_600_000 })),
    )
    await runKfs([...scenario.runArgs, '--until-caught-up'], env)

    const select = ['--topic', source.topic, '--reason', 'future_event_time']
    const listed = JSON.parse((await runKfs(['dead-letters', 'list', ...select, '--json'], env)).stdout) as { letters: number; byStatus: Record<string, number> }
    assert.equal(listed.letters, refused)
    assert.deepEqual(listed.byStatus, { redrivable: refused })

    // A run killed as soon as it starts: whatever it committed stays, the rest is re-driven by the next.
    const killed = startKfs(['dead-letters', 'redrive', ...select], env)
    setTimeout(() => killed.child.kill('SIGKILL'), 2_500).unref()
    await killed.done
    const first = await startKfs(['dead-letters', 'redrive', ...select, '--json'], env).done
    assert.ok(first.code === 0 || first.code === 1, `exit ${first.code}:\n${first.stderr}`)
    const firstCount = first.code === 0 ? (JSON.parse(first.stdout) as { redriven: number }).redriven : 0
    const again = startKfs(['dead-letters', 'redrive', ...select, '--json'], env)
    const second = await again.done
    assert.equal(second.code, 1, `a third run finds nothing to re-drive:\n${second.stderr}${second.stdout}`)
    assert.equal((JSON.parse(second.stdout) as { redriven: number }).redriven, 0)
    const status = JSON.parse((await runKfs(['dead-letters', 'list', ...select, '--json'], env)).stdout) as { byStatus: Record<string, number> }
    assert.deepEqual(status.byStatus, { redriven: refused }, `every letter's record re-driven (the run after the kill: ${firstCount})`)

    await runKfs([...scenario.runArgs, '--until-caught-up'], env)
    const lifetime = view.features.find((f) => f.aggregation.op === 'count' && f.aggregation.windowMs === null)!.name
    const reads = await scenario.online.readRows(['u1', 'u2'].map((u) => ({ view, entityKey: encodeEntityKey([u]), features: [lifetime] })), Date.now())
    assert.deepEqual(reads.map((r) => r.values[0]), [3, refused], 'each refused purchase counted exactly once')
  } finally {
    await scenario.close()
  }
})
