/**
 * Where the files a table's metadata names are now. Iceberg metadata holds absolute URIs (the
 * table's `location`, every manifest list, manifest and data file), so a data folder moved or
 * copied elsewhere (`mv`, `cp -a` for a backup, a volume mounted at another path) names files at
 * its old place: followed as written, a move found nothing, and a copy would have read — and
 * expired or cleaned up — the original's files.
 *
 * The mapping is exact, never a guess: a URI under a location the table was recorded at (its
 * metadata's `location`, and the ones before it in `kfs.former-locations`) is the same key under
 * the table's location in the store kfs has now. The first commit after a move records the move:
 * `location` becomes the current one and the old one joins the former ones, so a folder moved
 * twice still maps its oldest files. Every key comes out under the table's own path in the current
 * store (one written by another tool may name other keys of it), so nothing read, expired or
 * cleaned up through this lies outside the current data folder.
 */
import { SinkWriteError } from '../../../core/errors.ts'
import { keyOfUri } from '../../../ports/object-store-keys.ts'
import type { ObjectStore } from '../../../ports/object-store.ts'
import type { TableMetadata } from './table-metadata.ts'

/** The locations a table had before its current one, oldest first, as a JSON array of URIs. */
export const FORMER_LOCATIONS_PROPERTY = 'kfs.former-locations'

export interface LocatedTable {
  readonly store: Pick<ObjectStore, 'rootUri' | 'uriOf'>
  /** The table's key prefix in the store, e.g. `warehouse/features/clicks_v1`. */
  readonly path: string
  readonly metadata: Pick<TableMetadata, 'location' | 'properties'>
}

/** Every location the table's metadata was recorded at: `location` first, then the former ones, newest first. */
export function recordedLocations(metadata: Pick<TableMetadata, 'location' | 'properties'>): string[] {
  return [...new Set([metadata.location, ...formerLocations(metadata).reverse()].map(withoutTrailingSlash))]
}

function formerLocations(metadata: Pick<TableMetadata, 'properties'>): string[] {
  const text = metadata.properties[FORMER_LOCATIONS_PROPERTY]
  if (text === undefined) return []
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    parsed = undefined
  }
  if (!Array.isArray(parsed) || !parsed.every((l) => typeof l === 'string')) {
    throw new SinkWriteError(
      'DATA_CORRUPT',
      `table property ${FORMER_LOCATIONS_PROPERTY} is not a JSON array of locations: the table's metadata is damaged; restore it from a copy`,
      {
        context: { property: FORMER_LOCATIONS_PROPERTY },
      },
    )
  }
  return parsed as string[]
}

const withoutTrailingSlash = (uri: string): string => uri.replace(/\/+$/, '')

/** The table's location in the store kfs has now. */
export function currentTableLocation(table: Pick<LocatedTable, 'store' | 'path'>): string {
  return table.store.uriOf(table.path)
}

/**
 * The store key of a URI the table's metadata (or a checkpoint record staging files for it)
 * names: under the table's current location, or under one it was recorded at — the longest that
 * holds it, so a location nested in another (a folder renamed into a subfolder of the old one)
 * is still told apart. A URI under none of them is refused, naming them: it is another place's.
 */
export function keyOfTableUri(table: LocatedTable, uri: string): string {
  let best: string | undefined
  for (const location of [currentTableLocation(table), ...recordedLocations(table.metadata)]) {
    if (uri.startsWith(`${location}/`) && (best === undefined || location.length > best.length)) best = location
  }
  if (best !== undefined) return `${table.path}/${uri.slice(best.length + 1)}`
  // A table written by hand or by another tool may name files elsewhere in the same store.
  const key = keyOfUri(table.store, uri)
  if (key !== undefined) return key
  const recorded = recordedLocations(table.metadata).filter((l) => l !== currentTableLocation(table))
  throw new SinkWriteError(
    'SINK_REJECTED',
    `table ${table.path}: ${uri}, a file its metadata or a checkpoint record names, lies neither under the table's location here (${currentTableLocation(table)}) nor under ${recorded.length === 0 ? 'any other location it was recorded at' : `the location(s) it was recorded at before (${recorded.join(', ')})`}: the file belongs to another data folder; point KFS_DATA_DIR at the folder this table was written in, or copy that whole folder`,
    {
      context: {
        table: table.path,
        file: uri,
        root: table.store.rootUri,
        location: currentTableLocation(table),
        recorded: recorded.join(' '),
      },
    },
  )
}

/**
 * The metadata a commit writes from `current`: unchanged when the table is where it was recorded;
 * after a move, `location` is the current one and the recorded one joins the former locations, so
 * the files written before the move still map (and a move back maps nothing twice).
 */
export function relocated(metadata: TableMetadata, current: string): TableMetadata {
  const recorded = withoutTrailingSlash(metadata.location)
  if (recorded === current) return metadata
  const former = formerLocations(metadata).filter(
    (l) => withoutTrailingSlash(l) !== recorded && withoutTrailingSlash(l) !== current,
  )
  return {
    ...metadata,
    location: current,
    properties: { ...metadata.properties, [FORMER_LOCATIONS_PROPERTY]: JSON.stringify([...former, recorded]) },
  }
}
