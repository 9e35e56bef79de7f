import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { runSchemaRegistryContract } from '../../contracts/schema-registry.ts'

void describe('schemas > embedded registry', () => {
  runSchemaRegistryContract('embedded', async () => new EmbeddedSchemaRegistry({ dir: mkdtempSync(join(tmpdir(), 'kfs-sr-')) }), (s) => s)

  void test('ids and subjects survive reopening the directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kfs-sr-'))
    const schema = { type: 'record', name: 'A', fields: [{ name: 'x', type: 'int' }] }
    const id = await new EmbeddedSchemaRegistry({ dir }).register('a-value', schema)
    const reopened = new EmbeddedSchemaRegistry({ dir })
    assert.equal((await reopened.latest('a-value'))?.id, id)
    assert.equal(await reopened.register('other-subject', schema), id)
    const next = await reopened.register('b-value', { type: 'record', name: 'B', fields: [{ name: 'y', type: 'int' }] })
    assert.notEqual(next, id)
  })

  void test('concurrent registrations of distinct schemas get distinct ids', async () => {
    const registry = new EmbeddedSchemaRegistry({ dir: mkdtempSync(join(tmpdir(), 'kfs-sr-')) })
    const ids = await Promise.all(
      Array.from({ length: 5 }, (_, i) => registry.register(`s${i}`, { type: 'record', name: `R${i}`, fields: [{ name: 'x', type: 'int' }] })),
    )
    assert.equal(new Set(ids).size, 5)
  })
})
