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
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { after, describe, it } from 'node:test'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/index.ts'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { FeatureStoreError, InvariantViolation } from '../../../core/errors.ts'
import { ingestSnapshot, type IngestResult } from '../../../ingest/ingest-snapshot.ts'
import type { EventLog } from '../../../ports/event-log.ts'
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
import { readerOf, s1, s2, s3, type Snapshot } from './fault-snapshots.ts'
import { accountsSource } from './fixtures.ts'
import { contents, copyDir, difference, notPrefix, tearLastSegment, total } from './log-contents.ts'

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

// ── Logs, runs and what a log holds ──

const registry = new EmbeddedSchemaRegistry({ dir: join(root, 'schemas') })
const encoder = await createEncoder({ registry, subject: `${source.topic}-value`, schema: source.schema })
const decoder = createDecoder({ registry, readerSchema: source.schema })

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
    { log: on, reader: faultyReader(readerOf(snapshot, READ_BATCH), plan), encoder, decoder: dec },
    { source, chunkRecords },
  )
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
    const { log } = open(dir)
    results.set(snapshot.id, await ingest(log, 'packed', snapshot))
    seen.push(snapshot.id)
    await log.close()
    const copy = join(root, `clean-${seen.join('-')}`)
    copyDir(dir, copy)
    const { log: reopened } = open(copy)
    states.set(seen.join(','), { dir: copy, contents: await contents(reopened, source), records: await total(reopened, source) })
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

/** A log the test goes on with: its directory, and the faults its disk steps answer to now (none: clean). */
interface OpenLog {
  readonly dir: string
  readonly log: EmbeddedEventLog
  faults: FaultPlan | undefined
}

function open(dir: string): OpenLog {
  const opened: OpenLog = {
    dir,
    faults: undefined,
    log: new EmbeddedEventLog({
      dir,
      fsync: 'batch',
      segmentBytes: SEGMENT_BYTES,
      fault: (step, at) => opened.faults?.disk(step, at),
    }),
  }
  return opened
}

type Outcome = { readonly result: IngestResult } | { readonly err: unknown }

/**
 * An ingest of `snapshot` with step `step` failed as `kind`; the log to go on with is the same
 * one, or after a death the one a new process opens from the directory as it was at the death.
 */
async function faultedRun(
  at: OpenLog,
  mode: Mode,
  snapshot: Snapshot,
  step: number,
  kind: FaultKind,
  deathDir: string,
): Promise<{ plan: FaultPlan; outcome: Outcome; then: OpenLog }> {
  const plan = new FaultPlan({ step, kind }, (torn) => {
    copyDir(at.dir, deathDir)
    if (torn !== undefined) tearLastSegment(join(deathDir, relative(at.dir, torn)))
  })
  at.faults = plan
  const outcome = await ingest(at.log, mode, snapshot, plan).then(
    (result) => ({ result }),
    (err: unknown) => ({ err }),
  )
  at.faults = undefined
  if (!plan.dead) return { plan, outcome, then: at }
  await at.log.close()
  return { plan, outcome, then: open(deathDir) }
}

