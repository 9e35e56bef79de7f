/**
 * How the file-based ports tell a read that may pass from one refused for good: the local object
 * store and the embedded schema registry map every errno a read can meet to a retriable code
 * (SINK_UNAVAILABLE, SOURCE_UNAVAILABLE) or, for permission denied, a non-retriable one
 * (SINK_REJECTED, SOURCE_REJECTED) that engine/retried-reads.ts never asks again — it retried
 * EACCES before, and the embedded registry threw the raw errno error. And the embedded registry
 * does not remember a failed first read of its directory: the next call reads it again, so a
 * retried read can succeed on the same instance.
 */
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { localReadFailure } from '../../../adapters/object-store/local/local-object-store.ts'
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
})
