/**
 * Overlapping `kfs ingest` processes of one table source on the real Kafka (docs/design.md §11,
 * ingest/append-lease.ts), audited from outside: each round writes a new CSV export of a users
 * table (some rows changed, some new, the rest the same) and starts two or three `kfs ingest`
 * children of it at once or a little apart, with small batches so each spans many transactions.
 * Some are SIGKILLed at random points (before their lease, mid-append), some SIGSTOPped mid-append
 * until the others are done and then continued (a paused zombie). The schedule follows a seeded
 * PRNG (KFS_TEST_CHAOS_SEED); timings are the machine's, and the invariants hold for any of them.
 * After each round and a final plain ingest:
 * - every child exited 0, or 1 with the conflict message, or was killed by the test;
 * - the topic holds each (primary key, event time, row) of all exports exactly once, and each
 *   partition holds each export's records in one run, in (event time, key bytes) order;
 * - ingesting the export again appends nothing.
 * One round runs on @platformatic/kafka, one mixes both clients. At the end `kfs run` serves each
 * user's latest row and `kfs verify-parity` passes.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { KafkaEventLog } from '../../../adapters/event-log/kafka/index.ts'
import { createSourceTopic } from '../../../engine/source-topics.ts'
import { prng } from '../../../examples/generate-events.ts'
import type { UserRow } from '../../../examples/generate-tables.ts'
import {
  changesInTopic,
  endOffsetSum,
  importScoped,
  onlineRows,
  prepareChangesRun,
  type LoggedChange,
  assertEachUserRowOnce,
  userKey,
  userRowId,
} from '../../support/changes-scenario.ts'
import { failureExcerpt, runKfs, startKfs, type KfsChild, type KfsResult } from '../../support/kfs-process.ts'
import { stackEnv } from '../../support/stack-env.ts'

type Fixture = typeof import('../../fixtures/features/changes-overlap.ts')

const SEED = Number(process.env.KFS_TEST_CHAOS_SEED ?? 2812)
const FIRST_USERS = 1_200
const DAY = 86_400_000
const COUNTRIES = ['DE', 'FR', 'GB', 'NL', 'NO', 'US'] as const
const CONFLICT = /another kfs ingest of source overlap_users_\S+ started while this one was appending/

/** The Kafka client of each round's children: one round on @platformatic/kafka, one mixed. */
const ROUND_CLIENTS: readonly ('kafkajs' | 'platformatic' | 'mixed')[] = ['kafkajs', 'platformatic', 'mixed', 'kafkajs']

/**
 * When a fate strikes: once the topic's end offsets (last stable offsets: committed chunks) grew
 * by `afterOffsets` this round, or `afterMs` after the child started (inside a chunk, before the
 * lease, wherever the child then is).
 */
type When = { readonly afterOffsets: number } | { readonly afterMs: number }

type Fate =
  | { readonly kind: 'finish' }
  | { readonly kind: 'kill'; readonly when: When }
  /** SIGSTOP, then SIGCONT once the other children have ended and `atLeastMs` passed. */
  | { readonly kind: 'pause'; readonly when: When; readonly atLeastMs: number }

interface Planned {
  readonly delayMs: number
  readonly batch: number
  readonly client: 'kafkajs' | 'platformatic'
  readonly fate: Fate
}


/** The export of night `night`: the previous one with some users changed and a few new ones. */
function nextExport(rand: () => number, previous: readonly UserRow[], night: number, firstNightMs: number): UserRow[] {
  const nightMs = firstNightMs + night * DAY
  // Strictly after every earlier row of the key, and each row's own time within the export.
  const at = (): number => nightMs - 1 - Math.floor(rand() * (DAY - 1))
  const row = (userId: string): UserRow => ({
    user_id: userId,
    status: rand() < 0.1 ? 'gold' : 'basic',
    credit_limit: Math.round(500 + rand() * 4_500) + 0.5,
    country: COUNTRIES[Math.floor(rand() * COUNTRIES.length)]!,
    updated_at: at(),
  })
  if (previous.length === 0) return Array.from({ length: FIRST_USERS }, (_, i) => row(`u${i}`))
  const next = previous.map((r) => (rand() < 0.15 ? { ...row(r.user_id), status: r.status === 'gold' ? 'basic' : 'gold' } : r))
  for (let i = 0; i < Math.ceil(FIRST_USERS / 20); i++) next.push(row(`u${previous.length + i}`))
  return next
}

function csvOf(rows: readonly UserRow[]): string {
  const lines = rows.map((r) => `${r.user_id},${r.status},${r.credit_limit},${r.country},${r.updated_at}`)
  return `user_id,status,credit_limit,country,updated_at\n${lines.join('\n')}\n`
}

