/**
 * A checkpoint older than the tables (docs/semantics.md §14) after the newest checkpoint died at one
 * of its table commits: a live partition checkpoints after four records; an idle marker closes the
 * views' hour windows (rows at the next offset, before its record) and the next checkpoint, its
 * record published, dies at its first, second or third table commit — then the checkpoint store is
 * restored from a backup taken before it, and the partition runs on. The record after the marker is
 * late against the marker's watermark: an uninterrupted run dead-letters it. Whatever the commit,
 * the rows offline, the dead letters and the archive must be the uninterrupted run's.
 *
 * Before, a checkpoint committed its feature tables before the archive: dying between them left the
 * tables holding the marker's rows and the archive without the marker. The restored slot never saw
 * the marker (live's markers come from the wall clock, not again), took the late record as on time,
 * and its rows — at the positions of the marker's — were dropped as held: rows lost, a dead letter
 * missing. The archive is now committed first, so a table commit of a checkpoint implies the archive
 * holds everything the slot applied up to it, markers included.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { purchases, userPurchases } from '../../../examples/features.ts'
import type { FeatureViewDef } from '../../../features/types.ts'
import { readFeatureRowsByEntity } from '../../../adapters/offline/iceberg/feature-rows.ts'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { createDecoder, type Decoder } from '../../../schemas/decoder.ts'
import { createEncoder } from '../../../schemas/encoder.ts'
import { shortSpend, type Item } from '../../support/deploy-sequence.ts'
import {
  BackedUpStore,
  checkpointDir,
  GROUP,
  letterList,
  Line,
  restoreBackup,
  runToEnd,
} from '../../support/stale-checkpoints.ts'
import { assertSameRows } from '../../support/scenario.ts'

const VIEWS: readonly FeatureViewDef[] = [userPurchases, shortSpend]
const T = Date.UTC(2026, 1, 1)
const MIN = 60_000
const HOUR = 60 * MIN

let dir: string
let items: Item[][]
let decoder: Decoder
let oracle: Line

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kfs-stale-commit-order-'))
  const registry = new EmbeddedSchemaRegistry({ dir })
  const encoder = await createEncoder({ registry, subject: `${purchases.topic}-value`, schema: purchases.schema })
  decoder = createDecoder({ registry, readerSchema: purchases.schema })
  let offset = 0
  const record = (user: string, ts: number, amount: number): Item => ({
    record: {
      offset: String(offset++),
      key: Buffer.from(user),
      value: encoder.encode({ user_id: user, item_id: 'i1', amount, currency: 'EUR', ts }),
      timestampMs: ts,
      headers: {},
    },
  })
  items = [
    [
      record('u0', T, 10),
      record('u0', T + MIN, 20),
      record('u2', T + 2 * MIN, 5),
      record('u0', T + 3 * MIN, 7),
      // The idle period: the hour windows close here, before the next record.
      { markerMs: T + 3 * MIN + 2 * HOUR },
      // Late against the marker's watermark.
      record('u0', T + 33 * MIN, 3),
      record('u0', T + 2 * HOUR + 10 * MIN, 4),
    ],
    [],
  ]
  oracle = new Line(new BackedUpStore(), items, decoder)
  await runToEnd(oracle, VIEWS, 100)
  assert.ok(
    letterList(oracle.letters).some((l) => l.startsWith('0/4 late')),
    'the record after the marker is late in an uninterrupted run',
  )
})
after(() => rm(dir, { recursive: true, force: true }))

// The checkpoint after the marker commits three tables: each feature table and the archive.
for (const dieAtCommit of [1, 2, 3]) {
  void test(`the checkpoint after an idle marker dies at its table commit ${dieAtCommit} of 3, the store restored from before it: as uninterrupted`, async () => {
    const line = new Line(new BackedUpStore(), items, decoder)
    await line.live(0, VIEWS, { until: 4, every: 100 })
    await line.live(0, VIEWS, { until: 5, every: 100, dieAtCommit })
    const cpDir = checkpointDir(GROUP, 0)
    await restoreBackup(line.store, cpDir, line.store.backups.get(cpDir)!.get(1)!)
    await line.live(0, VIEWS, { until: items[0]!.length, every: 100 })
    await line.live(1, VIEWS, { until: 0, every: 100 })
    for (const view of VIEWS) {
      const expected = await readFeatureRowsByEntity(oracle.store.inner, view)
      assertSameRows(await readFeatureRowsByEntity(line.store.inner, view), expected, `${view.name} offline`)
      assert.deepEqual(letterList(line.letters, view.name), letterList(oracle.letters, view.name), `${view.name}'s dead letters`)
    }
    assert.deepEqual(await line.archive(0), await oracle.archive(0), 'archive of partition 0')
  })
}
