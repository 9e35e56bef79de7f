/**
 * The stores of the commands that only read kfs's tables (verify-parity, skew-report,
 * training-set, compact, dead-letters, tables), their reads retried (main/read-retry.ts): without
 * it one passing fault of the object store or the schema registry failed the whole command.
 */
import type { RetryOptions } from '../../core/retry.ts'
import { objectStoreReadsRetried } from '../../engine/retried-reads.ts'
import type { ObjectStore } from '../../ports/object-store.ts'
import { commandReadRetry } from '../read-retry.ts'
import { createLogger, createRuntime, type Runtime } from '../runtime.ts'
import type { CommandContext } from './command.ts'

/**
 * The runtime, its object store's and schema registry's reads retried; `writes`: its object store's
 * writes too, at the same bound (`kfs compact`, which rewrites tables).
 */
export function openReadSideRuntime(
  ctx: CommandContext,
  writes: 'writes retried' | 'writes as they are' = 'writes as they are',
): Promise<Runtime> {
  const options = { clock: ctx.clock, readsRetried: true, writesRetried: writes === 'writes retried' }
  return ctx.openRuntime === undefined ? createRuntime(ctx.config(), options) : ctx.openRuntime(options)
}

/** The bound on a command's reads, its retries logged by `runtime`'s logger (or the config's). */
export function readSideRetry(ctx: CommandContext, runtime?: Runtime): RetryOptions {
  return commandReadRetry(ctx.clock, runtime?.logger ?? createLogger(ctx.config()))
}

/** The context's object store, its reads retried (for a command with no runtime). */
export async function openReadSideStore(ctx: CommandContext, reads: RetryOptions): Promise<ObjectStore> {
  return objectStoreReadsRetried(await ctx.openObjectStore(), reads)
}
