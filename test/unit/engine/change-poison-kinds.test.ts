/**
 * Every kind of bad change record (issue #15, docs/design.md §11) through the real engine on
 * embedded defaults — `kfs apply` and `kfs run --until-caught-up` in-process, the log, registry and
 * warehouse under a temporary KFS_DATA_DIR — for a changelog source in JSON and in Avro, each read
 * by an attribute view and a current-state view re-keyed by user. For each bad record: the dead
 * letters (reason, a detail naming the problem, the view), with the origin for letters written on
 * the internal re-key topic; and the rows of each view equal those of a clean run over only the
 * changes that view accepts (nothing lost, nothing poisoned). The counters add up: each record
 * read is processed or dead-lettered, once per reader. `kfs dead-letters list` shows them. The
 * cases: change-poison-cases.ts and change-poison-envelopes.ts.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/index.ts'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { LocalObjectStore } from '../../../adapters/object-store/index.ts'
import { readFeatureRowsByEntity } from '../../../adapters/offline/iceberg/feature-rows.ts'
import { DEAD_LETTER_HEADERS } from '../../../engine/dead-letter-topic.ts'
import { internalTopicName } from '../../../engine/plan-sources.ts'
import { REKEY_HEADERS } from '../../../engine/rekey-records.ts'
import { readBundle } from '../../../engine/rekey-bundle.ts'
import type { LogRecord } from '../../../ports/event-log.ts'
import type { FeatureRow, FeatureViewDef, SourceDef } from '../../../features/types.ts'
import * as fixture from '../../fixtures/features/change-poison.ts'
import { runKfsInProcess } from '../../support/in-process-cli.ts'
import { avroVariants, buildSteps, type Format, type Step, type ViewKind } from './change-poison-cases.ts'

const FEATURES = ['--features', 'test/fixtures/features/change-poison.ts']
const DEAD_LETTER_TOPIC = 'kfs.dead-letters'

interface Tier {
  readonly format: 'json' | 'avro'
  readonly source: SourceDef
  readonly views: Record<ViewKind, FeatureViewDef>
  cases: { name: string; steps: Step[] }[]
  schemaId?: number
}
const tiers: Tier[] = [
  { format: 'json', source: fixture.ordersJson, views: { attr: fixture.orderAttrsJson, state: fixture.userOpenJson }, cases: [] },
  { format: 'avro', source: fixture.ordersAvro, views: { attr: fixture.orderAttrsAvro, state: fixture.userOpenAvro }, cases: [] },
]

interface Letter {
  readonly reason: string
  readonly detail: string
  readonly view: string | undefined
  readonly topic: string
  readonly offset: string
  readonly origin: { topic: string; offset: string } | undefined
}

interface Outcome {
  readonly dataDir: string
  readonly letters: Letter[]
  readonly rows: Map<string, Map<string, FeatureRow[]>>
  /** `kfs run --json`'s summary: its counters. */
  readonly summary: { consumed: number; deadLettered: Record<string, number> }
  /** Headers of the records each tier's re-key stage forwarded to its internal topic. */
  readonly forwarded: Map<Tier, Record<string, string | undefined>[]>
}

const dirs: string[] = []
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})

/** Registers the Avro writer schemas in `dataDir`'s registry: the envelope and its bad variants. */
async function formatOf(tier: Tier, dataDir: string): Promise<Format> {
  const registry = new EmbeddedSchemaRegistry({ dir: join(dataDir, 'schemas') })
  const rowSchema = tier.source.changes!.rowSchema
  const schemaId = await registry.register(`${tier.source.topic}-value`, tier.source.schema)
  const variants = new Map<string, number>()
  for (const [name, schema] of Object.entries(avroVariants(rowSchema))) variants.set(name, await registry.register(`variant-${tier.format}-${name}`, schema))
  return { name: tier.format, rowSchema, schemaId, variants }
}

/** Produces `steps` of each tier (filtered by `keep`), runs the engine to the end, reads letters and rows. */
async function runEngine(keep: (step: Step) => boolean): Promise<Outcome> {
  const dataDir = await mkdtemp(join(tmpdir(), 'kfs-change-poison-'))
  dirs.push(dataDir)
  for (const tier of tiers) {
    // The cases were framed with the ids of a setup registry: this one must assign the same.
    const format = await formatOf(tier, dataDir)
    assert.equal(format.schemaId, tier.schemaId)
  }
  const log = new EmbeddedEventLog({ dir: join(dataDir, 'log'), fsync: 'never' })
  for (const tier of tiers) {
    await log.createTopic(tier.source.topic, 1)
    const records = tier.cases.flatMap((c) => c.steps.filter(keep)).map((s) => ({ key: s.key, value: s.value }))
    await log.produce(tier.source.topic, records as never)
  }
  await log.close()
  let summary: Outcome['summary'] | undefined
  const run = ['run', ...FEATURES, '--until-caught-up', '--idle', '500ms', '--json']
  for (const args of [['apply', ...FEATURES], run]) {
    const r = await runKfsInProcess(args, dataDir)
    assert.equal(r.code, 0, `kfs ${args.join(' ')}: ${r.stderr}`)
    if (args[0] === 'run') summary = JSON.parse(r.stdout) as Outcome['summary']
  }
  const forwarded = new Map<Tier, Record<string, string | undefined>[]>()
  for (const tier of tiers) {
    // A record of the internal topic is a bundle of forwarded copies (engine/rekey-bundle.ts), each with its origin's headers.
    const bundles = await readTopic(dataDir, internalTopicName(tier.source.topic, fixture.user.name))
    const copies = bundles.flatMap((b) => {
      const read = readBundle(b as LogRecord & { value: Uint8Array })
      assert.ok(read.ok, read.ok ? '' : read.detail)
      return read.events.map((e) => e.headers)
    })
    forwarded.set(tier, copies)
  }
  const store = new LocalObjectStore(join(dataDir, 'objects'))
  const rows = new Map<string, Map<string, FeatureRow[]>>()
  for (const tier of tiers) for (const view of Object.values(tier.views)) rows.set(view.name, await readFeatureRowsByEntity(store, view))
  return { dataDir, letters: await readLetters(dataDir), rows, summary: summary!, forwarded }
}

