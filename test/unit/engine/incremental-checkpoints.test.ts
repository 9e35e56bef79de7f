/**
 * Incremental checkpoints through a partition slot (engine/state-chain.ts, docs/semantics.md §10):
 * records name a base and its deltas, compaction writes a new base and prunes the old chain, every
 * restore equals the live state byte for byte, a checkpoint faulted at any state or record write
 * leaves the previous one restorable (and the next one a full base), a delta never applies to
 * another base, and format-1 records (one `stateKey`) still restore.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import type { Clock } from '../../../core/clock.ts'
import { CheckpointError } from '../../../core/errors.ts'
import { silentLogger } from '../../../core/logger.ts'
import { purchases, user, userPurchases } from '../../../examples/features.ts'
import { featureView } from '../../../features/index.ts'
import { CheckpointStore, type PartitionCheckpoint } from '../../../engine/checkpoint-store.ts'
import { PartitionSlot } from '../../../engine/partition-slot.ts'
import type { ChainPolicy } from '../../../engine/state-chain.ts'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import type { SourceRecord } from '../../../ports/source.ts'
import { createDecoder } from '../../../schemas/decoder.ts'
import { createEncoder } from '../../../schemas/encoder.ts'
import { FaultyObjectStore, type Fault } from '../../support/faulty-object-store.ts'
import { generatePurchases } from '../../support/scenario.ts'

/** Retries back off by a turn of the event loop, not seconds. */
const fastClock: Clock = { nowMs: () => Date.now(), sleep: () => new Promise((resolve) => setImmediate(resolve)) }

/** A view whose keys expire (one short window, no lifetime feature), next to one whose keys stay. */
const shortSpend = featureView({
  name: 'short_spend',
  version: 1,
  entity: user,
  source: purchases,
  aggregations: [{ op: 'sum', field: 'amount', windows: ['5m'] }],
  ttl: '1d',
  freshnessSla: '1m',
  owner: 'test@example.com',
  description: 'Spend over five minutes: its keys expire',
})
const VIEWS = [userPurchases, shortSpend]

interface Harness {
  readonly store: FaultyObjectStore
  readonly memory: MemoryObjectStore
  readonly checkpoints: CheckpointStore
  restore(policy?: ChainPolicy): Promise<PartitionSlot>
  /** Records `from` … `from + count − 1` of the generated stream. */
  records(from: number, count: number): SourceRecord[]
  dispose(): Promise<void>
}

async function harness(): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), 'kfs-incr-ckpt-'))
  const registry = new EmbeddedSchemaRegistry({ dir: join(dir, 'schemas') })
  const encoder = await createEncoder({ registry, subject: `${purchases.topic}-value`, schema: purchases.schema })
  const events = generatePurchases({ count: 3_000, users: 60, seed: 5 })
  const memory = new MemoryObjectStore()
  const store = new FaultyObjectStore(memory)
  const checkpoints = new CheckpointStore(store, 'g')
  return {
    store,
    memory,
    checkpoints,
    restore: (policy) =>
      PartitionSlot.restore(
        {
          topic: purchases.topic,
          partition: 0,
          source: purchases,
          views: VIEWS,
          decoder: createDecoder({ registry, readerSchema: purchases.schema }),
          archive: true,
        },
        {
          offline: new IcebergOfflineSink(store, { clock: fastClock }),
          checkpoints,
          clock: fastClock,
          logger: silentLogger,
          ...(policy ? { chainPolicy: policy } : {}),
        },
      ),
    records: (from, count) =>
      events.slice(from, from + count).map((e, i) => ({
        topic: purchases.topic,
        partition: 0,
        offset: String(from + i),
        key: Buffer.from(e.user_id),
        value: encoder.encode(e),
        timestampMs: e.ts,
        headers: {},
      })),
    dispose: () => rm(dir, { recursive: true, force: true }),
  }
}

