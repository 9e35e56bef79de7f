/**
 * The data files every published checkpoint record stages, in every group, topic and partition:
 * after its publish a record is the point of no return (docs/semantics.md §11), and a restart rolls
 * each table forward to include its files — even one the engine staged days before it crashed.
 * No table metadata names them until then, so the orphan-file clean-up (`kfs compact
 * --remove-orphans`) keeps them.
 *
 * A record that cannot be read fails the whole read, naming it: the files it stages are unknown.
 */
import { CheckpointError } from '../core/errors.ts'
import { parseStoredJson } from '../core/stored-json.ts'
import type { ObjectStore } from '../ports/object-store.ts'
import type { StagedFiles } from '../ports/offline.ts'

const RECORD = /\/ckpt-\d+\.json$/

const isStaging = (v: unknown): v is { staged: StagedFiles[] } =>
  typeof v === 'object' &&
  v !== null &&
  Array.isArray((v as { staged?: unknown }).staged) &&
  (v as { staged: unknown[] }).staged.every(
    (s) =>
      typeof s === 'object' &&
      s !== null &&
      typeof (s as StagedFiles).table === 'string' &&
      Array.isArray((s as StagedFiles).files),
  )

export async function publishedStaging(store: ObjectStore): Promise<StagedFiles[]> {
  const out: StagedFiles[] = []
  for (const key of (await store.list('checkpoints/')).filter((k) => RECORD.test(k))) {
    const bytes = await store.get(key)
    if (bytes === undefined) continue // pruned since the listing: its files were committed before a newer record replaced it
    const record = parseStoredJson<{ staged: StagedFiles[] }>(new TextDecoder().decode(bytes), {
      what: `checkpoint record ${key}`,
      path: key,
      shape: 'a checkpoint record',
      isValid: isStaging,
      error: (message, options) => new CheckpointError('CHECKPOINT_CORRUPT', message, options),
    })
    out.push(...record.staged)
  }
  return out
}
