/**
 * The embedded registry and logical types. avsc drops logical types it has no implementation for,
 * and the registry's schema identity (schemas/avro-type.ts `schemaKey`) was built from avsc's
 * export: a `timestamp-micros` writer registered as a plain long — under the id of the
 * `timestamp-millis` version if there was one — so the decoder could not even see what the
 * writer meant. And its BACKWARD check resolved by underlying types only, so it accepted
 * versions the decoder refuses. Now, for every (latest version, new version) pair of the class
 * (logical-type-pairs.ts): the new version is refused exactly when the decoder, reading the
 * latest with the new, refuses it — with the same reason —, and what is registered keeps its
 * logical types and their parameters.
 */
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { SchemaError } from '../../../core/errors.ts'
import { avscResolves, describedAs, expectedOutcome, recordOf, VARIANTS } from './logical-type-pairs.ts'

const newRegistry = () => new EmbeddedSchemaRegistry({ dir: mkdtempSync(join(tmpdir(), 'kfs-sr-logical-')) })

void describe('the embedded registry keeps logical types and checks them as the decoder reads them', () => {
  void test('every variant registers with its logical type and parameters, under an id of its own', async () => {
    const registry = newRegistry()
    const ids = new Map<number, string>()
    for (const v of VARIANTS) {
      const id = await registry.register(`v-${v.label}`, recordOf(v.schema))
      assert.equal(ids.get(id), undefined, `${v.label} got the id of ${ids.get(id)}`)
      ids.set(id, v.label)
      const stored = (await registry.getById(id)) as { fields: { type: unknown }[] }
      assert.deepEqual(stored.fields[0]?.type, v.schema, v.label)
    }
  })

  void test('a new version is refused exactly when the decoder would refuse the latest read with it, saying why', async () => {
    const registry = newRegistry()
    const problems: string[] = []
    let refused = 0
    for (const latest of VARIANTS) {
      for (const next of VARIANTS.filter((r) => avscResolves(latest, r))) {
        const subject = `s-${latest.label}-${next.label}`
        await registry.register(subject, recordOf(latest.schema))
        const refuse = expectedOutcome(latest, next).kind === 'refuse'
        try {
          await registry.register(subject, recordOf(next.schema))
          if (refuse) problems.push(`${latest.label} then ${next.label}: registered, but the decoder refuses it`)
        } catch (err: unknown) {
          const named =
            err instanceof SchemaError &&
            err.code === 'SCHEMA_INCOMPATIBLE' &&
            /field v/.test(err.message) &&
            err.message.includes(describedAs(latest)) &&
            err.message.includes(describedAs(next))
          if (!refuse) problems.push(`${latest.label} then ${next.label}: refused (${String(err)}), but the decoder reads it`)
          else if (!named)
            problems.push(`${latest.label} then ${next.label}: refused without naming the field and both types: ${String(err)}`)
          else refused++
        }
      }
    }
    assert.deepEqual(problems, [])
    assert.ok(refused > 0)
  })
})
