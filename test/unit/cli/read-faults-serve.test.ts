/**
 * `kfs serve` with the reads it makes of the registry and the object store faulted every way a read
 * fails (test/support/read-command-faults.ts), through the real CLI: the definitions it reads at
 * start-up, the backfill states its catalog page reads behind the page, and the tables its Iceberg
 * REST catalog reads while a request waits. A passing fault: serve answers as in a clean run — it
 * starts, its page shows the backfill states, its catalog lists and loads the tables. One that
 * persists, or a refusal: at start-up, exit 1 with one line naming the read; behind the page, the
 * page still answers (the states unknown) and one line names the read; in a request, a JSON error —
 * 503 naming the read when it persisted, 500 STORE_READ_REFUSED naming the object when it was
 * refused — never a stack trace, and the server answers on. Before,
 * none of these reads was retried: one passing fault stopped serve starting, left the page's
 * backfill states unknown, or failed a catalog request.
 */
import assert from 'node:assert/strict'
import { rm } from 'node:fs/promises'
import { after, before, test } from 'node:test'
import {
  assertFaultedRun,
  buildReadBaseline,
  type CommandRun,
  type KindFault,
  type ReadBaseline,
  readFaultCases,
  REGISTRY_STEPS,
  runReadCommand,
} from '../../support/read-command-faults.ts'
import { COMMAND_READ_ATTEMPTS } from '../../../main/read-retry.ts'

const ARGS = ['serve', '--features', 'test/fixtures/features/served-purchases.ts', '--port', '0', '--json']
/** The Iceberg REST catalog's reads, as `kfs tables` makes them. */
const CATALOG_STEPS = [
  'tables: the warehouse listing',
  'feature table: version hint',
  'feature table: table metadata',
  'archive: version hint',
  'archive: table metadata',
]
const BACKFILL_KEY = /^registry\/views\/[^/]+\/v\d+\.backfill\.json$/

interface Answer {
  readonly status: number
  readonly body: string
}

interface Answers {
  /** The backfill states the catalog page shows, view by view. */
  readonly backfill: readonly string[]
  readonly tables: Answer
  readonly table: Answer
  readonly health: number
}

const answer = async (url: string): Promise<Answer> => {
  const res = await fetch(url)
  return { status: res.status, body: await res.text() }
}

/**
 * The page's backfill states once the refresh serve starts behind it has ended: the page answers
 * from memory, so it is asked again until it shows every state, or serve said the refresh failed.
 */
