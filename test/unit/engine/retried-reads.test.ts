/**
 * engine/retried-reads.ts: every read of the object-store and schema-registry ports × every way it
 * fails. A passing fault (a retriable port error, or a plain error such as a reset connection) is
 * asked again up to the bound; past it the failure is a RetriesExhaustedError naming what was read;
 * a refusal (non-retriable code) and a programming error are never asked again, the refusal named
 * too; "not there" (undefined) is an answer. Writes are never retried: whether one may be repeated
 * is its caller's call.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { Clock } from '../../../core/clock.ts'
import { FeatureStoreError, RetriesExhaustedError, SinkWriteError, SourceError } from '../../../core/errors.ts'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { describeObject, objectStoreReadsRetried, schemaReadsRetried } from '../../../engine/retried-reads.ts'
import type { ObjectStore } from '../../../ports/object-store.ts'
import type { SchemaRegistry } from '../../../ports/schema-registry.ts'
import { forwardingStore } from '../../support/forwarding-store.ts'

const instant: Clock = { nowMs: () => 0, sleep: async () => {} }
const ATTEMPTS = 4
const options = { clock: instant, attempts: ATTEMPTS }

const KEY = 'warehouse/archive/clicks/metadata/abc-m0.avro'

/** One read of a port, run against a port whose method throws `fail()` the first `failures` calls. */
interface ReadCase {
  readonly read: string
  readonly named: RegExp
  readonly run: (fail: (() => unknown) | undefined, failures: number) => { calls: () => number; call: () => Promise<unknown> }
}

function failing<T>(answer: () => Promise<T>, fail: (() => unknown) | undefined, failures: number) {
  let calls = 0
  return {
    calls: () => calls,
    fn: async (): Promise<T> => {
      if (++calls <= failures && fail !== undefined) throw fail()
      return answer()
    },
  }
}

async function seededStore(): Promise<MemoryObjectStore> {
  const store = new MemoryObjectStore()
  await store.put(KEY, new Uint8Array([1, 2, 3]))
  return store
}

const READS: readonly ReadCase[] = [
  {
    read: 'object store get',
    named: /could not read the Iceberg manifest warehouse\/archive\/clicks\/metadata\/abc-m0\.avro in memory:\/\//,
    run: (fail, failures) => {
      const inner = new MemoryObjectStore()
      const f = failing(() => Promise.resolve(new Uint8Array([1])), fail, failures)
      const store: ObjectStore = { ...forwardingStore(inner), get: f.fn }
      return { calls: f.calls, call: () => objectStoreReadsRetried(store, options).get(KEY) }
    },
  },
  {
    read: 'object store list',
    named: /could not read the keys under checkpoints\/g\/t\/0\/ in memory:\/\//,
    run: (fail, failures) => {
      const f = failing(() => Promise.resolve(['checkpoints/g/t/0/ckpt-1.json']), fail, failures)
      const store: ObjectStore = { ...forwardingStore(new MemoryObjectStore()), list: f.fn }
      return { calls: f.calls, call: () => objectStoreReadsRetried(store, options).list('checkpoints/g/t/0/') }
    },
  },
  {
    read: 'schema registry getById',
    named: /could not read writer schema id 7 from the schema registry/,
    run: (fail, failures) => {
      const f = failing(() => Promise.resolve('string' as const), fail, failures)
      const registry: SchemaRegistry = {
        getById: f.fn,
        latest: () => Promise.resolve(undefined),
        register: () => Promise.resolve(1),
      }
      return { calls: f.calls, call: () => schemaReadsRetried(registry, options).getById(7) }
    },
  },
  {
    read: 'schema registry latest',
    named: /could not read the latest schema of subject clicks-value from the schema registry/,
    run: (fail, failures) => {
      const f = failing(() => Promise.resolve({ id: 1, version: 1, schema: 'string' as const }), fail, failures)
      const registry: SchemaRegistry = {
        getById: () => Promise.resolve(undefined),
        latest: f.fn,
        register: () => Promise.resolve(1),
      }
      return { calls: f.calls, call: () => schemaReadsRetried(registry, options).latest('clicks-value') }
    },
  },
]


const FAULTS: readonly {
  kind: string
  fail: () => unknown
  failures: number
  expect: 'answer' | 'exhausted' | 'refused' | 'bug'
}[] = [
  {
    kind: 'a retriable port error once',
    fail: () => new SinkWriteError('SINK_UNAVAILABLE', 's3 get failed'),
    failures: 1,
    expect: 'answer',
  },
  {
    kind: 'a reset connection (plain error), bound less one',
    fail: () => Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }),
    failures: ATTEMPTS - 1,
    expect: 'answer',
  },
  {
    kind: 'a retriable source error for good',
    fail: () => new SourceError('SOURCE_UNAVAILABLE', 'schema registry getById failed'),
    failures: Infinity,
    expect: 'exhausted',
  },
  {
    kind: 'a 503 for good',
    fail: () => new SinkWriteError('SINK_UNAVAILABLE', 's3 get failed', { context: { status: 503 } }),
    failures: Infinity,
    expect: 'exhausted',
  },
  {
    kind: 'access denied (object store)',
    fail: () => new SinkWriteError('SINK_REJECTED', 's3 get failed', { context: { status: 403 } }),
    failures: 1,
    expect: 'refused',
  },
  {
    kind: 'access denied (registry)',
    fail: () => new SourceError('SOURCE_REJECTED', 'schema registry getById failed'),
    failures: 1,
    expect: 'refused',
  },
  {
    kind: 'damaged data',
    fail: () => new FeatureStoreError('DATA_CORRUPT', 'not what kfs wrote'),
    failures: 1,
    expect: 'refused',
  },
  { kind: 'a programming error', fail: () => new TypeError('x is not a function'), failures: 1, expect: 'bug' },
]

