/**
 * A run-scoped re-key scenario on the real stack: test/fixtures/features/rekey-scoped.ts with its
 * topics and views named after the run, a private S3 prefix and data dir, and the run's own
 * consumer group. The caller applies, produces and runs; `close` ends what this opened.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { KafkaEventLog } from '../../adapters/event-log/kafka/index.ts'
import { newRunId, stackEnv } from './stack-env.ts'
import { stackObjectStore } from './stack-store.ts'

export async function rekeyStackRun(name: string, extraEnv: Record<string, string> = {}) {
  const base = stackEnv()
  const run = newRunId()
  process.env.KFS_TEST_RUN = run
  const fixtures = await import('../fixtures/features/rekey-scoped.ts')
  const dataDir = await mkdtemp(join(tmpdir(), `kfs-${name}-`))
  const env = {
    ...base,
    KFS_TEST_RUN: run,
    KFS_FEATURES: 'test/fixtures/features/rekey-scoped.ts',
    KFS_S3_PREFIX: `it/${run}`,
    KFS_DATA_DIR: dataDir,
    KFS_CHECKPOINT_INTERVAL_MS: '1000',
    ...extraEnv,
  }
  const log = new KafkaEventLog({ brokers: base.KFS_KAFKA_BROKERS!.split(',') })
  const store = stackObjectStore(base, `it/${run}`)
  const close = async (): Promise<void> => {
    await log.close()
    store.close()
    await rm(dataDir, { recursive: true, force: true })
  }
  return { base, run, env, groupId: `kfs-${run}`, log, store, fixtures, close }
}
