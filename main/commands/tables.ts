/**
 * `kfs tables`: every Iceberg table kfs keeps, by name, with how to read it from DuckDB, PyIceberg
 * and Spark (issue #17 item 5). Reads the object store only, so it lists what exists — view
 * versions no longer in the module, archives of internal re-key topics — without the module.
 */
import { fileURLToPath } from 'node:url'
import { KFS_NAMESPACE, listStoredTables, type JoinKeyColumnType, type StoredTable } from '../../adapters/offline/iceberg/table-listing.ts'
import { damagedTableError } from '../../adapters/offline/iceberg/damaged-table.ts'
import { isInternalTopicName as isRekeyTopic } from '../../engine/plan-sources.ts'
import type { ObjectStore } from '../../ports/object-store.ts'
import type { CatalogTable } from '../../serving/handlers/iceberg-catalog.ts'
import type { Command } from './command.ts'
import { openReadSideStore, readSideRetry } from './read-side.ts'

export type TableKind = 'feature' | 'archive' | 'rekey-archive'

export interface TableListing {
  /** `kfs.<name>`: the identifier in the catalog `kfs serve` answers at /v1 (see README "Tables by name"). */
  readonly identifier: string
  readonly name: string
  readonly kind: TableKind
  readonly location: string
  readonly metadataLocation: string
  readonly view?: { readonly name: string; readonly version: number }
  readonly topic?: string
  /** A feature table's join keys as typed columns beside `entity_key` (none: a table created before kfs 0.2). */
  readonly joinKeys?: readonly JoinKeyColumnType[]
  readonly read: { readonly duckdb: string; readonly pyiceberg: string; readonly pyicebergCatalog: string; readonly spark: string }
}

/** DuckDB's iceberg_scan wants a plain path for local files. */
function duckdbPath(uri: string): string {
  return uri.startsWith('file://') ? fileURLToPath(uri) : uri
}

const quoted = (s: string): string => `'${s.replaceAll("'", "''")}'`

export function listingOf(table: StoredTable): TableListing {
  const kind: TableKind = table.kind === 'feature' ? 'feature' : table.topic !== undefined && isRekeyTopic(table.topic) ? 'rekey-archive' : 'archive'
  return {
    identifier: `${KFS_NAMESPACE}.${table.name}`,
    name: table.name,
    kind,
    location: table.location,
    metadataLocation: table.metadataLocation,
    ...(table.view === undefined ? {} : { view: table.view }),
    ...(table.topic === undefined ? {} : { topic: table.topic }),
    ...(table.joinKeys === undefined ? {} : { joinKeys: table.joinKeys }),
    read: {
      duckdb: `INSTALL iceberg; LOAD iceberg; SELECT * FROM iceberg_scan(${quoted(duckdbPath(table.metadataLocation))});`,
      pyiceberg: `from pyiceberg.table import StaticTable; StaticTable.from_metadata(${quoted(table.metadataLocation)}).scan().to_pandas()`,
      // Through the read-only Iceberg REST catalog of `kfs serve` (serving/handlers/iceberg-catalog.ts): always the newest version.
      pyicebergCatalog: `from pyiceberg.catalog.rest import RestCatalog; RestCatalog('kfs', uri='<kfs serve url>').load_table('${KFS_NAMESPACE}.${table.name}')`,
      // The table location, not one metadata file: Iceberg's HadoopTables follows version-hint.text to the newest.
      spark: `spark.read.format('iceberg').load(${quoted(table.location)})`,
    },
  }
}

/** The tables `kfs serve`'s Iceberg REST catalog names: the same listing, read on every request. */
export async function catalogTablesOf(store: ObjectStore): Promise<CatalogTable[]> {
  return (await listStoredTables(store)).map((t) => ({
    name: t.name,
    metadataLocation: t.metadataLocation,
    readMetadata: async () => {
      const bytes = await store.get(t.metadataKey)
      if (bytes === undefined) throw new Error(`${t.metadataKey} vanished`)
      return new TextDecoder().decode(bytes)
    },
  }))
}

/** A table `kfs tables` cannot read is not left out of its listing (a shorter list that exits 0): it fails naming it. */
function refuseDamaged(path: string): never {
  throw damagedTableError(path)
}

/** What a reader joins a feature table on: its typed join-key columns, or entity_key in an older table. */
function joinOn(keys: readonly JoinKeyColumnType[]): string {
  if (keys.length === 0) return 'entity_key (no typed join-key columns: the table was created before kfs 0.2)'
  return keys.map((k) => `${k.name} (${k.type})`).join(', ')
}

function describeTable(t: TableListing): string {
  if (t.kind === 'feature' && t.view !== undefined) return `feature table of view ${t.view.name} v${t.view.version}`
  return t.kind === 'rekey-archive' ? `archive of internal re-key topic ${t.topic}` : `raw archive of topic ${t.topic}`
}

export const tablesCommand: Command = {
  name: 'tables',
  summary: 'List the Iceberg tables by name, with how to read each from DuckDB, PyIceberg and Spark',
  usage: 'kfs tables [--json]',
  help: `
Lists every Iceberg table in the object store: each view version's feature table, each source
topic's raw archive, and the archives of internal re-key topics. For each: its name in namespace
kfs, its current metadata file (what a snapshot reader pins), and one line each to read it from
DuckDB (iceberg extension), PyIceberg (the file, or by name through the Iceberg REST catalog
kfs serve answers at /v1/namespaces; add token=<API key> when keys are configured) and Spark.
A feature table's "join on" line names its entity's join keys: typed columns (string, or long
for int keys) beside entity_key, so a label table joins on user_id directly. Tables created
before kfs 0.2 have no such columns; join them on entity_key.
The metadata file changes with every commit; run the command again, or read by name, to see
newer rows.

No table yet (nothing run) prints nothing on stdout (an empty array with --json), says so on
stderr, and exits 0: an empty listing is an answer, not a failure.

Options:
  --json                 print a JSON array of {identifier, name, kind, location, metadataLocation, view?, topic?, joinKeys?, read}

Examples:
  kfs tables
  kfs tables --json | jq -r '.[] | select(.kind == "feature") | .metadataLocation'
`,
  async run(_args, ctx) {
    const store = await openReadSideStore(ctx, readSideRetry(ctx))
    const tables = (await listStoredTables(store, { onDamaged: refuseDamaged })).map(listingOf)
    if (ctx.json) {
      ctx.out(`${JSON.stringify(tables)}\n`)
      return 0
    }
    // A person running it should not be left wondering whether it looked anywhere.
    if (tables.length === 0) ctx.err("no tables yet: `kfs run` and `kfs replay` write them\n")
    for (const t of tables) {
      ctx.out(
        `${t.identifier}  ${describeTable(t)}\n` +
          `  metadata   ${t.metadataLocation}\n` +
          (t.joinKeys === undefined ? '' : `  join on    ${joinOn(t.joinKeys)}\n`) +
          `  DuckDB     ${t.read.duckdb}\n` +
          `  PyIceberg  ${t.read.pyiceberg}\n` +
          `             ${t.read.pyicebergCatalog}\n` +
          `  Spark      ${t.read.spark}\n`,
      )
    }
    return 0
  },
}
