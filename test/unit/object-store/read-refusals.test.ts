/**
 * How the file-based ports tell a read that may pass from one refused for good: the local object
 * store and the embedded schema registry map every errno a read can meet to a retriable code
 * (SINK_UNAVAILABLE, SOURCE_UNAVAILABLE) or, for permission denied, a non-retriable one
 * (SINK_REJECTED, SOURCE_REJECTED) that engine/retried-reads.ts never asks again — it retried
 * EACCES before, and the embedded registry threw the raw errno error. The Confluent registry's
 * answers likewise, by HTTP status (it called a 403 unavailable). And the embedded registry
 * does not remember a failed first read of its directory: the next call reads it again, so a
 * retried read can succeed on the same instance.
 */
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { localReadFailure } from '../../../adapters/object-store/local/local-object-store.ts'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { ConfluentSchemaRegistry } from '../../../adapters/schema-registry/confluent/confluent-schema-registry.ts'
import { EmbeddedSchemaRegistry, readFailure } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { SinkWriteError, SourceError } from '../../../core/errors.ts'

const errno = (code: string) => Object.assign(new Error(`${code}: failed, open '/x'`), { code })

/** errno → whether a read failing with it may pass. */
const ERRNOS: readonly [string, boolean][] = [
  ['EACCES', false],
  ['EPERM', false],
  ['EIO', true],
  ['EMFILE', true],
  ['ENFILE', true],
  ['EAGAIN', true],
  ['EBUSY', true],
  ['ETIMEDOUT', true],
  ['ESTALE', true],
]

void describe('read refusals of the file-based ports', () => {
  for (const [code, passing] of ERRNOS) {
    void test(`${code}: ${passing ? 'retriable' : 'refused for good'}`, () => {
      const local = localReadFailure(errno(code), 'read')
      assert.ok(local instanceof SinkWriteError)
      assert.equal(local.code, passing ? 'SINK_UNAVAILABLE' : 'SINK_REJECTED')
      assert.equal(local.retriable, passing)
      assert.equal(local.context?.errno, code)
      const registry = readFailure(errno(code), '/schemas/ids/1.json')
      assert.ok(registry instanceof SourceError)
      assert.equal(registry.code, passing ? 'SOURCE_UNAVAILABLE' : 'SOURCE_REJECTED')
      assert.equal(registry.retriable, passing)
      assert.match(registry.message, new RegExp(`cannot read /schemas/ids/1\\.json: ${code}`))
    })
  }

  void test('an error without an errno may pass', () => {
    assert.equal(localReadFailure(new Error('odd'), 'list').code, 'SINK_UNAVAILABLE')
    assert.equal(readFailure('odd', '/d').code, 'SOURCE_UNAVAILABLE')
  })

  void test('embedded registry: a failed first read of its directory is read again by the next call', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kfs-sr-retry-'))
    try {
      // `ids` is a file, not a directory: reading the directory fails (ENOTDIR), as a passing fault would.
      writeFileSync(join(dir, 'ids'), 'not a directory')
      const registry = new EmbeddedSchemaRegistry({ dir })
      await assert.rejects(
        registry.getById(1),
        (err: unknown) => err instanceof SourceError && err.code === 'SOURCE_UNAVAILABLE' && /ids/.test(err.message),
      )
      rmSync(join(dir, 'ids'))
      mkdirSync(join(dir, 'ids'))
      writeFileSync(join(dir, 'ids', '1.json'), JSON.stringify({ id: 1, schema: '"string"' }))
      assert.equal(await registry.getById(1), 'string')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  /** HTTP status of the registry's answer → what getById does: undefined (not there), or the code it throws. */
  const STATUSES: readonly [number, 'undefined' | 'SOURCE_REJECTED' | 'SOURCE_UNAVAILABLE'][] = [
    [404, 'undefined'],
    [400, 'SOURCE_REJECTED'],
    [401, 'SOURCE_REJECTED'],
    [403, 'SOURCE_REJECTED'],
    [408, 'SOURCE_UNAVAILABLE'],
    [429, 'SOURCE_UNAVAILABLE'],
    [500, 'SOURCE_UNAVAILABLE'],
    [503, 'SOURCE_UNAVAILABLE'],
  ]

  void test('Confluent registry: a refusal (401, 403, other 4xx) is SOURCE_REJECTED, a passing fault SOURCE_UNAVAILABLE', async () => {
    let status = 0
    const server = createServer((_req, res) => {
      res.writeHead(status, { 'content-type': 'application/vnd.schemaregistry.v1+json' })
      res.end(JSON.stringify({ error_code: status, message: `status ${status}` }))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      const registry = new ConfluentSchemaRegistry({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        retries: 0,
      })
      for (const [answer, expected] of STATUSES) {
        status = answer
        const got = await registry.getById(answer).then(
          (value) => (value === undefined ? 'undefined' : `answered ${JSON.stringify(value)}`),
          (err: unknown) => (err instanceof SourceError ? err.code : String(err)),
        )
        assert.equal(got, expected, `HTTP ${answer}`)
      }
    } finally {
      await new Promise((resolve) => server.close(resolve))
    }
  })
})
