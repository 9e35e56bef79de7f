/**
 * The world of a `kfs run` child-process test over one partition on embedded defaults: a data
 * folder, the environment of every command, a purchases stream written to NDJSON in parts, and
 * what a clean run leaves in the offline table (test/unit/cli/run-stop-failure.test.ts and
 * run-fenced-at-stop.test.ts: a stop that fails, then the next run that must finish the tables).
 * One partition, so the log's offsets are the file's order.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after } from 'node:test'
import { fileURLToPath } from 'node:url'
import { LocalObjectStore } from '../../adapters/object-store/index.ts'
import { readFeatureRowsByEntity } from '../../adapters/offline/iceberg/feature-rows.ts'
import { assertSameRows, expectedRowsByEntity, generatePurchases, type ProducedRecord } from './scenario.ts'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))

/** `run` names the test's topics and tables (the scoped fixture reads it when first imported). */
export async function onePartitionRun(run: string, events: { readonly count: number; readonly seed: number }) {
  process.env.KFS_TEST_RUN = run
  process.env.KFS_TEST_PARTITIONS = '1'
  const { purchases, userPurchases } = await import('../fixtures/features/run-scoped.ts')
  const dataDir = mkdtempSync(join(tmpdir(), `kfs-${run}-`))
  after(() => rmSync(dataDir, { recursive: true, force: true }))
  const env = {
    KFS_DATA_DIR: dataDir,
    KFS_FEATURES: join(ROOT, 'test/fixtures/features/run-scoped.ts'),
    KFS_TEST_RUN: run,
    KFS_TEST_PARTITIONS: '1',
    // No timed or size-triggered checkpoint while the test looks: the stop's is the one it is about.
    KFS_CHECKPOINT_INTERVAL_MS: '1h',
    KFS_LOG_LEVEL: 'warn',
  }
  const purchaseEvents = generatePurchases({ count: events.count, users: 20, seed: events.seed })
  const produced: ProducedRecord[] = purchaseEvents.map((event, i) => ({ partition: 0, offset: String(i), event }))
  const store = new LocalObjectStore(join(dataDir, 'objects'))
  return {
    purchases,
    userPurchases,
    dataDir,
    env,
    events: purchaseEvents,
    produced,
    store,
    /** Events [from, to) as an NDJSON file in the data folder, for `kfs produce --file`. */
    writeEvents(name: string, from: number, to: number): string {
      const path = join(dataDir, name)
      writeFileSync(
        path,
        purchaseEvents
          .slice(from, to)
          .map((e) => JSON.stringify(e))
          .join('\n') + '\n',
      )
      return path
    },
    /** The offline table holds exactly what a clean run over every event leaves. */
    async assertCleanRunRows(what: string): Promise<void> {
      const expected = expectedRowsByEntity([userPurchases], purchases, produced).get(userPurchases.name)!
      assertSameRows(await readFeatureRowsByEntity(store, userPurchases), expected, what)
    },
  }
}
