/**
 * The re-key stage's row index (engine/rekey-row-index.ts) under faults, on the embedded log, over
 * the fault workload without full before images (test/support/change-fault-workload.ts, partial
 * mode: updates without a before image, key-only deletes, poison changes): a stage whose
 * transaction fails mid-way — its produce to the `.row-groups` state topic or its commit throws,
 * or its commit lands and the answer is lost — and a zombie stage fenced by a new owner while its
 * transaction is in flight. Each time, the index read back from the state topic must be the one of
 * the committed offsets (computed afresh from the source records before them), and once a new
 * owner has re-keyed everything, the internal topic must hold every change's copies, routed as an
 * uninterrupted stage routes them, once, and the index must be that stage's.
 * Seeded: KFS_TEST_SEED replays a seed.
 */
import assert from 'node:assert/strict'
import { before, describe, test } from 'node:test'
import { rowGroupsTopic } from '../../../engine/rekey-row-index.ts'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/index.ts'
import type { LogTransaction, TransactionalEventLog } from '../../../ports/event-log-transaction.ts'
import { generateChangeBursts, produceChanges } from '../../support/change-fault-workload.ts'
import { InjectedFault } from '../../support/faulty-object-store.ts'
import {
  committedIndex,
  createStage,
  indexOf,
  internalCopies,
  plan,
  runStage,
  untilRekeyed,
  withOrdersLog,
} from '../../support/rekey-row-index-stage.ts'
import { waitFor } from '../../support/scenario.ts'

const SEED = Number(process.env.KFS_TEST_SEED ?? 5_100)
const where = `seed ${SEED} (KFS_TEST_SEED=${SEED} replays it)`
const [FIRST, SECOND] = generateChangeBursts(SEED, 2, 150, { images: 'partial' }) as [
  ReturnType<typeof generateChangeBursts>[number],
  ReturnType<typeof generateChangeBursts>[number],
]

// Small fetches: the stage forwards the backlog in many transactions, so one can fail mid-way.
const withLog = (run: (log: EmbeddedEventLog) => Promise<void>): Promise<void> => withOrdersLog(run, 10)

/** `inner` with each transaction's calls passed through `wrap` (every other call as it is). */
function withTransactions(
  inner: EmbeddedEventLog,
  wrap: (txn: LogTransaction, n: number) => LogTransaction,
): TransactionalEventLog {
  let opened = 0
  return new Proxy(inner, {
    get(target, name) {
      if (name === 'transaction') return async (id: string) => wrap(await target.transaction(id), ++opened)
      const value: unknown = Reflect.get(target, name)
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value
    },
  })
}

type TxnFault = { readonly at: 'produce to the state topic' | 'commit'; readonly when: 'before' | 'after' }

/** The stage's `nth` transaction fails at `fault` (once); its first is a new owner's fence, which only aborts. */
function faultyLog(inner: EmbeddedEventLog, fault: TxnFault, nth: number): TransactionalEventLog {
  const fail = (what: string) => {
    throw new InjectedFault(`injected ${fault.when === 'after' ? 'lost answer' : 'failure'} of ${what} (transaction ${nth})`)
  }
  return withTransactions(inner, (txn, n) => {
    if (n !== nth) return txn
    return {
      produce: async (topic, records) => {
        if (fault.at === 'produce to the state topic' && topic === rowGroupsTopic(plan.topic)) {
          if (fault.when === 'after') await txn.produce(topic, records)
          fail(`a produce to ${topic}`)
        }
        await txn.produce(topic, records)
      },
      sendOffsets: (groupId, offsets) => txn.sendOffsets(groupId, offsets),
      commit: async () => {
        if (fault.at === 'commit') {
          if (fault.when === 'after') await txn.commit()
          fail('the commit')
        }
        await txn.commit()
      },
      abort: () => txn.abort(),
    }
  })
}

interface Routed {
  readonly copies: string[][]
  readonly index: Record<string, string>
}

/** The new owner re-keys what is left and the second burst; the outcome must be the uninterrupted stage's. */
async function assertRecovers(log: EmbeddedEventLog, uninterrupted: Routed, what: string): Promise<void> {
  assert.deepEqual(
    await indexOf(log),
    await committedIndex(log),
    `${where}, ${what}: the index read back is the committed offsets'`,
  )
  await runStage(log)
  await produceChanges(log, SECOND)
  await runStage(log)
  assert.deepEqual(
    await internalCopies(log),
    uninterrupted.copies,
    `${where}, ${what}: every change routed once, as uninterrupted`,
  )
  assert.deepEqual(await indexOf(log), uninterrupted.index, `${where}, ${what}: the index`)
}

