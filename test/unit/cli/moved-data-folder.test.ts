/**
 * A data folder moved or copied elsewhere (`mv`, `cp -a` for a backup — with the original kept or
 * deleted —, a folder renamed one level down) works on the embedded defaults as if it had never
 * moved: `kfs run` continues, `kfs replay` backfills, `kfs training-set`, `kfs verify-parity` and
 * `kfs serve` read, each with the same answers and the same offline rows as a control folder that
 * never moved and ran the same commands. A copy never touches its original: every byte of it is
 * the same after the copy was worked in. Before, the Iceberg metadata's absolute file URIs named
 * the old folder: every one of these commands failed with "lies outside the object store root"
 * (`kfs run` exited 1 at its first checkpoint, serve's catalog page lost its backfill states), and
 * the orphan clean-up took every file of a relocated table for an orphan.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { runKfsInProcess } from '../../support/in-process-cli.ts'
import { fileHashes, parquetRows, servedAnswers, tableRows } from '../../support/data-folder-outcome.ts'

const root = mkdtempSync(join(tmpdir(), 'kfs-moved-data-folder-'))
after(() => rmSync(root, { recursive: true, force: true }))

const NEW_VIEW = 'examples/with-new-view.ts'
const LABELS = join(root, 'labels.csv')
const USERS = ['u0', 'u1', 'u2', 'u3', 'u5', 'u8', 'u13', 'u21']
// Hours ago, the same for every folder: rows well within every view's TTL, so serve answers values.
const NOW_MS = Date.now() - (Date.now() % 60_000)
const FIRST_EVENTS = new Date(NOW_MS - 3 * 3_600_000).toISOString()
const MORE_EVENTS = new Date(NOW_MS - 3_600_000).toISOString()

async function kfs(dataDir: string, args: readonly string[]): Promise<string> {
  const r = await runKfsInProcess(args, dataDir)
  assert.equal(r.code, 0, `kfs ${args.join(' ')} in ${dataDir}: exit ${r.code}\n${r.stdout}${r.stderr}`)
  return r.stdout
}

/** The folder as the first session leaves it: definitions published, events produced and consumed. */
async function build(dataDir: string): Promise<void> {
  await kfs(dataDir, ['apply'])
  await kfs(dataDir, ['produce', '--generate', '300', '--seed', '3', '--start', FIRST_EVENTS])
  await kfs(dataDir, ['run', '--until-caught-up', '--idle', '200ms'])
}

interface Outcome {
  readonly run: string
  readonly replay: string
  readonly trainingSet: readonly string[]
  readonly parity: string
  readonly served: Readonly<Record<string, string>>
  readonly rows: Map<string, string[]>
}

/**
 * The next session in `dataDir`, each step checked as `step` (its subtest): more events and
 * `kfs run`, a view added and backfilled by `kfs replay`, a training set, the view handed over
 * and `kfs verify-parity`, then `kfs serve`'s answers and the offline tables' rows.
 */
async function nextSession(dataDir: string, step: (name: string, check: () => Promise<void>) => Promise<void>): Promise<Outcome> {
  const out: Record<string, unknown> = {}
  await step('run continues', async () => {
    await kfs(dataDir, ['produce', '--generate', '200', '--seed', '4', '--start', MORE_EVENTS])
    out.run = /\d+ records consumed, \d+ rows emitted/.exec(
      await kfs(dataDir, ['run', '--until-caught-up', '--idle', '200ms']),
    )?.[0]
  })
  await step('replay', async () => {
    await kfs(dataDir, ['apply', '--features', NEW_VIEW])
    out.replay = /backfilled .*dead letters/.exec(
      await kfs(dataDir, ['replay', '--features', NEW_VIEW, '--views', 'user_big_spends']),
    )?.[0]
  })
  await step('training set', async () => {
    const file = join(root, `${createHash('sha256').update(dataDir).digest('hex').slice(0, 12)}.parquet`)
    await kfs(dataDir, ['training-set', '--features', NEW_VIEW, '--service', 'fraud_model', '--labels', LABELS, '--out', file])
    out.trainingSet = await parquetRows(readFileSync(file))
  })
  await step('verify-parity', async () => {
    await kfs(dataDir, ['run', '--features', NEW_VIEW, '--until-caught-up', '--idle', '200ms'])
    out.parity = (await kfs(dataDir, ['verify-parity', '--features', NEW_VIEW])).trim()
  })
  await step('online reads', async () => {
    const served = await servedAnswers(dataDir, NEW_VIEW, [
      { path: '/v1/features', body: { entities: { user_id: USERS }, service: 'fraud_model', request: { amount: 250 } } },
      ...USERS.flatMap((u) => ['user_purchases', 'user_big_spends'].map((view) => ({ path: `/v1/features/${view}/${u}` }))),
    ])
    assert.equal(served.code, 0, served.stderr)
    assert.doesNotMatch(served.stderr, /cannot read|outside/, 'serve read its tables (the catalog page)')
    out.served = served.answers
  })
  out.rows = await tableRows(dataDir)
  return out as unknown as Outcome
}

