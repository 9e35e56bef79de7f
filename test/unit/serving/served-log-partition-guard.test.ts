/**
 * `kfs serve` checks its served-feature log topic's partition count again while it runs
 * (main/commands/served-log-partition-guard.ts, docs/semantics.md §21): a topic grown, shrunk or
 * created again with another count gets no more batches — each is refused with the refusal, which
 * the served log counts as dropped — until a check finds the declared count again; a log that does
 * not answer is no refusal; a hung check is given up after the interval and its late answer
 * dropped. Before, serve checked the topic only at start and logged into it whatever it became.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { Clock } from '../../../core/clock.ts'
import { SourceError } from '../../../core/errors.ts'
import { partitionCountRefused } from '../../../engine/source-partitions.ts'
import { partitionGuardedTransport } from '../../../main/commands/served-log-partition-guard.ts'
import { requireServedLogPartitions } from '../../../main/commands/serve.ts'
import { servedLog } from '../../../serving/served-log/index.ts'

const source = servedLog({ topic: 'kfs.served-features' }).servedFeatures
const settle = () => new Promise((resolve) => setImmediate(resolve))

/** The topic's count as the test sets it; a lookup can be held (hangs until released) or fail. */
function topic(count: number) {
  const held: (() => void)[] = []
  const state = {
    count: count as number | undefined,
    hold: false,
    down: false,
    lookups: 0,
    release: () => held.splice(0).forEach((go) => go()),
    partitionCount: async (): Promise<number> => {
      state.lookups++
      const answer = state.count
      if (state.hold) await new Promise<void>((resolve) => held.push(resolve))
      if (state.down) throw new SourceError('SOURCE_UNAVAILABLE', 'broker down')
      if (answer === undefined) throw new SourceError('NOT_FOUND', 'no such topic')
      return answer
    },
  }
  return state
}

function harness(count: number) {
  const log = topic(count)
  const clock: Clock & { now: number } = { now: 0, nowMs: () => clock.now, sleep: async () => undefined }
  const sent: string[] = []
  const transport = partitionGuardedTransport(
    { send: async (records) => void sent.push(...records.map((r) => r.key)), close: async () => undefined },
    { check: () => requireServedLogPartitions(log, source), clock, everyMs: 1_000 },
  )
  /** One batch; 'sent' or the refusal's message. */
  const send = async (key: string): Promise<string> => {
    const outcome = await transport.send([{ key, value: new Uint8Array() }]).then(
      () => 'sent',
      (err: unknown) => (err as Error).message,
    )
    await settle() // a check the send started answers before the next send
    return outcome
  }
  return { log, clock, sent, send }
}

void describe('kfs serve > the served-log topic checked while serving', () => {
  for (const changed of [source.partitions + 1, source.partitions - 1]) {
    void test(`the topic changed to ${changed} partitions: refused from the first check after the change until it has ${source.partitions} again`, async () => {
      const { log, clock, sent, send } = harness(source.partitions)
      assert.equal(await send('a'), 'sent')
      log.count = changed
      assert.equal(await send('b'), 'sent', 'not checked again before the interval')
      clock.now += 1_000
      assert.equal(await send('c'), 'sent', 'the send that starts the check goes on with what was known')
      assert.equal(await send('d'), refusedMessage(changed))
      clock.now += 999
      assert.equal(await send('e'), refusedMessage(changed), 'still refused until the next check')
      log.count = source.partitions // created again as declared
      clock.now += 1
      assert.equal(await send('f'), refusedMessage(changed), 'the send that starts the check goes on with what was known')
      assert.equal(await send('g'), 'sent')
      assert.deepEqual(sent, ['a', 'b', 'c', 'g'])
      assert.equal(log.lookups, 2)
    })
  }

  void test('a log that does not answer, or a topic not there, is no refusal; what was known stands', async () => {
    const { log, clock, sent, send } = harness(source.partitions)
    log.down = true
    clock.now += 1_000
    await send('a')
    assert.equal(await send('b'), 'sent')
    log.down = false
    log.count = source.partitions + 2
    clock.now += 1_000
    await send('c')
    assert.equal(await send('d'), refusedMessage(source.partitions + 2))
    log.down = true
    clock.now += 1_000
    await send('e')
    assert.equal(await send('f'), refusedMessage(source.partitions + 2), 'a failed check keeps the refusal')
    log.down = false
    log.count = undefined // deleted: serve's next batch creates it with the declared count
    clock.now += 1_000
    await send('g')
    assert.equal(await send('h'), 'sent')
    assert.deepEqual(sent, ['a', 'b', 'c', 'h'])
  })

  void test('a check that hangs is given up after the interval; its late answer is dropped', async () => {
    const { log, clock, send } = harness(source.partitions)
    log.count = source.partitions + 1
    log.hold = true
    clock.now += 1_000
    await send('a') // starts a check that hangs (it would refuse)
    assert.equal(await send('b'), 'sent', 'no answer yet: what was known stands')
    clock.now += 1_000
    log.count = source.partitions
    log.hold = false
    await send('c') // the hung check given up: a new one, answered at once
    assert.equal(log.lookups, 2)
    log.release() // the hung check answers late, with the old count
    await settle()
    assert.equal(await send('d'), 'sent', 'the late refusal is dropped')
  })
})

function refusedMessage(count: number): string {
  return `served-feature log: ${partitionCountRefused(source, count).message} (the source is servedLog({ topic: '${source.topic}', partitions }) of serving/served-log/index.ts, 3 partitions unless declared)`
}
