/**
 * `kfs training-set --out X` with every read it makes of the object store — the registry, the
 * feature table's metadata, manifests and data files (copied through the store, as from S3) —
 * faulted every way a read fails (test/support/read-command-faults.ts). A passing fault: X holds
 * the clean run's bytes and the command prints the clean run's result. One that outlasts the read
 * bound, or a refusal: exit 1 with one line naming what could not be read, X as an earlier run left
 * it (never half-written, never removed), and no partial file beside it. The same for --rebuild
 * <id>, which reads back its record, its labels and the snapshots it pinned.
 */
import assert from 'node:assert/strict'
import { readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import {
  assertFaultedRun,
  buildReadBaseline,
  type CommandRun,
  copyOfBaselineDir,
  FEATURES,
  filesLike,
  type KindFault,
  type ReadBaseline,
  readFaultCases,
  REGISTRY_STEPS,
  runReadCommand,
  stepsOf,
  tableReadSteps,
} from '../../support/read-command-faults.ts'

const OUT = 'set.parquet'
const EARLIER = new TextEncoder().encode('the training set an earlier run wrote here')
const STEPS = [...REGISTRY_STEPS, ...tableReadSteps('feature table')]

let baseline: ReadBaseline
let clean: { run: CommandRun; bytes: Uint8Array }
/** The baseline with the clean build recorded in the registry (what --rebuild reads). */
let built: ReadBaseline
let id: string
let rebuilt: { run: CommandRun; bytes: Uint8Array }
before(async () => {
  baseline = await buildReadBaseline()
  clean = await buildSet()
  const objects = new Map<string, Uint8Array>()
  for (const key of await clean.run.storage.list('')) objects.set(key, (await clean.run.storage.get(key))!)
  built = { ...baseline, objects }
  id = (JSON.parse(clean.run.stdout) as { id: string }).id
  rebuilt = await buildSet(undefined, id)
})
after(() => rm(baseline.dir, { recursive: true, force: true }))

/**
 * One run over a copy of the data dir, X there already (an earlier run's); what X holds after.
 * `rebuild`: the id to rebuild, over the store the clean build left.
 */
async function buildSet(
  fault?: KindFault,
  rebuild?: string,
): Promise<{ run: CommandRun; bytes: Uint8Array; partials: string[] }> {
  const dir = await copyOfBaselineDir(baseline)
  try {
    const out = join(dir, OUT)
    await writeFile(out, EARLIER)
    if (rebuild !== undefined) {
      const run = await runReadCommand(built, ['training-set', '--rebuild', rebuild, '--out', out, '--json'], fault, dir)
      return { run, bytes: new Uint8Array(await readFile(out)), partials: await filesLike(dir, `.${OUT}`) }
    }
    const args = [
      'training-set',
      ...FEATURES,
      '--labels',
      baseline.labels,
      '--feature-refs',
      'user_purchases:count,user_purchases:amount_sum_1d',
      '--out',
      out,
      '--json',
    ]
    const run = await runReadCommand(baseline, args, fault, dir)
    return { run, bytes: new Uint8Array(await readFile(out)), partials: await filesLike(dir, `.${OUT}`) }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** The result printed, without what differs from run to run (the time taken, the output's path). */
function result(run: CommandRun): unknown {
  const doc = JSON.parse(run.stdout) as { seconds?: number; output?: string; record?: { createdAtMs?: number } }
  delete doc.seconds
  delete doc.output
  delete doc.record?.createdAtMs
  return doc
}

void test('training-set read faults: the clean run writes the set, and makes every read step', () => {
  assert.equal(clean.run.code, 0, clean.run.stderr)
  assert.ok((result(clean.run) as { rows: number }).rows > 0, clean.run.stdout)
  assert.notDeepEqual(clean.bytes, EARLIER)
  assert.equal(new TextDecoder().decode(clean.bytes.subarray(0, 4)), 'PAR1')
  assert.deepEqual(stepsOf(clean.run.calls), { made: STEPS, uncovered: [] })
})

void test('training-set read faults: every read step × every way a read fails', async (t) => {
  for (const { what, fault, expect, times, named } of readFaultCases(STEPS)) {
    await t.test(what, async () => {
      const got = await buildSet(fault)
      assertFaultedRun(got.run, clean.run, { expect, times, named, command: 'training-set' }, what, result)
      assert.deepEqual(got.bytes, expect === 'absorbed' ? clean.bytes : EARLIER, `${what}: what --out holds`)
      assert.deepEqual(got.partials, [], `${what}: no partial file left beside --out`)
    })
  }
})

void test('training-set --rebuild read faults: the clean rebuild writes the same bytes; every read step × every way a read fails', async (t) => {
  assert.equal(rebuilt.run.code, 0, rebuilt.run.stderr)
  assert.deepEqual(rebuilt.bytes, clean.bytes, 'the rebuild writes the bytes the build wrote')
  assert.deepEqual(stepsOf(rebuilt.run.calls), { made: STEPS, uncovered: [] })
  for (const { what, fault, expect, times, named } of readFaultCases(STEPS)) {
    await t.test(what, async () => {
      const got = await buildSet(fault, id)
      assertFaultedRun(got.run, rebuilt.run, { expect, times, named, command: 'training-set' }, what, result)
      assert.deepEqual(got.bytes, expect === 'absorbed' ? clean.bytes : EARLIER, `${what}: what --out holds`)
      assert.deepEqual(got.partials, [], `${what}: no partial file left beside --out`)
    })
  }
})
