/**
 * The Iceberg REST catalog's routes answer through the request runner like every route: a table
 * listing that never settles is a 504 (with an errorId) on each of them, never a request left open,
 * and a table's metadata still goes out as its text (64-bit ids intact).
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { CatalogTable } from '../../../serving/handlers/iceberg-catalog.ts'
import { startServer } from './server-harness.ts'

void describe('serving > Iceberg REST catalog > timeouts', () => {
  // The old route never answered: the test's own timeout is what fails it then, not a time bound on the answer.
  void test('a table listing that hangs is a 504 on the list and load routes', { timeout: 60_000 }, async () => {
    const s = await startServer({ options: { requestTimeoutMs: 50, icebergTables: () => new Promise<readonly CatalogTable[]>(() => {}) } })
    try {
      for (const path of ['/v1/namespaces/kfs/tables', '/v1/namespaces/kfs/tables/user_stats']) {
        const res = await fetch(`${s.base}${path}`)
        assert.equal(res.status, 504, path)
        assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'TIMEOUT', path)
      }
    } finally {
      await s.close()
    }
  })
})
