/**
 * A partition's archive rows wait for their checkpoint as columns (engine/archive-row-buffer.ts).
 * Every row reads back as the object that went in — records with and without keys, payloads empty,
 * null or large, markers, unknown times and schema ids, offsets past 2^53 — across growth of both
 * the columns and the byte array; the bytes are copies (the record's own buffer may be reused);
 * `concat` and `clear` keep that true; and the archive table's columns staged from the buffer
 * equal those staged from the objects (the same data files either way).
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { readParquetRows } from '../../../adapters/offline/parquet/index.ts'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { ArchiveRowBuffer } from '../../../engine/archive-row-buffer.ts'
import type { ArchiveRow } from '../../../ports/offline.ts'
import { prng } from '../../support/scenario.ts'
import { archiveColumns } from '../../../adapters/offline/iceberg/archive-columns.ts'
import { loopTurnsDuring } from '../../support/loop-turns.ts'

const PARTITION = 3

function randomRows(seed: number, count: number): ArchiveRow[] {
  const next = prng(seed)
  const bytes = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => Math.floor(next() * 256))
  const rows: ArchiveRow[] = []
  let offset = seed === 4 ? 2n ** 60n : 0n
  for (let i = 0; i < count; i++) {
    offset += 1n
    if (next() < 0.1) {
      rows.push({
        partition: PARTITION,
        offset: String(offset),
        eventTimeMs: null,
        key: null,
        schemaId: null,
        payload: null,
        markerWatermarkMs: 1_700_000_000_000 + i,
        timestampMs: 1_800_000_000_000 + i,
      })
      continue
    }
    const size = next() < 0.02 ? 40_000 : Math.floor(next() * 80)
    rows.push({
      partition: PARTITION,
      offset: String(offset),
      eventTimeMs: next() < 0.1 ? null : 1_700_000_000_000 + Math.floor(next() * 1e9),
      key: next() < 0.2 ? null : bytes(Math.floor(next() * 12)),
      schemaId: next() < 0.1 ? null : Math.floor(next() * 2 ** 31),
      payload: next() < 0.05 ? null : bytes(size),
      markerWatermarkMs: null,
      timestampMs: next() < 0.1 ? -1 : 1_800_000_000_000 + i,
    })
  }
  return rows
}

function bufferOf(rows: readonly ArchiveRow[]): ArchiveRowBuffer {
  const buffer = new ArchiveRowBuffer(PARTITION)
  for (const row of rows) buffer.push(row)
  return buffer
}

function rowsOf(buffer: ArchiveRowBuffer): ArchiveRow[] {
  return Array.from({ length: buffer.length }, (_, i) => buffer.rowAt(i))
}

void describe('engine > archive row buffer', () => {
  void test('every row reads back as it went in, across growth of the columns and the bytes', () => {
    for (const seed of [1, 2, 3, 4]) {
      const rows = randomRows(seed, 1_000)
      assert.deepStrictEqual(rowsOf(bufferOf(rows)), rows, `seed ${seed}`)
    }
  })

  void test('the bytes are copies: the record’s own buffer may change afterwards', () => {
    const payload = Uint8Array.of(1, 2, 3)
    const key = Uint8Array.of(9)
    const buffer = new ArchiveRowBuffer(PARTITION)
    buffer.push({
      partition: PARTITION,
      offset: '5',
      eventTimeMs: 1,
      key,
      schemaId: 1,
      payload,
      markerWatermarkMs: null,
      timestampMs: 2,
    })
    payload.fill(0)
    key.fill(0)
    assert.deepStrictEqual(buffer.payload(0), Uint8Array.of(1, 2, 3))
    assert.deepStrictEqual(buffer.key(0), Uint8Array.of(9))
  })

  void test('withoutFirst leaves the rows after a published record’s cut, in order', () => {
    const rows = randomRows(9, 300)
    for (const cut of [0, 1, 150, 300])
      assert.deepStrictEqual(rowsOf(bufferOf(rows).withoutFirst(cut)), rows.slice(cut), `cut at ${cut}`)
  })

  void test('concat puts a failed checkpoint’s rows first; a cleared buffer takes rows as a new one', () => {
    const rows = randomRows(7, 300)
    for (const cut of [0, 1, 150, 300])
      assert.deepStrictEqual(rowsOf(bufferOf(rows.slice(0, cut)).concat(bufferOf(rows.slice(cut)))), rows, `cut at ${cut}`)
    const reused = bufferOf(randomRows(8, 500))
    reused.clear()
    assert.equal(reused.length, 0)
    for (const row of rows) reused.push(row)
    assert.deepStrictEqual(rowsOf(reused), rows)
  })

  void test('a row of another partition is refused', () => {
    const buffer = new ArchiveRowBuffer(PARTITION)
    assert.throws(() => buffer.push({ ...randomRows(1, 1)[0]!, partition: PARTITION + 1 }), RangeError)
    assert.equal(buffer.length, 0)
  })

  void test('staged from the buffer, the archive data files hold the same rows as staged from the objects', async () => {
    const rows = randomRows(5, 400)
    const staged = []
    for (const input of [rows, bufferOf(rows)]) {
      const store = new MemoryObjectStore()
      const sink = new IcebergOfflineSink(store, { parquetWorker: false })
      const files = await sink.stageArchiveRows('clicks', input)
      assert.equal(files.rowCount, rows.length)
      const read: Record<string, unknown>[] = []
      const dataFiles = (await store.list('')).filter((key) => key.endsWith('.parquet')).sort()
      assert.ok(dataFiles.length > 0)
      for (const key of dataFiles) for await (const row of readParquetRows((await store.get(key))!)) read.push(row)
      staged.push(read)
    }
    assert.equal(staged[0]!.length, rows.length)
    assert.deepStrictEqual(staged[1], staged[0])
  })

  void test('a large buffer is read into the archive columns with the event loop running meanwhile, the same columns as from the objects', async () => {
    const rows: ArchiveRow[] = Array.from({ length: 100_000 }, (_, i) => ({
      partition: PARTITION,
      offset: String(i),
      eventTimeMs: 1_700_000_000_000 + i,
      key: Uint8Array.of(i % 251, 7),
      schemaId: 1,
      payload: Uint8Array.of(1, 2, i % 256),
      markerWatermarkMs: null,
      timestampMs: i % 3 === 0 ? -1 : 1_800_000_000_000 + i,
    }))
    const fromObjects = await archiveColumns(rows)
    const { value: fromBuffer, turns } = await loopTurnsDuring(() => archiveColumns(bufferOf(rows)))
    assert.ok(turns >= 2, `the loop ran ${turns} times while 100,000 rows were read`)
    assert.deepStrictEqual(fromBuffer, fromObjects)
  })
})
