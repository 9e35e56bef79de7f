/**
 * The backfill's stores as kfs replay and kfs run wire them (main/commands/live-views.ts
 * backfillEnvironment): every read a backfill makes through them — its checkpoints (get, list), the
 * archive (Iceberg reads under archiveEnd), the writer schemas (the decoder's getById) — is retried
 * up to the bound (replay/backfill-before-live.ts) and then fails naming what it read. Before, the
 * environment handed the backfill the runtime's own store and registry, whose reads nothing retried.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import type { Clock } from '../../../core/clock.ts'
import { RetriesExhaustedError, SinkWriteError, SourceError } from '../../../core/errors.ts'
import { purchases } from '../../../examples/with-new-view.ts'
import { backfillEnvironment } from '../../../main/commands/live-views.ts'
import { loadConfig } from '../../../main/config.ts'
import { createRuntime } from '../../../main/runtime.ts'
import type { ObjectStore } from '../../../ports/object-store.ts'
import type { SchemaRegistry } from '../../../ports/schema-registry.ts'
import { BACKFILL_READ_ATTEMPTS, type BackfillEnvironment } from '../../../replay/backfill-before-live.ts'
import { frame } from '../../../schemas/codec.ts'

const dataDir = mkdtempSync(join(tmpdir(), 'kfs-backfill-env-'))
after(() => rmSync(dataDir, { recursive: true, force: true }))
const instant: Clock = { nowMs: () => Date.now(), sleep: () => new Promise((resolve) => setImmediate(resolve)) }

/** Counts the reads of the runtime's own ports and fails the first `failures` of them, as a passing fault would. */
function flaky(failures: number) {
  let reads = 0
  const fail = () => ++reads <= failures
  const wrapStore = (inner: ObjectStore): ObjectStore => ({
    rootUri: inner.rootUri,
    uriOf: (key) => inner.uriOf(key),
    get: async (key) => {
      if (fail()) throw new SinkWriteError('SINK_UNAVAILABLE', `get ${key}: 503`)
      return inner.get(key)
    },
    list: async (prefix) => {
      if (fail()) throw new SinkWriteError('SINK_UNAVAILABLE', `list ${prefix}: reset`)
      return inner.list(prefix)
    },
    listWithTimes: (prefix) => inner.listWithTimes(prefix),
    put: (key, body) => inner.put(key, body),
    putIfAbsent: (key, body) => inner.putIfAbsent(key, body),
    delete: (key) => inner.delete(key),
  })
  const wrapSchemas = (inner: SchemaRegistry): SchemaRegistry => ({
    getById: async (id) => {
      if (fail()) throw new SourceError('SOURCE_UNAVAILABLE', `getById ${id}: timeout`)
      return inner.getById(id)
    },
    latest: (subject) => inner.latest(subject),
    register: (subject, schema) => inner.register(subject, schema),
  })
  return { reads: () => reads, wrapStore, wrapSchemas }
}

const READS: readonly { read: string; named: RegExp; run: (env: BackfillEnvironment) => Promise<unknown> }[] = [
  {
    read: 'a checkpoint object',
    named: /could not read the checkpoint object checkpoints\/g\/t\/0\/ckpt-1\.json in file:\/\//,
    run: (env) => env.stateStore.get('checkpoints/g/t/0/ckpt-1.json'),
  },
  {
    read: 'a checkpoint listing',
    named: /could not read the keys under checkpoints\/g\/t\/0\//,
    run: (env) => env.stateStore.list('checkpoints/g/t/0/'),
  },
  {
    read: 'the archive (its Iceberg version hint)',
    named: /could not read the Iceberg version hint warehouse\/archive\/purchases\/metadata\/version-hint\.text/,
    run: (env) => env.offline.archiveEnd(purchases.topic),
  },
  {
    read: 'a writer schema',
    named: /could not read writer schema id 3 from the schema registry/,
    run: (env) => env.decoderFor(purchases).decode(frame(3, new Uint8Array([2, 0x61]))),
  },
]

void describe('backfill environment: the reads of kfs replay / kfs run backfills', () => {
  for (const { read, named, run } of READS) {
    for (const failures of [1, BACKFILL_READ_ATTEMPTS - 1, Infinity]) {
      void test(`${read}: failing ${failures === Infinity ? 'for good' : `${failures} times`}`, async () => {
        const runtime = await createRuntime(loadConfig({ KFS_DATA_DIR: dataDir, KFS_LOG_LEVEL: 'silent' }), { clock: instant })
        try {
          const letters = { write: async () => {}, flush: async () => {}, waiting: () => undefined, finish: () => {} }
          const attempt = async (failing: number) => {
            const ports = flaky(failing)
            const env = backfillEnvironment(
              { ...runtime, store: ports.wrapStore(runtime.store), schemas: ports.wrapSchemas(runtime.schemas) },
              letters,
            )
            const err = await run(env).then(
              () => undefined,
              (e: unknown) => e,
            )
            return { err, reads: ports.reads() }
          }
          const clean = await attempt(0)
          assert.equal(clean.err, undefined, String(clean.err))
          const got = await attempt(failures)
          if (failures < BACKFILL_READ_ATTEMPTS) {
            assert.equal(got.err, undefined, `${read}: ${String(got.err)}`)
            assert.equal(got.reads, clean.reads + failures, 'each failed read asked again until it passed')
          } else {
            assert.ok(got.err instanceof RetriesExhaustedError, String(got.err))
            assert.match(got.err.message, named)
            assert.equal(got.reads, BACKFILL_READ_ATTEMPTS, 'the first read asked up to the bound, no more')
          }
        } finally {
          await runtime.close()
        }
      })
    }
  }
})
