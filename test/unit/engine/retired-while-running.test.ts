/**
 * A live engine left running while its group is retired (docs/semantics.md §14). `kfs groups retire`
 * writes the retired claims, then deletes the group's checkpoints and claims; its only guard is
 * time (--quiet). Before, a member still running — idle, checkpointing once per idle timeout, or a
 * stalled process waking up — went on: its next checkpoint re-created checkpoints of the retired
 * group and its rows were committed to the tables, exit 0. Now the engine reads the topic's claim
 * before each checkpoint publish and stops (engine.failed, `kfs run` exits 1) once it is retired,
 * gone or another group's, publishing and committing nothing more.
 *
 * The retire runs at every point: before and after each of its store calls, an engine checkpoint;
 * and, the engine mid-checkpoint, before each store call of the checkpoint. Both for a topic the
 * group checkpointed (retired) and one it only claimed (freed). Reads of the claim that fail in
 * passing are asked again; the claim in each state that is not the group's stops the engine.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { encodeClaim } from '../../../main/commands/topic-claims.ts'
import {
  assertNothingLandedAfterMarker,
  assertStoppedByRetire,
  CLAIM_KEY,
  GROUP,
  markerAt,
  startRunning,
  TOPIC,
  type Call,
  type Running,
} from '../../support/retire-while-running.ts'

const RETIRED = /kfs groups retire retired group old-engine at \d{4}-/
const FREED = /its claim claims\/taps\.json is gone: kfs groups retire old-engine freed the topic/

/** The store calls of a whole retire (its plan, then the retire), on a fresh engine. */
async function retireCalls(checkpointed: boolean): Promise<number> {
  const running = await startRunning(checkpointed)
  try {
    const from = running.journal.length
    await running.retire()
    return running.journal.slice(from).filter((c) => c.who === 'retire').length
  } finally {
    await running.close()
  }
}

/** The engine's store calls of one checkpoint, from the record's produce to the checkpoint done. */
async function checkpointCalls(): Promise<Call[]> {
  const running = await startRunning(true)
  try {
    const from = running.journal.length
    await running.checkpointStep()
    return running.journal.slice(from).filter((c) => c.who === 'engine')
  } finally {
    await running.close()
  }
}

/** Runs `step` ahead of the `n`-th call (0-based) `store` makes from now, once. */
function beforeCall(store: Running['engineStore'], n: number, step: () => Promise<void>): void {
  let seen = 0
  store.before = async () => {
    if (seen++ !== n) return
    store.before = undefined
    await step()
  }
}

for (const checkpointed of [true, false]) {
  const kind = checkpointed ? 'a topic it checkpointed (retired)' : 'a topic it only claimed (freed)'
  void describe(`a running engine retired, ${kind}`, async () => {
    const calls = await retireCalls(checkpointed)
    for (let at = 0; at <= calls; at++) {
      const where = at === calls ? 'after the retire' : `before the retire's store call ${at + 1} of ${calls}`
      void test(`an engine checkpoint ${where}: nothing of it lands after the retire's marker, and the engine stops`, async () => {
        const running = await startRunning(checkpointed)
        try {
          let stepped = false
          if (at < calls) beforeCall(running.retireStore, at, async () => ((stepped = true), await running.checkpointStep()))
          await running.retire()
          if (at === calls) await running.checkpointStep()
          else assert.ok(stepped, 'the engine checkpointed inside the retire')
          // Whether or not that checkpoint came before the marker, the next one stops the engine.
          if (running.engine.failure === undefined) await running.checkpointStep()
          // A checkpoint before the retire's listing makes the topic one the group checkpointed.
          const retired = running.journal[markerAt(running.journal)]?.op === 'put'
          await assertStoppedByRetire(running, retired ? RETIRED : FREED)
          await assertNothingLandedAfterMarker(running)
        } finally {
          await running.close()
        }
      })
    }
  })
}