void describe('engine > retried reads', () => {
  for (const { read, named, run } of READS) {
    for (const { kind, fail, failures, expect } of FAULTS) {
      void test(`${read}: ${kind}`, async () => {
        const { calls, call } = run(fail, failures)
        const got = await call().then(
          (value) => ({ value }),
          (err: unknown) => ({ err }),
        )
        if (expect === 'answer') {
          assert.ok('value' in got, `answered: ${'err' in got ? String(got.err) : ''}`)
          assert.equal(calls(), failures + 1)
          return
        }
        assert.ok('err' in got, 'failed')
        const err = got.err
        if (expect === 'bug') {
          assert.ok(err instanceof TypeError, 'a bug stays itself')
          assert.equal(calls(), 1)
          return
        }
        assert.ok(err instanceof FeatureStoreError, String(err))
        assert.match(err.message, named)
        if (expect === 'exhausted') {
          assert.ok(err instanceof RetriesExhaustedError)
          assert.match(err.message, new RegExp(`gave up after ${ATTEMPTS} attempts, the last: `))
          assert.equal(calls(), ATTEMPTS)
        } else {
          const port = fail() as FeatureStoreError
          assert.equal(err.code, port.code, 'the port code, so retriability is unchanged')
          assert.equal(err.retriable, false)
          assert.equal(err.cause instanceof FeatureStoreError && err.cause.code, port.code)
          assert.equal(calls(), 1, 'a refusal is not asked again')
        }
      })
    }
  }

  void test('not there is an answer, not a failure: get undefined, getById undefined, asked once', async () => {
    let gets = 0
    const store: ObjectStore = { ...forwardingStore(new MemoryObjectStore()), get: async () => (gets++, undefined) }
    assert.equal(await objectStoreReadsRetried(store, options).get('registry/views/v/v1.json'), undefined)
    assert.equal(gets, 1)
    let ids = 0
    const registry: SchemaRegistry = {
      getById: async () => (ids++, undefined),
      latest: async () => undefined,
      register: async () => 1,
    }
    assert.equal(await schemaReadsRetried(registry, options).getById(99), undefined)
    assert.equal(ids, 1)
  })

  void test('writes are passed through once, whatever they throw', async () => {
    const inner = await seededStore()
    for (const write of ['put', 'putIfAbsent', 'delete'] as const) {
      let calls = 0
      const store: ObjectStore = {
        ...forwardingStore(inner),
        [write]: async () => {
          calls++
          throw new SinkWriteError('SINK_UNAVAILABLE', 'down')
        },
      }
      const retried = objectStoreReadsRetried(store, options)
      const attempt = write === 'delete' ? retried.delete(KEY) : retried[write](KEY, new Uint8Array([9]))
      await assert.rejects(attempt, { code: 'SINK_UNAVAILABLE', message: 'down' })
      assert.equal(calls, 1, `${write}: asked once`)
    }
    let registers = 0
    const registry: SchemaRegistry = {
      getById: async () => undefined,
      latest: async () => undefined,
      register: async () => {
        registers++
        throw new SourceError('SOURCE_UNAVAILABLE', 'down')
      },
    }
    await assert.rejects(schemaReadsRetried(registry, options).register('s', 'string'), { message: 'down' })
    assert.equal(registers, 1)
  })

  void test('describeObject names every kind of object a backfill reads', () => {
    const table: readonly [string, RegExp][] = [
      ['registry/views/v/v1.backfill.json', /^the registry object /],
      ['checkpoints/g/t/0/ckpt-00000001.json', /^the checkpoint object /],
      ['checkpoints/g/t/0/state-1-2.bin', /^the checkpoint object /],
      ['warehouse/archive/t/metadata/version-hint.text', /^the Iceberg version hint /],
      ['warehouse/archive/t/metadata/v3.metadata.json', /^the Iceberg table metadata /],
      ['warehouse/archive/t/metadata/snap-1-1-abc.avro', /^the Iceberg manifest list /],
      ['warehouse/archive/t/metadata/abc-m0.avro', /^the Iceberg manifest /],
      ['warehouse/archive/t/data/kafka_partition=0/abc.parquet', /^the Iceberg data file /],
      ['elsewhere/x', /^the object /],
    ]
    for (const [key, described] of table) {
      assert.match(describeObject(key), described, key)
      assert.ok(describeObject(key).endsWith(key), `${key}: named in full`)
    }
  })
})
