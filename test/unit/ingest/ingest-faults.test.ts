/**
 * `kfs ingest` under a fault at every I/O step it takes (./fault-plan.ts): for the first ingest of
 * a table, a re-ingest of the same snapshot and the ingest of a newer one (changed, new and dropped
 * rows), over the embedded log with producePacked and without it (as a Kafka log looks to ingest),
 * each step of a clean run is failed in each way — thrown before or after its work, or the process
 * dying there (the log reopened from its directory as it was on disk at that instant). The faulted
 * run must succeed or fail with a clear error (never a TypeError or a broken invariant) and leave
 * every partition a prefix of what a clean run writes there; a clean re-run (another --batch) must
 * then leave the log, partition by partition and byte by byte, as clean runs leave it, its summary
 * counting exactly the records that were missing; a newer snapshot after it must append what it
 * appends after clean runs; and a new process opening the log must read the same.
 */
import assert from 'node:assert/strict'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, truncateSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join, relative } from 'node:path'
import { after, describe, it } from 'node:test'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/index.ts'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { FeatureStoreError, InvariantViolation } from '../../../core/errors.ts'
import { ingestSnapshot, type IngestResult } from '../../../ingest/ingest-snapshot.ts'
import { declaredTableColumns } from '../../../ingest/row-columns.ts'
import { scanTopic } from '../../../ingest/scan-topic.ts'
import type { EventLog } from '../../../ports/event-log.ts'
import type { TableRow, TableSnapshotReader } from '../../../ports/table-snapshots.ts'
import type { Decoder } from '../../../schemas/decoder.ts'
import { createDecoder } from '../../../schemas/decoder.ts'
import { createEncoder } from '../../../schemas/encoder.ts'
import {
  FaultPlan,
  faultyDecoder,
  faultyLog,
  faultyReader,
  InjectedFault,
  kindsAt,
  ProcessGone,
  type FaultKind,
} from './fault-plan.ts'
import { accountRow, accountsSource } from './fixtures.ts'

// Some thousand fsyncs: on a RAM disk where there is one (Linux), where they cost nothing.
const root = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'kfs-ingest-faults-'))
after(() => rmSync(root, { recursive: true, force: true }))
const source = accountsSource()
const CHUNK_RECORDS = 40
/** The re-run's: a killed run resumes the same whatever --batch the next one takes. */
const RERUN_CHUNK_RECORDS = 23
const READ_BATCH = 50
/** Small segments: an ingest's writes also start new ones (a partition holds some 6 KB). */
const SEGMENT_BYTES = 2048

// ── Snapshots: s1, then s2 (rows changed, added, dropped), then s3 (the same again) ──

interface Snapshot {
  readonly id: string
  readonly rows: readonly TableRow[]
}

function account(key: number, t: number, balance: number, visits: number): TableRow {
  return {
    account_id: `acct-${String(key).padStart(2, '0')}`,
    updated_at: t,
    balance,
    tier: visits % 3 === 0 ? null : 'gold',
    visits,
  }
}

/** 60 keys × 4 versions, and a row without a primary key (rejected, never appended). */
const s1: Snapshot = {
  id: 's1',
  rows: [
    ...Array.from({ length: 240 }, (_, i) => account(i % 60, 1_000 + 100 * Math.floor(i / 60) + (i % 7), i, i)),
    { ...account(0, 1, 0, 0), account_id: null },
  ],
}

/** `from` with every `drop`-th row gone, every `change`-th row's balance changed, and `added` rows at later times (some for new keys). */
function evolve(id: string, from: Snapshot, drop: number, change: number, added: readonly TableRow[]): Snapshot {
  const rows = from.rows
    .filter((_, i) => i % drop !== drop - 1)
    .map((r, i) => (i % change === 0 && r['account_id'] !== null ? { ...r, balance: (r['balance'] as number) + 0.5 } : r))
  return { id, rows: [...rows, ...added] }
}

const s2 = evolve(
  's2',
  s1,
  9,
  5,
  Array.from({ length: 50 }, (_, i) => account(40 + i, 2_000 + i * 3, 1_000 + i, i)),
)
const s3 = evolve(
  's3',
  s2,
  7,
  6,
  Array.from({ length: 30 }, (_, i) => account(70 + (i % 15), 3_000 + i, 2_000 + i, i)),
)

