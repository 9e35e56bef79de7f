/** Where the engine's tables live in the object store; these paths are the tables' ids. */
import type { ViewVersion } from '../../../ports/offline.ts'

export function featureTablePath(view: ViewVersion): string {
  return `warehouse/features/${view.name}_v${view.version}`
}

export function archiveTablePath(topic: string): string {
  return `warehouse/archive/${topic}`
}
