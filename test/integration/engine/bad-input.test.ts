/**
 * Bad input on the real stack: garbage bytes, truncated Avro, an unknown schema id, a writer schema
 * the source cannot read, tombstones and empty entity keys, interleaved with valid events. Every bad
 * record lands in the dead-letter topic with its reason and origin; the counts match exactly; the
 * engine does not crash; the valid records around them produce exactly the reference rows.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { test } from 'node:test'
import { frame } from '../../../schemas/codec.ts'
import { createEncoder } from '../../../schemas/encoder.ts'
import { DEAD_LETTER_HEADERS } from '../../../engine/dead-letter-topic.ts'
import { runReference } from '../../reference/reference-model.ts'
import { createEngineScenario } from '../../support/engine-scenario.ts'
import { runKfs } from '../../support/kfs-process.ts'
import { generatePurchases, prng, waitFor, type ProducedRecord, type Purchase } from '../../support/scenario.ts'

void test('malformed records are dead-lettered with reasons, counted exactly, and valid ones still processed', async () => {
  const scenario = await createEngineScenario()
  const { log, source, encoder } = scenario
  try {
    const badSchema = { ...source.schema, fields: (source.schema.fields as { name: string }[]).map((f) => (f.name === 'amount' ? { name: 'amount', type: 'string' } : f)) }
    const badEncoder = await createEncoder({ registry: scenario.registry, subject: `${source.topic}-bad-value`, schema: badSchema })
    const rand = prng(99)
    const valid = generatePurchases({ count: 5_000, users: 300, seed: 3 })
    type Item = { key: string | null; value: Uint8Array | null; expect: string | Purchase }
    const items: Item[] = valid.map((e) => ({ key: e.user_id, value: encoder.encode(e), expect: e }))
    const insert = (item: Item) => items.splice(Math.floor(rand() * items.length), 0, item)
    const sample = () => valid[Math.floor(rand() * valid.length)]!
    for (let i = 0; i < 20; i++) {
      insert({ key: `g${i}`, value: randomBytes(5 + Math.floor(rand() * 200)).fill(1, 0, 1), expect: 'undecodable' })
      const good = encoder.encode(sample())
      insert({ key: `t${i}`, value: good.subarray(0, Math.max(6, good.length - 5)), expect: 'undecodable' })
      insert({ key: `s${i}`, value: frame(987_654, Buffer.from(good.subarray(5))), expect: 'unknown_schema' })
      insert({ key: `w${i}`, value: badEncoder.encode({ ...sample(), amount: 'lots' }), expect: 'schema_mismatch' })
      insert({ key: null, value: null, expect: 'undecodable' })
      const keyless = { ...sample(), user_id: '' }
      insert({ key: '', value: encoder.encode(keyless), expect: keyless })
    }
    const acks = await log.produce(source.topic, items.map((i) => ({ key: i.key, value: i.value })))

    const decodable: ProducedRecord[] = []
    const expectedCounts: Record<string, number> = {}
    acks.forEach((ack, i) => {
      const e = items[i]!.expect
      if (typeof e === 'string') expectedCounts[e] = (expectedCounts[e] ?? 0) + 1
      else decodable.push({ partition: ack.partition, offset: ack.offset, event: e })
    })
    const reference = runReference({
      views: [scenario.view],
      source,
      records: [...decodable]
        .sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)))
        .map((p) => ({ partition: p.partition, offset: p.offset, eventTimeMs: p.event.ts, event: p.event as unknown as Record<string, unknown> })),
    })
    for (const d of reference.deadLetters) expectedCounts[d.reason] = (expectedCounts[d.reason] ?? 0) + 1
    // Lateness is judged first, so a late keyless event counts as late.
    assert.ok((expectedCounts.late ?? 0) > 0, 'the corpus has late events')
    assert.ok((expectedCounts.invalid_key ?? 0) + (expectedCounts.missing_key ?? 0) > 0, 'the corpus has keyless events')

    await runKfs([...scenario.runArgs, '--until-caught-up'], scenario.env)

    const seen: Record<string, number> = {}
    const origins = new Set<string>()
    const consumer = log.consumer({ groupId: `dlq-${scenario.run}`, topics: ['kfs.dead-letters'], fromBeginning: true })
    await consumer.run({
      eachBatch: async (batch) => {
        for (const r of batch.records) {
          if (r.headers[DEAD_LETTER_HEADERS.topic] !== source.topic) continue
          const origin = `${r.headers[DEAD_LETTER_HEADERS.partition]}/${r.headers[DEAD_LETTER_HEADERS.offset]}/${r.headers[DEAD_LETTER_HEADERS.reason]}`
          if (origins.has(origin)) continue // at-least-once side output: dedupe by origin
          origins.add(origin)
          const reason = r.headers[DEAD_LETTER_HEADERS.reason]!
          seen[reason] = (seen[reason] ?? 0) + 1
        }
      },
    })
    const total = Object.values(expectedCounts).reduce((a, b) => a + b, 0)
    await waitFor(() => origins.size >= total, `${total} dead letters`, 60_000)
    await consumer.stop()
    assert.deepEqual(seen, expectedCounts)
    await scenario.assertMatchesReference(decodable)
  } finally {
    await scenario.close()
  }
})