function readerOf(snapshot: Snapshot): TableSnapshotReader {
  return {
    open: async () => ({
      id: snapshot.id,
      where: `memory:${snapshot.id}`,
      columns: declaredTableColumns(accountRow),
      rowCount: snapshot.rows.length,
      async *rows() {
        for (let i = 0; i < snapshot.rows.length; i += READ_BATCH) yield snapshot.rows.slice(i, i + READ_BATCH)
      },
    }),
  }
}

// ── Logs, runs and what a log holds ──

const registry = new EmbeddedSchemaRegistry({ dir: join(root, 'schemas') })
const encoder = await createEncoder({ registry, subject: `${source.topic}-value`, schema: source.schema })
const decoder = createDecoder({ registry, readerSchema: source.schema })
const openLog = (dir: string, plan?: FaultPlan): EmbeddedEventLog =>
  new EmbeddedEventLog({ dir, fsync: 'batch', segmentBytes: SEGMENT_BYTES, ...(plan === undefined ? {} : { fault: plan.disk }) })

type Mode = 'packed' | 'produce'

/** An ingest of `snapshot` through the ports as `plan` fails them (no plan: none fails). */
function ingest(
  log: EventLog,
  mode: Mode,
  snapshot: Snapshot,
  plan = new FaultPlan(),
  chunkRecords = CHUNK_RECORDS,
): Promise<IngestResult> {
  const on = faultyLog(log, plan, mode === 'packed')
  const dec: Decoder = faultyDecoder(decoder, plan)
  return ingestSnapshot(
    { log: on, reader: faultyReader(readerOf(snapshot), plan), encoder, decoder: dec },
    { source, chunkRecords },
  )
}

/** Each partition's records, `offset key value` in hex: what two logs must agree on byte for byte (not the produce time). */
async function contents(log: EventLog): Promise<string[][]> {
  const out: string[][] = Array.from({ length: source.partitions }, () => [])
  if ((await total(log)) === 0) return out // perhaps no topic yet: nothing to scan
  await scanTopic(
    log,
    source.topic,
    (records) => {
      for (const r of records)
        out[r.partition]!.push(
          `${r.offset} ${Buffer.from(r.key ?? []).toString('hex')} ${Buffer.from(r.value ?? []).toString('hex')}`,
        )
    },
    { groupPrefix: 'ingest-faults-check' },
  )
  return out
}

/** Records in the log; none before the topic is created. */
async function total(log: EventLog): Promise<number> {
  const ends = await log.endOffsets(source.topic).catch((err: unknown) => {
    if (err instanceof FeatureStoreError && err.code === 'NOT_FOUND') return []
    throw err
  })
  return ends.reduce((sum, e) => sum + Number(e), 0)
}

/** Where `got` is not, partition by partition, a prefix of `want` at least as long as `from`; undefined when it is. */
function notPrefix(
  got: readonly string[][],
  want: readonly string[][],
  from: readonly string[][] | undefined,
): string | undefined {
  for (let p = 0; p < want.length; p++) {
    const [g, w] = [got[p] ?? [], want[p]!]
    const i = g.findIndex((record, j) => w[j] !== record)
    if (i >= 0) return `partition ${p}: offset ${i} is not the record a clean run writes there`
    if (g.length < (from?.[p]?.length ?? 0)) return `partition ${p}: ${g.length} records, fewer than it held before`
  }
  return undefined
}

/** Where two logs first differ, or undefined when they hold the same records. */
function difference(got: readonly string[][], want: readonly string[][]): string | undefined {
  for (let p = 0; p < want.length; p++) {
    const [g, w] = [got[p] ?? [], want[p]!]
    const i = w.findIndex((record, j) => g[j] !== record)
    if (i >= 0 || g.length !== w.length)
      return `partition ${p}: ${g.length} records where a clean run leaves ${w.length}${i >= 0 ? `, first different at offset ${i}${g[i] === undefined ? ' (missing)' : ''}` : ' (extra records at the end)'}`
  }
  return undefined
}

/** The partition's newest segment one byte short: a write cut off by the crash. */
function tearLastSegment(partitionDir: string): void {
  const last = readdirSync(partitionDir)
    .filter((n) => n.endsWith('.log'))
    .sort()
    .at(-1)!
  const path = join(partitionDir, last)
  truncateSync(path, statSync(path).size - 1)
}

/** A copy of a log's directory as a new process finds it (no LOCK of a live owner; nothing yet when the log was never opened). */
function copyDir(from: string, to: string): void {
  if (existsSync(from)) cpSync(from, to, { recursive: true, filter: (path) => basename(path) !== 'LOCK' })
  else mkdirSync(to, { recursive: true })
}

// ── The clean runs every faulted case is held against ──

