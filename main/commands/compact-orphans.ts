/**
 * `kfs compact --remove-orphans`: per table, the orphan-file clean-up (docs/semantics.md §25),
 * keeping every file a published checkpoint record staged (a restart commits those), and one line
 * a table in the text output.
 */
import { formatDurationMs } from '../../core/duration.ts'
import { publishedStaging } from '../../engine/published-staging.ts'
import type { OfflineTable } from '../../ports/offline.ts'
import type { OrphanRemovalSummary } from '../../ports/offline-compaction.ts'
import type { Runtime } from '../runtime.ts'
import type { CommandContext } from './command.ts'

export interface TableOrphans extends OrphanRemovalSummary {
  readonly table: string
  readonly dryRun: boolean
}

export async function removeOrphans(
  runtime: Runtime,
  tables: readonly OfflineTable[],
  options: { readonly minAgeMs: number; readonly dryRun: boolean },
  ctx: Pick<CommandContext, 'json' | 'out'>,
): Promise<TableOrphans[]> {
  // Read before any listing: a record published later stages files younger than any minimum age.
  const staged = await publishedStaging(runtime.store)
  const out: TableOrphans[] = []
  for (const table of tables) {
    const summary = await runtime.offline.removeOrphanFiles(table, { ...options, staged })
    const result = { table: runtime.offline.tableId(table), dryRun: options.dryRun, ...summary }
    out.push(result)
    if (!ctx.json) ctx.out(`${describe(result, options.minAgeMs)}\n`)
  }
  return out
}

function describe(r: TableOrphans, minAgeMs: number): string {
  const found = `${r.orphanFiles} orphan files (${r.orphanBytes} bytes)`
  const what = r.dryRun ? `${found} would be deleted (dry run)` : `${found}: ${r.deletedFiles} deleted (${r.deletedBytes} bytes)`
  const young =
    r.keptTooYoung > 0 ? `, ${r.keptTooYoung} unnamed files kept (written less than ${formatDurationMs(minAgeMs)} ago)` : ''
  const failed = r.failedDeletes > 0 ? `, ${r.failedDeletes} deletes failed (still orphans; the next run tries again)` : ''
  return `${r.table}: ${what}${young}${failed}`
}