/** Two or three children: at once or a little apart, some killed, at most one paused. */
function schedule(rand: () => number, round: number, toAppend: number): Planned[] {
  const count = 2 + Math.floor(rand() * 2)
  const clients = ROUND_CLIENTS[round % ROUND_CLIENTS.length]!
  let paused = false
  return Array.from({ length: count }, (_, i) => {
    const r = rand()
    const when: When =
      rand() < 0.6 ? { afterOffsets: Math.floor(rand() * toAppend * 0.8) } : { afterMs: 300 + Math.floor(rand() * 2_500) }
    let fate: Fate
    if (r < 0.3) fate = { kind: 'finish' }
    else if (r < 0.7 || paused) fate = { kind: 'kill', when }
    else {
      paused = true
      fate = { kind: 'pause', when, atLeastMs: 1_000 + Math.floor(rand() * 3_000) }
    }
    return {
      delayMs: i === 0 || rand() < 0.3 ? 0 : Math.floor(rand() * 1_500),
      // Twenty to forty transactions for the whole export's appends.
      batch: Math.max(3, Math.ceil(toAppend / (20 + rand() * 20))),
      client: clients === 'mixed' ? (rand() < 0.5 ? 'kafkajs' : 'platformatic') : clients,
      fate,
    }
  })
}

interface Outcome {
  readonly planned: Planned
  readonly result: KfsResult
  readonly killedByTest: boolean
}

void test(`overlapping kfs ingest processes of one table source (seed ${SEED}): SIGKILLed, paused and continued; each row once, in order, on both clients; run and verify-parity`, async (t) => {
  const base = stackEnv()
  const scratch = await mkdtemp(join(tmpdir(), 'kfs-it-overlap-'))
  const log = new KafkaEventLog({ brokers: base.KFS_KAFKA_BROKERS!.split(',') })
  const run = await prepareChangesRun(base, 'test/fixtures/features/changes-overlap.ts', scratch, 'overlap')
  try {
    const { users, userProfile } = await importScoped<Fixture>('../fixtures/features/changes-overlap.ts', run.id)
    // Created as kfs ingest creates it, so its end offsets can be watched from the start.
    await createSourceTopic(log, users)
    const rand = prng(SEED)
    const firstNightMs = Math.floor(Date.now() / DAY) * DAY - 10 * DAY
    const everyRow = new Map<string, UserRow>()
    const exportIds: string[] = []
    let table: UserRow[] = []
    const ingestArgs = (file: string) => ['ingest', '--source', users.name, '--snapshot', file, '--json']
    type Summary = { snapshot: string; appended: number; unchanged: number; rejected: number }

    for (let round = 0; round < ROUND_CLIENTS.length; round++) {
      const previousIds = new Set(table.map(userRowId))
      table = nextExport(rand, table, round, firstNightMs)
      const toAppend = table.filter((r) => !previousIds.has(userRowId(r))).length
      for (const r of table) everyRow.set(userRowId(r), r)
      const file = join(scratch, `users-${round}.csv`)
      await writeFile(file, csvOf(table))
      const plan = schedule(rand, round, toAppend)
      const what = `seed ${SEED} round ${round} (${toAppend} rows to append; ${JSON.stringify(plan)})`

      const outcomes = await runRound(
        plan,
        (p) => startKfs([...ingestArgs(file), '--batch', String(p.batch)], { ...run.env, KFS_KAFKA_CLIENT: p.client }),
        () => endOffsetSum(log, users.topic),
      )
      for (const [i, o] of outcomes.entries()) checkOutcome(o, `${what}: child ${i}`)
      // What the timings made of the schedule, for whoever reads the output (not asserted: it is the machine's).
      t.diagnostic(
        `round ${round}: ${outcomes.map((o) => `${o.planned.fate.kind}→${o.result.signal ?? `exit ${o.result.code}`}`).join(', ')}`,
      )

      const final = JSON.parse((await runKfs(ingestArgs(file), run.env)).stdout) as Summary
      assert.equal(final.rejected, 0, what)
      assert.equal(final.appended + final.unchanged, table.length, `${what}: the final ingest read every row`)
      exportIds.push(final.snapshot)
      const again = JSON.parse((await runKfs(ingestArgs(file), run.env)).stdout) as Summary
      assert.equal(again.appended, 0, `${what}: ingesting the export again appends nothing`)

      const logged = await changesInTopic(log, users, base.KFS_SCHEMA_REGISTRY_URL!)
      assertEachUserRowOnce(logged, [...everyRow.values()], what)
      assertRunsInOrder(logged, exportIds, what)
    }

    // The engine: every user's online row is the last export's; live equals replay.
    await runKfs([...run.runArgs, '--until-caught-up'], run.env)
    const reads = await onlineRows(
      base.KFS_REDIS_URL!,
      userProfile,
      table.map((r) => userKey(r.user_id)),
      Date.now(),
    )
    table.forEach((r, i) => {
      const read = reads[i]!
      assert.deepEqual(
        { status: read.status, asOfMs: read.asOfMs, values: read.values },
        { status: 'PRESENT', asOfMs: r.updated_at, values: [r.status, r.credit_limit, r.country] },
        `online row of ${r.user_id}`,
      )
    })
    const parity = await runKfs(['verify-parity', '--group', run.group], run.env)
    assert.match(parity.stdout, new RegExp(`✓ ${userProfile.name}@1: ${everyRow.size}/${everyRow.size} live rows identical`))
  } finally {
    await log.close()
    run.store.close()
    await rm(scratch, { recursive: true, force: true })
  }
})

