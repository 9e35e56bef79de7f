/**
 * Contract of the offline feature tables' typed join-key columns (issue #17 item 5, ports/feature-rows.ts
 * PinnedFeatureFiles): beside `entity_key`, one column per join key of the view's entity, named as
 * the key, VARCHAR for string entities and BIGINT for int ones, holding the key's parts exactly —
 * composite keys decoded, ids past 2^53 to the digit. Read with DuckDB, the engine data scientists
 * (and the point-in-time joiner) read the pinned files with; a label table joins on the typed columns.
 * Run by the offline contract's unit (local, memory) and integration (MinIO) test files.
 */
import { after, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api'
import { encodeEntityKey } from '../../core/entity-key.ts'
import * as examples from '../../examples/features.ts'
import type { EntityDef, FeatureViewDef } from '../../features/types.ts'
import type { OfflineFeatureRow } from '../../ports/offline.ts'
import type { OfflineContractSubject } from './offline.ts'

const T0 = Date.UTC(2024, 0, 15, 10)
const base = examples.userClicks.features[0]!.aggregation

function viewOf(name: string, entity: EntityDef): FeatureViewDef {
  return { ...examples.userClicks, name, version: 1, entity, features: [{ name: 'n', type: 'long', aggregation: base }] }
}

/** A hand-built entity (the builder's checks are not what these tests are about). */
export const entityOf = (name: string, joinKeys: string[], keyType: 'string' | 'int'): EntityDef => ({
  kind: 'entity',
  name,
  joinKeys,
  keyType,
  description: '',
})

/** Per view: the entity keys written and, per key, the join-key cells DuckDB must read (as text; null = SQL NULL). */
const CASES: readonly { view: FeatureViewDef; types: string[]; rows: readonly [string, (string | null)[]][] }[] = [
  {
    view: viewOf('jk_string', entityOf('user', ['user_id'], 'string')),
    types: ['VARCHAR'],
    rows: [
      ['u1', ['u1']],
      ['ünï·code', ['ünï·code']],
      ['9007199254740993', ['9007199254740993']],
    ],
  },
  {
    view: viewOf('jk_int', entityOf('account', ['account_id'], 'int')),
    types: ['BIGINT'],
    rows: [
      ['0', ['0']],
      ['-1', ['-1']],
      // 2^53 + 1: a double would read it as 2^53.
      ['9007199254740993', ['9007199254740993']],
      ['9223372036854775807', ['9223372036854775807']],
      ['-9223372036854775808', ['-9223372036854775808']],
      // Digits no int64 spells: the typed column is null, entity_key keeps the key.
      ['9223372036854775808', [null]],
      ['-0', [null]],
    ],
  },
  {
    view: viewOf('jk_composite', entityOf('user_item', ['user_id', 'item_id'], 'string')),
    types: ['VARCHAR', 'VARCHAR'],
    rows: [
      [encodeEntityKey(['u1', 'i1']), ['u1', 'i1']],
      // Parts holding the escape character and the separator decode exactly.
      [encodeEntityKey(['a\\b', 'c\u001fd']), ['a\\b', 'c\u001fd']],
    ],
  },
  {
    view: viewOf('jk_composite_int', entityOf('shop_item', ['shop_id', 'item_id'], 'int')),
    types: ['BIGINT', 'BIGINT'],
    rows: [
      [encodeEntityKey(['9007199254740993', '-5']), ['9007199254740993', '-5']],
      [encodeEntityKey(['7', '123456789012345678901']), ['7', null]],
    ],
  },
]

function featureRows(rows: readonly [string, unknown][]): OfflineFeatureRow[] {
  return rows.map(([entityKey], i) => ({
    entityKey,
    asOfMs: T0 + i,
    createdAtMs: T0 + i + 1,
    values: [i],
    origin: { partition: 0, offset: String(i), seq: 0, marker: false },
  }))
}

const list = (files: readonly string[]): string => `[${files.map((f) => `'${f.replaceAll("'", "''")}'`).join(', ')}]`

export function runOfflineJoinKeyContract(
  name: string,
  makeSubject: () => Promise<OfflineContractSubject>,
  cleanup?: () => Promise<void>,
): void {
  void describe(`offline contract > join-key columns > ${name}`, () => {
    const temps: string[] = []
    let duck: DuckDBConnection | undefined
    const duckdb = async (): Promise<DuckDBConnection> => (duck ??= await (await DuckDBInstance.create(':memory:')).connect())
    after(async () => {
      duck?.closeSync()
      for (const dir of temps) await rm(dir, { recursive: true, force: true })
      await cleanup?.()
    })
    const commit = async (
      subject: OfflineContractSubject,
      view: FeatureViewDef,
      rows: readonly OfflineFeatureRow[],
    ): Promise<void> => {
      const tableId = subject.offline.tableId({ kind: 'feature', view })
      await subject.offline.commit(tableId, [await subject.offline.stageFeatureRows(view, rows)], {}, {})
    }
    /** The view's current snapshot as a DuckDB relation over its pinned files. */
    const pin = async (subject: OfflineContractSubject, view: FeatureViewDef): Promise<string> => {
      const dir = await mkdtemp(join(tmpdir(), 'kfs-offline-join-keys-'))
      temps.push(dir)
      const files = (await subject.reopen().pinFeatureFiles(view, { snapshotId: undefined, tempDir: dir })).files
      assert.ok(files.length > 0)
      return `read_parquet(${list(files)}, hive_partitioning = false)`
    }
    const pinned = async (
      subject: OfflineContractSubject,
      view: FeatureViewDef,
      rows: readonly OfflineFeatureRow[],
    ): Promise<string> => {
      await commit(subject, view, rows)
      return pin(subject, view)
    }
    /** Each row's entity_key and join-key cells as text, in seq order. */
    const cellsOf = async (files: string, keys: readonly string[]): Promise<(string | null)[][]> => {
      const rows = (
        await (
          await duckdb()
        ).runAndReadAll(`SELECT entity_key, ${keys.map((k) => `CAST("${k}" AS VARCHAR)`).join(', ')} FROM ${files} ORDER BY seq`)
      ).getRows()
      return rows.map((r) => r.map((v) => (v === null ? null : String(v))))
    }

    for (const c of CASES) {
      const keys = c.view.entity.joinKeys
      void test(`${c.view.entity.keyType} entity (${keys.join(', ')}): typed columns right after entity_key, exact values, entity_key unchanged`, async () => {
        const subject = await makeSubject()
        const rows = featureRows(c.rows)
        const files = await pinned(subject, c.view, rows)
        const db = await duckdb()
        const described = (await db.runAndReadAll(`DESCRIBE SELECT * FROM ${files}`)).getRowObjects()
        assert.deepEqual(
          described.slice(0, keys.length + 2).map((r) => `${String(r.column_name)}:${String(r.column_type)}`),
          ['entity_key:VARCHAR', ...keys.map((k, i) => `${k}:${c.types[i]}`), 'as_of:TIMESTAMP WITH TIME ZONE'],
        )
        assert.deepEqual(
          await cellsOf(files, keys),
          c.rows.map(([key, parts]) => [key, ...parts]),
        )
        // What the readers built on entity_key see is unchanged.
        const read = await subject.offline.readFeatureRows(c.view)
        assert.deepEqual([...read.keys()].sort(), c.rows.map(([key]) => key).sort())
      })
    }

    void test('compaction keeps the typed values exact (int64 past 2^53 included)', async () => {
      const subject = await makeSubject()
      const c = CASES[1]!
      const rows = featureRows(c.rows)
      await commit(subject, c.view, rows.slice(0, 3))
      await commit(subject, c.view, rows.slice(3))
      const result = await subject.offline.compactFeatureTable(c.view, { olderThanDay: Math.floor(T0 / 86_400_000) + 10 })
      assert.ok(result.removedFiles > result.addedFiles, JSON.stringify(result))
      assert.deepEqual(
        await cellsOf(await pin(subject, c.view), c.view.entity.joinKeys),
        c.rows.map(([key, parts]) => [key, ...parts]),
      )
    })

    void test('a label table joins a feature table on the typed join keys, no entity_key decoding', async () => {
      const subject = await makeSubject()
      const c = CASES[3]!
      const files = await pinned(subject, c.view, featureRows(c.rows))
      const db = await duckdb()
      const labels = `(SELECT * FROM (VALUES (9007199254740993::BIGINT, -5::BIGINT, 'hit'), (9007199254740992::BIGINT, -5::BIGINT, 'miss')) l(shop_id, item_id, label))`
      const joined = (
        await db.runAndReadAll(
          `SELECT l.label, f.n FROM ${labels} l LEFT JOIN ${files} f USING (shop_id, item_id) ORDER BY l.label`,
        )
      ).getRows()
      assert.deepEqual(
        joined.map((r) => r.map((v) => (v === null ? null : String(v)))),
        [
          ['hit', '0'],
          ['miss', null],
        ],
      )
    })
  })
}
