import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { buildColumn, buildColumnSteps } from '../../../adapters/offline/parquet/arrow-columns.ts'
import { encodeParquetColumns, type ParquetColumn, type ParquetColumnType } from '../../../adapters/offline/parquet/index.ts'
import { createYielder, runStepsYielding } from '../../../core/event-loop.ts'
import { loopTurnsDuring } from '../../support/loop-turns.ts'

const ROWS = 5_000

/** Every type, over several 1,024-row slices: nulls, non-ASCII strings, a surrogate pair split across rows 1,023 and 1,024. */
const columnTypes: [string, ParquetColumnType][] = [
  ['ascii', 'string'],
  ['mixed', 'string'],
  ['ts', 'timestamptz'],
  ['n', 'long'],
  ['x', 'double'],
  ['p', 'int'],
  ['ok', 'boolean'],
  ['b', 'binary'],
  ['ls', 'list<string>'],
  ['ld', 'list<double>'],
]
const columns: ParquetColumn[] = columnTypes.map(([name, type], i) => ({
  name,
  type,
  fieldId: 2 * i + 1,
  elementId: 2 * i + 2,
  required: name === 'mixed',
}))

const values: unknown[][] = [
  Array.from({ length: ROWS }, (_, i) => (i % 13 === 0 ? null : `user-${i}`)),
  Array.from({ length: ROWS }, (_, i) =>
    i === 1023 ? 'a\uD83D' : i === 1024 ? '\uDE42b' : i % 7 === 0 ? `ключ-${i}-🙂` : `k${i}`,
  ),
  Array.from({ length: ROWS }, (_, i) => (i % 11 === 0 ? null : 1_705_314_600_000 + i * 997)),
  Array.from({ length: ROWS }, (_, i) => (i % 5 === 0 ? null : i === 2047 ? 2n ** 62n : i * 1_000_003 - 500)),
  Array.from({ length: ROWS }, (_, i) => (i % 4 === 0 ? null : i === 3000 ? Number.NaN : i === 3001 ? -0 : i / 3)),
  Array.from({ length: ROWS }, (_, i) => (i % 6 === 0 ? null : i - 2500)),
  Array.from({ length: ROWS }, (_, i) => (i % 3 === 0 ? null : i % 2 === 0)),
  Array.from({ length: ROWS }, (_, i) => (i % 9 === 0 ? null : new Uint8Array([i & 255, i >> 8, 7]))),
  Array.from({ length: ROWS }, (_, i) => (i % 8 === 0 ? null : Array.from({ length: i % 4 }, (_, j) => `s${j}é`))),
  Array.from({ length: ROWS }, (_, i) => (i % 10 === 0 ? null : Array.from({ length: i % 3 }, (_, j) => j + 0.25))),
]

const picked = Array.from({ length: 3_500 }, (_, i) => (i * 7) % ROWS)

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')

void describe('sinks > parquet > column build in row slices', () => {
  void test('the event loop runs between slices of one column, and the column is the one built at once', async () => {
    for (const at of [undefined, picked]) {
      for (let c = 0; c < columns.length; c++) {
        // An interval of 0: the loop runs at every pause, so its turns count the pauses.
        const { value: sliced, turns } = await loopTurnsDuring(() =>
          runStepsYielding(buildColumnSteps(columns[c]!, values[c]!, at), createYielder(0)),
        )
        const rows = at === undefined ? ROWS : at.length
        assert.ok(
          turns >= Math.floor((rows - 1) / 1024),
          `${columns[c]!.name}: the loop ran ${turns} times during a ${rows}-row build`,
        )
        const atOnce = buildColumn(columns[c]!, values[c]!, at)
        assert.deepEqual(sliced.stats, atOnce.stats, columns[c]!.name)
        assert.deepEqual(sliced.data, atOnce.data, columns[c]!.name)
      }
    }
  })

  void test('the files are byte for byte those written before the build was sliced', async () => {
    // SHA-256 of the same encodes at 4ee3a31 (columns built in one go). A parquet-wasm upgrade that
    // changes its output changes these too: re-take them from the build before the upgrade.
    const all = await encodeParquetColumns(columns, values, { worker: false, rowGroupRows: 2_000 })
    assert.equal(sha256(all.bytes), 'e475f717fe4350184caa1831d62b8dda2fbb3239f552943a3ce9fe7b0af4eaec')
    const some = await encodeParquetColumns(columns, values, { worker: false, rowGroupRows: 2_000 }, picked)
    assert.equal(sha256(some.bytes), 'da6710e3ec3e47e42eb99066552ca53653ba2244acacadae612d9bb028f78573')
  })
})