interface CleanState {
  /** A closed log's directory holding these snapshots, ingested cleanly in turn. */
  readonly dir: string
  readonly contents: string[][]
  readonly records: number
}

async function cleanStates(): Promise<{ states: Map<string, CleanState>; results: Map<string, IngestResult> }> {
  const states = new Map<string, CleanState>()
  const results = new Map<string, IngestResult>()
  const dir = join(root, 'clean')
  const seen: string[] = []
  for (const snapshot of [s1, s2, s3]) {
    const log = openLog(dir)
    results.set(snapshot.id, await ingest(log, 'packed', snapshot))
    seen.push(snapshot.id)
    await log.close()
    const copy = join(root, `clean-${seen.join('-')}`)
    copyDir(dir, copy)
    const reopened = openLog(copy)
    states.set(seen.join(','), { dir: copy, contents: await contents(reopened), records: await total(reopened) })
    await reopened.close()
  }
  return { states, results }
}

const clean = await cleanStates()
const state = (ids: readonly string[]): CleanState => clean.states.get(ids.join(','))!

interface Scenario {
  readonly name: string
  /** Ingested cleanly before the faulted run. */
  readonly before: readonly Snapshot[]
  readonly faulted: Snapshot
  /** The newer snapshot ingested after the clean re-run. */
  readonly next: Snapshot
}

const SCENARIOS: readonly Scenario[] = [
  { name: 'the first ingest', before: [], faulted: s1, next: s2 },
  { name: 'a re-ingest of the same snapshot', before: [s1], faulted: s1, next: s2 },
  { name: 'a newer snapshot', before: [s1], faulted: s2, next: s3 },
]

/** The ids of snapshots ingested in turn; one ingested again right after itself adds nothing. */
const ids = (snapshots: readonly Snapshot[]): string[] => snapshots.map((s) => s.id).filter((id, i, all) => id !== all[i - 1])
/** The log a run starts from: empty, or a copy of the clean one holding `before`. */
function startLog(scenario: Scenario, dir: string): void {
  if (scenario.before.length > 0) copyDir(state(ids(scenario.before)).dir, dir)
}

/** A rejection the user can act on: the fault itself, or the product's own error naming it (not a TypeError, not a broken invariant). */
const isClear = (err: unknown): boolean =>
  err instanceof InjectedFault ||
  err instanceof ProcessGone ||
  (err instanceof FeatureStoreError && !(err instanceof InvariantViolation))

const describeError = (err: unknown): string => (err instanceof Error ? `${err.name}: ${err.message}` : String(err))