async function readLetters(dataDir: string): Promise<Letter[]> {
  return (await readTopic(dataDir, DEAD_LETTER_TOPIC)).map(({ headers: h }) => {
    const originTopic = h[DEAD_LETTER_HEADERS.originTopic]
    return {
      reason: h[DEAD_LETTER_HEADERS.reason] ?? '',
      detail: h[DEAD_LETTER_HEADERS.detail] ?? '',
      view: h[DEAD_LETTER_HEADERS.view],
      topic: h[DEAD_LETTER_HEADERS.topic] ?? '',
      offset: h[DEAD_LETTER_HEADERS.offset] ?? '',
      origin: originTopic === undefined ? undefined : { topic: originTopic, offset: h[DEAD_LETTER_HEADERS.originOffset] ?? '' },
    }
  })
}

/** Every record of a topic, all partitions (none when it does not exist). */
async function readTopic(dataDir: string, topic: string): Promise<LogRecord[]> {
  const log = new EmbeddedEventLog({ dir: join(dataDir, 'log'), fsync: 'never' })
  try {
    const ends = (await log.endOffsets(topic).catch(() => [] as string[])).map(BigInt)
    // An internal topic ends with a transaction's commit marker, which is never delivered.
    const last = ends.map((end) => (topic === DEAD_LETTER_TOPIC ? end : end - 1n))
    const out: LogRecord[] = []
    const open = new Set(last.flatMap((end, p) => (end > 0n ? [p] : [])))
    if (open.size === 0) return out
    const consumer = log.consumer({ groupId: `check-${topic}`, topics: [topic] })
    let done!: () => void
    const all = new Promise<void>((resolve) => (done = resolve))
    await consumer.run({
      eachBatch: async (batch) => {
        out.push(...batch.records)
        const next = BigInt(batch.span?.next ?? BigInt(batch.records.at(-1)?.offset ?? '-1') + 1n)
        if (next >= last[batch.partition]!) open.delete(batch.partition)
        if (open.size === 0) done()
      },
    })
    await all
    await consumer.stop()
    return out
  } finally {
    await log.close()
  }
}

/** The source offset of each step of a tier, as produced with `keep`. */
function offsetsOf(tier: Tier, keep: (s: Step) => boolean): Map<Step, string> {
  const steps = tier.cases.flatMap((c) => c.steps.filter(keep))
  return new Map(steps.map((s, i) => [s, String(i)]))
}

const all = () => true
const goodFor = (kind: ViewKind) => (s: Step) => !s.refused.some((e) => e.view === kind && e.partial !== true)