void describe('a running engine retired mid-checkpoint', async () => {
  const calls = await checkpointCalls()
  const claimRead = calls.findIndex((c) => c.op === 'get' && c.key === CLAIM_KEY)
  const publish = calls.findIndex((c) => c.op === 'putIfAbsent' && /\/ckpt-\d+\.json$/.test(c.key))
  void test('the checkpoint reads the claim once, right before its publish', () => {
    assert.ok(claimRead >= 0, `the checkpoint reads ${CLAIM_KEY}: ${calls.map((c) => `${c.op} ${c.key}`).join(', ')}`)
    assert.equal(calls.filter((c) => c.key === CLAIM_KEY).length, 1, 'one read of the claim per checkpoint')
    assert.equal(publish, claimRead + 1, 'the publish follows the read')
  })
  for (let at = 0; at < calls.length; at++) {
    const call = calls[at]!
    const beforeRead = at <= claimRead
    void test(`retired before the checkpoint's ${call.op} ${call.key.replace(/[0-9a-f-]{36}/, '<uuid>')}: ${beforeRead ? 'it publishes and commits nothing' : 'it was past its read; the next checkpoint stops'}`, async () => {
      const running = await startRunning(true)
      try {
        beforeCall(running.engineStore, at, () => running.retire())
        await running.checkpointStep()
        if (beforeRead) {
          await assertStoppedByRetire(running, RETIRED)
        } else {
          // The one window a read cannot close (docs/semantics.md §14): this checkpoint passed its
          // read before the marker landed, so it finishes; the next one stops.
          assert.equal(running.engine.failure, undefined, String(running.engine.failure))
          const done = running.journal.length - 1
          await running.checkpointStep()
          await assertStoppedByRetire(running, RETIRED)
          await assertNothingLandedAfterMarker(running, done)
          return
        }
        await assertNothingLandedAfterMarker(running)
      } finally {
        await running.close()
      }
    })
  }
})

void describe("the claim's read, faulted or answered", () => {
  for (const faults of [1, 5, 9]) {
    void test(`failing in passing ${faults} time(s) is asked again: the checkpoint publishes, and a retire after it still stops the engine`, async () => {
      const running = await startRunning(true)
      try {
        const claim = new RegExp(`^${CLAIM_KEY.replace(/[./]/g, '\\$&')}$`)
        running.faulty.arm({ operation: 'get', key: claim, when: 'before', skip: 0, times: faults })
        const published = running.engine.stats.checkpoints
        await running.checkpointStep()
        assert.equal(running.faulty.failures, faults, 'the claim was read, and failed that often')
        assert.equal(running.engine.failure, undefined, String(running.engine.failure))
        assert.equal(running.engine.stats.checkpoints, published + 1)
        await running.retire()
        running.faulty.arm({ operation: 'get', key: claim, when: 'before', skip: 0, times: faults })
        await running.checkpointStep()
        await assertStoppedByRetire(running, RETIRED)
        await assertNothingLandedAfterMarker(running)
      } finally {
        await running.close()
      }
    })
  }

  const states: readonly { name: string; bytes?: Uint8Array; reason: RegExp }[] = [
    {
      name: 'retired',
      bytes: encodeClaim({ topic: TOPIC, group: GROUP, claimedAtMs: 1, token: 't', retiredAtMs: 2 }),
      reason: RETIRED,
    },
    { name: 'gone (deleted by hand)', reason: FREED },
    {
      name: "another group's",
      bytes: encodeClaim({ topic: TOPIC, group: 'new-engine', claimedAtMs: 1, token: 't' }),
      reason: /the topic is claimed by group new-engine now/,
    },
  ]
  for (const { name, bytes, reason } of states) {
    void test(`a claim ${name} stops the engine at its next checkpoint, publishing nothing`, async () => {
      const running = await startRunning(true)
      try {
        if (bytes === undefined) await running.retireStore.delete(CLAIM_KEY)
        else await running.retireStore.put(CLAIM_KEY, bytes)
        const records = (await running.inner.list(`checkpoints/${GROUP}/`)).filter((k) => k.endsWith('.json'))
        await running.checkpointStep()
        await assertStoppedByRetire(running, reason)
        assert.deepEqual(
          (await running.inner.list(`checkpoints/${GROUP}/`)).filter((k) => k.endsWith('.json')),
          records,
          'no record published',
        )
        await assertNothingLandedAfterMarker(running)
      } finally {
        await running.close()
      }
    })
  }

  void test('a damaged claim stops the engine, naming it', async () => {
    const running = await startRunning(true)
    try {
      await running.retireStore.put(CLAIM_KEY, new TextEncoder().encode('{not json'))
      await running.checkpointStep()
      const failed = running.engine.failure
      assert.match(String(failed?.message), /topic claim claims\/taps\.json/)
    } finally {
      await running.close()
    }
  })
})
