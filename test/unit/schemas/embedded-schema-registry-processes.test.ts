/**
 * The embedded schema registry used by several processes on one directory at once (`kfs run`
 * reading while `kfs produce` registers; two `kfs produce` with new versions): an instance finds
 * what another registered after it read the directory, and concurrent registrations from several
 * processes lose no version and give no id two meanings, nor one schema two ids.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { createDecoder } from '../../../schemas/decoder.ts'
import { createEncoder } from '../../../schemas/encoder.ts'
import { TS_NODE_ARGS } from '../../support/node-ts.ts'

const registryModule = fileURLToPath(
  new URL('../../../adapters/schema-registry/embedded/embedded-schema-registry.ts', import.meta.url),
)
const tempDir = () => mkdtempSync(join(tmpdir(), 'kfs-sr-proc-'))

/** A record schema `name` with the base field and `extra` optional fields (each with a default: BACKWARD compatible with any other). */
function schemaOf(name: string, extra: readonly string[] = []) {
  return {
    type: 'record',
    name,
    fields: [{ name: 'user_id', type: 'string' }, ...extra.map((f) => ({ name: f, type: ['null', 'long'], default: null }))],
  }
}

interface Registration {
  readonly subject: string
  readonly schema: ReturnType<typeof schemaOf>
}

/**
 * Runs one child process per list: each says it is ready, waits for `go` to exist (so they all
 * register at once), registers its list in order and prints the ids. Resolves with each child's ids.
 */
async function registerInChildren(dir: string, lists: readonly (readonly Registration[])[]): Promise<number[][]> {
  const go = join(dir, '..', `${Math.random().toString(36).slice(2)}.go`)
  const script = `
    import { existsSync } from 'node:fs'
    import { EmbeddedSchemaRegistry } from ${JSON.stringify(registryModule)}
    const list = JSON.parse(process.argv[1])
    const registry = new EmbeddedSchemaRegistry({ dir: ${JSON.stringify(dir)} })
    process.stdout.write('ready\\n')
    while (!existsSync(${JSON.stringify(go)})) await new Promise((resolve) => setTimeout(resolve, 5))
    const ids = []
    for (const { subject, schema } of list) ids.push(await registry.register(subject, schema))
    process.stdout.write(JSON.stringify(ids) + '\\n')
  `
  let ready = 0
  const done = lists.map(
    (list) =>
      new Promise<number[]>((resolve, reject) => {
        const child = spawn(process.execPath, [...TS_NODE_ARGS, '--input-type=module', '-e', script, JSON.stringify(list)], {
          stdio: ['ignore', 'pipe', 'pipe'],
        })
        let out = ''
        let err = ''
        let saidReady = false
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString()
          if (saidReady || !out.startsWith('ready\n')) return
          saidReady = true
          if (++ready === lists.length) writeFileSync(go, '')
        })
        child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()))
        child.once('exit', (code) => {
          const last = out.trim().split('\n').at(-1) ?? ''
          if (code === 0 && last.startsWith('[')) resolve(JSON.parse(last) as number[])
          else reject(new Error(`child exited ${code}: ${err}`))
        })
      }),
  )
  return Promise.all(done)
}

