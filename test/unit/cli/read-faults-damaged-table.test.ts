/**
 * A feature table whose metadata cannot be found while its other objects are there (deleted, or a
 * store that answers "not found" for it) is damaged, not empty: `kfs training-set`,
 * `kfs skew-report` and `kfs tables` exit 1 naming the table. Before, the table read as one with no
 * rows, so the training set was written with a null for every label (exit 0) and the skew report
 * compared the served values with nulls; `kfs tables` left it out of its listing (exit 0); and
 * `kfs compact` created an empty table over it ("0 files rewritten", exit 0), after which every
 * reader found a table with no rows. A table with only its version hint gone is still read (from its
 * listed metadata), and no table at all still reads as empty (test/unit/training).
 */
import assert from 'node:assert/strict'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import {
  buildReadBaseline,
  FEATURES,
  runReadCommand,
  SERVED_TOPIC,
  type ReadBaseline,
} from '../../support/read-command-faults.ts'

const TABLE = 'warehouse/features/user_purchases_v1'
const DAMAGE: readonly { name: string; drops: RegExp; damaged: boolean }[] = [
  { name: 'every metadata file gone, the version hint kept', drops: /\/metadata\/v\d+\.metadata\.json$/, damaged: true },
  {
    name: 'every metadata file and the version hint gone',
    drops: /\/metadata\/(v\d+\.metadata\.json|version-hint\.text)$/,
    damaged: true,
  },
  { name: 'only the version hint gone (the metadata is listed)', drops: /\/metadata\/version-hint\.text$/, damaged: false },
]

/** How a damaged table is named: files without metadata, or (the hint kept) its hinted version gone with nothing newer. */
const DAMAGED_WORDS =
  '(has files but no table metadata that can be found: it is damaged|is damaged: its version hint names metadata v\\d+, which is missing)'

let baseline: ReadBaseline
before(async () => {
  baseline = await buildReadBaseline()
})
after(() => rm(baseline.dir, { recursive: true, force: true }))

const COMMANDS: readonly { command: string; args: () => string[] }[] = [
  {
    command: 'training-set',
    args: () => [
      'training-set',
      ...FEATURES,
      '--labels',
      baseline.labels,
      '--feature-refs',
      'user_purchases:count',
      '--out',
      join(baseline.dir, 'set.parquet'),
    ],
  },
  { command: 'skew-report', args: () => ['skew-report', '--topic', SERVED_TOPIC, '--min-match', '0'] },
  { command: 'tables', args: () => ['tables'] },
  { command: 'compact', args: () => ['compact', ...FEATURES, '--views', 'user_purchases'] },
]

void test('a feature table with its metadata gone: exit 1 naming the table, never read as empty', async (t) => {
  for (const { command, args } of COMMANDS) {
    for (const { name, drops, damaged } of DAMAGE) {
      await t.test(`${command}: ${name}`, async () => {
        const objects = new Map([...baseline.objects].filter(([key]) => !(key.startsWith(`${TABLE}/`) && drops.test(key))))
        assert.ok(objects.size < baseline.objects.size, 'the damage removed objects')
        const got = await runReadCommand({ ...baseline, objects }, args())
        if (!damaged) {
          assert.equal(got.code, 0, got.stderr)
          return
        }
        assert.equal(got.code, 1, `${name}: ${got.stdout}`)
        assert.equal(got.stdout, '', 'nothing printed as a result')
        assert.match(got.stderr, new RegExp(`^kfs ${command}: table ${TABLE} ${DAMAGED_WORDS}[^\\n]*\\n$`))
        // Nothing written over it (compact created an empty table there, orphaning its rows).
        const left = (await got.storage.list(`${TABLE}/`)).sort()
        const kept = [...objects.keys()].filter((key) => key.startsWith(`${TABLE}/`)).sort()
        assert.deepEqual(left, kept, `${name}: the table's objects as they were`)
      })
    }
  }
})

void test("skew-report: the served log's archive with its metadata gone is refused naming it, not 'no served lookups'", async (t) => {
  const archive = `warehouse/archive/${SERVED_TOPIC}`
  for (const { name, drops, damaged } of DAMAGE) {
    await t.test(name, async () => {
      const objects = new Map([...baseline.objects].filter(([key]) => !(key.startsWith(`${archive}/`) && drops.test(key))))
      assert.ok(objects.size < baseline.objects.size, 'the damage removed objects')
      const got = await runReadCommand({ ...baseline, objects }, ['skew-report', '--topic', SERVED_TOPIC, '--min-match', '0'])
      if (!damaged) {
        assert.equal(got.code, 0, got.stderr)
        assert.match(got.stdout, /12 lookups compared/)
        return
      }
      assert.equal(got.code, 1, got.stdout)
      assert.equal(got.stdout, '', 'no report')
      assert.match(
        got.stderr,
        new RegExp(`^kfs skew-report: table ${archive} ${DAMAGED_WORDS}[^\\n]*; restore its metadata from a copy\\n$`),
      )
    })
  }
  await t.test('a topic never archived is still "nothing to compare" (exit 1)', async () => {
    const got = await runReadCommand(baseline, ['skew-report', '--topic', 'never-served', '--min-match', '0'])
    assert.equal(got.code, 1, got.stderr)
    assert.match(got.stdout, /Nothing to compare/)
  })
})
