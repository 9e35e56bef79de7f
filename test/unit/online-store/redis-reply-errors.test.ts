/**
 * The Redis online store's failures, classified once (adapters/online-store/redis/reply-errors.ts)
 * for reads and writes alike, through a client double that fails every command a chosen way:
 *
 * - a read of one key (HMGET), of two (a pipeline) and of five (the read script), × every kind of
 *   reply Redis fails with: no reply (a lost connection), a "not now" code (LOADING, BUSY,
 *   TRYAGAIN, CLUSTERDOWN, MASTERDOWN, MOVED, ASK, READONLY, NOREPLICAS, MISCONF, OOM) → SOURCE_UNAVAILABLE
 *   (serving's 503, retriable); WRONGTYPE, bare or inside a script's error → StoredRowUnreadable
 *   `corrupt` (DATA_CORRUPT, not retriable); any other code (NOPERM, NOAUTH, WRONGPASS, ERR) →
 *   StoredRowUnreadable `refused` (SOURCE_REJECTED, not retriable). An `@as_of` that is not an
 *   integer is `corrupt` too. Before, every one of them was SOURCE_UNAVAILABLE ("unavailable",
 *   503, retried though it never heals) and a non-integer `@as_of` a row served PRESENT.
 * - a write whose script call fails the same ways: a "not now" code is retried and lands (before,
 *   LOADING — a restarted Redis reading its data — failed the write for good as SINK_REJECTED);
 *   WRONGTYPE and the refusals fail at once as SINK_REJECTED, asked once.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { RedisOnlineStore } from '../../../adapters/online-store/redis/redis-online-store.ts'
import { FeatureStoreError } from '../../../core/errors.ts'
import { StoredRowUnreadable } from '../../../ports/online-store.ts'
import { feature, row, view } from '../../contracts/online-store.ts'

const stats = view('stats', [feature('count', 'long'), feature('sum', 'double')], { ttlMs: 60_000 })
const clock = { nowMs: () => 1_700_000_000_000, sleep: async () => {} }

function replyError(message: string): Error {
  const err = new Error(message)
  err.name = 'ReplyError'
  return err
}

const TRANSIENT_CODES = [
  'LOADING',
  'BUSY',
  'TRYAGAIN',
  'CLUSTERDOWN',
  'MASTERDOWN',
  'MOVED',
  'ASK',
  'READONLY',
  'NOREPLICAS',
  'MISCONF',
  'OOM',
]

/** [what, the failure, what a read must reject with]: 'unavailable', 'corrupt' or 'refused'. */
const FAILURES: readonly (readonly [string, () => Error, 'unavailable' | 'corrupt' | 'refused'])[] = [
  ['no reply (connection lost)', () => new Error('Connection is closed.'), 'unavailable'],
  ['a command timeout', () => new Error('Command timed out'), 'unavailable'],
  ...TRANSIENT_CODES.map((code) => [`${code} reply`, () => replyError(`${code} some text`), 'unavailable'] as const),
  ['WRONGTYPE reply', () => replyError('WRONGTYPE Operation against a key holding the wrong kind of value'), 'corrupt'],
  [
    'WRONGTYPE inside a script error (Redis 6)',
    () =>
      replyError(
        'ERR Error running script (call to f_1234): @user_script:7: WRONGTYPE Operation against a key holding the wrong kind of value',
      ),
    'corrupt',
  ],
  ['NOPERM reply', () => replyError("NOPERM User kfs has no permissions to run the 'hmget' command"), 'refused'],
  ['NOAUTH reply', () => replyError('NOAUTH Authentication required.'), 'refused'],
  ['WRONGPASS reply', () => replyError('WRONGPASS invalid username-password pair'), 'refused'],
  ['ERR reply', () => replyError("ERR unknown command 'HMGET'"), 'refused'],
]

/** A client whose every read command fails with `fail()`, or answers `reply` when `fail` is undefined. */
function readClient(fail: (() => Error) | undefined, reply: (string | null)[] = [null, null, null]) {
  const answer = async (): Promise<unknown> => {
    if (fail) throw fail()
    return reply
  }
  return {
    status: 'ready',
    on: () => {},
    hmget: answer,
    evalsha: async (_sha: string, n: number) => {
      if (fail) throw fail()
      return Array.from({ length: n }, () => reply)
    },
    script: async () => 'sha',
    pipeline: () => {
      let count = 0
      const p = {
        hmget: () => {
          count++
          return p
        },
        exec: async () => Array.from({ length: count }, () => (fail ? [fail(), null] : [null, reply])),
      }
      return p
    },
  }
}

function storeOn(client: object, options: { writeAttempts?: number } = {}): RedisOnlineStore {
  return new RedisOnlineStore({
    client: client as never,
    clock,
    writeAttempts: options.writeAttempts ?? 3,
    writeMinDelayMs: 0,
    writeMaxDelayMs: 0,
  })
}

const lookups = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ view: stats, entityKey: `u${i}`, features: ['count', 'sum'] }))

async function readError(store: RedisOnlineStore, n: number): Promise<unknown> {
  return store.readRows(lookups(n), clock.nowMs()).then(
    () => assert.fail('the read succeeded'),
    (err: unknown) => err,
  )
}

