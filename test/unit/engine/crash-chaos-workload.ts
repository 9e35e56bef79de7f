/**
 * The chaos loop's workload (./crash-restart-chaos.test.ts): the source and its three views, the
 * poison records of every kind, the bursts generated between engine generations, and the reads
 * and checks of dead letters and online rows the loop compares with the reference.
 */
import assert from 'node:assert/strict'
import { entity, featureView, source } from '../../../features/index.ts'
import type { FeatureRow, FeatureViewDef } from '../../../features/types.ts'
import { DEAD_LETTER_HEADERS } from '../../../engine/dead-letter-topic.ts'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/index.ts'
import { EmbeddedOnlineStore } from '../../../adapters/online-store/embedded/embedded-online-store.ts'
import { valuesClose, waitFor } from '../../support/scenario.ts'

export const SCHEMA = {
  type: 'record',
  name: 'Buy',
  fields: [
    { name: 'user_id', type: 'string' },
    { name: 'item_id', type: 'string' },
    { name: 'amount', type: 'double' },
    { name: 'ts', type: 'long' },
  ],
} as const
export const OTHER_SCHEMA = { type: 'record', name: 'Other', fields: [{ name: 'label', type: 'string' }] } as const
export const PARTITIONS = 3

export const buys = source({
  name: 'buys',
  topic: 'buys',
  schema: SCHEMA as never,
  eventTimeField: 'ts',
  keyedBy: 'user',
  partitions: PARTITIONS,
  outOfOrderness: '2s',
  allowedLateness: '5s',
  idleTimeout: '1h',
  maxFutureSkew: '1h',
})
export const spend = featureView({
  name: 'spend',
  version: 1,
  entity: entity({ name: 'user', joinKeys: ['user_id'] }),
  source: buys,
  aggregations: [
    { op: 'count', windows: ['1m'], hop: '10s' },
    { op: 'sum', field: 'amount', windows: ['1m'], hop: '10s' },
    { op: 'last', field: 'item_id' },
  ],
  ttl: '3650d',
  freshnessSla: '1m',
  owner: 'audit@kfs',
  description: 'spend per user',
})
export const itemSpend = featureView({
  name: 'item_spend',
  version: 1,
  entity: entity({ name: 'item', joinKeys: ['item_id'] }),
  source: buys,
  aggregations: [
    { op: 'count', windows: ['1m'], hop: '10s' },
    { op: 'max', field: 'amount', windows: ['1m'], hop: '10s' },
  ],
  ttl: '3650d',
  freshnessSla: '1m',
  owner: 'audit@kfs',
  description: 'spend per item (re-keyed)',
})
/** Lifetime features only: no decay row ever rewrites a key's latest row after its last event. */
export const lifetime = featureView({
  name: 'lifetime',
  version: 1,
  entity: entity({ name: 'user', joinKeys: ['user_id'] }),
  source: buys,
  aggregations: [{ op: 'count' }, { op: 'last', field: 'amount' }],
  ttl: '3650d',
  freshnessSla: '1m',
  owner: 'audit@kfs',
  description: 'purchases per user, ever',
})
export const views = [spend, itemSpend, lifetime]

export interface Buy {
  user_id: string
  item_id: string
  amount: number
  ts: number | bigint
}

/** A poison record: its bytes and the dead-letter reason the direct view's partition must give it. */
export interface Poison {
  readonly reason: string
  readonly value?: (encode: (b: Buy) => Buffer, other: Buffer) => Buffer | null
  /** Or an event (at time t) that decodes but must be refused: the reference judges it then. */
  readonly event?: (t: number) => Buy
}

export const T0 = Date.UTC(2026, 0, 1)
export const POISONS: readonly Poison[] = [
  { reason: 'undecodable', value: () => Buffer.from([0x07, 0, 0, 0, 1, 2, 4]) }, // bad magic byte
  {
    reason: 'unknown_schema',
    value: (encode) => Buffer.concat([Buffer.from([0, 0, 0, 0x30, 0x39]), encode(buy('u1', 'i1', 1, 0)).subarray(5)]),
  },
  { reason: 'undecodable', value: (encode) => encode(buy('u1', 'i1', 1, 0)).subarray(0, 9) }, // truncated Avro
  { reason: 'schema_mismatch', value: (_encode, other) => other }, // valid for another schema
  { reason: 'undecodable', value: () => null }, // null value
  { reason: 'invalid_key', event: (t) => buy('', 'i1', 1, t) }, // empty key
  { reason: 'invalid_key', event: (t) => buy('k'.repeat(600), 'i1', 1, t) }, // huge key
  {
    reason: 'invalid_key',
    value: (encode) => patched(encode(buy('bad\u0001', 'i1', 1, 0)), 'bad\u0001', [0x62, 0x61, 0x64, 0xff]),
  }, // invalid UTF-8
  { reason: 'out_of_range', event: (t) => buy('u1', 'i1', Number.NaN, t) },
  { reason: 'out_of_range', event: (t) => buy('u1', 'i1', -Infinity, t) },
  { reason: 'invalid_event_time', value: (encode) => encode(buy('u1', 'i1', 1, 2n ** 60n)) },
]

export function buy(user: string, item: string, amount: number, ts: number | bigint): Buy {
  return { user_id: user, item_id: item, amount, ts }
}

export function patched(bytes: Buffer, marker: string, replacement: number[]): Buffer {
  const at = bytes.indexOf(Buffer.from(marker, 'utf8'))
  assert.ok(at >= 0)
  const out = Buffer.from(bytes)
  Buffer.from(replacement).copy(out, at)
  return out
}

