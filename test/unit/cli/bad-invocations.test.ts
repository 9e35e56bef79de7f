/**
 * Issue #13 items 10–11: every usage error of every command exits 2 with a message naming the
 * problem, no expected error prints a stack trace, and a command that would check or process
 * nothing exits 1 instead of reporting success. Runs the CLI's main function (runCli with the
 * process context, as main/cli.ts does) with captured stdout/stderr, on embedded defaults.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import type { ValueKind } from '../../../main/commands/options.ts'
import { commands } from '../../../main/commands/index.ts'
import { assertClean, runKfsInProcess } from '../../support/in-process-cli.ts'
import { KFS_BIN } from '../../support/node-ts.ts'

const repo = fileURLToPath(new URL('../../../', import.meta.url))
const dirs: string[] = []
function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  dirs.push(dir)
  return dir
}
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

const kfs = runKfsInProcess


async function expectUsage(args: readonly string[], dataDir: string, message: RegExp): Promise<void> {
  const r = await kfs(args, dataDir)
  const what = `kfs ${args.join(' ')}`
  assert.equal(r.code, 2, `${what}: exit ${r.code}, expected 2 (usage)\n${r.stderr}${r.stdout}`)
  assert.match(r.stderr, message, `${what}: message`)
  assert.match(r.stderr, new RegExp(`Usage: kfs ${args[0]}`), `${what}: shows the usage`)
  assertClean(r, what)
}

/** The error's own line (not the usage line below it, which lists every option) names `--name`. */
function namesOption(name: string): RegExp {
  return new RegExp(`^kfs [^:\\n]+: [^\\n]*--${name}(?![\\w-])`)
}

/** A value of each kind that must be refused, with what the message must name. */
const BAD_VALUES: Record<ValueKind, readonly string[]> = {
  text: [''],
  name: ['', 'has space', 'a,b'],
  names: ['', ' ', 'a,,b', 'a,'],
  'ordered-names': ['', ' ', 'a,,b', 'a,'],
  count: ['0', 'abc', '1.5', '1e3'],
  whole: ['abc', '1.5'],
  port: ['70000', 'http'],
  duration: ['banana', '5', '1y'],
  'iso-time': ['tomorrow', '2026-13-45T00:00:00Z'],
  time: ['yesterday'],
  fraction: ['1.5', 'half'],
  percent: ['101', 'all'],
  'snapshot-id': ['notanumber', '-1'],
  'hex-id': ['xyz', '0123456789ABCDEF'],
  'input-file': ['/no/such/file.csv', '/tmp'],
  'module-path': ['/no/such/features.ts', 'README.md', '/etc'], // missing, not a module, a folder without index.ts
  // /dev/null: written beside and renamed over, a device would be replaced (checked before any write).
  'output-file': ['/no/such/folder/out.parquet', '/tmp', '/dev/null'],
}

let seeded: string
let fresh: string
let files: { labels: string; headerOnly: string; empty: string; good: string; out: string; fifo: string }

before(() => {
  // One data dir where the engine has run (views live, archive and checkpoints written), one
  // where the definitions are applied and nothing else. Seeded as users do, through the binary.
  seeded = tempDir('kfs-bad-seeded-')
  fresh = tempDir('kfs-bad-fresh-')
  const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmpdir(), KFS_LOG_LEVEL: 'warn' }
  for (const [dir, argv] of [
    [seeded, ['apply']],
    [seeded, ['produce', '--generate', '2000']],
    [seeded, ['run', '--until-caught-up', '--idle', '1s']],
    [fresh, ['apply']],
  ] as const) {
    const r = spawnSync(process.execPath, [KFS_BIN, ...argv], {
      cwd: repo,
      env: { ...env, KFS_DATA_DIR: dir },
      encoding: 'utf8',
    })
    assert.equal(r.status, 0, `seeding: kfs ${argv.join(' ')}\n${r.stderr}`)
  }
  const inputs = tempDir('kfs-bad-inputs-')
  files = {
    labels: join(inputs, 'labels.csv'),
    headerOnly: join(inputs, 'header-only.csv'),
    empty: join(inputs, 'empty.ndjson'),
    good: join(inputs, 'good.ndjson'),
    out: join(inputs, 'out.parquet'),
    fifo: join(inputs, 'a-pipe.parquet'),
  }
  assert.equal(spawnSync('mkfifo', [files.fifo]).status, 0, 'mkfifo')
  writeFileSync(files.labels, 'user_id,ts,amount\nu1,2026-11-01T01:00:00Z,3.5\n')
  writeFileSync(files.headerOnly, 'user_id,ts,amount\n')
  writeFileSync(files.empty, '\n\n')
  writeFileSync(files.good, `${JSON.stringify(purchase(0))}\n`)
  mkdirSync(join(inputs, 'a-folder'))
})

