/**
 * The contract every EventLog adapter passes: the embedded log (unit) and Kafka (integration).
 * `makeLog` returns a log; each test uses fresh topic and group names, so a shared broker works.
 * Transaction tests run when the log has `transaction` (both adapters do).
 */
import { after, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import type { ConsumerHandlers, EventLog, LogConsumer, LogRecord } from '../../ports/event-log.ts'
import type { TransactionalEventLog } from '../../ports/event-log-transaction.ts'
import { partitionForKey } from '../../core/murmur2.ts'

type AnyLog = EventLog & Partial<Pick<TransactionalEventLog, 'transaction'>>

const enc = (s: string) => Buffer.from(s, 'utf8')
const str = (b: Uint8Array | null) => (b === null ? null : Buffer.from(b).toString('utf8'))

/** Resolves when `predicate` holds; rejects after `limitMs` so a broken adapter fails instead of hanging. */
export async function eventually(predicate: () => boolean, what: string, limitMs = 60_000): Promise<void> {
  const deadline = Date.now() + limitMs
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

interface Tap {
  readonly consumer: LogConsumer
  readonly records: LogRecord[]
  assigned: { topic: string; partition: number }[]
  readonly revoked: { topic: string; partition: number }[]
}

async function tap(log: AnyLog, groupId: string, topics: string[], extra: Partial<ConsumerHandlers> = {}, options: { readCommitted?: boolean; exclusive?: boolean } = {}): Promise<Tap> {
  const consumer = log.consumer({ groupId, topics, readCommitted: options.readCommitted ?? false, exclusive: options.exclusive ?? false })
  const t: Tap = { consumer, records: [], assigned: [], revoked: [] }
  await consumer.run({
    eachBatch: async (batch) => {
      assert.ok(batch.records.every((r) => r.topic === batch.topic && r.partition === batch.partition))
      t.records.push(...batch.records)
      await extra.eachBatch?.(batch)
    },
    onAssigned: async (partitions) => {
      t.assigned = [...partitions]
      await extra.onAssigned?.(partitions)
    },
    onRevoked: async (partitions) => {
      t.revoked.push(...partitions)
    },
  })
  return t
}

export function runEventLogContract(name: string, makeLog: () => Promise<AnyLog>): void {
  const uniq = (s: string) => `kfs-${s}-${randomUUID().slice(0, 8)}`
  const opened: AnyLog[] = []
  const open = async () => {
    const log = await makeLog()
    opened.push(log)
    return log
  }

  void describe(`event log contract > ${name}`, () => {
    after(async () => {
      for (const log of opened) await log.close()
    })

    void test('createTopic is idempotent and partitionCount reports the partitions', async () => {
      const log = await open()
      const topic = uniq('t')
      await log.createTopic(topic, 3)
      await log.createTopic(topic, 3)
      assert.equal(await log.partitionCount(topic), 3)
      assert.deepEqual(await log.endOffsets(topic), ['0', '0', '0'])
      assert.deepEqual(await log.startOffsets(topic), ['0', '0', '0'])
    })

    void test('offsets are gap-free decimal strings per partition; endOffsets follows', async () => {
      const log = await open()
      const topic = uniq('t')
      await log.createTopic(topic, 2)
      const first = await log.produce(topic, [0, 1, 2].map((i) => ({ key: null, value: enc(`a${i}`), partition: 0 })))
      const second = await log.produce(topic, [
        { key: null, value: enc('b0'), partition: 1 },
        { key: null, value: enc('a3'), partition: 0 },
      ])
      assert.deepEqual(first, [0, 1, 2].map((i) => ({ partition: 0, offset: String(i) })))
      assert.deepEqual(second, [{ partition: 1, offset: '0' }, { partition: 0, offset: '3' }])
      assert.deepEqual(await log.endOffsets(topic), ['4', '1'])
    })

    void test("keys land on Kafka's murmur2 partition", async () => {
      const log = await open()
      const topic = uniq('t')
      await log.createTopic(topic, 6)
      const keys = Array.from({ length: 40 }, (_, i) => `user-${i}`)
      const out = await log.produce(topic, keys.map((k) => ({ key: k, value: enc(k) })))
      keys.forEach((k, i) => assert.equal(out[i]?.partition, partitionForKey(k, 6), k))
      const bytesOut = await log.produce(topic, [{ key: enc('user-3'), value: null }])
      assert.equal(bytesOut[0]?.partition, partitionForKey('user-3', 6))
    })

    void test('a consumer gets every record once, in offset order per partition, with key, value and headers', async () => {
      const log = await open()
      const topic = uniq('t')
      await log.createTopic(topic, 3)
      // Header names that are Object members, '__proto__' among them (computed: a plain literal
      // key would set the prototype), arrive like any other.
      const memberNames = { constructor: 'c', toString: 't', ['__proto__']: 'p' }
      const produced = await log.produce(topic, Array.from({ length: 60 }, (_, i) => ({ key: `k${i % 7}`, value: enc(`v${i}`), headers: { n: String(i), ...memberNames } })))
      const t = await tap(log, uniq('g'), [topic])
      await eventually(() => t.records.length >= 60, '60 records')
      await t.consumer.stop()
      assert.equal(t.records.length, 60)
      for (let p = 0; p < 3; p++) {
        const got = t.records.filter((r) => r.partition === p)
        const want = produced.map((o, i) => ({ ...o, i })).filter((o) => o.partition === p)
        assert.deepEqual(got.map((r) => r.offset), want.map((o) => o.offset))
        assert.deepEqual(got.map((r) => str(r.value)), want.map((o) => `v${o.i}`))
        assert.deepEqual(got.map((r) => r.headers.n), want.map((o) => String(o.i)))
        for (const r of got) for (const [name, value] of Object.entries(memberNames)) assert.ok(Object.hasOwn(r.headers, name) && r.headers[name] === value, `header ${name}`)
        assert.deepEqual(got.map((r) => str(r.key)), want.map((o) => `k${o.i % 7}`))
      }
      assert.ok(t.records.every((r) => Number.isFinite(r.timestampMs) && r.timestampMs > 0))
    })

    void test('a group resumes from its committed offsets', async () => {
      const log = await open()
      const topic = uniq('t')
      const group = uniq('g')
      await log.createTopic(topic, 1)
      await log.produce(topic, Array.from({ length: 10 }, (_, i) => ({ key: null, value: enc(`v${i}`), partition: 0 })))
      const a = await tap(log, group, [topic])
      await eventually(() => a.records.length >= 10, '10 records')
      await a.consumer.commit([{ topic, partition: 0, offset: '6' }])
      await a.consumer.stop()
      await log.produce(topic, [{ key: null, value: enc('v10'), partition: 0 }])
      const b = await tap(log, group, [topic])
      await eventually(() => b.records.length >= 5, 'records after the committed offset')
      await b.consumer.stop()
      assert.deepEqual(b.records.map((r) => r.offset), ['6', '7', '8', '9', '10'])
    })

    void test('two consumers of one group split the partitions and each gets its own records', async () => {
      const log = await open()
      const topic = uniq('t')
      const group = uniq('g')
      await log.createTopic(topic, 4)
      const a = await tap(log, group, [topic])
      await eventually(() => a.assigned.length === 4, 'the first member to get all partitions')
      const b = await tap(log, group, [topic])
      await eventually(() => a.assigned.length === 2 && b.assigned.length === 2, 'a 2/2 split')
      const owned = [...a.assigned, ...b.assigned].map((tp) => tp.partition).sort()
      assert.deepEqual(owned, [0, 1, 2, 3])
      assert.ok(a.revoked.length >= 2, 'the first member was told it lost partitions')
      const produced = await log.produce(topic, Array.from({ length: 40 }, (_, i) => ({ key: `k${i}`, value: enc(`v${i}`) })))
      await eventually(() => a.records.length + b.records.length >= 40, '40 records')
      await Promise.all([a.consumer.stop(), b.consumer.stop()])
      for (const [member, records] of [[a, a.records], [b, b.records]] as const) {
        const mine = new Set(member.assigned.map((tp) => tp.partition))
        assert.ok(records.every((r) => mine.has(r.partition)), 'a member only sees its own partitions')
      }
      const seen = [...a.records, ...b.records].map((r) => `${r.partition}/${r.offset}`).sort()
      assert.deepEqual(seen, produced.map((o) => `${o.partition}/${o.offset}`).sort())
    })

    void test('exclusive: one member owns every partition, keeps them when another joins, and the other takes them when it leaves', async () => {
      const log = await open()
      const topic = uniq('t')
      const group = uniq('g')
      await log.createTopic(topic, 3)
      const a = await tap(log, group, [topic], {}, { exclusive: true })
      await eventually(() => a.assigned.length === 3, 'the first member to own every partition')
      const b = await tap(log, group, [topic], {}, { exclusive: true })
      await log.produce(topic, [0, 1, 2].map((p) => ({ key: null, value: enc(`before-${p}`), partition: p })))
      await eventually(() => a.records.length >= 3, 'the owner to read every partition')
      assert.deepEqual([a.assigned.length, b.assigned.length, a.revoked.length], [3, 0, 0], 'the owner kept everything; the newcomer got nothing')
      await a.consumer.stop()
      await eventually(() => b.assigned.length === 3, 'the stand-by to take every partition')
      await log.produce(topic, [0, 1, 2].map((p) => ({ key: null, value: enc(`after-${p}`), partition: p })))
      await eventually(() => b.records.filter((r) => str(r.value)?.startsWith('after')).length >= 3, 'the new owner to read every partition')
      await b.consumer.stop()
    })

    void test('seek rewinds a partition', async () => {
      const log = await open()
      const topic = uniq('t')
      await log.createTopic(topic, 1)
      await log.produce(topic, Array.from({ length: 5 }, (_, i) => ({ key: null, value: enc(`v${i}`), partition: 0 })))
      const t = await tap(log, uniq('g'), [topic])
      await eventually(() => t.records.length >= 5, '5 records')
      t.consumer.seek({ topic, partition: 0, offset: '2' })
      await eventually(() => t.records.length >= 8, 'the replayed records')
      await t.consumer.stop()
      assert.deepEqual(t.records.map((r) => r.offset), ['0', '1', '2', '3', '4', '2', '3', '4'])
    })

    void test('seek refuses an offset that is not a whole number, and the position stays', async () => {
      const log = await open()
      const topic = uniq('t')
      await log.createTopic(topic, 1)
      await log.produce(topic, Array.from({ length: 3 }, (_, i) => ({ key: null, value: enc(`v${i}`), partition: 0 })))
      const t = await tap(log, uniq('g'), [topic])
      await eventually(() => t.records.length >= 3, '3 records')
      for (const offset of ['', ' 1', '1 ', '1e0', '0x1', '+1', '-1', '1.5', 'abc', 'Infinity']) {
        assert.throws(() => t.consumer.seek({ topic, partition: 0, offset }), RangeError, JSON.stringify(offset))
      }
      await log.produce(topic, [{ key: null, value: enc('v3'), partition: 0 }])
      await eventually(() => t.records.length >= 4, 'the next record')
      await t.consumer.stop()
      assert.deepEqual(t.records.map((r) => r.offset), ['0', '1', '2', '3'])
    })

    void test('a seek in onAssigned decides where the partition starts', async () => {
      const log = await open()
      const topic = uniq('t')
      await log.createTopic(topic, 2)
      await log.produce(topic, Array.from({ length: 6 }, (_, i) => ({ key: null, value: enc(`v${i}`), partition: i % 2 })))
      const holder: { consumer?: LogConsumer } = {}
      const t = await tap(log, uniq('g'), [topic], {
        onAssigned: async (partitions) => {
          for (const tp of partitions) holder.consumer?.seek({ ...tp, offset: tp.partition === 0 ? '2' : '1' })
        },
      })
      holder.consumer = t.consumer
      // The first onAssigned ran before `holder` was set; rewinding now exercises seek after assignment.
      t.consumer.seek({ topic, partition: 0, offset: '2' })
      t.consumer.seek({ topic, partition: 1, offset: '1' })
      await eventually(() => t.records.some((r) => r.partition === 0 && r.offset === '2') && t.records.some((r) => r.partition === 1 && r.offset === '2'), 'records after the seeks')
      await t.consumer.stop()
      const last0 = t.records.filter((r) => r.partition === 0).map((r) => r.offset)
      assert.deepEqual(last0.slice(-1), ['2'])
    })

    void test('a paused partition delivers nothing until resumed', async () => {
      const log = await open()
      const topic = uniq('t')
      await log.createTopic(topic, 2)
      const t = await tap(log, uniq('g'), [topic])
      await eventually(() => t.assigned.length === 2, 'assignment')
      t.consumer.pause([{ topic, partition: 0 }])
      await log.produce(topic, [{ key: null, value: enc('p0'), partition: 0 }])
      await log.produce(topic, [{ key: null, value: enc('p1'), partition: 1 }])
      await eventually(() => t.records.some((r) => r.partition === 1), 'the unpaused partition')
      assert.equal(t.records.filter((r) => r.partition === 0).length, 0)
      t.consumer.resume([{ topic, partition: 0 }])
      await eventually(() => t.records.some((r) => r.partition === 0), 'the resumed partition')
      await t.consumer.stop()
      assert.deepEqual(t.records.map((r) => str(r.value)).sort(), ['p0', 'p1'])
    })

    void test('a handler that takes a prefix of a batch gets the rest again, in order; one that takes nothing and pauses gets it after resume', async () => {
      const log = await open()
      const topic = uniq('t')
      await log.createTopic(topic, 2)
      await log.produce(topic, Array.from({ length: 20 }, (_, i) => ({ key: null, value: enc(`v${i}`), partition: i % 2 })))
      const taken: LogRecord[] = []
      const starts: string[] = []
      const order: string[] = []
      let heldBack = false
      const consumer = log.consumer({ groupId: uniq('g'), topics: [topic] })
      await consumer.run({
        eachBatch: async (batch) => {
          starts.push(`${batch.partition}@${batch.records[0]!.offset}`)
          order.push(...batch.records.map((r) => `${r.partition}/${r.offset}`))
          if (batch.partition === 0 && !heldBack) {
            // Nothing taken and paused: nothing of partition 0 may come until the resume.
            heldBack = true
            consumer.pause([{ topic, partition: 0 }])
            return { consumed: 0 }
          }
          const n = Math.min(3, batch.records.length)
          taken.push(...batch.records.slice(0, n))
          return { consumed: n }
        },
      })
      await eventually(() => taken.filter((r) => r.partition === 1).length >= 10, 'partition 1 taken 3 records at a time')
      assert.equal(taken.filter((r) => r.partition === 0).length, 0, 'the paused partition delivered nothing')
      consumer.resume([{ topic, partition: 0 }])
      await eventually(() => taken.length >= 20, 'partition 0 after the resume')
      await consumer.stop()
      for (const p of [0, 1]) {
        assert.deepEqual(
          taken.filter((r) => r.partition === p).map((r) => str(r.value)),
          Array.from({ length: 10 }, (_, j) => `v${2 * j + p}`),
          `partition ${p}: every record taken once, in order`,
        )
      }
      // Each batch starts at the first record not taken: 0, 3, 6, 9 on partition 1; 0 (refused), 0, 3, 6, 9 on partition 0.
      assert.deepEqual(starts.filter((x) => x.startsWith('1@')), ['1@0', '1@3', '1@6', '1@9'])
      assert.deepEqual(starts.filter((x) => x.startsWith('0@')), ['0@0', '0@0', '0@3', '0@6', '0@9'])
      assert.ok(order.length > taken.length, 'records not taken were delivered again')
    })

    void test('transactions: committed records and offsets appear together; aborted ones never do', async (ctx) => {
      const log = await open()
      if (!log.transaction) {
        ctx.diagnostic('this log has no transactions')
        assert.fail(`${name} does not implement transaction()`)
      }
      const source = uniq('src')
      const sink = uniq('sink')
      const group = uniq('g')
      await log.createTopic(source, 1)
      await log.createTopic(sink, 2)
      await log.produce(source, Array.from({ length: 4 }, (_, i) => ({ key: null, value: enc(`s${i}`), partition: 0 })))

      const aborted = await log.transaction(uniq('tx'))
      await aborted.produce(sink, [{ key: 'a', value: enc('aborted-1'), partition: 0 }, { key: 'b', value: enc('aborted-2'), partition: 1 }])
      await aborted.sendOffsets(group, [{ topic: source, partition: 0, offset: '4' }])
      await aborted.abort()

      const txId = uniq('tx')
      const committed = await log.transaction(txId)
      await committed.produce(sink, [{ key: 'a', value: enc('kept-1'), partition: 0 }, { key: 'b', value: enc('kept-2'), partition: 1 }])
      await committed.sendOffsets(group, [{ topic: source, partition: 0, offset: '3' }])
      await committed.commit()

      const reader = await tap(log, uniq('g'), [sink], {}, { readCommitted: true })
      await eventually(() => reader.records.length >= 2, 'the committed records')
      await log.produce(sink, [{ key: null, value: enc('after-0'), partition: 0 }, { key: null, value: enc('after-1'), partition: 1 }])
      await eventually(() => reader.records.length >= 4, 'the records after the transactions')
      await reader.consumer.stop()
      assert.deepEqual(reader.records.map((r) => str(r.value)).sort(), ['after-0', 'after-1', 'kept-1', 'kept-2'])

      const resumed = await tap(log, group, [source])
      await eventually(() => resumed.records.length >= 1, 'the source records after the sent offset')
      await resumed.consumer.stop()
      assert.equal(resumed.records[0]?.offset, '3', 'the group resumes at the offset sent in the committed transaction')
    })

    void test('sendOffsets commits every partition it is given, when the transaction commits', async () => {
      const log = await open()
      if (!log.transaction) assert.fail(`${name} does not implement transaction()`)
      const source = uniq('src')
      const sink = uniq('sink')
      const group = uniq('g')
      await log.createTopic(source, 3)
      await log.createTopic(sink, 1)
      await log.produce(source, Array.from({ length: 9 }, (_, i) => ({ key: null, value: enc(`s${i}`), partition: i % 3 })))
      const txn = await log.transaction(uniq('tx'))
      await txn.produce(sink, [{ key: null, value: enc('out'), partition: 0 }])
      await txn.sendOffsets(group, [0, 1, 2].map((p) => ({ topic: source, partition: p, offset: String(p + 1) })))
      assert.deepEqual(await log.committedOffsets(group, source), [undefined, undefined, undefined], 'nothing is committed before the transaction')
      await txn.commit()
      // Kafka writes a commit's markers, the offsets' included, just after commit() returns: poll until they land.
      let after = await log.committedOffsets(group, source)
      for (const deadline = Date.now() + 30_000; after.includes(undefined) && Date.now() < deadline; after = await log.committedOffsets(group, source)) {
        await new Promise((r) => setTimeout(r, 20))
      }
      assert.deepEqual(after, ['1', '2', '3'])
    })

    void test('a newer transaction with the same id fences the older one', async () => {
      const log = await open()
      if (!log.transaction) assert.fail(`${name} does not implement transaction()`)
      const topic = uniq('t')
      await log.createTopic(topic, 1)
      const id = uniq('tx')
      const zombie = await log.transaction(id)
      await zombie.produce(topic, [{ key: null, value: enc('zombie'), partition: 0 }])
      const fresh = await log.transaction(id)
      await fresh.produce(topic, [{ key: null, value: enc('fresh'), partition: 0 }])
      await fresh.commit()
      await assert.rejects(async () => {
        await zombie.produce(topic, [{ key: null, value: enc('zombie-2'), partition: 0 }])
        await zombie.commit()
      })
      const t = await tap(log, uniq('g'), [topic], {}, { readCommitted: true })
      await log.produce(topic, [{ key: null, value: enc('marker'), partition: 0 }])
      await eventually(() => t.records.some((r) => str(r.value) === 'marker'), 'the marker')
      await t.consumer.stop()
      assert.deepEqual(t.records.map((r) => str(r.value)), ['fresh', 'marker'])
    })
  })
}