/** One record as produced, with what the reference needs to judge it. */
export interface Produced {
  readonly partition: number
  readonly offset: string
  readonly timestampMs: number
  /** The event, when the record decodes to one with a valid time (else undefined). */
  readonly event: Buy | undefined
  /** For a poison record: the reason expected. */
  readonly poison?: string
}

/**
 * The records of one burst, per partition: partition 1 runs a day behind partition 0; partition 2
 * stays idle until `burst`, then sends everything at once. Times land on hop boundaries and one off,
 * repeat (duplicates), go back within and beyond the allowed lateness, and jump far ahead of the
 * record's timestamp (future); a few poison records are mixed in.
 */
export function burst(
  rand: () => number,
  phase: number,
  clocks: number[],
  burstPartition2: boolean,
): { partition: number; buy: Buy | undefined; poison?: Poison; timestampMs: number }[] {
  const out: { partition: number; buy: Buy | undefined; poison?: Poison; timestampMs: number }[] = []
  for (let p = 0; p < PARTITIONS; p++) {
    if (p === 2 && !burstPartition2) continue
    const n = p === 2 ? 60 + Math.floor(rand() * 60) : 20 + Math.floor(rand() * 40)
    let last: Buy | undefined
    for (let i = 0; i < n; i++) {
      const r = rand()
      const stamp = clocks[p]! + 600_000
      if (r < 0.06) {
        const poison = POISONS[Math.floor(rand() * POISONS.length)]!
        out.push({ partition: p, buy: poison.event?.(clocks[p]!), poison, timestampMs: stamp })
        continue
      }
      if (r < 0.12 && last !== undefined) {
        out.push({ partition: p, buy: last, timestampMs: stamp })
        continue
      }
      const step = rand()
      let t: number
      if (step < 0.35) t = clocks[p]! += Math.floor(rand() * 4_000)
      else if (step < 0.55) t = clocks[p]! = Math.ceil(clocks[p]! / 10_000) * 10_000 + [0, 0, -1, 1][Math.floor(rand() * 4)]!
      else if (step < 0.7)
        t = clocks[p]! - Math.floor(rand() * 9_000) // some within lateness, some beyond
      else if (step < 0.75)
        t = clocks[p]! - 86_400_000 // far past: late
      else if (step < 0.78)
        t = stamp + 7_200_000 // beyond the future skew
      else t = clocks[p]! += 10_000 + Math.floor(rand() * 50_000)
      t = Math.max(t, T0 - 2 * 86_400_000)
      // Users stay in their partition (the topic is keyed by user); items are re-keyed across them.
      last = buy(
        `p${p}u${Math.floor(rand() * 6)}${phase % 2 === 0 ? '' : 'é'}`,
        `i${Math.floor(rand() ** 2 * 5)}`,
        Math.round(rand() * 400) / 4,
        t,
      )
      out.push({ partition: p, buy: last, timestampMs: stamp })
    }
  }
  return out
}

export async function readDeadLetters(
  log: EmbeddedEventLog,
  group: string,
): Promise<
  { partition: number; offset: string; reason: string; topic: string; originPartition?: number; originOffset?: string }[]
> {
  const out: {
    partition: number
    offset: string
    reason: string
    topic: string
    originPartition?: number
    originOffset?: string
  }[] = []
  const ends = await log.endOffsets('kfs.dead-letters')
  const end = Number(ends[0] ?? '0')
  if (end === 0) return out
  const consumer = log.consumer({ groupId: group, topics: ['kfs.dead-letters'], fromBeginning: true })
  let seen = 0
  await consumer.run({
    eachBatch: async (batch) => {
      for (const r of batch.records) {
        seen = Number(r.offset) + 1
        const h = r.headers
        out.push({
          topic: h[DEAD_LETTER_HEADERS.topic] ?? '',
          partition: Number(h[DEAD_LETTER_HEADERS.partition]),
          offset: h[DEAD_LETTER_HEADERS.offset] ?? '',
          reason: h[DEAD_LETTER_HEADERS.reason] ?? '',
          ...(h[DEAD_LETTER_HEADERS.originOffset] === undefined
            ? {}
            : {
                originPartition: Number(h[DEAD_LETTER_HEADERS.originPartition]),
                originOffset: h[DEAD_LETTER_HEADERS.originOffset],
              }),
        })
      }
    },
  })
  await waitFor(() => seen >= end, 'dead letters read')
  await consumer.stop()
  return out
}

export function byEntity(rows: Iterable<FeatureRow[]>): Map<string, FeatureRow[]> {
  const out = new Map<string, FeatureRow[]>()
  for (const list of rows) for (const row of list) out.set(row.entityKey, [...(out.get(row.entityKey) ?? []), row])
  return out
}

export async function assertOnlineHoldsLatest(
  online: EmbeddedOnlineStore,
  view: FeatureViewDef,
  expected: Map<string, FeatureRow[]>,
  where: string,
): Promise<void> {
  const keys = [...expected.keys()]
  const reads = await online.readRows(
    keys.map((entityKey) => ({ view, entityKey, features: view.features.map((f) => f.name) })),
    Date.now(),
  )
  keys.forEach((key, i) => {
    const latest = expected.get(key)!.at(-1)!
    const read = reads[i]!
    assert.equal(read.asOfMs, latest.asOfMs, `${where}: online as_of of ${view.name} ${key} (status ${read.status})`)
    assert.ok(
      read.values.every((v, j) => valuesClose(v, latest.values[j])),
      `${where}: online values of ${view.name} ${key}: ${JSON.stringify(read.values)} vs ${JSON.stringify(latest.values)}`,
    )
  })
}
