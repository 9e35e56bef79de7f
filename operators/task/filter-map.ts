/**
 * Step 2's first part for one view (docs/semantics.md §1): its `filter`, then its `map`. A record
 * the filter drops is silently no input for the view (that is what a filter is for); a filter or
 * map that throws, or a map that returns no record, is the record's dead letter `map_failed`, with
 * the error's name and message kept (truncated).
 */
import type { EventRecord, FeatureViewDef } from '../../features/types.ts'
import { NO_CONSTANTS } from '../../features/constants.ts'
import { thrownText, type TaskDeadLetter } from './output.ts'

/** The (mapped) event the view aggregates, or undefined when filtered out or refused. */
export function filterAndMap(view: FeatureViewDef, offset: string, event: EventRecord, dead: TaskDeadLetter[]): EventRecord | undefined {
  let ev = event
  try {
    const constants = view.constants ?? NO_CONSTANTS
    if (view.filter !== undefined && !view.filter(event, constants)) return undefined
    if (view.map !== undefined) ev = view.map(event, constants)
  } catch (err: unknown) {
    dead.push({ offset, reason: 'map_failed', view: view.name, detail: `filter/map threw ${thrownText(err)}` })
    return undefined
  }
  if (ev === null || typeof ev !== 'object') {
    dead.push({ offset, reason: 'map_failed', view: view.name, detail: view.map === undefined ? 'event is not a record' : 'map did not return a record' })
    return undefined
  }
  return ev
}
