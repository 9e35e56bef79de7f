import assert from 'node:assert/strict'
import { test } from 'node:test'
import * as arrow from 'apache-arrow'
import { encodeParquetFile, readParquetRows, type ParquetColumn } from '../../../adapters/offline/parquet/index.ts'
import { parquetWorkerActive, writeParquet } from '../../../adapters/offline/parquet/parquet-encoder.ts'
import { writeParquetBytes } from '../../../adapters/offline/parquet/parquet-wasm-write.ts'

const columns: ParquetColumn[] = [
  { name: 'entity_key', type: 'string', fieldId: 1, required: true },
  { name: 'as_of', type: 'timestamptz', fieldId: 2, required: true },
  { name: 'x', type: 'double', fieldId: 3, required: false },
]
const rows = Array.from({ length: 3_000 }, (_, i) => ({ entity_key: `user-${i % 101}`, as_of: 1_700_000_000_000 + i * 7, x: i % 5 === 0 ? null : i / 7 }))

void test('parquet encoding > runs on the worker thread and gives the in-process bytes, in order, under concurrency', async () => {
  const files = await Promise.all([0, 1, 2, 3].map((k) => encodeParquetFile(columns, rows.slice(k * 500, k * 500 + 1_000), { keyValueMetadata: { k: String(k) } })))
  assert.equal(parquetWorkerActive(), true, 'the worker wrote the files')
  for (let k = 0; k < files.length; k++) {
    const back: Record<string, unknown>[] = []
    for await (const row of readParquetRows(files[k]!.bytes)) back.push(row)
    assert.deepEqual(back, rows.slice(k * 500, k * 500 + 1_000), `file ${k}`)
  }
  const table = arrow.tableFromArrays({ a: Int32Array.from([1, 2, 3]), b: ['x', 'y', null] })
  const request = () => ({ ipc: arrow.tableToIPC(table, 'stream'), compression: 'zstd' as const, rowGroupRows: 2, columnCount: 2 })
  const viaWorker = await writeParquet(request())
  const inProcess = await writeParquetBytes(request())
  assert.deepEqual([...viaWorker.bytes], [...inProcess.bytes])
  assert.deepEqual(viaWorker.columnSizes, inProcess.columnSizes)
  assert.ok(viaWorker.columnSizes.every((s) => s > 0))
})