void describe('re-key stage > row index under faults', () => {
  let uninterrupted: Routed | undefined
  before(async () => {
    await withLog(async (log) => {
      await produceChanges(log, FIRST)
      await runStage(log)
      await produceChanges(log, SECOND)
      await runStage(log)
      uninterrupted = { copies: await internalCopies(log), index: await indexOf(log) }
      assert.deepEqual(uninterrupted.index, await committedIndex(log), `${where}: the uninterrupted stage's index`)
      // The workload takes the index's paths: rows leaving a group by it, and key-only deletes sent to it.
      const retracts = uninterrupted.copies.filter((c) => c[2] === 'retract').length
      assert.ok(retracts > 5, `${where}: ${retracts} copies routed by the index`)
    })
  })

  const faults: TxnFault[] = [
    { at: 'produce to the state topic', when: 'before' },
    { at: 'produce to the state topic', when: 'after' },
    { at: 'commit', when: 'before' },
    { at: 'commit', when: 'after' },
  ]
  for (const fault of faults)
    for (const nth of [2, 4]) {
      const what = `${fault.at} fails ${fault.when === 'before' ? 'before it happens' : 'after it happened'}, transaction ${nth - 1}`
      void test(`a stage whose ${what}: the index read back is the committed one, a new owner routes as an uninterrupted stage`, async () => {
        await withLog(async (log) => {
          await produceChanges(log, FIRST)
          const failures: Error[] = []
          const stage = createStage(faultyLog(log, fault, nth), failures)
          await stage.start()
          await untilRekeyed(log, stage, failures)
          await stage.stop()
          assert.equal(failures.length, 1, `${where}, ${what}: the fault fired and was fatal`)
          assert.ok(failures[0] instanceof InjectedFault, String(failures[0]))
          await assertRecovers(log, uninterrupted!, what)
        })
      })
    }

  void test('a zombie stage, fenced by a new owner while its transaction is in flight: the index is the committed one, the new owner routes as an uninterrupted stage', async () => {
    await withLog(async (log) => {
      await produceChanges(log, FIRST)
      // The zombie: a member whose session ended without its knowing (it is in a group of its own,
      // so it keeps every partition), its third transaction held at its commit until the new owner has taken over.
      let held: (() => void) | undefined
      const release = new Promise<void>((resolve) => (held = resolve))
      let reached = false
      const zombieLog = withTransactions(log, (txn, n) =>
        n !== 3
          ? txn
          : {
              ...txn,
              produce: (topic, records) => txn.produce(topic, records),
              sendOffsets: (groupId, offsets) => txn.sendOffsets(groupId, offsets),
              commit: async () => {
                reached = true
                await release
                await txn.commit()
              },
              abort: () => txn.abort(),
            },
      )
      const asMember = new Proxy(zombieLog, {
        get(target, name) {
          if (name === 'consumer')
            return (options: Parameters<TransactionalEventLog['consumer']>[0]) =>
              target.consumer({ ...options, groupId: `${options.groupId}.lost-session` })
          return Reflect.get(target, name)
        },
      })
      const zombieFailures: Error[] = []
      const zombie = createStage(asMember, zombieFailures)
      await zombie.start()
      await waitFor(() => reached || zombieFailures.length > 0, `${where}: the zombie's third transaction reached its commit`)
      assert.deepEqual(zombieFailures, [])

      const ownerFailures: Error[] = []
      const owner = createStage(log, ownerFailures)
      await owner.start()
      await untilRekeyed(log, owner, ownerFailures)
      held!()
      await waitFor(() => zombieFailures.length > 0, `${where}: the zombie's commit was refused`)
      await zombie.stop()
      assert.match(String(zombieFailures[0]), /fenced/, `${where}: the zombie was fenced`)
      await owner.stop()
      assert.deepEqual(ownerFailures, [], `${where}: the new owner ran clean`)
      await assertRecovers(log, uninterrupted!, 'a zombie fenced')
    })
  })
})
