/**
 * verify-parity over tables that cannot prove parity: one of the two tables missing (or written
 * only by another group) is NOT_FOUND naming that table — before, every such case read "is this
 * the group that wrote them?", wrong when the group is right and a table is gone — and live rows
 * that differ from the replay (missing, extra, another value) are a failed report naming them.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { FeatureStoreError } from '../../../core/errors.ts'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { purchases, userPurchases } from '../../../examples/features.ts'
import type { ArchiveRow, OfflineFeatureRow } from '../../../ports/offline.ts'
import { verifyParity, type ParityReport } from '../../../replay/verify-parity.ts'
import { createDecoder } from '../../../schemas/decoder.ts'
import { createEncoder } from '../../../schemas/encoder.ts'
import { generatePurchases } from '../../support/scenario.ts'

const schemaDir = mkdtempSync(join(tmpdir(), 'kfs-parity-tables-'))
after(() => rmSync(schemaDir, { recursive: true, force: true }))
const schemas = new EmbeddedSchemaRegistry({ dir: schemaDir })
const decoder = createDecoder({ registry: schemas, readerSchema: purchases.schema })
const TOPIC = purchases.topic

type Writer = 'g' | 'other' | 'none'

/** The archive and the feature table, each committed by group `g`, another group, or not at all. */
async function tables(
  archiveBy: Writer,
  featuresBy: Writer,
  liveRows: (sink: IcebergOfflineSink) => Promise<OfflineFeatureRow[]> = async () => [],
): Promise<IcebergOfflineSink> {
  const sink = new IcebergOfflineSink(new MemoryObjectStore(), { parquetWorker: false })
  const encoder = await createEncoder({ registry: schemas, subject: `${TOPIC}-value`, schema: purchases.schema })
  const events = generatePurchases({ count: 50, users: 5, seed: 4 })
  const rows: ArchiveRow[] = events.map((e, i) => ({
    partition: 0,
    offset: String(i),
    eventTimeMs: e.ts,
    key: new TextEncoder().encode(e.user_id),
    schemaId: 1,
    payload: encoder.encode(e),
    markerWatermarkMs: null,
    timestampMs: e.ts,
  }))
  if (archiveBy !== 'none') {
    await sink.commit(
      sink.tableId({ kind: 'archive', topic: TOPIC }),
      [await sink.stageArchiveRows(TOPIC, rows)],
      { [`${archiveBy}/${TOPIC}/0`]: 1 },
      {},
    )
  }
  if (featuresBy !== 'none') {
    const staged = await sink.stageFeatureRows(userPurchases, await liveRows(sink))
    await sink.commit(sink.tableId({ kind: 'feature', view: userPurchases }), [staged], { [`${featuresBy}/${TOPIC}/0`]: 1 }, {})
  }
  return sink
}

const verify = (sink: IcebergOfflineSink): Promise<ParityReport> =>
  verifyParity({ offline: sink, decoder, view: userPurchases, groupId: 'g', scratch: new MemoryObjectStore() })

/** The replay's rows, as the live engine would have written them (in archive order per entity). */
async function replayRows(): Promise<OfflineFeatureRow[]> {
  const report = await verifyParity({
    offline: await tables('g', 'g'),
    decoder,
    view: userPurchases,
    groupId: 'g',
    scratch: new MemoryObjectStore(),
    maxDifferences: 1e6,
  })
  assert.ok(report.replayRows > 20 && report.differences.length === report.replayRows, `${report.replayRows} rows replayed`)
  return report.differences.map((d, i) => ({
    ...d.replay!,
    createdAtMs: 0,
    origin: { partition: 0, offset: String(i), seq: 0, marker: false },
  }))
}

void describe('replay > verify-parity > tables that cannot prove parity', () => {
  void test('a missing table, or one only another group wrote: NOT_FOUND naming it', async () => {
    const features = 'warehouse/features/user_purchases_v1'
    const archive = 'warehouse/archive/purchases'
    const cases: [string, Writer, Writer, RegExp][] = [
      [
        'the feature table missing',
        'g',
        'none',
        new RegExp(`^nothing to compare: ${features} is missing or has no snapshot, while ${archive} holds the group's commits`),
      ],
      [
        'the archive missing',
        'none',
        'g',
        new RegExp(`^nothing to compare: ${archive} is missing or has no snapshot, while ${features} holds the group's commits`),
      ],
      [
        'the feature table written by another group',
        'g',
        'other',
        new RegExp(
          `^nothing to compare: ${features} has no commit of group g yet, while ${archive} holds the group's commits; its commits are another group's \\(a backfill's`,
        ),
      ],
      [
        'the archive written by another group',
        'other',
        'g',
        new RegExp(
          `^nothing to compare: ${archive} has no commit of group g yet, while ${features} holds the group's commits; its commits are another group's, or name the group`,
        ),
      ],
      [
        'both written by another group',
        'other',
        'other',
        /^no consistent cut between .* for group g: is this the group that wrote them\?/,
      ],
      [
        'the archive by another group, no feature table',
        'other',
        'none',
        /^no consistent cut between .* for group g: is this the group that wrote them\?/,
      ],
    ]
    for (const [what, archiveBy, featuresBy, message] of cases) {
      const err = await verify(await tables(archiveBy, featuresBy)).then(
        () => undefined,
        (e: unknown) => e,
      )
      assert.ok(err instanceof FeatureStoreError, `${what}: ${String(err)}`)
      assert.equal(err.code, 'NOT_FOUND', what)
      assert.match(err.message, message, what)
    }
  })

  void test('live rows missing, extra or different: the report fails and names them', async () => {
    const full = await verify(await tables('g', 'g'))
    assert.equal(full.ok, false, 'no live rows at all against the replay’s')
    assert.equal(full.liveRows, 0)
    assert.ok(
      full.replayRows > 20 &&
        full.differences.length > 0 &&
        full.differences.every((d) => d.live === undefined && d.replay !== undefined),
    )

    const origin = (i: number) => ({ partition: 0, offset: String(i), seq: 0, marker: false })
    const invented: OfflineFeatureRow = {
      entityKey: 'nobody',
      asOfMs: Date.UTC(2026, 0, 1),
      createdAtMs: 0,
      values: userPurchases.features.map(() => null),
      origin: origin(0),
    }
    const extra = await verify(await tables('g', 'g', async () => [invented]))
    assert.equal(extra.ok, false)
    assert.ok(
      extra.differences.some((d) => d.entityKey === 'nobody' && d.replay === undefined),
      'the invented row is named',
    )
    assert.equal(extra.liveRows, 1)

    const replayed = await replayRows()
    assert.equal((await verify(await tables('g', 'g', async () => replayed))).ok, true, 'the replay’s own rows match')
    const changed = replayed.map((r, i) =>
      i === 7 ? { ...r, values: r.values.map((v) => (typeof v === 'number' ? v + 1 : v)) } : r,
    )
    const report = await verify(await tables('g', 'g', async () => changed))
    assert.equal(report.ok, false)
    assert.equal(report.matchingRows, replayed.length - 1)
    assert.deepEqual(
      report.differences.map((d) => d.entityKey),
      [replayed[7]!.entityKey],
      'the changed row is the one difference',
    )
  })
})
