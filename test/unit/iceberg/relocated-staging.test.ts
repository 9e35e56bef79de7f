/**
 * Files a checkpoint record staged, committed after the data folder moved or was copied (a restart
 * rolls the record forward wherever the folder is now). The record keeps each file's key, relative
 * to the store's root (adapters/offline/iceberg/staged-data-files.ts), so the commit names the
 * file in the current folder — even one staged at a place the table never committed from, moved
 * again since. A record from before keys (its absolute `filePath` only) is mapped through the
 * table's recorded locations, and refused naming them when none holds it, the table unchanged.
 * The new manifest names the current folder's files, the orphan clean-up keeps the staged files,
 * and a copy's original keeps every byte. Before, every one of these commits was refused.
 */
import assert from 'node:assert/strict'
import { cpSync, mkdtempSync, renameSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, describe, test } from 'node:test'
import { LocalObjectStore } from '../../../adapters/object-store/local/local-object-store.ts'
import { liveEntriesOf, loadTable, readRows } from '../../../adapters/offline/iceberg/index.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { archiveTablePath } from '../../../adapters/offline/iceberg/table-paths.ts'
import { FeatureStoreError } from '../../../core/errors.ts'
import type { StagedFiles } from '../../../ports/offline.ts'
import { archiveRows } from '../../support/archive-rows.ts'
import { fileHashes } from '../../support/data-folder-outcome.ts'

const TOPIC = 'clicks'
const TABLE = archiveTablePath(TOPIC)
const root = mkdtempSync(path.join(tmpdir(), 'kfs-relocated-staging-'))
after(() => rmSync(root, { recursive: true, force: true }))

const sinkAt = (dir: string) => new IcebergOfflineSink(new LocalObjectStore(dir), { parquetWorker: false })
const withoutKeys = (staged: StagedFiles): StagedFiles => ({
  ...staged,
  files: staged.files.map((f) => Object.fromEntries(Object.entries(f as Record<string, unknown>).filter(([k]) => k !== 'key'))),
})
const copy = (from: string, to: string): void => cpSync(from, to, { recursive: true, preserveTimestamps: true })
const move = (from: string, to: string): void => renameSync(from, to)

async function offsetsAt(dir: string): Promise<string[]> {
  const out: string[] = []
  for await (const row of readRows(await loadTable(new LocalObjectStore(dir), TABLE))) out.push(String(row.offset))
  return out.sort((x, y) => Number(x) - Number(y))
}

interface Case {
  readonly name: string
  /** From a folder holding one commit (offsets 0–1) at `a`: stages offsets 2–3 somewhere, relocates; answers where to commit, and the original to keep as it was. */
  readonly arrange: (
    dirs: Record<'a' | 'b' | 'c', string>,
  ) => Promise<{ staged: StagedFiles; commitAt: string; untouched?: string }>
  /** A record from before keys that no recorded location holds: refused. */
  readonly refused?: true
}

const CASES: readonly Case[] = [
  {
    name: 'staged, then the folder copied (the original still there)',
    arrange: async ({ a, b }) => {
      const staged = await sinkAt(a).stageArchiveRows(TOPIC, archiveRows(2, 4))
      copy(a, b)
      return { staged, commitAt: b, untouched: a }
    },
  },
  {
    name: 'staged, then the folder moved',
    arrange: async ({ a, b }) => {
      const staged = await sinkAt(a).stageArchiveRows(TOPIC, archiveRows(2, 4))
      move(a, b)
      return { staged, commitAt: b }
    },
  },
  {
    name: 'moved, staged there with no commit, moved again',
    arrange: async ({ a, b, c }) => {
      move(a, b)
      const staged = await sinkAt(b).stageArchiveRows(TOPIC, archiveRows(2, 4))
      move(b, c)
      return { staged, commitAt: c }
    },
  },
  {
    name: 'a record from before keys, staged, then the folder copied',
    arrange: async ({ a, b }) => {
      const staged = withoutKeys(await sinkAt(a).stageArchiveRows(TOPIC, archiveRows(2, 4)))
      copy(a, b)
      return { staged, commitAt: b, untouched: a }
    },
  },
  {
    name: 'a record from before keys, staged where the table never committed, moved again',
    refused: true,
    arrange: async ({ a, b, c }) => {
      move(a, b)
      const staged = withoutKeys(await sinkAt(b).stageArchiveRows(TOPIC, archiveRows(2, 4)))
      move(b, c)
      return { staged, commitAt: c }
    },
  },
]

void describe('staged files committed in a moved or copied folder', () => {
  for (const [i, c] of CASES.entries()) {
    void test(c.name, async () => {
      const dirs = { a: path.join(root, `${i}`, 'a'), b: path.join(root, `${i}`, 'b'), c: path.join(root, `${i}`, 'c') }
      const first = sinkAt(dirs.a)
      await first.commit(TABLE, [await first.stageArchiveRows(TOPIC, archiveRows(0, 2))], { 'clicks/0': 1 }, {})
      const { staged, commitAt, untouched } = await c.arrange(dirs)
      const original = untouched === undefined ? undefined : fileHashes(untouched)
      const sink = sinkAt(commitAt)

      const orphans = sink.removeOrphanFiles({ kind: 'archive', topic: TOPIC }, { minAgeMs: 0, dryRun: false, staged: [staged] })
      if (c.refused === undefined) assert.equal((await orphans).orphanFiles, 0, 'the staged files are kept for the roll-forward')
      else
        await assert.rejects(orphans, /lies neither under/, 'a clean-up that cannot tell what the record keeps deletes nothing')
      const committed = sink.commit(TABLE, [staged], { 'clicks/0': 2 }, {}).then(
        () => undefined,
        (err: unknown) => err,
      )
      const err = await committed
      if (c.refused === true) {
        assert.ok(err instanceof FeatureStoreError && err.code === 'SINK_REJECTED', String(err))
        assert.match(
          err.message,
          new RegExp(
            `${dirs.b}/.*lies neither under the table's location here \\(file://${dirs.c}/${TABLE}\\).*file://${dirs.a}/${TABLE}`,
          ),
        )
        assert.deepEqual(await offsetsAt(commitAt), ['0', '1'], 'the table as it was')
        return
      }
      assert.equal(err, undefined)
      assert.deepEqual(await offsetsAt(commitAt), ['0', '1', '2', '3'])
      const table = await loadTable(new LocalObjectStore(commitAt), TABLE)
      const added = (await liveEntriesOf(table)).filter((e) => e.snapshotId === table.metadata['current-snapshot-id'])
      assert.equal(added.length, 1)
      for (const e of added)
        assert.ok(
          e.dataFile.filePath.startsWith(`file://${commitAt}/${TABLE}/data/`),
          `${e.dataFile.filePath}: named where it is now`,
        )
      if (original !== undefined)
        assert.deepEqual(fileHashes(untouched!), original, 'the original: not a byte written, added or deleted')
    })
  }
})
