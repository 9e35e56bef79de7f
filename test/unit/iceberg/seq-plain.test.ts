/**
 * A feature table's `seq` column is written PLAIN with no dictionary attempted (data-file-writer.ts):
 * every row's seq is distinct, so a dictionary only costs every training-set join a lookup per row.
 * The other columns keep the writer's defaults (dictionary first), and the values read back the same.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { DuckDBInstance } from '@duckdb/node-api'
import * as pw from 'parquet-wasm/node'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { dataFilesOf, loadTable } from '../../../adapters/offline/iceberg/index.ts'
import { featureTablePath, IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { readParquetFooter } from '../../../adapters/offline/parquet/parquet-wasm-write.ts'
import * as examples from '../../../examples/features.ts'
import type { OfflineFeatureRow } from '../../../ports/offline.ts'

const view = examples.userClicks
const T0 = Date.UTC(2024, 0, 10)

const dirs: string[] = []
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})

void describe('iceberg > feature files: seq written PLAIN', () => {
  void test('seq has no dictionary page and only PLAIN data; entity_key keeps its dictionary; seq reads back', async () => {
    const store = new MemoryObjectStore()
    const sink = new IcebergOfflineSink(store, { parquetWorker: false })
    const rows: OfflineFeatureRow[] = Array.from({ length: 3000 }, (_, i) => ({
      entityKey: `u${i % 7}`,
      asOfMs: T0 + i,
      createdAtMs: T0 + i + 1,
      values: view.features.map(() => null),
      origin: { partition: 0, offset: String(1000 + Math.floor(i / 3)), seq: i % 3, marker: false },
    }))
    await sink.commit(featureTablePath(view), [await sink.stageFeatureRows(view, rows)], {}, {})
    const files = await dataFilesOf(await loadTable(store, featureTablePath(view)))
    assert.equal(files.length, 1)
    const bytes = await store.get(files[0]!.filePath.slice(store.uriOf('').length + 1))
    assert.ok(bytes !== undefined)
    const meta = await readParquetFooter(bytes)
    try {
      for (const rg of meta.rowGroups()) {
        const byName = new Map(rg.columns().map((c) => [c.columnPath().join('.'), c]))
        const seq = byName.get('seq')!
        assert.ok(
          !seq.encodings().includes(pw.Encoding.RLE_DICTIONARY) && !seq.encodings().includes(pw.Encoding.PLAIN_DICTIONARY),
          'no dictionary for seq',
        )
        assert.ok(seq.encodings().includes(pw.Encoding.PLAIN))
        assert.ok(byName.get('entity_key')!.encodings().includes(pw.Encoding.RLE_DICTIONARY), 'other columns keep the dictionary')
      }
    } finally {
      meta.free()
    }
    const dir = await mkdtemp(join(tmpdir(), 'kfs-seq-plain-'))
    dirs.push(dir)
    await writeFile(join(dir, 'f.parquet'), bytes)
    const instance = await DuckDBInstance.create(':memory:')
    const connection = await instance.connect()
    try {
      const got = (await connection.runAndReadAll(`SELECT seq FROM read_parquet('${join(dir, 'f.parquet')}')`))
        .getRows()
        .map((r) => r[0] as bigint)
      assert.deepEqual(
        [...got].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)),
        rows.map((r) => (BigInt(r.origin.offset) << 21n) + BigInt(r.origin.seq)),
      )
    } finally {
      connection.closeSync()
      instance.closeSync()
    }
  })
})
