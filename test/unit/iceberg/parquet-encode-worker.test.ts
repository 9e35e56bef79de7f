import assert from 'node:assert/strict'
import { test } from 'node:test'
import * as arrow from 'apache-arrow'
import { ConfigError } from '../../../core/errors.ts'
import { createParquetCodec, encodeParquetFile, readParquetRows, type ParquetColumn } from '../../../adapters/offline/parquet/index.ts'
import { loadConfig } from '../../../main/config.ts'
import { parquetWorkerActive, writeParquet } from '../../../adapters/offline/parquet/parquet-encoder.ts'
import { writeParquetBytes } from '../../../adapters/offline/parquet/parquet-wasm-write.ts'

const columns: ParquetColumn[] = [
  { name: 'entity_key', type: 'string', fieldId: 1, required: true },
  { name: 'as_of', type: 'timestamptz', fieldId: 2, required: true },
  { name: 'x', type: 'double', fieldId: 3, required: false },
]
const rows = Array.from({ length: 3_000 }, (_, i) => ({ entity_key: `user-${i % 101}`, as_of: 1_700_000_000_000 + i * 7, x: i % 5 === 0 ? null : i / 7 }))

// First in this file (one process): nothing has started the worker yet.
void test('parquet encoding > worker: false writes in-process, the same bytes, and starts no worker', async () => {
  const inProcess = await encodeParquetFile(columns, rows, { worker: false })
  const codec = createParquetCodec({ worker: false })
  const viaCodec = await codec.encode(
    columns.map(({ name, type, required }) => ({ name, type, required })),
    columns.map((c) => rows.map((r) => r[c.name as keyof (typeof rows)[number]])),
  )
  assert.equal(parquetWorkerActive(), false, 'no worker thread was started')
  const back: Record<string, unknown>[] = []
  for await (const row of readParquetRows(inProcess.bytes)) back.push(row)
  assert.deepEqual(back, rows)
  assert.deepEqual([...viaCodec], [...inProcess.bytes], 'the codec numbers fields 1…n as the columns here do')
})

void test('parquet encoding > KFS_PARQUET_WORKER reaches the adapters only through the config', () => {
  assert.equal(loadConfig({}).parquetWorker, true)
  assert.equal(loadConfig({ KFS_PARQUET_WORKER: '0' }).parquetWorker, false)
  assert.equal(loadConfig({ KFS_PARQUET_WORKER: 'false' }).parquetWorker, false)
  assert.equal(loadConfig({ KFS_PARQUET_WORKER: '1' }).parquetWorker, true)
  assert.throws(() => loadConfig({ KFS_PARQUET_WORKER: 'sometimes' }), ConfigError)
})

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