/** A fresh slot fed records 0 … n − 1 and checkpointed once; its record, and the record's object key. */
async function checkpointedOnce(h: Harness, n: number): Promise<{ slot: PartitionSlot; latest: PartitionCheckpoint; recordKey: string }> {
  const slot = await h.restore()
  await slot.processRecords(h.records(0, n), 0)
  await slot.checkpoint()
  const latest = (await h.checkpoints.latest(purchases.topic, 0))!
  const recordKey = (await h.memory.list('checkpoints/')).find((k) => k.endsWith(`ckpt-${String(latest.seq).padStart(12, '0')}.json`))!
  return { slot, latest, recordKey }
}

/** Runs `body` on a fresh harness, disposed of afterwards. */
async function withHarness(body: (h: Harness) => Promise<void>): Promise<void> {
  const h = await harness()
  try {
    await body(h)
  } finally {
    await h.dispose()
  }
}

const snapshots = (slot: PartitionSlot): Uint8Array[] => slot.processors.map((p) => p.task.snapshot())

async function assertRestoresTo(h: Harness, expected: Uint8Array[], what: string): Promise<PartitionSlot> {
  const restored = await h.restore()
  assert.deepEqual(snapshots(restored), expected, `${what}: the restored state is the checkpointed one, byte for byte`)
  return restored
}

const stateOf = (record: PartitionCheckpoint | undefined, v: number) => record?.views[v]?.state