/** Starts each planned child after its delay, carries out its fate, and waits for all of them. */
async function runRound(
  plan: readonly Planned[],
  start: (p: Planned) => KfsChild,
  offsets: () => Promise<number>,
): Promise<Outcome[]> {
  const startOffsets = await offsets()
  const grown = async (n: number): Promise<boolean> => (await offsets()) - startOffsets >= n
  const ended = plan.map(() => false)
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
  return Promise.all(
    plan.map(async (p, i): Promise<Outcome> => {
      await sleep(p.delayMs)
      const child = start(p)
      const running = () => child.child.exitCode === null && child.child.signalCode === null
      let killedByTest = false
      const fate = p.fate
      const startedMs = Date.now()
      /** Waits until the fate is due; false when the child ended first. */
      const due = async (when: When): Promise<boolean> => {
        while (running()) {
          if ('afterMs' in when ? Date.now() - startedMs >= when.afterMs : await grown(when.afterOffsets)) return true
          await sleep(25)
        }
        return false
      }
      if (fate.kind === 'kill') {
        if (await due(fate.when)) killedByTest = child.child.kill('SIGKILL')
      } else if (fate.kind === 'pause') {
        if (await due(fate.when)) {
          child.child.kill('SIGSTOP')
          const stoppedMs = Date.now()
          // A zombie: continued once every other child has ended (a later one has fenced it, if any ran).
          while (Date.now() - stoppedMs < fate.atLeastMs || ended.some((e, j) => j !== i && !e)) await sleep(50)
          child.child.kill('SIGCONT')
        }
      }
      const result = await child.done
      ended[i] = true
      return { planned: p, result, killedByTest }
    }),
  )
}

/** Exit 0, exit 1 with the conflict message, or killed by the test: anything else prints its stderr. */
function checkOutcome(o: Outcome, what: string): void {
  const { code, signal, stderr } = o.result
  if (o.killedByTest && signal === 'SIGKILL') return
  if (code === 0) return
  assert.ok(
    code === 1 && CONFLICT.test(stderr),
    `${what} (${JSON.stringify(o.planned)}) exited ${code ?? signal}:\n${failureExcerpt(stderr)}`,
  )
}


/**
 * Each partition holds each export's records in one run, exports in the order ingested, each run
 * in (event time, key bytes) order: the runs of one export, killed, fenced or not, continued one
 * another's prefix instead of interleaving.
 */
function assertRunsInOrder(logged: readonly LoggedChange[], exportIds: readonly string[], what: string): void {
  const partitions = new Map<number, LoggedChange[]>()
  for (const c of logged) (partitions.get(c.partition) ?? partitions.set(c.partition, []).get(c.partition)!).push(c)
  for (const [partition, changes] of partitions) {
    changes.sort((a, b) => (BigInt(a.offset) < BigInt(b.offset) ? -1 : 1))
    const runs: string[] = []
    changes.forEach((c, i) => {
      const snapshot = c.envelope.snapshot ?? ''
      if (runs.at(-1) !== snapshot) runs.push(snapshot)
      const before = changes[i - 1]
      if (before === undefined || before.envelope.snapshot !== snapshot) return
      const order =
        before.envelope.ts_ms - c.envelope.ts_ms || Buffer.compare(Buffer.from(before.key ?? ''), Buffer.from(c.key ?? ''))
      assert.ok(
        order < 0,
        `${what}: partition ${partition} offsets ${before.offset} and ${c.offset} out of (event time, key) order`,
      )
    })
    assert.deepEqual(
      runs,
      exportIds.filter((id) => runs.includes(id)),
      `${what}: partition ${partition} holds each export in one run, in ingest order`,
    )
  }
}