function purchase(i: number): Record<string, unknown> {
  return { user_id: `u${i % 7}`, item_id: `i${i % 5}`, amount: 1 + (i % 10), currency: 'EUR', ts: 1_793_491_200_000 + i * 1_000 }
}

void describe('cli > every option of every command refuses a bad value with exit 2', () => {
  for (const command of commands) {
    for (const [name, spec] of Object.entries(command.options ?? {})) {
      if (spec.type === 'boolean') {
        void test(`kfs ${command.name} --${name}: a flag takes no value, and once`, async () => {
          await expectUsage([command.name, `--${name}=yes`], fresh, new RegExp(`--${name}`))
          await expectUsage([command.name, `--${name}`, `--${name}`], fresh, new RegExp(`--${name} is given more than once`))
        })
        continue
      }
      void test(`kfs ${command.name} --${name} (${spec.kind})`, async () => {
        for (const bad of BAD_VALUES[spec.kind])
          await expectUsage([command.name, `--${name}=${bad}`], fresh, new RegExp(`--${name}: `))
        await expectUsage([command.name, `--${name}`], fresh, new RegExp(`--${name}`)) // value missing
        await expectUsage([command.name, `--${name}=x`, `--${name}=y`], fresh, new RegExp(`--${name} is given more than once`))
        // A separate value that starts with a dash (a negative number, another option): the message names this option.
        for (const dashed of ['-1', '-x', '--json', '--'])
          await expectUsage([command.name, `--${name}`, dashed], fresh, namesOption(name))
        if (spec.short !== undefined) {
          await expectUsage([command.name, `-${spec.short}`], fresh, namesOption(name))
          await expectUsage([command.name, `-${spec.short}`, '-1'], fresh, namesOption(name))
          await expectUsage([command.name, `-${spec.short}`, 'x', `--${name}`, 'y'], fresh, new RegExp(`--${name} is given more than once`))
        }
      })
    }
    void test(`kfs ${command.name}: unknown option and stray argument`, async () => {
      await expectUsage([command.name, '--bogus'], fresh, /unknown option '--bogus'/)
      if ((command.maxPositionals ?? 0) === 0) await expectUsage([command.name, 'stray'], fresh, /unexpected argument 'stray'/)
      // After `--` every word is an argument, an option's name too: never read as the option.
      for (const name of Object.keys(command.options ?? {}))
        await expectUsage([command.name, '--', `--${name}`], fresh, new RegExp(`'--${name}'`))
    })
  }
})