void describe('engine > incremental checkpoints', () => {
  void test('base, deltas, compaction by count and by bytes, pruning of superseded chains; every restore equals live', () =>
    withHarness(async (h) => {
      const slot = await h.restore({ maxDeltas: 3, maxDeltaBytesFraction: 0.5 })
      const kinds: string[] = []
      for (let i = 0; i < 12; i++) {
        await slot.processRecords(h.records(i * 150, 150), 0)
        assert.equal(await slot.checkpoint(), true)
        const latest = await h.checkpoints.latest(purchases.topic, 0)
        kinds.push(VIEWS.map((_, v) => String(stateOf(latest, v)?.deltas.length)).join('/'))
        await assertRestoresTo(h, snapshots(slot), `checkpoint ${i + 1}`)
        const named = new Set(latest!.views.flatMap((v) => [v.state!.base, ...v.state!.deltas]))
        const blobs = (await h.memory.list('checkpoints/')).filter((k) => /\/(state|delta)-/.test(k))
        assert.deepEqual(
          blobs.filter((k) => !named.has(k)),
          [],
          'only the newest record’s chain is left after pruning',
        )
      }
      // 150 records touch most of the 60 users: the deltas outgrow half a base after one or two.
      assert.ok(
        kinds.some((k) => k.startsWith('0/')) && kinds.some((k) => !k.startsWith('0/')),
        `deltas and bases both written: ${kinds.join(' ')}`,
      )
      assert.ok(
        kinds.every((k) => Number(k.split('/')[0]) <= 3),
        'never more than maxDeltas deltas',
      )
    }))

  void test('steady state: a checkpoint after a few records writes deltas far smaller than the state', () =>
    withHarness(async (h) => {
      const slot = await h.restore()
      await slot.processRecords(h.records(0, 2_000), 0)
      await slot.checkpoint()
      const put = h.memory.put.bind(h.memory)
      const written: { key: string; bytes: number }[] = []
      h.memory.put = async (key, body) => (written.push({ key, bytes: body.length }), put(key, body))
      await slot.processRecords(h.records(2_000, 3), 0)
      await slot.checkpoint()
      const states = written.filter((w) => /\/(state|delta)-/.test(w.key))
      assert.equal(states.length, 2)
      assert.ok(
        states.every((w) => w.key.includes('/delta-')),
        'deltas, not bases',
      )
      const full = snapshots(slot).reduce((n, s) => n + s.length, 0)
      // Decay rows of keys whose tiles expire touch more keys than the three records do.
      assert.ok(states.reduce((n, w) => n + w.bytes, 0) * 3 < full, 'a delta of three records is a small part of the state')
      await assertRestoresTo(h, snapshots(slot), 'after the delta')
    }))

  const faults: { write: string; fault: Pick<Fault, 'operation' | 'key'> }[] = [
    { write: 'base write', fault: { operation: 'put', key: /\/state-\d+-[^/]*\.bin$/ } },
    { write: 'delta write', fault: { operation: 'put', key: /\/delta-\d+-[^/]*\.bin$/ } },
    { write: 'record publish', fault: { operation: 'putIfAbsent', key: /\/ckpt-\d+\.json$/ } },
  ]
  for (const { write, fault } of faults) {
    for (const when of ['before', 'after'] as const) {
      if (write === 'record publish' && when === 'after') continue // a published record; the end-to-end fault suite covers it
      void test(`a checkpoint whose ${write} fails (${when === 'before' ? 'not written' : 'written, answer lost'}) leaves the previous one restorable`, () =>
        withHarness(async (h) => {
          // maxDeltas 1: checkpoints alternate base, delta, base…
          const slot = await h.restore({ maxDeltas: 1, maxDeltaBytesFraction: 10 })
          let offset = 0
          const step = async () => {
            await slot.processRecords(h.records(offset, 200), 0)
            offset += 200
          }
          const checkpointed = async () => {
            await step()
            assert.equal(await slot.checkpoint(), true)
          }
          await checkpointed() // a base
          await checkpointed() // a delta: the next checkpoint writes a base
          if (write === 'delta write') await checkpointed() // a base: the next one writes a delta
          const previous = snapshots(slot)
          await step()
          h.store.arm({ ...fault, when, skip: 0, times: Infinity })
          await assert.rejects(slot.checkpoint())
          assert.ok(h.store.failures > 0, 'the fault fired')
          h.store.disarm()
          await assertRestoresTo(h, previous, 'after the failed checkpoint')
          // The slot goes on: its next checkpoint (a full base: the failed cut's changes are in no
          // checkpoint) covers the failed cut's changes too.
          await step()
          assert.equal(await slot.checkpoint(), true)
          const latest = await h.checkpoints.latest(purchases.topic, 0)
          assert.deepEqual(
            VIEWS.map((_, v) => stateOf(latest, v)?.deltas.length),
            [0, 0],
            'a base after a lost cut',
          )
          const restored = await assertRestoresTo(h, snapshots(slot), 'after the next checkpoint')
          await step()
          for (const s of [slot, restored]) await s.processRecords(h.records(offset - 200, 200), 0)
          assert.deepEqual(snapshots(restored), snapshots(slot), 'and continues as the live slot does')
        }))
    }
  }

  // However far the owner moved past it: one checkpoint (the stale owner's next seq is taken), or
  // two and more (that seq's key pruned, so creating it succeeds).
  for (const ahead of [1, 2, 3, 4]) {
    void test(`a stale owner is fenced, the owner ${ahead} checkpoint(s) past it and its older records pruned`, () =>
      withHarness(async (h) => {
        // Stale: it checkpointed, then paused while another owner took the partition over from its
        // record and published more (a base, then deltas), pruning the older records.
        const policy = { maxDeltas: 3, maxDeltaBytesFraction: 10 }
        const stale = await h.restore(policy)
        await stale.processRecords(h.records(0, 200), 0)
        assert.equal(await stale.checkpoint(), true)
        const owner = await h.restore(policy)
        for (let i = 1; i <= ahead; i++) {
          await owner.processRecords(h.records(i * 200, 200), 0)
          assert.equal(await owner.checkpoint(), true)
        }
        const records = (await h.memory.list('checkpoints/')).filter((k) => /\/ckpt-/.test(k))
        assert.deepEqual(records.map((k) => k.slice(-9)), [`${String(ahead + 1).padStart(4, '0')}.json`], 'the owner pruned the older records')
        // The stale owner must count as fenced wherever its key is free again — else its prune would
        // delete the owner's chain (blobs of seqs below its own record's).
        for (let i = 1; i <= 2; i++) {
          await stale.processRecords(h.records(i * 200, 200), 0)
          assert.equal(await stale.checkpoint(), false, `the stale owner's checkpoint ${i} is fenced`)
        }
        await assertRestoresTo(h, snapshots(owner), "the owner's newest checkpoint, after the stale owner's attempts")
      }))
  }

  void test('a delta of another base, or out of its place, is refused', () =>
    withHarness(async (h) => {
      const slot = await h.restore({ maxDeltas: 2, maxDeltaBytesFraction: 10 })
      const records: PartitionCheckpoint[] = []
      for (let i = 0; i < 6; i++) {
        await slot.processRecords(h.records(i * 100, 100), 0)
        await slot.checkpoint()
        records.push((await h.checkpoints.latest(purchases.topic, 0))!)
      }
      // Record 3 extends base 1 with two deltas, record 6 base 4 (base 1's chain is pruned by then).
      const old = records[2]!.views[0]!.state!
      const latest = records[5]!.views[0]!.state!
      assert.equal(latest.deltas.length, 2)
      const refused = (state: { base: string; deltas: readonly string[] }) =>
        assert.rejects(
          h.checkpoints.readViewState({ view: 'v', state }),
          (err: unknown) => err instanceof CheckpointError && /is link \d+ of base/.test(err.message),
        )
      const stray = await h.checkpoints.writeDelta(
        purchases.topic,
        0,
        7,
        old.base,
        1,
        slot.processors[0]!.task.checkpointDelta()!,
      )
      await refused({ base: latest.base, deltas: [stray] })
      await refused({ base: latest.base, deltas: [...latest.deltas].reverse() })
      await refused({ base: latest.base, deltas: latest.deltas.slice(1) })
    }))

  void test('a format-1 record (one stateKey per view) restores, and the chain goes on from it', () =>
    withHarness(async (h) => {
      const { slot, latest, recordKey: key } = await checkpointedOnce(h, 500)
      const formatOne = { ...latest, views: latest.views.map(({ state, ...v }) => ({ ...v, stateKey: state!.base })) }
      await h.memory.put(key, new TextEncoder().encode(JSON.stringify(formatOne)))
      const restored = await assertRestoresTo(h, snapshots(slot), 'format 1')
      await restored.processRecords(h.records(500, 50), 0)
      await restored.checkpoint()
      const next = (await h.checkpoints.latest(purchases.topic, 0))!
      assert.deepEqual(
        next.views[0]!.state,
        { base: formatOne.views[0]!.stateKey, deltas: [next.views[0]!.state!.deltas[0]] },
        'a delta extends the format-1 blob',
      )
      await assertRestoresTo(h, snapshots(restored), 'format 1 + delta')
      await h.memory.put(
        key.replace(/ckpt-\d+/, 'ckpt-000000000099'),
        new TextEncoder().encode(JSON.stringify({ ...next, seq: 99, views: [{ view: next.views[0]!.view }] })),
      )
      await assert.rejects(h.restore(), (err: unknown) => err instanceof CheckpointError && /names no state/.test(err.message))
    }))

  void test('a damaged record or state blob is refused at once as CHECKPOINT_CORRUPT naming it', () =>
    withHarness(async (h) => {
      const { slot, latest, recordKey } = await checkpointedOnce(h, 300)
      const stateKey = latest.views[0]!.state!.base
      const cases: [string, RegExp, Uint8Array[]][] = [
        [recordKey, /^checkpoint record .* is damaged \((not JSON|not a checkpoint record)\)/, [new TextEncoder().encode('[1, 2]'), new TextEncoder().encode('{"seq": 1}')]],
        [stateKey, /^operator snapshot is unreadable \(view .*, from .*\): restore them from a copy$/, []],
      ]
      for (const [key, message, shapes] of cases) {
        const bytes = (await h.memory.get(key))!
        for (const body of [bytes.subarray(0, bytes.length >> 1), bytes.subarray(0, 3), ...shapes]) {
          await h.memory.put(key, body)
          await assert.rejects(h.restore(), (err: unknown) => err instanceof CheckpointError && err.code === 'CHECKPOINT_CORRUPT' && message.test(err.message) && err.message.includes(key), `${key}: ${body.length} bytes`)
        }
        await h.memory.put(key, bytes)
      }
      await assertRestoresTo(h, snapshots(slot), 'undamaged again')
    }))
})
