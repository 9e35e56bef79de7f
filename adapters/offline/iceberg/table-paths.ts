/** Where the engine's tables live in the object store; these paths are the tables' ids. */
import { ConfigError } from '../../../core/errors.ts'
import type { ViewVersion } from '../../../ports/offline.ts'

export function featureTablePath(view: ViewVersion): string {
  return `warehouse/features/${view.name}_v${view.version}`
}

export function archiveTablePath(topic: string): string {
  return `warehouse/archive/${topic}`
}

/**
 * `table`, when it is the archive of `topic` (or undefined): refused when its `kfs.topic` names
 * another topic. Topic names are case-sensitive, a local object store's folders often are not
 * (macOS, Windows): there `warehouse/archive/Clicks` is the table `clicks` made, and a replay of
 * `Clicks` read `clicks`'s records (and archiving appended to its table).
 */
export function checkArchiveTopic<
  T extends { readonly path: string; readonly metadata: { readonly properties?: Readonly<Record<string, string>> } } | undefined,
>(table: T, topic: string): T {
  const stored = table?.metadata.properties?.['kfs.topic']
  if (table === undefined || stored === undefined || stored === topic) return table
  throw new ConfigError(
    `the archive table ${table.path} of topic '${topic}' is the archive of topic '${stored}': the object store does not tell upper from lower case, so the two topics would share it; use one spelling for both, or names that differ in more than case`,
    { context: { topic, storedTopic: stored, table: table.path } },
  )
}
