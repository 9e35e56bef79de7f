/**
 * The tie-free writer fact (adapters/offline/iceberg/writer-facts.ts `kfs.tie-free-as-of-max-ms`):
 * present only while no two rows of the table share (entity_key, as_of) — checked per staging,
 * each commit's rows strictly after every earlier row — dropped for good otherwise, kept by
 * compaction. A property test stages random commits (ties within a staging, with an earlier
 * commit's row, between two stagings of one commit, or none) and checks the fact against a brute
 * force over every committed row, and that pinning and the join agree with it.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { listSnapshots, loadTable } from '../../../adapters/offline/iceberg/index.ts'
import { featureTablePath, IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { TIE_FREE_KEY, tieFreeRange, writerFactsSummary } from '../../../adapters/offline/iceberg/writer-facts.ts'
import * as examples from '../../../examples/features.ts'
import type { OfflineFeatureRow, OfflineRowColumns, StagedFiles } from '../../../ports/offline.ts'
import { prng } from '../training/fixtures.ts'

const T0 = Date.UTC(2024, 0, 10)
const view = examples.userClicks
let offset = 0

function row(entity: string, asOfMs: number): OfflineFeatureRow {
  return {
    entityKey: entity,
    asOfMs,
    createdAtMs: asOfMs + 1,
    values: view.features.map(() => null),
    origin: { partition: 0, offset: String(offset++), seq: 0, marker: false },
  }
}

const dirs: string[] = []
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})

async function commit(sink: IcebergOfflineSink, ...staged: StagedFiles[]): Promise<void> {
  await sink.commit(featureTablePath(view), staged, {}, {})
}

async function tieFacts(store: MemoryObjectStore): Promise<(string | undefined)[]> {
  return listSnapshots(await loadTable(store, featureTablePath(view))).map((s) => s.summary[TIE_FREE_KEY])
}

async function pinnedTieFree(sink: IcebergOfflineSink): Promise<boolean | undefined> {
  const dir = await mkdtemp(join(tmpdir(), 'kfs-tie-free-'))
  dirs.push(dir)
  return (await sink.pinFeatureFiles(view, { snapshotId: undefined, tempDir: dir })).tieKeyBounds?.tieFree
}

void describe('iceberg > the tie-free writer fact', () => {
  void test('commits each strictly after the last, no (key, as_of) twice: the fact carries the largest as_of', async () => {
    const store = new MemoryObjectStore()
    const sink = new IcebergOfflineSink(store, { parquetWorker: false })
    // One key at several as_of, several keys at one as_of: no tie.
    await commit(sink, await sink.stageFeatureRows(view, [row('u1', T0), row('u1', T0 + 5), row('u2', T0), row('u3', T0 + 5)]))
    await commit(sink, await sink.stageFeatureRows(view, [row('u1', T0 + 6), row('u2', T0 + 9)]))
    assert.deepEqual(await tieFacts(store), [String(T0 + 5), String(T0 + 9)])
    assert.equal(await pinnedTieFree(sink), true)
    // Compaction rewrites the same rows: the fact stays.
    await sink.compactFeatureTable(view, { olderThanDay: Math.floor(T0 / 86_400_000) + 1 })
    assert.deepEqual((await tieFacts(store)).at(-1), String(T0 + 9))
    assert.equal(await pinnedTieFree(sink), true)
  })

  void test('a tie within one staging drops it, and a later clean commit does not bring it back', async () => {
    const store = new MemoryObjectStore()
    const sink = new IcebergOfflineSink(store, { parquetWorker: false })
    await commit(sink, await sink.stageFeatureRows(view, [row('u1', T0)]))
    await commit(
      sink,
      await sink.stageFeatureRows(view, [row('u2', T0 + 1), row('u1', T0 + 3), row('u1', T0 + 2), row('u1', T0 + 3)]),
    )
    await commit(sink, await sink.stageFeatureRows(view, [row('u1', T0 + 10)]))
    assert.deepEqual(await tieFacts(store), [String(T0), undefined, undefined])
    assert.equal(await pinnedTieFree(sink), undefined)
  })

  void test('a row at an earlier commit’s as_of drops it: of the same key (a tie) and, conservatively, of another', async () => {
    for (const key of ['u1', 'u2']) {
      const store = new MemoryObjectStore()
      const sink = new IcebergOfflineSink(store, { parquetWorker: false })
      await commit(sink, await sink.stageFeatureRows(view, [row('u1', T0 - 7), row('u1', T0)]))
      await commit(sink, await sink.stageFeatureRows(view, [row(key, T0), row('u3', T0 + 1)]))
      assert.deepEqual(await tieFacts(store), [String(T0), undefined], key)
    }
  })

  void test('two stagings in one commit must not overlap in as_of (their rows could tie)', async () => {
    const store = new MemoryObjectStore()
    const sink = new IcebergOfflineSink(store, { parquetWorker: false })
    const a = await sink.stageFeatureRows(view, [row('u1', T0), row('u2', T0 + 4)])
    const b = await sink.stageFeatureRows(view, [row('u1', T0 + 5), row('u3', T0 + 8)])
    await commit(sink, b, a)
    const c = await sink.stageFeatureRows(view, [row('u1', T0 + 10), row('u2', T0 + 12)])
    const d = await sink.stageFeatureRows(view, [row('u3', T0 + 12)])
    await commit(sink, c, d)
    assert.deepEqual(await tieFacts(store), [String(T0 + 8), undefined])
  })

  void test('the row check: a tie among object rows and among the engine’s columns; the as_of range', () => {
    assert.deepEqual(tieFreeRange([row('a', 5), row('b', 5), row('a', 7), row('a', 3)]), { minMs: 3, maxMs: 7 })
    assert.equal(
      tieFreeRange([row('a', 5), row('a', 7), row('a', 3), row('a', 7)]),
      undefined,
      'a key at a third as_of, then a repeat',
    )
    assert.equal(tieFreeRange([row('a', 5), row('a', 5)]), undefined)
    assert.equal(tieFreeRange([]), undefined)
    // A span too wide for the bitmap (1e12 ms over 4 rows): repeated as_of found by sorting.
    assert.deepEqual(tieFreeRange([row('a', -1e12), row('b', 1e12), row('a', 1e12), row('c', -1e12)]), {
      minMs: -1e12,
      maxMs: 1e12,
    })
    assert.equal(tieFreeRange([row('a', 0), row('a', 1e12), row('b', 5e11), row('a', 1e12)]), undefined)
    const columns = (keys: string[], asOf: number[]): OfflineRowColumns => ({
      length: keys.length,
      entityKeys: keys,
      asOfMs: asOf,
      createdAtMs: asOf,
      offsets: keys.map(() => '0'),
      rowIndexes: keys.map(() => 0),
      deleted: keys.map(() => 0),
      featureColumn: () => keys.map(() => null),
    })
    assert.deepEqual(tieFreeRange(columns(['a', 'b', 'a'], [2, 2, 1])), { minMs: 1, maxMs: 2 })
    assert.equal(tieFreeRange(columns(['a', 'b', 'b'], [2, 2, 2])), undefined)
  })

  void test('the summary rule: none before a first commit; a staging not checked, or the parent without it, drops it', () => {
    const parent = writerFactsSummary(undefined, [])
    assert.equal(parent[TIE_FREE_KEY], 'none')
    const s = (staging: string, minMs: number, maxMs: number) => ({ staging, minMs, maxMs })
    assert.equal(
      writerFactsSummary(parent, [0, 0], [s('a', -5, 3), s('a', -5, 3)])[TIE_FREE_KEY],
      '3',
      'two files of one staging',
    )
    assert.equal(
      writerFactsSummary(parent, [0, 0], [s('a', -5, 3), s('b', -5, 3)])[TIE_FREE_KEY],
      undefined,
      'two stagings, one range',
    )
    assert.equal(writerFactsSummary(parent, [0, 0], [s('a', 1, 3), undefined])[TIE_FREE_KEY], undefined)
    const later = writerFactsSummary(parent, [0], [s('a', 1, 3)])
    assert.equal(writerFactsSummary(later, [0], [s('b', 3, 9)])[TIE_FREE_KEY], undefined, 'as_of equal to the largest')
    assert.equal(writerFactsSummary(later, [0], [s('b', 4, 9)])[TIE_FREE_KEY], '9')
    assert.equal(writerFactsSummary(later, [], [])[TIE_FREE_KEY], '3', 'a commit adding no file')
    const { [TIE_FREE_KEY]: _, ...without } = later
    assert.equal(writerFactsSummary(without, [0], [s('b', 4, 9)])[TIE_FREE_KEY], undefined, 'never regained')
  })

  void test('property: the fact is present exactly when a brute force finds no tie and every commit came after the last', async () => {
    for (let seed = 1; seed <= 12; seed++) {
      const rand = prng(seed)
      const store = new MemoryObjectStore()
      const sink = new IcebergOfflineSink(store, { parquetWorker: false })
      const committed: OfflineFeatureRow[] = []
      let orderly = true
      let base = T0
      for (let c = 0; c < 4; c++) {
        const stagings: OfflineFeatureRow[][] = []
        for (let s = rand.int(1, 2); s > 0; s--) {
          const rows: OfflineFeatureRow[] = []
          // Mostly after everything so far; sometimes reaching back up to 3 ms (ties with earlier rows possible).
          const from = base + (rand.next() < 0.2 ? -rand.int(0, 3) : 1)
          for (let i = rand.int(1, 6); i > 0; i--) rows.push(row(`u${rand.int(0, 2)}`, from + rand.int(0, 4)))
          stagings.push(rows)
        }
        const all = stagings.flat()
        const lo = Math.min(...all.map((r) => r.asOfMs))
        const ranges = stagings
          .map((rs) => [Math.min(...rs.map((r) => r.asOfMs)), Math.max(...rs.map((r) => r.asOfMs))] as const)
          .sort((a, b) => a[0] - b[0])
        const disjoint = ranges.every((r, i) => i === 0 || r[0] > ranges[i - 1]![1])
        if ((committed.length > 0 && lo <= Math.max(...committed.map((r) => r.asOfMs))) || !disjoint) orderly = false
        const staged = []
        for (const rows of stagings) staged.push(await sink.stageFeatureRows(view, rows))
        await commit(sink, ...staged)
        committed.push(...all)
        base = Math.max(base, ...all.map((r) => r.asOfMs))
        const pairs = committed.map((r) => `${r.entityKey}@${r.asOfMs}`)
        const ties = new Set(pairs).size !== pairs.length
        const fact = (await tieFacts(store)).at(-1)
        if (ties) assert.equal(fact, undefined, `seed ${seed} commit ${c}: ties present, the fact must be absent`)
        if (orderly && !ties) assert.equal(fact, String(base), `seed ${seed} commit ${c}: no tie, in order`)
        if (!orderly) assert.equal(fact, undefined, `seed ${seed} commit ${c}: a commit reached back`)
        assert.equal(await pinnedTieFree(sink), fact === undefined ? undefined : true)
      }
    }
  })
})