function assertKind(err: unknown, expected: 'unavailable' | 'corrupt' | 'refused', what: string): void {
  assert.ok(err instanceof FeatureStoreError, `${what}: ${String(err)}`)
  if (expected === 'unavailable') {
    assert.equal(err.code, 'SOURCE_UNAVAILABLE', what)
    assert.equal(err.retriable, true, what)
    assert.ok(!(err instanceof StoredRowUnreadable), what)
    return
  }
  assert.ok(err instanceof StoredRowUnreadable, `${what}: ${err.code} ${err.message}`)
  assert.equal(err.reason, expected, what)
  assert.equal(err.code, expected === 'corrupt' ? 'DATA_CORRUPT' : 'SOURCE_REJECTED', what)
  assert.equal(err.retriable, false, `${what}: asking again will not help`)
  assert.equal(err.view, 'stats', `${what}: names the view`)
}

void describe('online store > redis > a failed read is classified by what failed', () => {
  for (const [what, fail, expected] of FAILURES) {
    for (const [path, n] of [
      ['one key (HMGET)', 1],
      ['two keys (pipeline)', 2],
      ['five keys (read script)', 5],
    ] as const) {
      void test(`${what}, ${path}: ${expected}`, async () => {
        assertKind(await readError(storeOn(readClient(fail)), n), expected, `${what}, ${path}`)
      })
    }
  }

  for (const asOf of ['abc', '', '1.5', '1e12', ' 17', '99999999999999999999']) {
    void test(`an @as_of of ${JSON.stringify(asOf)}: corrupt, not a row served PRESENT`, async () => {
      assertKind(await readError(storeOn(readClient(undefined, [asOf, '1', '2'])), 1), 'corrupt', asOf)
    })
  }

  void test('a row kfs wrote reads as before', async () => {
    const [read] = await storeOn(readClient(undefined, [String(clock.nowMs() - 10), '4', '2.5'])).readRows(
      lookups(1),
      clock.nowMs(),
    )
    assert.equal(read!.status, 'PRESENT')
    assert.deepEqual(read!.values, [4, 2.5])
  })
})

/** A client whose write script fails `failures` times with `fail()`, then lands every row. */
function writeClient(fail: () => Error, failures: number) {
  const calls = { evalsha: 0, scriptLoads: 0, evals: 0 }
  const client = {
    status: 'ready',
    on: () => {},
    script: async () => {
      calls.scriptLoads++
      return 'sha'
    },
    pipeline: () => {
      const rows: number[] = []
      const p = {
        evalsha: (_sha: string, n: number) => {
          rows.push(n)
          return p
        },
        // The script sent with the call (the resend after NOSCRIPT): it answers as the script would.
        eval: (_script: string, n: number) => {
          rows.push(-n)
          return p
        },
        exec: async () =>
          rows.map((n) => {
            if (n < 0) {
              calls.evals++
              return [null, Array.from({ length: -n }, () => 1)]
            }
            calls.evalsha++
            return calls.evalsha <= failures ? [fail(), null] : [null, Array.from({ length: n }, () => 1)]
          }),
      }
      return p
    },
  }
  return { client, calls }
}

void describe('online store > redis > a failed write is retried only when it can pass', () => {
  for (const [what, fail, expected] of FAILURES) {
    const retried = expected === 'unavailable'
    void test(`${what}: ${retried ? 'retried, and lands' : 'SINK_REJECTED at once, asked once'}`, async () => {
      const { client, calls } = writeClient(fail, 1)
      const write = storeOn(client).writeRows(stats, [row('u1', 1, [1, 2])])
      if (retried) {
        assert.deepEqual(await write, { written: 1, stale: 0 }, what)
        assert.equal(calls.evalsha, 2, what)
        return
      }
      await assert.rejects(
        write,
        (err: unknown) => err instanceof FeatureStoreError && err.code === 'SINK_REJECTED' && !err.retriable,
        what,
      )
      assert.equal(calls.evalsha, 1, `${what}: not asked again`)
    })
  }

  void test('NOSCRIPT: the rows sent again at once with the script (EVAL), no attempt spent', async () => {
    const { client, calls } = writeClient(() => replyError('NOSCRIPT No matching script.'), 1)
    assert.deepEqual(await storeOn(client, { writeAttempts: 1 }).writeRows(stats, [row('u1', 1, [1, 2])]), {
      written: 1,
      stale: 0,
    })
    assert.deepEqual(calls, { evalsha: 1, scriptLoads: 0, evals: 1 })
  })

  void test('a "not now" code that lasts: the budget runs out as RETRIES_EXHAUSTED, not a refusal', async () => {
    const { client, calls } = writeClient(() => replyError('LOADING Redis is loading the dataset in memory'), 100)
    await assert.rejects(
      storeOn(client).writeRows(stats, [row('u1', 1, [1, 2])]),
      (err: unknown) => err instanceof FeatureStoreError && err.code === 'RETRIES_EXHAUSTED',
    )
    assert.equal(calls.evalsha, 3)
  })
})