void describe('engine > every kind of bad change, JSON and Avro, attribute and re-keyed current-state views', () => {
  let dirty: Outcome
  const clean = new Map<ViewKind, Outcome>()

  before(async () => {
    const setup = await mkdtemp(join(tmpdir(), 'kfs-change-poison-setup-'))
    dirs.push(setup)
    // Registry ids are assigned in order, so every data dir registers the same schemas first (ids equal across runs).
    for (const tier of tiers) {
      const format = await formatOf(tier, setup)
      tier.schemaId = format.schemaId
      tier.cases = buildSteps(format)
    }
    const runs: [string, (s: Step) => boolean][] = [['dirty', all], ['attr', goodFor('attr')], ['state', goodFor('state')]]
    for (const [name, keep] of runs) {
      const outcome = await runEngine(keep)
      if (name === 'dirty') dirty = outcome
      else clean.set(name as ViewKind, outcome)
    }
  })

  for (const tier of tiers) {
    void test(`${tier.format}: each bad record is dead-lettered once per view it is bad for, with reason and detail`, () => {
      const offsets = offsetsOf(tier, all)
      const internal = (t: string) => t !== tier.source.topic
      const letters = dirty.letters.filter((l) => (l.origin?.topic ?? l.topic) === tier.source.topic)
      for (const l of letters) {
        // A letter written on the internal re-key topic points at the source record it came from.
        if (internal(l.topic)) assert.ok(l.origin !== undefined, `letter on ${l.topic} without origin: ${JSON.stringify(l)}`)
      }
      const bySourceOffset = new Map<string, Letter[]>()
      for (const l of letters) {
        const at = l.origin?.offset ?? l.offset
        bySourceOffset.set(at, [...(bySourceOffset.get(at) ?? []), l])
      }
      let expectedCount = 0
      // Every case's problems at once: one wrong case does not hide the others.
      const problems: string[] = []
      for (const c of tier.cases) {
        for (const step of c.steps) {
          const offset = offsets.get(step)!
          // A record that does not decode is refused once per partition, naming no view (engine/partition-processor.ts,
          // decodeFailureLetter): on the source topic that is the attribute view's (its only direct view).
          const kindOf = (l: Letter) => (l.view === undefined && l.topic === tier.source.topic ? 'attr' : Object.entries(tier.views).find(([, v]) => v.name === l.view)?.[0])
          const got = (bySourceOffset.get(offset) ?? []).map((l) => ({ ...l, kind: kindOf(l) }))
          const where = `${c.name} (offset ${offset}): got ${JSON.stringify(got.map((g) => [g.kind, g.reason, g.detail]))}`
          expectedCount += step.refused.length
          if (got.length !== step.refused.length) problems.push(`${where}, want ${step.refused.length} letters`)
          for (const e of step.refused) {
            const l = got.find((g) => g.kind === e.view)
            if (l === undefined) problems.push(`${where}: no letter names the ${e.view} view`)
            else if (l.reason !== e.reason || !e.detail.test(l.detail))
              problems.push(`${where}: want ${e.view} ${e.reason} ${String(e.detail)}`)
          }
        }
      }
      assert.deepEqual(problems, [])
      assert.equal(letters.length, expectedCount)
    })

    for (const kind of ['attr', 'state'] as const) {
      void test(`${tier.format}: ${kind} view rows equal a clean run over only the changes it accepts`, () => {
        const view = tier.views[kind]
        const got = dirty.rows.get(view.name)!
        const want = clean.get(kind)!.rows.get(view.name)!
        assert.ok(want.size >= tier.cases.length, `${view.name}: rows for every case (${want.size})`)
        assert.deepEqual(new Map([...got].sort()), new Map([...want].sort()))
      })
    }
  }

  void test('the counters add up: every record read is processed or dead-lettered, once per reader', () => {
    const { summary, letters } = dirty
    assert.equal(
      Object.values(summary.deadLettered).reduce((a, b) => a + b, 0),
      letters.length,
      'the dead-letter counters count the letters written',
    )
    let expectedConsumed = 0
    for (const tier of tiers) {
      const read = tier.cases.flatMap((c) => c.steps).length
      const onSource = letters.filter((l) => l.topic === tier.source.topic)
      // The attribute view reads the source: each record is a row (every accepted change emits one) or a letter.
      const attrName = tier.views.attr.name
      const attrLetters = onSource.filter((l) => l.view === undefined || l.view === attrName).length
      const attrRows = [...dirty.rows.get(attrName)!.values()].reduce((n, rs) => n + rs.length, 0)
      assert.equal(attrRows + attrLetters, read, `${tier.format}: ${attrRows} attribute rows + ${attrLetters} letters`)
      // The re-key stage reads it for the current-state view: each record is forwarded or refused, never both, never neither.
      const copies = dirty.forwarded.get(tier)!
      const forwardedAt = new Set(copies.map((h) => h[REKEY_HEADERS.offset]))
      const refusedAt = new Set(onSource.filter((l) => l.view === tier.views.state.name).map((l) => l.offset))
      const unaccounted: string[] = []
      for (let offset = 0; offset < read; offset++) {
        const [isForwarded, isRefused] = [forwardedAt.has(String(offset)), refusedAt.has(String(offset))]
        if (isForwarded === isRefused) unaccounted.push(`${offset}: forwarded ${isForwarded}, refused ${isRefused}`)
      }
      assert.deepEqual(unaccounted, [], tier.format)
      // What the engine counts as consumed: the source records its attribute view read, the copies its current-state view read.
      expectedConsumed += read + copies.length
    }
    assert.equal(summary.consumed, expectedConsumed)
  })

  void test('kfs dead-letters list shows the letters, by reason', async () => {
    const r = await runKfsInProcess(['dead-letters', 'list', ...FEATURES, '--json', '--limit', '1000'], dirty.dataDir)
    assert.equal(r.code, 0, r.stderr)
    const listed = JSON.parse(r.stdout) as { total: number; byReason: Record<string, number>; list: { reason: string; view: string | null; origin: string | null }[] }
    assert.equal(listed.total, dirty.letters.length)
    assert.ok(listed.list.some((l) => l.reason === 'unknown_retraction' && l.view === fixture.userOpenJson.name && l.origin !== null))
    for (const reason of ['unknown_op', 'before_mismatch', 'unknown_retraction', 'missing_key', 'invalid_key', 'schema_mismatch', 'late', 'future_event_time', 'oversize', 'undecodable']) {
      assert.ok((listed.byReason[reason] ?? 0) > 0, `${reason}: ${JSON.stringify(listed.byReason)}`)
    }
  })
})
