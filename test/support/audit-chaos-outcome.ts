/**
 * What one run of the outside audit's scenario (audit-chaos-run.ts) leaves, read back from disk in
 * forms that do not depend on timing: each view's offline rows, the reopened online store's rows,
 * each partition's archive and the dead letters by origin, reason and view.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import type { FeatureViewDef } from '../../features/types.ts'
import { DEAD_LETTER_HEADERS } from '../../engine/dead-letter-topic.ts'
import { consumedView } from '../../engine/plan-sources.ts'
import type { EmbeddedEventLog } from '../../adapters/event-log/embedded/index.ts'
import { EmbeddedOnlineStore } from '../../adapters/online-store/embedded/embedded-online-store.ts'
import { IcebergOfflineSink } from '../../adapters/offline/iceberg/offline-sink.ts'
import { loadTableOrNone } from '../../adapters/offline/iceberg/damaged-table.ts'
import { featureTablePath } from '../../adapters/offline/iceberg/table-paths.ts'
import { readRows } from '../../adapters/offline/iceberg/table-reader.ts'
import { tableRowToStampedRow } from '../../adapters/offline/iceberg/table-schemas.ts'
import { LocalObjectStore } from '../../adapters/object-store/index.ts'
import { PARTITIONS, TOPIC, VIEWS, byItem } from './audit-chaos-workload.ts'
import { unlockedStoreFiles } from './unlocked-store-files.ts'

export const DEAD_LETTER_TOPIC = 'kfs.dead-letters'

export interface RunOutcome {
  /** Per view: direct views `seq entity as_of values` in seq order; re-keyed ones per entity in seq order. */
  readonly offline: Map<string, string[]>
  /** Per view and entity: `as_of values` as the reopened online store reads it. */
  readonly online: Map<string, string>
  /** Per partition: archived offsets and markers, in archive order. */
  readonly archive: string[][]
  /** `origin|reason|view` → how many dead letters. */
  readonly deadLetters: Map<string, number>
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export async function waitUntil(ready: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 4_000; i++) {
    if (await ready()) return
    await sleep(5)
  }
  assert.fail(`${what}: timed out`)
}

export async function readOutcome(dir: string, log: EmbeddedEventLog): Promise<RunOutcome> {
  const store = new LocalObjectStore(join(dir, 'warehouse'))
  const offline = new Map<string, string[]>()
  const online = new Map<string, string>()
  const reopened = await EmbeddedOnlineStore.open({ path: join(dir, 'online.json'), files: unlockedStoreFiles })
  for (const defined of VIEWS) {
    const view: FeatureViewDef = defined === byItem ? consumedView(defined) : defined
    const direct = view.source.topic === TOPIC
    const table = await loadTableOrNone(store, featureTablePath(view))
    const rows: { seq: bigint; entity: string; text: string }[] = []
    if (table) {
      for await (const raw of readRows(table, { longAs: 'bigint' })) {
        const row = tableRowToStampedRow(view, raw)
        rows.push({
          seq: BigInt(raw.seq as bigint),
          entity: row.entityKey,
          text: `${row.asOfMs} ${JSON.stringify(row.values, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v))}`,
        })
      }
    }
    rows.sort((a, b) => (a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0))
    // seq orders a partition's rows, and an entity's rows are all of one partition.
    const perEntity = groupBy(rows.map((r) => ({ entity: r.entity, text: direct ? `${r.seq} ${r.text}` : r.text })))
    for (const [entity, list] of groupBy(rows.map((r) => ({ entity: r.entity, text: String(r.seq) })))) {
      assert.equal(new Set(list).size, list.length, `${view.name} ${entity}: two offline rows share a seq`)
    }
    // Internal offsets depend on where transactions fell: a re-keyed view's rows are compared without their seq.
    offline.set(
      view.name,
      [...perEntity].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, list]) => `${k}: ${list.join(' | ')}`),
    )
    const keys = [...new Set(rows.map((r) => r.entity))]
    const reads = await reopened.readRows(
      keys.map((entityKey) => ({ view, entityKey, features: view.features.map((f) => f.name) })),
      Date.now(),
    )
    keys.forEach((k, i) => online.set(`${view.name} ${k}`, `${reads[i]!.asOfMs} ${JSON.stringify(reads[i]!.values)}`))
  }
  await reopened.close()
  const sink = new IcebergOfflineSink(store)
  const archive: string[][] = []
  for (let p = 0; p < PARTITIONS; p++) {
    const list: string[] = []
    for await (const row of sink.readArchive(TOPIC, p))
      list.push(row.markerWatermarkMs === null ? row.offset : `${row.offset}@${row.markerWatermarkMs}`)
    archive.push(list)
  }
  return { offline, online, archive, deadLetters: await readDeadLetters(log) }
}

function groupBy(rows: readonly { entity: string; text: string }[]): Map<string, string[]> {
  const out = new Map<string, string[]>()
  for (const r of rows) out.set(r.entity, [...(out.get(r.entity) ?? []), r.text])
  return out
}

async function readDeadLetters(log: EmbeddedEventLog): Promise<Map<string, number>> {
  const out = new Map<string, number>()
  const end = Number((await log.endOffsets(DEAD_LETTER_TOPIC).catch(() => ['0']))[0] ?? '0')
  if (end === 0) return out
  const consumer = log.consumer({ groupId: `audit-read-${Math.random()}`, topics: [DEAD_LETTER_TOPIC], fromBeginning: true })
  let seen = 0
  await consumer.run({
    eachBatch: async (batch) => {
      for (const r of batch.records) {
        seen = Number(r.offset) + 1
        const h = r.headers
        const origin =
          h[DEAD_LETTER_HEADERS.originOffset] === undefined
            ? `${h[DEAD_LETTER_HEADERS.topic]}/${h[DEAD_LETTER_HEADERS.partition]}/${h[DEAD_LETTER_HEADERS.offset]}`
            : `${h[DEAD_LETTER_HEADERS.originTopic]}/${h[DEAD_LETTER_HEADERS.originPartition]}/${h[DEAD_LETTER_HEADERS.originOffset]}`
        const key = `${origin}|${h[DEAD_LETTER_HEADERS.reason]}|${h[DEAD_LETTER_HEADERS.view] ?? ''}`
        out.set(key, (out.get(key) ?? 0) + 1)
      }
    },
  })
  await waitUntil(async () => seen >= end, 'dead letters read')
  await consumer.stop()
  return out
}
