/**
 * `kfs ingest` on a shared, transactional log (Kafka: ingest/append-lease.ts appends a chunk per
 * transaction) under a fault at every step it takes there: each log call, and each transaction's
 * open, produce, commit and abort — thrown before its work or after it (a commit that landed,
 * its answer lost), or the process dying there (its open transaction left open on the log, every
 * later call of the process failing). ./ingest-faults.test.ts faults the same runs on the
 * embedded log, whose lease is its lock and which has no transactions.
 *
 * The log here is the embedded one as a Kafka cluster outlives a client (./logs.ts
 * sharedLogHandles: a handle per process, a newer producer of the transactional id fencing an
 * older one and aborting its open transaction). Whatever step failed and however, the faulted run
 * ends with a clear error or done; the next run (a new process) leaves the log holding exactly the
 * records clean runs write, partition by partition, each once; and a run after it appends nothing.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/index.ts'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { FeatureStoreError, InvariantViolation } from '../../../core/errors.ts'
import { ingestSnapshot, type IngestResult } from '../../../ingest/ingest-snapshot.ts'
import type { LogTransaction, TransactionalEventLog } from '../../../ports/event-log-transaction.ts'
import type { TableSnapshotReader } from '../../../ports/table-snapshots.ts'
import { createDecoder } from '../../../schemas/decoder.ts'
import { createEncoder } from '../../../schemas/encoder.ts'
import { FaultPlan, faultyLog, InjectedFault, kindsAt, ProcessGone, type FaultKind } from './fault-plan.ts'
import { accountsSource } from './fixtures.ts'
import { sharedLogHandles } from './logs.ts'
import { accountRowsOf, decodedPartitions, snapshotOf } from './memory-snapshots.ts'

const dir = mkdtempSync(join(tmpdir(), 'kfs-ingest-txn-faults-'))
after(() => rmSync(dir, { recursive: true, force: true }))
const source = accountsSource()
const CHUNK = 7

const s1 = snapshotOf('s1', accountRowsOf(11, 30))
/** s1's rows, some changed, and later ones. */
const s2 = snapshotOf('s2', [
  ...accountRowsOf(11, 30).map((r, i) => (i % 4 === 0 ? { ...r, balance: Number(r['balance']) + 0.5 } : r)),
  ...accountRowsOf(12, 12).map((r) => ({ ...r, updated_at: Number(r['updated_at']) + 5_000 })),
])

/** `log` (one process's handle) with each call and each transaction step a step of `plan`. */
function faultyTransactional(log: TransactionalEventLog, plan: FaultPlan): TransactionalEventLog {
  const step = <T>(seam: string, work: () => Promise<T>): Promise<T> => plan.call(seam, work)
  return {
    ...faultyLog(log, plan, false),
    async transaction(id: string): Promise<LogTransaction> {
      const txn = await step('txn.open', () => log.transaction(id))
      return {
        produce: (topic, records) => step('txn.produce', () => txn.produce(topic, records)),
        sendOffsets: (groupId, offsets) => step('txn.sendOffsets', () => txn.sendOffsets(groupId, offsets)),
        commit: () => step('txn.commit', () => txn.commit()),
        abort: () => step('txn.abort', () => txn.abort()),
      }
    },
  }
}

async function harness(name: string) {
  const log = new EmbeddedEventLog({ dir: join(dir, name, 'log'), fsync: 'never' })
  const registry = new EmbeddedSchemaRegistry({ dir: join(dir, name, 'schemas') })
  const encoder = await createEncoder({ registry, subject: `${source.topic}-value`, schema: source.schema })
  const decoder = createDecoder({ registry, readerSchema: source.schema })
  const handle = sharedLogHandles(log)
  /** A run in a new process: its own handle on the log, its steps those of `plan`. */
  const run = (reader: TableSnapshotReader, plan = new FaultPlan(), chunkRecords = CHUNK): Promise<IngestResult> =>
    ingestSnapshot({ log: faultyTransactional(handle(), plan), reader, encoder, decoder }, { source, chunkRecords })
  // Without offsets: an aborted transaction's records and markers take offsets a clean run's log has not.
  const partitions = (): Promise<string[][]> => decodedPartitions(log, decoder, source.topic, { partitions: 3, offsets: false })
  return { log, run, partitions }
}

interface Scenario {
  readonly name: string
  readonly before: readonly TableSnapshotReader[]
  readonly faulted: TableSnapshotReader
}

const SCENARIOS: readonly Scenario[] = [
  { name: 'the first ingest', before: [], faulted: s1 },
  { name: 'a re-ingest of the same snapshot', before: [s1], faulted: s1 },
  { name: 'a newer snapshot', before: [s1], faulted: s2 },
]

const isClear = (err: unknown): boolean =>
  err instanceof InjectedFault ||
  err instanceof ProcessGone ||
  (err instanceof FeatureStoreError && !(err instanceof InvariantViolation))

void describe('kfs ingest on a transactional log: a fault at every step, then a re-run', async () => {
  for (const scenario of SCENARIOS) {
    // The clean run's steps and the log it leaves.
    const clean = await harness(`clean-${scenario.name.replace(/\W+/g, '-')}`)
    for (const s of scenario.before) await clean.run(s)
    const listing = new FaultPlan()
    const cleanResult = await clean.run(scenario.faulted, listing)
    const cleanLog = await clean.partitions()
    await clean.log.close()

    void it(`${scenario.name}: ${listing.steps.length} steps, each faulted every way, then a re-run leaves the clean log`, async () => {
      assert.ok(listing.steps.includes('txn.commit') || cleanResult.appended === 0, 'the clean run committed its chunks')
      const problems: string[] = []
      let cases = 0
      for (const [step, seam] of listing.steps.entries()) {
        for (const kind of kindsAt(seam) as readonly FaultKind[]) {
          const what = `step ${step} (${seam}) ${kind}`
          const h = await harness(`case-${cases++}`)
          for (const s of scenario.before) await h.run(s)
          const plan = new FaultPlan({ step, kind })
          const faulted = await h.run(scenario.faulted, plan).then(
            () => undefined,
            (err: unknown) => err,
          )
          if (plan.injected !== 1) problems.push(`${what}: the step was not reached`)
          if (faulted !== undefined && !isClear(faulted)) problems.push(`${what}: unclear failure ${String(faulted)}`)
          const rerun = await h.run(scenario.faulted, new FaultPlan(), CHUNK + 4).then(
            (r) => r,
            (err: unknown) => err as Error,
          )
          if (rerun instanceof Error) problems.push(`${what}: the re-run failed: ${rerun.message}`)
          else if (rerun.appended + rerun.unchanged !== cleanResult.appended + cleanResult.unchanged)
            problems.push(`${what}: the re-run counts ${rerun.appended} appended + ${rerun.unchanged} unchanged`)
          const got = await h.partitions()
          if (JSON.stringify(got) !== JSON.stringify(cleanLog))
            problems.push(
              `${what}: the log holds ${got.flat().length} records, a clean run's ${cleanLog.flat().length}, or other ones`,
            )
          const again = await h.run(scenario.faulted).catch((err: unknown) => err as Error)
          if (again instanceof Error || again.appended !== 0)
            problems.push(`${what}: a run after the re-run appended ${again instanceof Error ? again.message : again.appended}`)
          await h.log.close()
        }
      }
      assert.ok(cases > 0)
      assert.deepEqual(problems.slice(0, 10), [], `${problems.length} of ${cases} cases went wrong`)
    })
  }
})
