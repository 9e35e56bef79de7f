/**
 * The type of a Parquet label file's join-key column. Serving takes a join key as text or an
 * integer (docs/semantics.md §20), so a key column must hold one of those: strings of any width
 * or encoding DuckDB reads as text (VARCHAR, ENUM, BLOB, UUID), integers of any width, or a
 * DECIMAL without fraction digits. DOUBLE and BOOLEAN columns are checked per value
 * (audit-label-key-values.test.ts). Every other type is refused naming the column and its type:
 * a date or timestamp key used to become its epoch milliseconds (`2023-01-01` → `1672531200000`),
 * a list, struct or map the engine's text of it (`[u1]`, `{'a': 1}`), a decimal with fraction
 * digits its text (`5.0`, where serving reads the number 5.0 as the key `5`) — keys no entity has,
 * so every feature of those labels was silently null.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { DuckDBInstance } from '@duckdb/node-api'
import { FeatureStoreError } from '../../../core/errors.ts'
import * as examples from '../../../examples/features.ts'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { createTrainingSet } from '../../../training/index.ts'
import { registryWithViews, trainingDeps, userItemClicks } from './fixtures.ts'

const dir = await mkdtemp(join(tmpdir(), 'kfs-key-column-types-'))
const instance = await DuckDBInstance.create(':memory:')
const duck = await instance.connect()
after(async () => {
  duck.closeSync()
  instance.closeSync()
  await rm(dir, { recursive: true, force: true })
})

/** [SQL of a user_id value, the type DuckDB names]: refused whatever the value. */
const REFUSED: readonly [string, string][] = [
  [`DATE '2023-01-01'`, 'DATE'],
  [`TIMESTAMP '2023-01-01 10:00:00'`, 'TIMESTAMP'],
  [`TIMESTAMPTZ '2023-01-01 10:00:00+00'`, 'TIMESTAMP WITH TIME ZONE'],
  [`'2023-01-01 10:00:00'::TIMESTAMP_NS`, 'TIMESTAMP_NS'],
  // DuckDB reads a millisecond timestamp back as TIMESTAMP (µs).
  [`'2023-01-01 10:00:00'::TIMESTAMP_MS`, 'TIMESTAMP'],
  [`TIME '10:00:00'`, 'TIME'],
  [`INTERVAL 1 DAY`, 'INTERVAL'],
  [`['u1']`, 'VARCHAR[]'],
  [`[1, 2]`, 'INTEGER[]'],
  [`{'a': 1}`, 'STRUCT'],
  [`MAP {'a': 1}`, 'MAP'],
  [`5.0::DECIMAL(4,1)`, 'DECIMAL(4,1)'],
  [`7::DECIMAL(18,3)`, 'DECIMAL(18,3)'],
]

/** Key column types that hold text or integers: they build. */
const ACCEPTED: readonly [string, string][] = [
  [`'u1'`, 'VARCHAR'],
  [`'u1'::ENUM('u1', 'u2')`, 'ENUM'],
  [`'u1'::BLOB`, 'BLOB'],
  [`uuid()`, 'UUID'],
  [`7::TINYINT`, 'TINYINT'],
  [`7::UBIGINT`, 'UBIGINT'],
  [`7::HUGEINT`, 'HUGEINT'],
  [`7::DECIMAL(20,0)`, 'DECIMAL(20,0)'],
]

let files = 0
async function labelFile(userId: string): Promise<string> {
  const path = join(dir, `labels-${files++}.parquet`)
  await duck.run(
    `COPY (SELECT ${userId} AS user_id, 'x' AS item_id, TIMESTAMPTZ '2023-11-14 00:00:00+00' AS ts, 1 AS label) TO '${path}' (FORMAT parquet)`,
  )
  return path
}

const store = new MemoryObjectStore()
const registry = await registryWithViews(store, [examples.userClicks, userItemClicks])
/** A single key (the engine derives keys in SQL where it can) and a composite one (keys in JS). */
const SELECTIONS: readonly [string, string][] = [
  ['single key', 'user_clicks:count_1h'],
  ['composite key', 'user_item_clicks:count_1d'],
]

void describe('training set > the type of a Parquet join-key column', () => {
  for (const [value, type] of REFUSED)
    for (const [what, ref] of SELECTIONS)
      void test(`${value}, read as ${type} (${what}): refused naming the column and its type`, async () => {
        const path = await labelFile(value)
        await assert.rejects(
          createTrainingSet({
            ...trainingDeps(store),
            registry,
            labels: { path },
            features: [ref],
            output: join(dir, 'never.parquet'),
          }),
          (err: unknown) =>
            err instanceof FeatureStoreError &&
            err.code === 'BAD_REQUEST' &&
            err.message.includes('join-key column user_id') &&
            err.message.includes(type),
        )
      })

  for (const [value, type] of ACCEPTED)
    for (const [what, ref] of SELECTIONS)
      void test(`${value}, read as ${type} (${what}): builds`, async () => {
        const path = await labelFile(value)
        const built = await createTrainingSet({
          ...trainingDeps(store),
          registry,
          labels: { path },
          features: [ref],
          output: join(dir, `ok-${files}.parquet`),
        })
        assert.equal(built.rows, 1)
      })
})
