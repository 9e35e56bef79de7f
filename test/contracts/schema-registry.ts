/**
 * The contract every SchemaRegistry adapter passes (embedded: unit; Confluent-compatible: integration).
 * `makeRegistry` returns a registry; `uniq` makes subject and record names unique per test so a
 * shared server can be reused.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { SchemaError } from '../../core/errors.ts'
import type { SchemaRegistry } from '../../ports/schema-registry.ts'

export function runSchemaRegistryContract(name: string, makeRegistry: () => Promise<SchemaRegistry>, uniq: (s: string) => string): void {
  const v1 = (recordName: string) => ({
    type: 'record',
    name: recordName,
    fields: [
      { name: 'user_id', type: 'string' },
      { name: 'ts', type: { type: 'long', logicalType: 'timestamp-millis' } },
    ],
  })
  const v2 = (recordName: string) => ({
    ...v1(recordName),
    fields: [...v1(recordName).fields, { name: 'price', type: ['null', 'double'], default: null }],
  })

  void test(`${name} > register returns an id that getById resolves to the same schema`, async () => {
    const registry = await makeRegistry()
    const schema = v1(uniq('Click'))
    const id = await registry.register(uniq('clicks-value'), schema)
    assert.ok(Number.isInteger(id) && id >= 0)
    const found = await registry.getById(id)
    assert.ok(found !== undefined)
    const parsed = typeof found === 'string' ? JSON.parse(found) : found
    assert.equal(parsed.name, schema.name)
    assert.deepEqual(parsed.fields.map((f: { name: string }) => f.name), ['user_id', 'ts'])
  })

  void test(`${name} > re-registering the same schema keeps its id and does not add a version`, async () => {
    const registry = await makeRegistry()
    const subject = uniq('clicks-value')
    const schema = v1(uniq('Click'))
    const a = await registry.register(subject, schema)
    const b = await registry.register(subject, schema)
    assert.equal(b, a)
    const latest = await registry.latest(subject)
    assert.equal(latest?.id, a)
    assert.equal(latest?.version, 1)
  })

  void test(`${name} > a backward-compatible evolution gets a new id and becomes latest`, async () => {
    const registry = await makeRegistry()
    const subject = uniq('clicks-value')
    const recordName = uniq('Click')
    const a = await registry.register(subject, v1(recordName))
    const b = await registry.register(subject, v2(recordName))
    assert.notEqual(b, a)
    const latest = await registry.latest(subject)
    assert.equal(latest?.id, b)
    assert.equal(latest?.version, 2)
  })

  void test(`${name} > an incompatible schema is refused with SchemaError`, async () => {
    const registry = await makeRegistry()
    const subject = uniq('clicks-value')
    const recordName = uniq('Click')
    await registry.register(subject, v1(recordName))
    const broken = { type: 'record', name: recordName, fields: [{ name: 'user_id', type: 'long' }, { name: 'ts', type: 'long' }] }
    await assert.rejects(registry.register(subject, broken), (err: unknown) => err instanceof SchemaError && err.code === 'SCHEMA_INCOMPATIBLE')
  })

  void test(`${name} > unknown ids and subjects are undefined, not errors`, async () => {
    const registry = await makeRegistry()
    assert.equal(await registry.getById(2_000_000_000), undefined)
    assert.equal(await registry.latest(uniq('never-registered')), undefined)
  })
}
