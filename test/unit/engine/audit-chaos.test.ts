/**
 * The outside audit's chaos loop on the embedded defaults: a seeded stream of phases (records
 * across window boundaries, a partition silent for the first phases, late and far-future events,
 * duplicates, poison records of every kind) separated by idle periods, run once without a fault —
 * the oracle — and again with faults at every store step (test/support/audit-chaos-faults.ts:
 * failed once, answer lost, outage past the retries, the process dying before or after the call)
 * and restarts from the last checkpoint, any number per run. The chaotic run must leave what the
 * clean one left: the same offline rows (direct views in seq order, seq included; the re-keyed view
 * per entity in order), the same online rows, the same archive, and the same dead letters (at least
 * once each after a crash, docs/semantics.md §15) — and the clean run one dead letter per refusal,
 * with its reason. Seeded: KFS_TEST_SEED replays one seed.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { prng } from '../../../examples/generate-events.ts'
import { TOPIC, type PlannedRecord } from '../../support/audit-chaos-workload.ts'
import { assertSameOutcome, plan, writers } from '../../support/audit-chaos-plan.ts'
import { runScenario, type Outcome } from '../../support/audit-chaos-run.ts'
import type { Fault } from '../../support/audit-chaos-faults.ts'

const BASE_SEED = Number(process.env.KFS_TEST_SEED ?? 31_000)
const SEEDS = process.env.KFS_TEST_SEED === undefined ? Number(process.env.KFS_AUDIT_SEEDS ?? 3) : 1

/** In the clean run: every poison record has exactly the dead letters of its kind, once each, and no good record has a record-level one. */
function assertPoisonLetters(
  clean: Outcome,
  phases: readonly PlannedRecord[][],
  offsets: Map<PlannedRecord, string>,
  where: string,
): void {
  const produced = [0, 1, 2].map((p) => phases.flat().filter((r) => r.partition === p).length)
  for (let p = 0; p < produced.length; p++) {
    const archived = clean.archive[p]!.filter((e) => !e.includes('@'))
    assert.deepEqual(
      archived,
      Array.from({ length: produced[p]! }, (_, i) => String(i)),
      `${where}: archive of partition ${p}`,
    )
  }
  const poisonOrigins = new Set<string>()
  for (const records of phases) {
    for (const r of records) {
      if (!r.poison) continue
      const origin = `${TOPIC}/${r.partition}/${offsets.get(r)}`
      poisonOrigins.add(origin)
      const letters = [...clean.deadLetters].filter(([k]) => k.startsWith(`${origin}|`) && k.split('|')[2] !== 'audit_items')
      const got = letters.map(([k]) =>
        k
          .split('|')
          .slice(1)
          .join('@')
          .replace(/@$/, '')
          .replace(/@(audit_\w+)@\d+$/, '@$1'),
      )
      assert.deepEqual(got.sort(), [...r.poison.letters].sort(), `${where}: dead letters of ${r.poison.name} at ${origin}`)
      for (const [k, n] of letters) assert.equal(n, 1, `${where}: ${k} written ${n} times in a clean run`)
    }
  }
  // A good record is refused only as late (its time, judged in its partition or the re-keyed one).
  const others = [...clean.deadLetters.keys()].filter((k) => !poisonOrigins.has(k.split('|')[0]!) && k.split('|')[1] !== 'late')
  assert.deepEqual(others, [], `${where}: good records dead-lettered`)
}

/** The writes of a checkpoint and of delivery, as the engine makes them on the embedded defaults (docs/semantics.md §10–§11). */
const WRITE_STEPS = [
  'put data file',
  'put manifest',
  'put manifest list',
  'create table metadata',
  'put state base',
  'put state delta',
  'create checkpoint record',
  'delete checkpoint record',
  'online write',
  'online sync',
  'dead-letter produce',
  'progress commit',
]

void describe('outside audit: a passing fault at any step is ridden out', () => {
  for (const mode of ['fails once', 'answer lost'] as const) {
    void test(`every step's first and third call ${mode}: no engine fails, and the run equals a clean one`, async () => {
      const root = await mkdtemp(join(tmpdir(), 'kfs-audit-'))
      try {
        const registry = new EmbeddedSchemaRegistry({ dir: join(root, 'schemas') })
        const { phases, gaps } = plan(BASE_SEED, await writers(registry), 3)
        const clean = await runScenario(join(root, 'clean'), registry, phases, gaps)
        const steps = [...clean.steps].sort()
        assert.deepEqual(
          WRITE_STEPS.filter((s) => !steps.includes(s)),
          [],
          'the clean run makes every write step',
        )
        const fixed = steps.flatMap((step) => [1, 3].map((k) => ({ step, k, mode })))
        const armed: string[] = []
        const faulted = await runScenario(join(root, 'faulted'), registry, phases, gaps, { rand: prng(1), steps, armed, fixed })
        assert.deepEqual(
          WRITE_STEPS.filter((s) => !faulted.struck.has(s)),
          [],
          'a fault struck every write step',
        )
        assert.deepEqual(faulted.failures, [], 'engines failed')
        assert.equal(faulted.restarts, 0, 'engines replaced')
        assertSameOutcome(clean, faulted, mode)
      } finally {
        await rm(root, { recursive: true, force: true })
      }
    })
  }
})

