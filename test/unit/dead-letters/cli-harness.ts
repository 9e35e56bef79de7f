/**
 * The dead-letter CLI tests' harness: `kfs` run in-process against a temporary data directory, and
 * the shop of examples/with-new-view.ts with purchases a producer with a wrong clock sent (every
 * one of u2's is refused `future_event_time`, live and in a backfill alike).
 */
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { encodeEntityKey } from '../../../core/entity-key.ts'
import { purchases } from '../../../examples/with-new-view.ts'
import type { FeatureViewDef } from '../../../features/types.ts'
import { commands } from '../../../main/commands/index.ts'
import { createProcessContext } from '../../../main/commands/context.ts'
import { runCli } from '../../../main/commands/router.ts'
import { loadConfig } from '../../../main/config.ts'
import { createRuntime } from '../../../main/runtime.ts'

const repo = fileURLToPath(new URL('../../../', import.meta.url))
/** The module with user_big_spends, the view added after its purchases were archived. */
export const LATER = ['--features', 'examples/with-new-view.ts']

export interface Kfs {
  readonly dataDir: string
  readonly env: Record<string, string | undefined>
  run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }>
  /** Runs and asserts exit 0; the stdout. */
  ok(...args: string[]): Promise<string>
  /** Per user, `feature` of `view` as serving reads it (null: no row). */
  online(view: FeatureViewDef, feature: string, users: readonly string[]): Promise<unknown[]>
}

export function kfsIn(prefix: string): Kfs {
  const dataDir = mkdtempSync(join(tmpdir(), prefix))
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, KFS_DATA_DIR: dataDir, KFS_LOG_LEVEL: 'silent' }
  const run = async (...args: string[]) => {
    let stdout = ''
    let stderr = ''
    const sink = (append: (t: string) => void) =>
      ({ write: (t: string) => (append(t), true) }) as unknown as NodeJS.WritableStream
    const code = await runCli(args, commands, (json) =>
      createProcessContext({ json, env, cwd: repo, stdout: sink((t) => (stdout += t)), stderr: sink((t) => (stderr += t)) }),
    )
    return { code, stdout, stderr }
  }
  return {
    dataDir,
    env,
    run,
    async ok(...args) {
      const r = await run(...args)
      assert.equal(r.code, 0, `kfs ${args.join(' ')}: exit ${r.code}\n${r.stderr}${r.stdout}`)
      return r.stdout
    },
    async online(view, feature, users) {
      const runtime = await createRuntime(loadConfig(env))
      try {
        const reads = await (
          await runtime.onlineStore()
        ).readRows(
          users.map((u) => ({ view, entityKey: encodeEntityKey([u]), features: [feature] })),
          Date.now(),
        )
        return reads.map((r) => r.values[0] ?? null)
      } finally {
        await runtime.close()
      }
    },
  }
}

/**
 * Applies examples/features.ts, produces u1's 3 purchases and u2's 4 with a producer clock 3 h
 * behind, and runs the live engine over them (user_purchases refuses u2's), then applies the
 * module with user_big_spends (amount 150: every purchase is a big spend).
 */
export async function shopWithWrongClock(kfs: Kfs): Promise<void> {
  await kfs.ok('apply')
  const base = Date.now() - 30 * 60_000
  const runtime = await createRuntime(loadConfig(kfs.env))
  try {
    const log = await runtime.eventLog()
    await log.createTopic(purchases.topic, purchases.partitions)
    const encoder = await runtime.encoderFor(purchases)
    const event = (user: string, ts: number) => ({ user_id: user, item_id: 'i1', amount: 150, currency: 'EUR', ts })
    await log.produce(
      purchases.topic,
      [0, 1, 2].map((i) => ({ key: 'u1', value: encoder.encode(event('u1', base + i * 1000)) })),
    )
    await log.produce(
      purchases.topic,
      [0, 1, 2, 3].map((i) => ({
        key: 'u2',
        value: encoder.encode(event('u2', base + 10_000 + i * 1000)),
        timestampMs: base - 3 * 3_600_000,
      })),
    )
  } finally {
    await runtime.close()
  }
  await kfs.ok('run', '--until-caught-up', '--idle', '300ms')
  await kfs.ok('apply', ...LATER)
}

export interface ListedLetters {
  letters: number
  byStatus: Record<string, number>
  list: { status: string; view: string; viewVersion: number | null; record: string; why?: string }[]
}
