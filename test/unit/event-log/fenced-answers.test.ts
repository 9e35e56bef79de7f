/**
 * Which broker answers make a Kafka transaction's step "fenced" (COMMIT_CONFLICT: stop, a newer
 * holder of the id carries on) rather than "failed" (COMMIT_FAILED: retry), in both Kafka
 * adapters, for every answer Kafka has and every step, bare and wrapped as each client wraps
 * errors. The case that made this test: Kafka 3.x answers UNKNOWN_SERVER_ERROR to a commit that
 * races a newer producer's fence (adapters/event-log/fenced-answers.ts); an overlapping
 * `kfs ingest` then stopped with "kafka transaction commit failed" instead of the conflict it was.
 */
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { describe, test } from 'node:test'
import { MultipleErrors, ProtocolError, protocolErrors } from '@platformatic/kafka'
import kafkajs, { type Transaction } from 'kafkajs'
import { CommitError } from '../../../core/errors.ts'
import { isFenced, type TransactionStep } from '../../../adapters/event-log/fenced-answers.ts'
import { KafkaTransaction } from '../../../adapters/event-log/kafka/kafka-transaction.ts'
import { PlatformaticTransaction } from '../../../adapters/event-log/platformatic/platformatic-transaction.ts'

const { KafkaJSProtocolError, KafkaJSNumberOfRetriesExceeded } = kafkajs
const { errorCodes } = createRequire(import.meta.url)('kafkajs/src/protocol/error.js') as {
  errorCodes: { type: string; code: number; retriable: boolean; message: string }[]
}

const STEPS: readonly TransactionStep[] = ['produce', 'sendOffsets', 'commit']
/** The fence answers by @platformatic/kafka's names; kafkajs's table lacks PRODUCER_FENCED and calls -1 UNKNOWN. */
const ALWAYS_FENCED = new Set(['INVALID_PRODUCER_EPOCH', 'PRODUCER_FENCED', 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED'])
const codeOf = new Map(Object.values(protocolErrors).map((e) => [e.id as string, e.code as number]))

/** The rule, stated independently of the module: the three fence answers anywhere, and the commit's raced fence. */
function expectedFenced(step: TransactionStep, code: number): boolean {
  return (
    [...ALWAYS_FENCED].some((id) => codeOf.get(id) === code) || (step === 'commit' && code === codeOf.get('UNKNOWN_SERVER_ERROR'))
  )
}

/** Runs `step` on a transaction whose client fails that step with `err`; the error it throws and whether it is still open. */
async function failStep(
  make: (fail: () => Promise<never>) => {
    produce(): Promise<void>
    sendOffsets(): Promise<void>
    commit(): Promise<void>
    isOpen: boolean
  },
  step: TransactionStep,
  err: unknown,
): Promise<{ thrown: unknown; open: boolean }> {
  const txn = make(() => Promise.reject(err))
  try {
    await txn[step]()
  } catch (thrown: unknown) {
    return { thrown, open: txn.isOpen }
  }
  throw new Error(`${step} did not fail`)
}

function kafkajsTransaction(fail: () => Promise<never>) {
  const fake = {
    send: fail,
    sendOffsets: fail,
    commit: fail,
    abort: async () => {},
    isActive: () => true,
  } as unknown as Transaction
  const txn = new KafkaTransaction(fake, 'tx', async () => [{ key: null, value: Buffer.from('v'), partition: 0 }])
  return {
    produce: () => txn.produce('t', [{ key: null, value: Buffer.from('v') }]),
    sendOffsets: () => txn.sendOffsets('g', [{ topic: 't', partition: 0, offset: '1' }]),
    commit: () => txn.commit(),
    get isOpen() {
      return txn.isOpen
    },
  }
}

function platformaticTransaction(fail: () => Promise<never>) {
  const fake = {
    send: fail,
    addConsumer: fail,
    addOffset: fail,
    commit: fail,
    cancel: fail,
    abort: async () => {},
    completed: false,
  }
  const txn = new PlatformaticTransaction(
    fake as unknown as ConstructorParameters<typeof PlatformaticTransaction>[0],
    'tx',
    async () => [{ topic: 't', key: null, value: Buffer.from('v'), partition: 0 }] as never,
    async () => 0,
  )
  return {
    // The library's commit ends an empty transaction locally: one record first, as every caller's has.
    produce: () => txn.produce('t', [{ key: null, value: Buffer.from('v') }]),
    sendOffsets: () => txn.sendOffsets('g', [{ topic: 't', partition: 0, offset: '1' }]),
    commit: async () => {
      fake.send = async () => undefined as never
      await txn.produce('t', [{ key: null, value: Buffer.from('v') }])
      fake.send = fail
      await txn.commit()
    },
    get isOpen() {
      return txn.isOpen
    },
  }
}

function assertClassified(thrown: unknown, open: boolean, fenced: boolean, what: string): void {
  assert.ok(thrown instanceof CommitError, `${what}: a CommitError (${String(thrown)})`)
  assert.equal(thrown.code, fenced ? 'COMMIT_CONFLICT' : 'COMMIT_FAILED', what)
  assert.equal(open, !fenced, `${what}: a fenced transaction is ended, a failed one still to be aborted`)
  if (fenced) assert.match(thrown.message, /^fenced: /, what)
}

void describe('event log > kafka transactions > fenced or failed', () => {
  void test('the rule: the three fence answers at any step, UNKNOWN_SERVER_ERROR only at the commit', () => {
    let fencedSeen = 0
    const codes = new Set([...codeOf.values(), ...errorCodes.map((e) => e.code), -99, 0, 1_000])
    for (const code of codes)
      for (const step of STEPS) {
        const fenced = isFenced(step, (c) => c === code)
        assert.equal(fenced, expectedFenced(step, code), `${step} answered ${code}`)
        if (fenced) fencedSeen++
      }
    assert.equal(fencedSeen, 3 * 3 + 1, 'every fence answer is in the table checked')
  })

  void test('kafkajs: every answer Kafka has, at every step, bare and behind the retrier', async () => {
    for (const e of errorCodes)
      for (const step of STEPS) {
        const bare = new KafkaJSProtocolError(e as unknown as Error)
        const retried = new KafkaJSNumberOfRetriesExceeded(bare, { retryCount: 5, retryTime: 100 })
        for (const [how, err] of [
          ['bare', bare],
          ['retried', retried],
        ] as const) {
          const { thrown, open } = await failStep(kafkajsTransaction, step, err)
          assertClassified(thrown, open, expectedFenced(step, e.code), `kafkajs ${step} answered ${e.type} (${how})`)
        }
      }
  })

  void test('@platformatic/kafka: every answer Kafka has, at every step, bare and among several errors', async () => {
    for (const id of Object.keys(protocolErrors))
      for (const step of STEPS) {
        const bare = new ProtocolError(id as keyof typeof protocolErrors)
        const several = new MultipleErrors('requests failed', [new Error('other'), bare])
        for (const [how, err] of [
          ['bare', bare],
          ['several', several],
        ] as const) {
          const { thrown, open } = await failStep(platformaticTransaction, step, err)
          assertClassified(thrown, open, expectedFenced(step, codeOf.get(id)!), `platformatic ${step} answered ${id} (${how})`)
        }
      }
  })

  void test('an error that is no broker answer fails the step and leaves the transaction to be aborted', async () => {
    for (const step of STEPS) {
      for (const make of [kafkajsTransaction, platformaticTransaction]) {
        const { thrown, open } = await failStep(make, step, new Error('socket hang up'))
        assertClassified(thrown, open, false, `${step}: a socket error`)
      }
    }
  })
})
