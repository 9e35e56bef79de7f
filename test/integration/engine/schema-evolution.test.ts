/**
 * A source's writer schema evolving in the real registry between and during runs (docs/semantics.md
 * §1, "Writer schemas evolve as Avro resolves them"): producers register a compatible version (a
 * field added with a default) and an incompatible one (a required field dropped, a field's type
 * changed) under the topic's subject, interleaved with the original. Each compatible record is
 * counted once, the rows online and offline equal the reference model over them, and each
 * incompatible record is dead-lettered `schema_mismatch` — none dropped in silence, none crashing
 * the run, none stopping the records after it.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createEncoder } from '../../../schemas/encoder.ts'
import type { AvroSchema } from '../../../ports/schema-registry.ts'
import { createEngineScenario } from '../../support/engine-scenario.ts'
import { runKfs } from '../../support/kfs-process.ts'
import { generatePurchases, produceEvents, type ProducedRecord, type Purchase } from '../../support/scenario.ts'

interface Field {
  readonly name: string
  readonly type: unknown
  readonly default?: unknown
}

void test('writer schemas evolving in the registry: compatible records counted once, incompatible ones dead-lettered schema_mismatch', async () => {
  const scenario = await createEngineScenario()
  try {
    const { source, registry, env } = scenario
    const subject = `${source.topic}-value`
    const original = source.schema as { fields: readonly Field[] } & Record<string, unknown>
    const writer = (fields: readonly Field[]): AvroSchema => ({ ...original, fields }) as unknown as AvroSchema
    const added = await createEncoder({
      registry,
      subject,
      schema: writer([...original.fields, { name: 'coupon', type: ['null', 'string'], default: null }]),
    })
    // The registry's BACKWARD rule accepts a dropped field (the new schema reads old data); kfs's
    // source schema, which requires it, cannot read the new one.
    const dropped = await createEncoder({
      registry,
      subject,
      schema: writer(original.fields.filter((f) => f.name !== 'item_id')),
    })
    // A changed type the subject's rule refuses: a producer with another subject naming strategy
    // (records name their schema id, whatever the subject).
    const retyped = await createEncoder({
      registry,
      subject: `kfs.it.${source.topic}.Purchase-value`,
      schema: writer(original.fields.map((f) => (f.name === 'amount' ? { ...f, type: 'string' } : f))),
    })
    const ids = new Set([scenario.encoder, added, dropped, retyped].map((e) => e.schemaId))
    assert.equal(ids.size, 4, 'four writer schemas registered')

    const events = generatePurchases({ count: 2_400, users: 50, seed: 41 })
    const compatible: ProducedRecord[] = []
    let refused = 0
    const produce = async (slice: readonly Purchase[], kind: 'original' | 'added' | 'dropped' | 'retyped') => {
      if (kind === 'original') return compatible.push(...(await scenario.produce(slice)))
      if (kind === 'added') {
        const acks = await produceEvents(
          scenario.log,
          source.topic,
          { ...added, encode: (e) => added.encode({ ...(e as Purchase), coupon: 'SPRING' }) },
          slice,
        )
        return compatible.push(...acks)
      }
      refused += slice.length
      const acks = await scenario.log.produce(
        source.topic,
        slice.map((e) => ({
          key: e.user_id,
          value:
            kind === 'dropped'
              ? dropped.encode({ ...e, item_id: undefined })
              : retyped.encode({ ...e, amount: String(e.amount) }),
        })),
      )
      assert.equal(acks.length, slice.length)
    }
    // The first run sees the original and the added field; the second the rest, interleaved.
    await produce(events.slice(0, 500), 'original')
    await produce(events.slice(500, 900), 'added')
    const runArgs = [...scenario.runArgs, '--until-caught-up', '--idle', '1s']
    await runKfs(runArgs, env)
    await produce(events.slice(900, 1_000), 'dropped')
    await produce(events.slice(1_000, 1_500), 'original')
    await produce(events.slice(1_500, 1_600), 'retyped')
    await produce(events.slice(1_600, 2_400), 'added')
    await runKfs(runArgs, env)

    await scenario.assertMatchesReference(compatible)
    const listed = await runKfs(
      ['dead-letters', 'list', '--topic', source.topic, '--reason', 'schema_mismatch', '--json', '--limit', '1'],
      env,
    )
    const letters = JSON.parse(listed.stdout) as { records: number }
    assert.equal(
      letters.records,
      refused,
      `every incompatible record dead-lettered schema_mismatch: ${listed.stdout.slice(0, 600)}`,
    )
  } finally {
    await scenario.close()
  }
})
