/**
 * The Parquet floor of a run: how long parquet-wasm alone takes to encode the rows the engine
 * wrote, read back from the tables' own data files and re-encoded with the cheapest settings
 * (no compression, one encoder call per file, on the same worker thread the engine uses).
 *
 * It excludes everything else the engine does — Kafka, Avro, operators, Redis, Arrow building,
 * uploads, Iceberg metadata — so no implementation of the same tables can beat it. With the
 * raw consume and the Avro floor it bounds the best end-to-end time on this machine (`e2eCeiling`).
 */
import os from 'node:os'
import * as arrow from 'apache-arrow'
import * as pw from 'parquet-wasm/node'
import avro from 'avsc'
import { dataFilesOf, readRows } from '../../adapters/offline/iceberg/table-reader.ts'
import { keyOfTableUri, loadTable } from '../../adapters/offline/iceberg/iceberg-table.ts'
import type { ObjectStore } from '../../ports/object-store.ts'
import { writeParquet } from '../../adapters/offline/parquet/parquet-encoder.ts'

export interface ParquetFloor {
  readonly files: number
  readonly rows: number
  /** Wall time of the encoder calls alone. */
  readonly encodeMs: number
}

export async function parquetFloor(store: ObjectStore, tablePaths: readonly string[]): Promise<ParquetFloor> {
  let files = 0
  let rows = 0
  let encodeMs = 0
  for (const path of tablePaths) {
    const table = await loadTable(store, path)
    for (const file of await dataFilesOf(table)) {
      const bytes = await store.get(keyOfTableUri(table, file.filePath))
      if (bytes === undefined) throw new Error(`data file ${file.filePath} is missing`)
      const ipc = pw.readParquet(bytes).intoIPCStream()
      const columnCount = arrow.tableFromIPC(ipc).numCols
      const started = performance.now()
      await writeParquet({ ipc, compression: 'none', rowGroupRows: 65_536, columnCount })
      encodeMs += performance.now() - started
      files++
      rows += file.recordCount
    }
  }
  return { files, rows, encodeMs }
}

/**
 * The Avro floor: avsc alone decoding the archived payloads (the bytes every engine must decode
 * once), timed without the reading around it.
 */
export async function avroDecodeFloorMs(store: ObjectStore, archivePath: string, schema: object): Promise<{ records: number; decodeMs: number }> {
  const type = avro.Type.forSchema(schema as avro.Schema)
  const payloads: Uint8Array[] = []
  for await (const row of readRows(await loadTable(store, archivePath))) {
    if (row.payload instanceof Uint8Array) payloads.push(row.payload)
  }
  const started = performance.now()
  for (const p of payloads) {
    // Confluent framing: magic byte 0 and a 4-byte schema id precede the Avro body.
    type.fromBuffer(Buffer.from(p.buffer, p.byteOffset + 5, p.byteLength - 5))
  }
  return { records: payloads.length, decodeMs: performance.now() - started }
}

/**
 * The least wall time any engine could take on this machine: no less than the raw consume's
 * wall time, and no less than the CPU work it cannot skip (`cpuWorkMs`: the raw consume's CPU,
 * its own and the broker's, plus the Parquet and Avro floors) spread perfectly over `cores`
 * (Redis, MinIO, operators and everything else are left out: the true bound is lower still).
 */
export function e2eCeiling(baselineMs: number, cpuWorkMs: number, cores = os.availableParallelism()): { floorMs: number; ceilingOverConsume: number; cores: number } {
  const floorMs = Math.max(baselineMs, cpuWorkMs / cores)
  return { floorMs, ceilingOverConsume: baselineMs / floorMs, cores }
}