async function backfillStates(url: string, stderr: () => string): Promise<string[]> {
  // A bound only against a hang: the refresh ends within a few page loads, however loaded the machine.
  for (let i = 0; i < 10_000; i++) {
    const page = await answer(`${url}/`)
    assert.equal(page.status, 200, page.body)
    const states = [...page.body.matchAll(/class="backfill[^"]*" data-state="([a-z]+)"/g)].map((m) => m[1]!)
    if (!states.includes('unknown') || stderr().includes('catalog: cannot read backfill')) return states
  }
  assert.fail('the catalog page never showed the backfill states, and serve never said why')
}

/** What the test asks serve once it is ready; `requestFault` is armed after the page's states are read. */
function whileServing(requestFault?: KindFault) {
  return async (ready: string, running: { armFromNow(fault: KindFault): void; stderr(): string }): Promise<Answers> => {
    const { url } = JSON.parse(ready) as { url: string }
    const backfill = await backfillStates(url, running.stderr)
    if (requestFault !== undefined) running.armFromNow(requestFault)
    const tables = await answer(`${url}/v1/namespaces/kfs/tables`)
    const table = await answer(`${url}/v1/namespaces/kfs/tables/user_purchases_v1`)
    return { backfill, tables, table, health: (await answer(`${url}/healthz`)).status }
  }
}

/** The run with the server's address taken out (a free port each time). */
function normalised(run: CommandRun): CommandRun {
  const port = (text: string) => text.replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:PORT').replace(/"port":\d+/g, '"port":0')
  return { ...run, stdout: port(run.stdout), stderr: port(run.stderr) }
}

let baseline: ReadBaseline
let clean: CommandRun
let cleanAnswers: Answers
/** How many backfill states start-up reads before the catalog's own (the registry snapshots). */
let startUpBackfillReads: number
before(async () => {
  baseline = await buildReadBaseline()
  clean = normalised(await runReadCommand(baseline, ARGS, undefined, undefined, whileServing()))
  cleanAnswers = clean.live as Answers
  startUpBackfillReads = clean.calls.filter((c) => c.operation === 'get' && BACKFILL_KEY.test(c.key)).length - 2
})
after(() => rm(baseline.dir, { recursive: true, force: true }))

void test('serve read faults: the clean run serves both views, shows their backfill states, lists and loads the tables', () => {
  assert.equal(clean.code, 0, clean.stderr)
  assert.deepEqual(cleanAnswers.backfill, ['pending', 'complete'])
  assert.equal(cleanAnswers.tables.status, 200)
  assert.match(cleanAnswers.tables.body, /"name":"user_purchases_v1"/)
  assert.equal(cleanAnswers.table.status, 200)
  assert.match(
    cleanAnswers.table.body,
    /^\{"metadata-location":"memory:\/\/kfs\/warehouse\/features\/user_purchases_v1\/metadata\/v\d+\.metadata\.json"/,
  )
  assert.equal(cleanAnswers.health, 200)
  assert.ok(startUpBackfillReads > 0, 'start-up reads backfill states too (the registry snapshot)')
})

void test('serve read faults: start-up reads of the registry × every way a read fails', async (t) => {
  for (const { what, fault, expect, times, named } of readFaultCases(REGISTRY_STEPS)) {
    await t.test(what, async () => {
      const got = normalised(await runReadCommand(baseline, ARGS, fault, undefined, whileServing()))
      assertFaultedRun(got, clean, { expect, times, named, command: 'serve' }, what, (run) => [run.stdout, run.live])
    })
  }
})

void test('serve read faults: the catalog page’s backfill states × every way a read fails', async (t) => {
  for (const { what, fault, expect, times, named } of readFaultCases(['registry: an object'])) {
    // The catalog's own reads: the start-up snapshots' reads of the same keys let through.
    const backfillFault = { ...fault, key: BACKFILL_KEY, skip: startUpBackfillReads }
    await t.test(what, async () => {
      const got = normalised(await runReadCommand(baseline, ARGS, backfillFault, undefined, whileServing()))
      const answers = got.live as Answers
      assert.equal(got.code, 0, `${what}: serve served on and stopped cleanly (stderr: ${got.stderr})`)
      assert.deepEqual(
        { ...answers, backfill: [] },
        { ...cleanAnswers, backfill: [] },
        `${what}: the other answers as in the clean run`,
      )
      if (expect === 'absorbed') {
        assert.equal(got.injected, times, what)
        assert.deepEqual(answers.backfill, cleanAnswers.backfill, `${what}: the page shows the backfill states`)
        assert.equal(got.stderr, clean.stderr, what)
        return
      }
      assert.deepEqual(answers.backfill, ['unknown', 'unknown'], `${what}: unknown, not a state made up`)
      const notes = got.stderr.split('\n').filter((l) => l.startsWith('catalog: '))
      assert.equal(notes.length, 1, `${what}: one line says so: ${got.stderr}`)
      assert.match(
        notes[0]!,
        /^catalog: cannot read backfill \(could not read the registry object registry\/views\/[^ ]+\.backfill\.json /,
        what,
      )
      assert.match(notes[0]!, named, what)
      if (expect === 'exhausted') assert.match(notes[0]!, new RegExp(`gave up after ${COMMAND_READ_ATTEMPTS} attempts`), what)
      assert.equal(got.stderr.replace(`${notes[0]!}\n`, ''), clean.stderr, `${what}: nothing else on stderr`)
    })
  }
})

void test('serve read faults: the Iceberg REST catalog’s reads in a request × every way a read fails', async (t) => {
  for (const { what, fault, expect, times, named } of readFaultCases(CATALOG_STEPS)) {
    await t.test(what, async () => {
      const got = normalised(await runReadCommand(baseline, ARGS, undefined, undefined, whileServing(fault)))
      const answers = got.live as Answers
      assert.equal(got.code, 0, `${what}: serve served on and stopped cleanly (stderr: ${got.stderr})`)
      assert.deepEqual(answers.backfill, cleanAnswers.backfill, what)
      assert.equal(answers.health, 200, `${what}: the server answers on`)
      if (expect === 'absorbed') {
        assert.equal(got.injected, times, what)
        assert.deepEqual(answers, cleanAnswers, `${what}: the catalog answers as in the clean run`)
        return
      }
      // The listing is the first request to read: it fails, as a JSON error and without a stack trace.
      const { status, body } = answers.tables
      assert.doesNotMatch(body, /\n\s+at /, `${what}: no stack trace`)
      const { error } = JSON.parse(body) as { error: { code: string; message: string; errorId?: string } }
      if (expect === 'exhausted') {
        assert.equal(status, 503, `${what}: ${body}`)
        assert.equal(error.code, 'RETRIES_EXHAUSTED', what)
        assert.match(error.message, named, `${what}: names what could not be read`)
        assert.match(error.message, new RegExp(`gave up after ${COMMAND_READ_ATTEMPTS} attempts`), what)
        assert.ok(got.injected >= COMMAND_READ_ATTEMPTS, what)
      } else {
        // Refused (access denied): not a passing outage but a fault of the deployment, a 500 logged
        // under its errorId, whose code and message say so (before: SINK_REJECTED "internal error").
        assert.equal(status, 500, `${what}: ${body}`)
        assert.equal(error.code, 'STORE_READ_REFUSED', what)
        assert.match(
          error.message,
          /^the stored object \S+ could not be read: the store refused the read; asking again will not help$/,
          what,
        )
        assert.ok(error.errorId !== undefined, `${what}: an errorId to find it in the log`)
        assert.equal(got.injected, 1, `${what}: a refusal is not asked again`)
        assert.deepEqual(answers.table, cleanAnswers.table, `${what}: the next request answers`)
      }
    })
  }
})