/** Runs one faulted case; what went wrong, if anything. */
async function runCase(
  mode: Mode,
  scenario: Scenario,
  step: number,
  seam: string,
  kind: FaultKind,
  n: number,
): Promise<string[]> {
  const problems: string[] = []
  const dir = join(root, `case-${n}`)
  const [logDir, deathDir] = [join(dir, 'log'), join(dir, 'after-death')]
  startLog(scenario, logDir)
  const plan = new FaultPlan({ step, kind }, (torn) => {
    copyDir(logDir, deathDir)
    if (torn !== undefined) tearLastSegment(join(deathDir, relative(logDir, torn)))
  })
  const first = openLog(logDir, plan)
  const beforeRecords = scenario.before.length === 0 ? 0 : state(ids(scenario.before)).records
  const outcome = await ingest(first, mode, scenario.faulted, plan).then(
    (result) => ({ result }),
    (err: unknown) => ({ err }),
  )
  if (plan.injected !== 1) problems.push(`no fault was injected (the run took ${plan.steps.length} steps)`)
  else if (plan.steps[step] !== seam) problems.push(`step ${step} was ${plan.steps[step]}, not ${seam} as in the clean run`)
  if ('err' in outcome && !isClear(outcome.err))
    problems.push(`the faulted run failed with ${describeError(outcome.err)}\n${(outcome.err as Error).stack ?? ''}`)

  let log = first
  if (plan.dead) {
    await first.close()
    log = openLog(deathDir)
  }
  try {
    const held = await total(log)
    if ('result' in outcome && outcome.result.appended !== held - beforeRecords)
      problems.push(
        `the faulted run succeeded saying it appended ${outcome.result.appended}, but ${held - beforeRecords} records were added`,
      )
    const afterFaulted = state(ids([...scenario.before, scenario.faulted]))
    // What a crash may leave: every partition a prefix of its clean share, nothing out of order.
    const partial = notPrefix(
      await contents(log),
      afterFaulted.contents,
      beforeRecords === 0 ? undefined : state(ids(scenario.before)).contents,
    )
    if (partial !== undefined) problems.push(`after the faulted run: ${partial}`)
    const rerun = await ingest(log, mode, scenario.faulted, undefined, RERUN_CHUNK_RECORDS)
    const differs = difference(await contents(log), afterFaulted.contents)
    if (differs !== undefined) problems.push(`after the clean re-run: ${differs}`)
    if (rerun.appended !== afterFaulted.records - held)
      problems.push(`the re-run says it appended ${rerun.appended}, but ${afterFaulted.records - held} records were missing`)
    if (rerun.logRecords !== held) problems.push(`the re-run says the log held ${rerun.logRecords} records, not ${held}`)
    const cleanRun = clean.results.get(scenario.faulted.id)!
    if (
      rerun.appended + rerun.unchanged !== cleanRun.appended + cleanRun.unchanged ||
      rerun.rejected.length !== cleanRun.rejected.length
    )
      problems.push(
        `the re-run counts ${rerun.appended} appended + ${rerun.unchanged} unchanged, ${rerun.rejected.length} rejected; a clean run ${cleanRun.appended} + ${cleanRun.unchanged}, ${cleanRun.rejected.length}`,
      )

    const afterNext = state(ids([...scenario.before, scenario.faulted, scenario.next]))
    const next = await ingest(log, mode, scenario.next)
    const nextDiffers = difference(await contents(log), afterNext.contents)
    if (nextDiffers !== undefined) problems.push(`after the newer snapshot: ${nextDiffers}`)
    if (next.appended !== afterNext.records - afterFaulted.records)
      problems.push(`the newer snapshot appended ${next.appended}, not ${afterNext.records - afterFaulted.records}`)
    await log.close()
    const reopened = openLog(plan.dead ? deathDir : logDir)
    const reopenedDiffers = difference(await contents(reopened), afterNext.contents)
    if (reopenedDiffers !== undefined) problems.push(`reopened by a new process: ${reopenedDiffers}`)
    await reopened.close()
  } catch (err: unknown) {
    problems.push(`a clean run after the fault failed: ${describeError(err)}`)
  } finally {
    await log.close()
    if (log !== first) await first.close()
    rmSync(dir, { recursive: true, force: true })
  }
  return problems
}

let caseNumber = 0

void describe('kfs ingest with a fault at every I/O step', () => {
  for (const mode of ['packed', 'produce'] as const)
    for (const scenario of SCENARIOS)
      void it(`${scenario.name}, ${mode === 'packed' ? 'producePacked' : 'produce only'}: every step × every fault kind, then clean runs leave the log as clean runs do`, async (t) => {
        // The steps of a clean run from the same start, which each case fails one of.
        const listDir = join(root, `list-${caseNumber++}`)
        startLog(scenario, listDir)
        const listing = new FaultPlan()
        const listLog = openLog(listDir, listing)
        await ingest(listLog, mode, scenario.faulted, listing)
        assert.equal(
          difference(await contents(listLog), state(ids([...scenario.before, scenario.faulted])).contents),
          undefined,
          'the clean run leaves the clean log',
        )
        await listLog.close()
        const steps = listing.steps
        const seams = new Set(steps)
        // Reading a log takes a consumer and the decoder; an empty one is not read. The same snapshot again appends nothing.
        const reads = scenario.before.length > 0 ? ['log.consumer', 'consumer.batch', 'decoder.decodeBatch'] : []
        const appends =
          scenario.faulted === scenario.before.at(-1)
            ? []
            : [mode === 'packed' ? 'log.producePacked' : 'log.produce', 'disk.written', 'disk.fsync']
        for (const needed of ['snapshot.open', 'snapshot.rows', 'log.createTopic', 'log.endOffsets', ...reads, ...appends])
          assert.ok(seams.has(needed), `a clean run takes a ${needed} step`)

        const failures: string[] = []
        let cases = 0
        for (let step = 0; step < steps.length; step++)
          for (const kind of kindsAt(steps[step]!)) {
            cases++
            const problems = await runCase(mode, scenario, step, steps[step]!, kind, caseNumber++)
            if (problems.length > 0) failures.push(`step ${step} (${steps[step]}), ${kind}:\n  ${problems.join('\n  ')}`)
          }
        t.diagnostic(`${steps.length} steps (${[...seams].join(', ')}), ${cases} cases`)
        assert.ok(cases >= steps.length * 2, 'every step was faulted')
        assert.deepEqual(failures, [], `${failures.length} of ${cases} cases went wrong`)
      })
})
