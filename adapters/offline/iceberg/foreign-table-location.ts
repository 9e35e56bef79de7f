/**
 * Where a foreign Iceberg table's current metadata file is (docs/design.md §11): the table named by
 * a table source's `{ format: 'iceberg', table }` was written by Spark, PyIceberg, Trino…, with a
 * catalog kfs does not talk to, so its newest metadata is found from the files alone.
 *
 * `table` is either a metadata file (`…/metadata/v3.metadata.json`, `…/00002-<uuid>.metadata.json`)
 * or a table root (`warehouse/db/users`), each as a URI under the object store's root
 * (`s3://bucket/prefix/…`, `file:///…`) or as a key of the store. For a root, the newest version
 * is the highest listed under `metadata/`: Hadoop-style `v<N>.metadata.json` (Java, kfs) and
 * catalog-style `<NNNNN>-<uuid>.metadata.json` (PyIceberg, Java catalogs) alike. Listing, not
 * `version-hint.text`, decides, because catalog writers never write the hint and Hadoop writers
 * may let it lag. Two catalog-style files of one version (a commit that lost its catalog race
 * leaves its file behind) cannot be told apart without the catalog: that is an error asking for
 * the metadata location.
 */
import { gunzipSync } from 'node:zlib'
import { SourceError } from '../../../core/errors.ts'
import type { ObjectStore } from '../../../ports/object-store.ts'
import { keyOfUri } from '../../../ports/object-store-keys.ts'

export interface ResolvedMetadata {
  /** Store key of the metadata file. */
  readonly key: string
  /** The metadata JSON, decompressed when the file is `.gz.metadata.json`. */
  readonly bytes: Uint8Array
}

const METADATA_FILE = /(?:^|\/)(?:v(\d+)|(\d+)-[0-9a-fA-F-]+)(\.gz)?\.metadata\.json$/
const HAS_SCHEME = /^[a-zA-Z][a-zA-Z0-9+.-]*:/

/**
 * Spellings of one location by other writers: Hadoop's S3 connectors (`s3a://`, `s3n://`) and
 * Java's `file:/abs` (one slash) name what kfs's stores call `s3://` and `file:///abs`.
 */
function canonicalUri(uri: string): string {
  return uri.replace(/^s3[an]:\/\//, 's3://').replace(/^file:\/(?!\/)/, 'file:///')
}

/** The store key a location names: a URI under the store's root (any spelling above), or a key as is. */
export function storeKeyOf(store: ObjectStore, location: string): string {
  const trimmed = location.trim().replace(/\/+$/, '')
  if (!HAS_SCHEME.test(trimmed)) return trimmed.replace(/^\/+/, '')
  const key = keyOfUri(store, canonicalUri(trimmed))
  if (key === undefined) {
    throw new SourceError('OBJECT_NOT_FOUND', `Iceberg location ${location} lies outside the configured object store (${store.rootUri})`, {
      context: { location, root: store.rootUri },
    })
  }
  return key
}

function versionOf(key: string): number | undefined {
  const m = METADATA_FILE.exec(key)
  if (m === null) return undefined
  return Number(m[1] ?? m[2])
}

function decompress(key: string, bytes: Uint8Array): Uint8Array {
  return key.endsWith('.gz.metadata.json') ? new Uint8Array(gunzipSync(bytes)) : bytes
}

async function readMetadataFile(store: ObjectStore, key: string, table: string): Promise<ResolvedMetadata> {
  const bytes = await store.get(key)
  if (bytes === undefined) throw new SourceError('OBJECT_NOT_FOUND', `Iceberg table ${table}: no metadata file at ${key}`, { context: { table, key } })
  return { key, bytes: decompress(key, bytes) }
}

/** The table's current metadata file (see the module comment for how a root is resolved). */
export async function resolveTableMetadata(store: ObjectStore, table: string): Promise<ResolvedMetadata> {
  const key = storeKeyOf(store, table)
  if (key.endsWith('.metadata.json')) return readMetadataFile(store, key, table)
  const candidates = (await store.list(`${key}/metadata/`)).filter((k) => k.slice(key.length + '/metadata/'.length).indexOf('/') < 0 && versionOf(k) !== undefined)
  if (candidates.length === 0) {
    throw new SourceError('OBJECT_NOT_FOUND', `no Iceberg table at ${table}: no metadata/*.metadata.json under it (give the table root or its metadata file)`, {
      context: { table, key },
    })
  }
  const newest = Math.max(...candidates.map((k) => versionOf(k)!))
  const tied = candidates.filter((k) => versionOf(k) === newest)
  if (tied.length > 1) {
    throw new SourceError('SCHEMA_INCOMPATIBLE', `Iceberg table ${table}: ${tied.length} metadata files claim version ${newest}; name the current one (the catalog's metadata location) as the table`, {
      context: { table, version: newest },
    })
  }
  return readMetadataFile(store, tied[0]!, table)
}
