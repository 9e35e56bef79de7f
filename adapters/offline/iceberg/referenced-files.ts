/**
 * Every object a table's metadata names, as store keys: what the orphan-file clean-up
 * (orphan-files.ts) must never delete. Read from the metadata the caller loaded: the metadata
 * file itself, every file of its metadata log, the version hint, each snapshot's manifest list,
 * every manifest those lists name and every file those manifests name — entries of any status:
 * an entry a compaction marked deleted names a file an older kept snapshot still reads.
 *
 * A manifest list or a manifest that is missing or unreadable fails the whole read (naming it):
 * the files it names are unknown, and would be taken for orphans.
 */
import { SinkWriteError } from '../../../core/errors.ts'
import { keyOfTableUri, manifestsOf, metadataKey, type IcebergTable } from './iceberg-table.ts'
import { decodeManifest, type ManifestFile } from './manifests.ts'
import { specById } from './table-metadata.ts'

/** Manifests read at once: a table with a long history lists thousands. */
const READ_CONCURRENCY = 16

/**
 * Adds to `named` the keys `table`'s metadata names. `expanded`: the manifest lists and manifests
 * already read (immutable files), shared between two reads of one table so the second reads only
 * what a commit in between added.
 */
export async function referencedKeys(table: IcebergTable, named: Set<string>, expanded: Set<string>): Promise<void> {
  const { store, path, metadata } = table
  // Each URI as a key of this store, through the locations the table was recorded at: in a moved
  // or copied data folder none lies under the current root, and every file would have been taken
  // for an orphan. One under none of them refuses the clean-up (table-locations.ts).
  const add = (uri: string): string => {
    const key = keyOfTableUri(table, uri)
    named.add(key)
    return key
  }
  named.add(metadataKey(path, table.version))
  named.add(`${path}/metadata/version-hint.text`)
  for (const e of metadata['metadata-log']) add(e['metadata-file'])
  const manifests = new Map<string, ManifestFile>()
  for (const s of metadata.snapshots) {
    const list = add(s['manifest-list'])
    if (expanded.has(list)) continue
    // Without `currentManifests` the list is read from the store, as a reader would find it.
    for (const m of await manifestsOf({ store, path, version: table.version, metadata }, s)) manifests.set(m.manifestPath, m)
    expanded.add(list)
  }
  const todo = [...manifests.values()].filter((m) => !expanded.has(add(m.manifestPath)))
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < todo.length) {
      const m = todo[next++]!
      const key = keyOfTableUri(table, m.manifestPath)
      const bytes = await store.get(key)
      if (bytes === undefined)
        throw new SinkWriteError(
          'OBJECT_NOT_FOUND',
          `manifest ${m.manifestPath} of table ${path} is missing: the table is damaged; restore it from a copy`,
          {
            context: { table: path, file: m.manifestPath },
          },
        )
      for (const e of decodeManifest(bytes, specById(metadata, m.partitionSpecId), m.manifestPath)) add(e.dataFile.filePath)
      expanded.add(key)
    }
  }
  await Promise.all(Array.from({ length: Math.min(READ_CONCURRENCY, todo.length) }, worker))
}
