/**
 * Contract every ObjectStore adapter passes (local directory, memory, S3/MinIO). `makeStore` gets a
 * fresh, empty namespace per call so tests do not see each other's keys.
 */
import { describe, test, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import type { ObjectStore } from '../../ports/object-store.ts'

const enc = new TextEncoder()
const dec = new TextDecoder()

export function runObjectStoreContract(name: string, makeStore: () => Promise<ObjectStore>, cleanup?: () => Promise<void>): void {
  void describe(`object store contract > ${name}`, () => {
    if (cleanup !== undefined) after(cleanup)

    void test('get of a missing key is undefined', async () => {
      const store = await makeStore()
      assert.equal(await store.get('nope/missing.bin'), undefined)
    })

    void test('put then get returns the same bytes, put replaces', async () => {
      const store = await makeStore()
      const body = randomBytes(70_000)
      await store.put('a/b/c.bin', body)
      assert.deepEqual(Buffer.from((await store.get('a/b/c.bin'))!), body)
      await store.put('a/b/c.bin', enc.encode('second'))
      assert.equal(dec.decode(await store.get('a/b/c.bin')), 'second')
    })

    void test('empty bodies round-trip', async () => {
      const store = await makeStore()
      await store.put('empty', new Uint8Array(0))
      assert.equal((await store.get('empty'))?.length, 0)
    })

    void test('putIfAbsent creates once, then reports false and keeps the first body', async () => {
      const store = await makeStore()
      assert.equal(await store.putIfAbsent('m/v1.json', enc.encode('first')), true)
      assert.equal(await store.putIfAbsent('m/v1.json', enc.encode('second')), false)
      assert.equal(dec.decode(await store.get('m/v1.json')), 'first')
    })

    void test('concurrent putIfAbsent of one key: exactly one wins and its body is stored', async () => {
      const store = await makeStore()
      for (let round = 0; round < 5; round++) {
        const key = `race/v${round}.json`
        const bodies = Array.from({ length: 8 }, (_, i) => enc.encode(`writer-${i}-${'x'.repeat(1000 * i)}`))
        const results = await Promise.all(bodies.map((b) => store.putIfAbsent(key, b)))
        assert.equal(results.filter((r) => r).length, 1, `round ${round}: ${results.join(',')}`)
        const winner = results.indexOf(true)
        assert.equal(dec.decode(await store.get(key)), dec.decode(bodies[winner]))
      }
    })

    void test('delete removes, and deleting a missing key is fine', async () => {
      const store = await makeStore()
      await store.put('d/x', enc.encode('x'))
      await store.delete('d/x')
      assert.equal(await store.get('d/x'), undefined)
      await store.delete('d/x')
      assert.equal(await store.putIfAbsent('d/x', enc.encode('again')), true)
    })

    void test('list returns keys under a prefix in lexicographic order', async () => {
      const store = await makeStore()
      const keys = ['t/metadata/v10.metadata.json', 't/metadata/v2.metadata.json', 't/data/d=1/a.parquet', 't/data/d=2/b.parquet', 'tt/other', 'u/x']
      for (const k of [...keys].reverse()) await store.put(k, enc.encode(k))
      assert.deepEqual(await store.list('t/'), ['t/data/d=1/a.parquet', 't/data/d=2/b.parquet', 't/metadata/v10.metadata.json', 't/metadata/v2.metadata.json'])
      assert.deepEqual(await store.list('t/metadata/v1'), ['t/metadata/v10.metadata.json'])
      assert.deepEqual(await store.list('t'), ['t/data/d=1/a.parquet', 't/data/d=2/b.parquet', 't/metadata/v10.metadata.json', 't/metadata/v2.metadata.json', 'tt/other'])
      assert.deepEqual(await store.list('none/'), [])
      assert.deepEqual(await store.list(''), [...keys].sort())
    })

    void test('listWithTimes lists what list does, each with its size and when it was written', async () => {
      const store = await makeStore()
      const bodies: Record<string, number> = { 'w/metadata/v1.metadata.json': 3, 'w/data/a.parquet': 1200, 'w/empty': 0, 'ww/other': 5 }
      const before = Date.now()
      for (const [k, n] of Object.entries(bodies)) await store.put(k, randomBytes(n))
      const after = Date.now()
      const listed = await store.listWithTimes('w/')
      assert.deepEqual(listed.map((o) => o.key), await store.list('w/'))
      for (const o of listed) {
        assert.equal(o.size, bodies[o.key], o.key)
        // A remote store stamps with its own clock, to the second (S3): a minute of slack either way.
        assert.ok(o.lastModifiedMs >= before - 60_000 && o.lastModifiedMs <= after + 60_000, `${o.key}: ${o.lastModifiedMs} not in [${before}, ${after}]`)
      }
      assert.deepEqual(await store.listWithTimes('none/'), [])
    })

    void test('uriOf is absolute and under rootUri', async () => {
      const store = await makeStore()
      const uri = store.uriOf('db/t/metadata/v1.metadata.json')
      assert.ok(uri.startsWith(`${store.rootUri}/`), uri)
      assert.ok(uri.endsWith('/db/t/metadata/v1.metadata.json'), uri)
      assert.match(uri, /^[a-z0-9]+:\/\//)
    })

    void test('keys that escape the root are rejected', async () => {
      const store = await makeStore()
      for (const bad of ['../x', 'a/../../x', '/abs', 'a//b', '']) {
        await assert.rejects(store.put(bad, enc.encode('x')), (err: Error) => err.name === 'SinkWriteError', bad)
      }
    })
  })
}
