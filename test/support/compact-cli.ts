/**
 * `kfs compact` run in process over a copy of the read-command baseline (read-command-baseline.ts)
 * whose objects live in a store the test holds, and the user_purchases rows a table reads: what
 * the compact CLI tests (test/unit/cli/compact-*.test.ts) share.
 */
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { IcebergOfflineSink } from '../../adapters/offline/iceberg/offline-sink.ts'
import { EmbeddedSchemaRegistry } from '../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { silentLogger } from '../../core/logger.ts'
import { userPurchases } from '../../examples/with-new-view.ts'
import type { CommandContext } from '../../main/commands/command.ts'
import { commands } from '../../main/commands/index.ts'
import { runCli } from '../../main/commands/router.ts'
import { loadConfig } from '../../main/config.ts'
import { createRuntime } from '../../main/runtime.ts'
import type { ObjectStore } from '../../ports/object-store.ts'
import { fastRetryClock } from './checkpoint-fault-scenario.ts'
import type { ReadBaseline } from './read-command-baseline.ts'
import { copyOfBaselineDir, FEATURES } from './read-command-faults.ts'

const REPO = join(import.meta.dirname, '../..')

export interface CliRun {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** `kfs compact <features> --views user_purchases --older-than 1h <extra>` (or the `--older-than` of `extra`) with `env` added to the baseline's. */
export async function compactBaseline(
  baseline: ReadBaseline,
  storage: ObjectStore,
  extra: readonly string[],
  env: Readonly<Record<string, string>> = {},
): Promise<CliRun> {
  const dir = await copyOfBaselineDir(baseline)
  const fullEnv = { PATH: process.env.PATH, HOME: process.env.HOME, KFS_DATA_DIR: dir, KFS_LOG_LEVEL: 'silent', ...env }
  const config = loadConfig(fullEnv)
  let stdout = ''
  let stderr = ''
  try {
    // A test that names its own age gets it alone.
    const age = extra.includes('--older-than') ? [] : ['--older-than', '1h']
    const args = ['compact', ...FEATURES, '--views', 'user_purchases', ...age, ...extra]
    const code = await runCli(args, commands, (json): CommandContext => ({
      cwd: REPO,
      json,
      interactive: false,
      env: fullEnv,
      clock: fastRetryClock,
      out: (t) => void (stdout += t),
      err: (t) => void (stderr += t),
      listenForStop: () => ({ received: new Promise<string>(() => {}), dispose: () => {} }),
      config: () => config,
      openObjectStore: () => Promise.resolve(storage),
      openRuntime: (options) =>
        createRuntime(config, {
          ...options,
          logger: silentLogger,
          ports: { store: storage, schemas: new EmbeddedSchemaRegistry({ dir: join(dir, 'schemas') }) },
        }),
    }))
    return { code, stdout, stderr }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** The user_purchases rows the store's feature table reads (at `snapshotId`, else the current snapshot), in key order, as text. */
export async function userPurchasesRows(storage: ObjectStore, snapshotId?: string): Promise<string> {
  const sink = new IcebergOfflineSink(storage, { parquetWorker: false })
  const rows = await sink.readFeatureRows(userPurchases, snapshotId === undefined ? {} : { snapshotId })
  return JSON.stringify([...rows].sort(([a], [b]) => (a < b ? -1 : 1)))
}