/** Invocations whose values are well-formed, but whose meaning is wrong: usage errors all the same. */
const USAGE: readonly { args: (f: typeof files) => string[]; dir: () => string; message: RegExp }[] = [
  // The audit's examples.
  {
    args: (f) => ['training-set', '--labels', '/no/labels.csv', '--service', 'fraud_model', '--out', f.out],
    dir: () => seeded,
    message: /--labels: \/no\/labels\.csv does not exist/,
  },
  {
    args: (f) => ['training-set', '--labels', f.labels, '--service', 'fraud_model', '--out', '/no/such/dir/x.parquet'],
    dir: () => seeded,
    message: /--out: the folder \/no\/such\/dir does not exist/,
  },
  {
    args: () => ['replay', '--views', 'user_purchases', '--snapshot-id', 'notanumber'],
    dir: () => seeded,
    message: /--snapshot-id: 'notanumber'/,
  },
  {
    args: () => ['run', '--until-caught-up', '--idle', 'banana'],
    dir: () => fresh,
    message: /--idle: 'banana' is not a duration/,
  },
  { args: () => ['verify-parity', '--views='], dir: () => seeded, message: /--views: empty value/ },
  { args: () => ['replay', '--online-from-offline', '--views', ''], dir: () => seeded, message: /--views: empty value/ },
  {
    args: () => ['verify-parity', '--group', 'no-such-group'],
    dir: () => seeded,
    message: /--group: no checkpoints under group no-such-group; groups with checkpoints: kfs-engine/,
  },
  // Names that name nothing.
  {
    args: () => ['verify-parity', '--views', 'user_purchases,nope'],
    dir: () => seeded,
    message: /--views: nope is not defined in the features module/,
  },
  { args: () => ['run', '--views', 'nope', '--until-caught-up'], dir: () => seeded, message: /--views: nope is not defined/ },
  { args: () => ['compact', '--views', 'nope'], dir: () => seeded, message: /--views: nope is not defined/ },
  { args: () => ['replay', '--views', 'nope'], dir: () => seeded, message: /--views: nope is not defined/ },
  {
    args: () => ['replay', '--views', 'user_purchases', '--snapshot-id', '123'],
    dir: () => fresh,
    message: /--snapshot-id: the archive of purchases has no snapshot 123/,
  },
  { args: () => ['skew-report', '--views', 'nope'], dir: () => seeded, message: /--views: nope not in the registry/ },
  {
    args: (f) => ['training-set', '--labels', f.labels, '--service', 'no_such_service', '--out', f.out],
    dir: () => seeded,
    message: /--service: no service named no_such_service/,
  },
  {
    args: (f) => ['training-set', '--labels', f.labels, '--features', 'user_clicks:no_such_feature', '--out', f.out],
    dir: () => seeded,
    message: /--features: feature user_clicks:no_such_feature/,
  },
  {
    args: (f) => ['training-set', '--labels', f.labels, '--features', 'no_view:x', '--out', f.out],
    dir: () => seeded,
    message: /--features: feature no_view:x: view no_view is not in the registry/,
  },
  {
    args: (f) => ['training-set', '--rebuild', '0123456789abcdef', '--out', f.out],
    dir: () => seeded,
    message: /--rebuild: no training set 0123456789abcdef/,
  },
  {
    args: (f) => ['training-set', '--labels', f.labels, '--service', 'fraud_model', '--time-column', 'when', '--out', f.out],
    dir: () => seeded,
    message: /--time-column: .*labels\.csv has no column when \(columns: user_id, ts, amount\)/,
  },
  { args: (f) => ['produce', '--topic', 'nope', '--file', f.good], dir: () => fresh, message: /no source reads topic nope/ },
  { args: () => ['registry', 'show', 'nope'], dir: () => fresh, message: /no view named nope in the registry/ },
  {
    args: () => ['registry', 'show', 'user_clicks', '--version', '9'],
    dir: () => fresh,
    message: /--version: view user_clicks has no version 9/,
  },
  { args: () => ['registry', 'show', 'user_clicks@9'], dir: () => fresh, message: /view user_clicks has no version 9/ },
  {
    args: (f) => ['training-set', '--labels', f.labels, '--feature-refs', 'user_clicks:no_such_feature', '--out', f.out],
    dir: () => seeded,
    message: /--feature-refs: feature user_clicks:no_such_feature/,
  },
  {
    args: (f) => ['training-set', '--labels', f.labels, '--feature-refs', 'user_clicks:count_1h', '--features', 'a:b', '--out', f.out],
    dir: () => seeded,
    message: /--features: .*a:b does not exist \(feature references go in --feature-refs/,
  },
  { args: () => ['dead-letters'], dir: () => fresh, message: /missing subcommand; use list, show or redrive/ },
  { args: () => ['dead-letters', 'lst'], dir: () => fresh, message: /unknown subcommand 'lst'.*Did you mean 'list'\?/ },
  { args: () => ['dead-letters', 'show'], dir: () => fresh, message: /needs a letter/ },
  { args: () => ['dead-letters', 'show', '99'], dir: () => seeded, message: /no dead letter kfs\.dead-letters\/0\/99/ },
  { args: () => ['dead-letters', 'show', 'x/y'], dir: () => seeded, message: /'x\/y' is not a letter/ },
  { args: () => ['dead-letters', 'redrive'], dir: () => fresh, message: /redrive needs a selection/ },
  { args: () => ['dead-letters', 'list', '--reason', 'lat'], dir: () => fresh, message: /--reason: 'lat' is no reason .*Did you mean 'late'\?/ },
  { args: () => ['dead-letters', 'list', '--status', 'helt'], dir: () => fresh, message: /--status: 'helt' is not one of .*Did you mean 'held'\?/ },
  { args: () => ['dead-letters', 'list', '--dry-run'], dir: () => fresh, message: /--dry-run applies only to dead-letters redrive/ },
  { args: () => ['dead-letters', 'redrive', '--all', '--limit', '3'], dir: () => fresh, message: /--limit applies only to dead-letters list/ },
  { args: () => ['dead-letters', 'list', '--views', 'user_clik'], dir: () => seeded, message: /--views: user_clik names no view.*Did you mean 'user_clicks'\?/ },
  { args: () => ['dead-letters', 'redrive', '--topic', 'purchase'], dir: () => seeded, message: /--topic: .*topic purchase .*Did you mean 'purchases'\?/ },
  { args: () => ['registry', 'lineage', 'nope'], dir: () => fresh, message: /nothing named nope/ },
  { args: () => ['registry', 'frobnicate'], dir: () => fresh, message: /unknown subcommand 'frobnicate'/ },
  { args: () => ['registry'], dir: () => fresh, message: /missing subcommand; use list, show, diff or lineage/ },
  // Combinations.
  { args: () => ['run', '--idle', '1s'], dir: () => fresh, message: /--idle goes with --until-caught-up/ },
  { args: () => ['replay'], dir: () => fresh, message: /name the views to backfill with --views/ },
  {
    args: () => ['replay', '--online-from-offline', '--snapshot-id', '1'],
    dir: () => fresh,
    message: /--snapshot-id is for a backfill/,
  },
  { args: () => ['produce'], dir: () => fresh, message: /give exactly one of --file or --generate/ },
  { args: (f) => ['produce', '--file', f.good], dir: () => fresh, message: /--file needs --topic/ },
  { args: () => ['produce', '--generate', '5', '--topic', 'purchases'], dir: () => fresh, message: /--topic goes with --file/ },
  {
    args: (f) => ['produce', '--topic', 'purchases', '--file', f.good, '--seed', '3'],
    dir: () => fresh,
    message: /--seed and --start go with --generate/,
  },
  { args: (f) => ['training-set', '--labels', f.labels, '--out', f.out], dir: () => fresh, message: /exactly one of --service/ },
  {
    args: (f) => ['training-set', '--labels', f.labels, '--service', 'fraud_model'],
    dir: () => fresh,
    message: /--out <file\.parquet> is required/,
  },
  {
    args: (f) => ['training-set', '--labels', f.good, '--service', 'fraud_model', '--out', f.out],
    dir: () => fresh,
    message: /neither \.csv nor \.parquet/,
  },
  {
    args: (f) => ['training-set', '--rebuild', '0123456789abcdef', '--time-column', 'ts', '--out', f.out],
    dir: () => fresh,
    message: /--rebuild takes only --out/,
  },
  { args: () => ['skew-report', '--from', '1h', '--until', '2h'], dir: () => fresh, message: /--from must be before --until/ },
  // An output that exists and is no regular file: renamed over, the pipe itself would be replaced.
  {
    args: (f) => ['training-set', '--labels', f.labels, '--service', 'fraud_model', '--out', f.fifo],
    dir: () => seeded,
    message: /--out: .*a-pipe\.parquet is not a regular file/,
  },
  { args: () => ['serve', '--log-sample', '0.5'], dir: () => fresh, message: /--log-sample needs --log-topic/ },
]

void describe('cli > usage errors that need the stores exit 2 before doing anything', () => {
  for (const row of USAGE) {
    void test(
      row.args({ labels: '<labels>', headerOnly: '<h>', empty: '<e>', good: '<good>', out: '<out>', fifo: '<fifo>' }).join(' '),
      async () => {
        await expectUsage(row.args(files), row.dir(), row.message)
      },
    )
  }
})

/** Commands that would check or process nothing: a failure (exit 1), never a success. */
const NOTHING: readonly { args: (f: typeof files) => string[]; dir: () => string; message: RegExp }[] = [
  {
    args: () => ['verify-parity'],
    dir: () => fresh,
    message: /nothing to verify: the live engine \(group kfs-engine\) has no checkpoint yet/,
  },
  {
    args: () => ['replay', '--views', 'user_purchases'],
    dir: () => fresh,
    message: /nothing to backfill for user_purchases: the archive of purchases holds no records/,
  },
  {
    args: () => ['replay', '--online-from-offline'],
    dir: () => fresh,
    message: /nothing reloaded: item_clicks v1 \(backfill pending\), .* are not computed yet/,
  },
  {
    args: (f) => ['produce', '--topic', 'purchases', '--file', f.empty],
    dir: () => fresh,
    message: /holds no events: nothing to send/,
  },
  {
    args: (f) => ['training-set', '--labels', f.headerOnly, '--service', 'fraud_model', '--out', f.out],
    dir: () => seeded,
    message: /has no label rows: nothing to build/,
  },
  { args: () => ['skew-report'], dir: () => fresh, message: /./ },
  { args: () => ['dead-letters', 'list', '--reason', 'oversize'], dir: () => seeded, message: /none matches/ },
  { args: () => ['dead-letters', 'redrive', '--reason', 'oversize'], dir: () => seeded, message: /no dead letter matches/ },
  // A time filter that selects none of the demo's letters (all written just now).
  { args: () => ['dead-letters', 'redrive', '--reason', 'late', '--until', '2000-01-01T00:00:00Z'], dir: () => seeded, message: /no dead letter matches/ },
]

void describe('cli > checking or processing nothing is a failure (exit 1)', () => {
  for (const row of NOTHING) {
    void test(
      row.args({ labels: '<labels>', headerOnly: '<header-only>', empty: '<empty>', good: '<good>', out: '<out>', fifo: '<fifo>' }).join(' '),
      async () => {
        const args = row.args(files)
        const r = await kfs(args, row.dir())
        assert.equal(r.code, 1, `kfs ${args.join(' ')}: exit ${r.code}\n${r.stderr}${r.stdout}`)
        assert.match(r.stderr + r.stdout, row.message)
        assertClean(r, `kfs ${args.join(' ')}`)
      },
    )
  }
})

void describe('cli > kfs produce --file checks the whole file before sending anything', () => {
  void test('bad lines late in a file: exit 2, every bad line counted, nothing sent; the fixed file is then sent once', async () => {
    const dir = tempDir('kfs-bad-produce-')
    assert.equal((await kfs(['apply'], dir)).code, 0)
    const lines = Array.from({ length: 2_500 }, (_, i) => JSON.stringify(purchase(i)))
    const good = [...lines]
    lines[1_499] = JSON.stringify({ user_id: 'u1' }) // line 1,500: does not fit the schema
    lines[1_799] = 'not json' // line 1,800
    lines[1_999] = '[1]' // line 2,000
    for (let i = 2_100; i < 2_107; i++) lines[i] = JSON.stringify({ ...purchase(i), user_id: null }) // lines 2,101–2,107
    const file = join(dir, 'events.ndjson')
    writeFileSync(file, `${lines.join('\n')}\n`)

    const failed = await kfs(['produce', '--topic', 'purchases', '--file', file], dir)
    assert.equal(failed.code, 2, failed.stderr)
    assertClean(failed, 'produce of a bad file')
    assert.match(failed.stderr, /10 bad events \(of 2500\); nothing was sent/)
    assert.match(failed.stderr, /line 1500: event does not match subject purchases-value/)
    assert.match(failed.stderr, /line 1800: not valid JSON/)
    assert.match(failed.stderr, /line 2000: an event must be a JSON object/)
    assert.match(failed.stderr, /line 2101: missing join key user_id/)
    assert.match(failed.stderr, /… and 5 more/)
    assert.doesNotMatch(failed.stderr, /line 2103/, 'only the first few bad lines are listed')

    writeFileSync(file, `${good.join('\n')}\n`)
    const sent = await kfs(['produce', '--topic', 'purchases', '--file', file, '--json'], dir)
    assert.equal(sent.code, 0, sent.stderr)
    assert.deepEqual(JSON.parse(sent.stdout), { produced: { purchases: 2_500 } })
    // The log holds exactly the fixed file: the failed attempt sent nothing to duplicate.
    const run = await kfs(['run', '--views', 'user_purchases', '--until-caught-up', '--idle', '1s', '--json'], dir)
    assert.equal(run.code, 0, run.stderr)
    assert.equal((JSON.parse(run.stdout) as { consumed: number }).consumed, 2_500)
  })
})
