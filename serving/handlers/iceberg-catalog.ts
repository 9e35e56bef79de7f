/**
 * A read-only subset of the Iceberg REST catalog protocol (issue #17 item 5), so engines load kfs's
 * tables by name: PyIceberg's `RestCatalog` (`load_table('kfs.user_clicks_v1')`), Spark's and
 * Trino's REST catalogs. One namespace, `kfs`; the tables are what `kfs tables` lists. Served by
 * `kfs serve` beside the features, under the same API keys (a client sends `token=<key>`).
 *
 * Why REST and not the SQL (JDBC/SQLite) catalog: Node 20 has no SQLite, DuckDB's sqlite extension
 * is a download, and a native SQLite module would be a new dependency; a REST catalog also never
 * goes stale — every answer reads the store's current metadata.
 *
 * Routes (serving/server/iceberg-catalog-routes.ts): GET /v1/config, /v1/namespaces, /v1/namespaces/{ns}, /v1/namespaces/{ns}/tables,
 * /v1/namespaces/{ns}/tables/{table} (LoadTableResult: metadata-location and the metadata itself).
 */
import { HttpError } from '../errors.ts'
import { clippedName } from '../clipped-name.ts'

export const ICEBERG_NAMESPACE = 'kfs'

export interface CatalogTable {
  readonly name: string
  readonly metadataLocation: string
  /** The current metadata file's text, as stored: snapshot ids are 64-bit, so it is never re-serialised. */
  readMetadata(): Promise<string>
}

/** What the catalog lists; read on every request. */
export type CatalogTables = () => Promise<readonly CatalogTable[]>

/** No prefix, no overrides: clients use the paths below as they are. */
export function catalogConfig(): object {
  return { defaults: {}, overrides: {} }
}

export function listNamespaces(): object {
  return { namespaces: [[ICEBERG_NAMESPACE]] }
}

function checkNamespace(namespace: string): void {
  if (namespace !== ICEBERG_NAMESPACE) throw new HttpError(404, 'NOT_FOUND', `no namespace ${clippedName(namespace)}: kfs's tables are in namespace ${ICEBERG_NAMESPACE}`)
}

export function loadNamespace(namespace: string): object {
  checkNamespace(namespace)
  return { namespace: [ICEBERG_NAMESPACE], properties: {} }
}

export async function listTables(tables: CatalogTables, namespace: string): Promise<object> {
  checkNamespace(namespace)
  return { identifiers: (await tables()).map((t) => ({ namespace: [ICEBERG_NAMESPACE], name: t.name })) }
}

/** The LoadTableResult as JSON text, the metadata embedded verbatim. */
export async function loadTable(tables: CatalogTables, namespace: string, name: string): Promise<string> {
  checkNamespace(namespace)
  const table = (await tables()).find((t) => t.name === name)
  if (table === undefined) throw new HttpError(404, 'NOT_FOUND', `no table ${namespace}.${clippedName(name)} (kfs tables lists them)`)
  const metadata = await table.readMetadata()
  return `{"metadata-location":${JSON.stringify(table.metadataLocation)},"metadata":${metadata},"config":{}}`
}