/**
 * One case: the faulted run; the re-run faulted again at the same step (a crash while recovering:
 * another step of a shorter run, or none when it is shorter still); a clean re-run; the newer
 * snapshot; a new process's reading. What went wrong, if anything.
 */
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
  startLog(scenario, join(dir, 'log'))
  let at = open(join(dir, 'log'))
  const opened = [at]
  const beforeRecords = scenario.before.length === 0 ? 0 : state(ids(scenario.before)).records
  const afterFaulted = state(ids([...scenario.before, scenario.faulted]))
  try {
    for (const round of [1, 2]) {
      const { plan, outcome, then } = await faultedRun(at, mode, scenario.faulted, step, kind, join(dir, `after-death-${round}`))
      if (then !== at) opened.push((at = then))
      const what = round === 1 ? 'the faulted run' : 'the faulted re-run'
      if (round === 2) refaulted += plan.injected
      if (round === 1 && plan.injected !== 1) problems.push(`no fault was injected (the run took ${plan.steps.length} steps)`)
      else if (round === 1 && plan.steps[step] !== seam)
        problems.push(`step ${step} was ${plan.steps[step]}, not ${seam} as in the clean run`)
      if ('err' in outcome && !isClear(outcome.err))
        problems.push(`${what} failed with ${describeError(outcome.err)}\n${(outcome.err as Error).stack ?? ''}`)
      const held = await total(at.log, source)
      if ('result' in outcome && round === 1 && outcome.result.appended !== held - beforeRecords)
        problems.push(
          `${what} succeeded saying it appended ${outcome.result.appended}, but ${held - beforeRecords} records were added`,
        )
      // What a crash may leave: every partition a prefix of its clean share, nothing out of order.
      const partial = notPrefix(
        await contents(at.log, source),
        afterFaulted.contents,
        beforeRecords === 0 ? undefined : state(ids(scenario.before)).contents,
      )
      if (partial !== undefined) problems.push(`after ${what}: ${partial}`)
    }

    const held = await total(at.log, source)
    const rerun = await ingest(at.log, mode, scenario.faulted, undefined, RERUN_CHUNK_RECORDS)
    const differs = difference(await contents(at.log, source), afterFaulted.contents)
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
    const next = await ingest(at.log, mode, scenario.next)
    const nextDiffers = difference(await contents(at.log, source), afterNext.contents)
    if (nextDiffers !== undefined) problems.push(`after the newer snapshot: ${nextDiffers}`)
    if (next.appended !== afterNext.records - afterFaulted.records)
      problems.push(`the newer snapshot appended ${next.appended}, not ${afterNext.records - afterFaulted.records}`)
    await at.log.close()
    opened.push((at = open(at.dir)))
    const reopenedDiffers = difference(await contents(at.log, source), afterNext.contents)
    if (reopenedDiffers !== undefined) problems.push(`reopened by a new process: ${reopenedDiffers}`)
  } catch (err: unknown) {
    problems.push(`a clean run after the fault failed: ${describeError(err)}`)
  } finally {
    for (const o of opened) await o.log.close()
    rmSync(dir, { recursive: true, force: true })
  }
  return problems
}

let caseNumber = 0
/** Re-runs of the current test that met a fault too. */
let refaulted = 0

void describe('kfs ingest with a fault at every I/O step', () => {
  for (const mode of ['packed', 'produce'] as const)
    for (const scenario of SCENARIOS)
      void it(`${scenario.name}, ${mode === 'packed' ? 'producePacked' : 'produce only'}: every step × every fault kind, then clean runs leave the log as clean runs do`, async (t) => {
        // The steps of a clean run from the same start, which each case fails one of.
        const listDir = join(root, `list-${caseNumber++}`)
        startLog(scenario, listDir)
        const listing = new FaultPlan()
        const listed = open(listDir)
        listed.faults = listing
        const listLog = listed.log
        await ingest(listLog, mode, scenario.faulted, listing)
        assert.equal(
          difference(await contents(listLog, source), state(ids([...scenario.before, scenario.faulted])).contents),
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
        refaulted = 0
        let cases = 0
        for (let step = 0; step < steps.length; step++)
          for (const kind of kindsAt(steps[step]!)) {
            cases++
            const problems = await runCase(mode, scenario, step, steps[step]!, kind, caseNumber++)
            if (problems.length > 0) failures.push(`step ${step} (${steps[step]}), ${kind}:\n  ${problems.join('\n  ')}`)
          }
        t.diagnostic(
          `${steps.length} steps (${[...seams].join(', ')}), ${cases} cases, ${refaulted} of them faulted again in the re-run`,
        )
        assert.ok(cases >= steps.length * 2, 'every step was faulted')
        assert.deepEqual(failures, [], `${failures.length} of ${cases} cases went wrong`)
      })
})
