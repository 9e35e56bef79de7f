import type { DuckDBInstance } from '@duckdb/node-api'

/**
 * `port` (on its own connection to `instance`) as the instance's only user: its `close` also
 * closes the instance. A training build shares one instance instead (duckdb-training-engine.ts).
 */
export function owningInstance<T extends { close(): Promise<void> }>(instance: DuckDBInstance, port: T): T {
  return {
    ...port,
    async close() {
      await port.close()
      instance.closeSync()
    },
  }
}