/**
 * Every write of a checkpoint failing past its retries at the checkpoint that carries the idle
 * markers, with no restart after (the last phase): the stop's own checkpoint must publish all of it.
 * The record's own create and the publish's calls after it may leave the record written while the
 * publish failed: the next checkpoint must not take it for another owner's.
 */
const PAST_RETRIES: readonly (readonly Fault[])[] = [
  // The writes the idle period's checkpoints make (its online rows and dead letters were delivered
  // before); of a table commit's writes, the manifest (the sink's own back-off makes the others slow).
  ...['put data file', 'put manifest', 'put state base', 'put state delta', 'create checkpoint record', 'online sync'].map(
    (step) => [{ step, k: 1, mode: 'outage' as const }],
  ),
  [{ step: 'create checkpoint record', k: 1, mode: 'outage, each call landed' }],
  [{ step: 'list checkpoints', k: 1, mode: 'outage' }],
  [
    { step: 'create checkpoint record', k: 1, mode: 'answer lost' },
    { step: 'get checkpoint record', k: 1, mode: 'outage' },
  ],
]

void describe('outside audit: a checkpoint failing past its retries in an idle period loses nothing', async () => {
  const root = await mkdtemp(join(tmpdir(), 'kfs-audit-'))
  const registry = new EmbeddedSchemaRegistry({ dir: join(root, 'schemas') })
  const { phases, gaps } = plan(BASE_SEED + 1, await writers(registry), 2)
  const clean = await runScenario(join(root, 'clean'), registry, phases, gaps)
  const steps = [...clean.steps].sort()
  after(() => rm(root, { recursive: true, force: true }))
  PAST_RETRIES.forEach((faults, i) => {
    const name = faults.map((f) => `${f.mode} at ${f.step}`).join(', then ')
    void test(name, async () => {
      const idle = { phase: phases.length - 1, faults }
      const faulted = await runScenario(join(root, `case-${i}`), registry, phases, gaps, {
        rand: prng(i),
        steps,
        armed: [],
        idle,
      })
      assert.ok(
        faults.every((f) => faulted.struck.has(f.step)),
        `the fault struck (${[...faulted.struck].join(', ')})`,
      )
      assertSameOutcome(clean, faulted, name)
    })
  })
})

void describe('outside audit: the live engine under faults at every store step and crashes equals its clean run', () => {
  for (let seed = BASE_SEED; seed < BASE_SEED + SEEDS; seed++) {
    void test(`seed ${seed}`, async () => {
      const where = `seed ${seed} (KFS_TEST_SEED=${seed} replays it)`
      const root = await mkdtemp(join(tmpdir(), 'kfs-audit-'))
      try {
        const registry = new EmbeddedSchemaRegistry({ dir: join(root, 'schemas') })
        const { phases, gaps } = plan(seed, await writers(registry))
        const clean = await runScenario(join(root, 'clean'), registry, phases, gaps)
        const offsets = new Map<PlannedRecord, string>()
        const next = [0, 0, 0]
        for (const records of phases) for (const r of records) offsets.set(r, String(next[r.partition]!++))
        assertPoisonLetters(clean, phases, offsets, where)
        const steps = [...clean.steps].sort()
        if (process.env.KFS_TEST_DEBUG) console.log(steps.join(', '))
        const armed: string[] = []
        const chaotic = await runScenario(join(root, 'chaos'), registry, phases, gaps, { rand: prng(seed * 7 + 1), steps, armed })
        if (process.env.KFS_TEST_DEBUG) console.log(`${where}: ${chaotic.restarts} restarts; ${armed.join('; ')}`)
        assertSameOutcome(clean, chaotic, `${where} [${armed.join('; ')}]`)
        // A passing fault (failed once, or landed with its answer lost) is ridden out: only an outage past the retries fails an engine.
        assert.deepEqual(chaotic.failures, [], `${where}: engines failed with no outage`)
      } finally {
        await rm(root, { recursive: true, force: true })
      }
    })
  }
})