void describe('schemas > embedded registry > several processes', () => {
  void test('an instance that read the directory finds ids and versions another instance registered since', async () => {
    const dir = tempDir()
    const reader = new EmbeddedSchemaRegistry({ dir })
    const v1 = await reader.register('clicks-value', schemaOf('Click'))
    assert.equal((await reader.latest('clicks-value'))?.version, 1, 'the reader has read the directory')

    const writer = new EmbeddedSchemaRegistry({ dir })
    const v2 = await writer.register('clicks-value', schemaOf('Click', ['price']))
    const other = await writer.register('views-value', schemaOf('View'))

    // Each of these read what the reader cached before the writer registered.
    assert.deepEqual(((await reader.getById(v2)) as { fields: unknown[] }).fields.length, 2, 'the new id')
    assert.equal(((await reader.getById(other)) as { name: string }).name, 'View', 'an id of a subject the reader never saw')
    assert.deepEqual(await reader.latest('clicks-value'), { id: v2, version: 2, schema: schemaOf('Click', ['price']) }, 'latest')
    assert.equal((await reader.latest('views-value'))?.id, other, "a subject's latest the reader never saw")
    assert.equal(await reader.getById(other + 1), undefined, 'an id nobody registered is still unknown')

    // A version the reader registers now comes after the writer's, not in place of it.
    const v3 = await reader.register('clicks-value', schemaOf('Click', ['price', 'qty']))
    assert.deepEqual([v1, v2, v3].length, new Set([v1, v2, v3, other]).size - 1)
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'subjects', 'clicks-value.json'), 'utf8')), {
      subject: 'clicks-value',
      versions: [v1, v2, v3],
    })
    // And a schema the writer registered is found by the reader, not given a second id.
    assert.equal(await reader.register('other-value', schemaOf('View')), other)
  })

  void test('a record whose schema a producer process registered after the consumer started decodes, not dead-lettered as unknown', async () => {
    const dir = tempDir()
    const consumerRegistry = new EmbeddedSchemaRegistry({ dir })
    const reader = schemaOf('Click', ['price'])
    await consumerRegistry.register('clicks-value', schemaOf('Click'))
    const decoder = createDecoder({ registry: consumerRegistry, readerSchema: reader })
    // The producer: another process, with a new version of the subject.
    const [ids] = await registerInChildren(dir, [[{ subject: 'clicks-value', schema: schemaOf('Click', ['price']) }]])
    const encoder = await createEncoder({
      registry: new EmbeddedSchemaRegistry({ dir }),
      subject: 'clicks-value',
      schema: schemaOf('Click', ['price']),
    })
    assert.equal(encoder.schemaId, ids![0])
    const [decoded] = await decoder.decodeBatch([encoder.encode({ user_id: 'u1', price: 7 })])
    assert.ok(decoded?.ok, `decoded: ${JSON.stringify(decoded)}`)
    assert.deepEqual({ ...decoded.event }, { user_id: 'u1', price: 7 })
    assert.equal(decoded.schemaId, ids![0])
  })

  void test('processes registering at once: every version kept once, every id one schema, every schema one id', async () => {
    const dir = tempDir()
    const children = 4
    const rounds = 5
    // Each child: a version of the shared subject per round, one of its own subject, and the same common schema.
    const lists: Registration[][] = Array.from({ length: children }, (_, c) =>
      Array.from({ length: rounds }, (_, r): Registration[] => [
        { subject: 'shared-value', schema: schemaOf('Shared', [`c${c}_r${r}`]) },
        {
          subject: `own${c}-value`,
          schema: schemaOf(
            `Own${c}`,
            Array.from({ length: r }, (_, f) => `f${f}`),
          ),
        },
        { subject: 'common-value', schema: schemaOf('Common') },
      ]).flat(),
    )
    const results = await registerInChildren(dir, lists)

    const registry = new EmbeddedSchemaRegistry({ dir })
    const idOf = new Map<string, Set<number>>()
    for (const [c, list] of lists.entries()) {
      for (const [i, { schema }] of list.entries()) {
        const id = results[c]![i]!
        assert.deepEqual(await registry.getById(id), schema, `child ${c}'s id ${id} means what it registered`)
        const key = JSON.stringify(schema)
        idOf.set(key, (idOf.get(key) ?? new Set()).add(id))
      }
    }
    for (const [key, ids] of idOf) assert.equal(ids.size, 1, `one id for ${key}: ${[...ids].join(', ')}`)
    const distinct = idOf.size // children × rounds shared, children × rounds own, one common
    assert.equal(distinct, 2 * children * rounds + 1)
    assert.deepEqual(
      readdirSync(join(dir, 'ids')).sort(),
      Array.from({ length: distinct }, (_, i) => `${i + 1}.json`).sort(),
      'ids 1..n, each once, nothing else left',
    )

    const versionsOf = (subject: string) =>
      (JSON.parse(readFileSync(join(dir, 'subjects', `${subject}.json`), 'utf8')) as { versions: number[] }).versions
    const shared = versionsOf('shared-value')
    assert.deepEqual(
      [...shared].sort((a, b) => a - b),
      results.flatMap((ids) => ids.filter((_, i) => i % 3 === 0)).sort((a, b) => a - b),
      'every shared version, once',
    )
    assert.equal((await registry.latest('shared-value'))?.version, children * rounds)
    for (let c = 0; c < children; c++)
      assert.deepEqual(
        versionsOf(`own${c}-value`),
        results[c]!.filter((_, i) => i % 3 === 1),
        `own${c}: in order`,
      )
    assert.deepEqual(versionsOf('common-value'), [results[0]![2]], 'the common schema: one version')
    assert.deepEqual(readdirSync(join(dir, 'subjects')).sort(), [
      'common-value.json',
      'own0-value.json',
      'own1-value.json',
      'own2-value.json',
      'own3-value.json',
      'shared-value.json',
    ])
    assert.equal(existsSync(join(dir, 'register.lock')), false, 'the lock is released')
  })
})