interface Relocation {
  readonly name: string
  /** Where the folder is built, the first session run. */
  readonly origin: string
  /** Moves or copies it; answers where the next session runs, and the original when it must stay as it was. */
  readonly relocate: () => { readonly dataDir: string; readonly untouched?: string }
}

const at = (...parts: string[]): string => join(root, ...parts)

const RELOCATIONS: readonly Relocation[] = [
  {
    name: 'moved (mv)',
    origin: at('move', 'data'),
    relocate: () => {
      mkdirSync(at('moved-to'))
      renameSync(at('move', 'data'), at('moved-to', 'data'))
      return { dataDir: at('moved-to', 'data') }
    },
  },
  {
    name: 'copied (cp -a), the original still there',
    origin: at('copy', 'data'),
    relocate: () => {
      cpSync(at('copy', 'data'), at('backup', 'data'), { recursive: true, preserveTimestamps: true })
      return { dataDir: at('backup', 'data'), untouched: at('copy', 'data') }
    },
  },
  {
    name: 'copied (cp -a), the original deleted',
    origin: at('gone', 'data'),
    relocate: () => {
      cpSync(at('gone', 'data'), at('restored', 'data'), { recursive: true, preserveTimestamps: true })
      rmSync(at('gone'), { recursive: true })
      return { dataDir: at('restored', 'data') }
    },
  },
  {
    name: 'renamed one level down, into a folder of its old name',
    origin: at('nest', 'data'),
    relocate: () => {
      renameSync(at('nest', 'data'), at('nest', 'data-moving'))
      mkdirSync(at('nest', 'data'))
      renameSync(at('nest', 'data-moving'), at('nest', 'data', 'data'))
      return { dataDir: at('nest', 'data', 'data') }
    },
  },
]

void describe('a data folder moved or copied works as one that never moved', () => {
  let control: Outcome
  before(async () => {
    const labels = ['user_id,ts,amount']
    for (const [i, u] of USERS.entries())
      labels.push(`${u},${new Date(NOW_MS - (170 - 20 * i) * 60_000).toISOString()},${25 * (i + 1)}`)
    writeFileSync(LABELS, `${labels.join('\n')}\n`)
    await build(at('control', 'data'))
    for (const r of RELOCATIONS) await build(r.origin)
    control = await nextSession(at('control', 'data'), (_name, check) => check())
    // What the relocated folders are held to is worth holding them to.
    assert.match(control.parity, /^4 views: 4 match, 0 differ, 0 not checked$/m)
    assert.equal(control.trainingSet.length, USERS.length)
    assert.ok(
      control.trainingSet.some((row) => /"user_purchases__count":[1-9]/.test(row)),
      control.trainingSet.join('\n'),
    )
    assert.match(control.served['POST /v1/features']!, /"PRESENT"/)
    assert.match(control.served['GET /v1/features/user_purchases/u0']!, /^200 .*"PRESENT"/)
    assert.ok(
      [...control.rows.values()].every((rows) => rows.length > 0),
      'every table has rows',
    )
  })

  for (const relocation of RELOCATIONS) {
    void test(relocation.name, async (t) => {
      const { dataDir, untouched } = relocation.relocate()
      const original = untouched === undefined ? undefined : fileHashes(untouched)
      const outcome = await nextSession(dataDir, (name, check) => t.test(name, check).then(() => undefined))
      for (const key of ['run', 'replay', 'trainingSet', 'parity', 'served'] as const) {
        assert.deepEqual(outcome[key], control[key], `${relocation.name}: ${key} as in the folder that never moved`)
      }
      assert.deepEqual(outcome.rows, control.rows, `${relocation.name}: the offline tables' rows`)
      if (untouched !== undefined)
        assert.deepEqual(fileHashes(untouched), original, 'the original: not a byte written, added or deleted')
      else
        assert.ok(
          !existsSync(join(relocation.origin, 'objects')) && !existsSync(join(relocation.origin, 'log')),
          'nothing written at the old path',
        )
    })
  }
})
