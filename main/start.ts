/**
 * `npm start`: kfs end to end in about a minute, with no servers — the embedded event log, object
 * store and online store under .kfs/demo. Every step is an ordinary `kfs` command run in-process,
 * so what it shows is exactly what the CLI does:
 *   apply → produce → run → (a view added later) backfill + hand-off → more events → run →
 *   the batch tier (two nightly users snapshots ingested, an orders changelog published) → run →
 *   training set over all three tiers → verify-parity → serve (prints URLs and a sample response) → summary.
 * `npm start -- --serve` keeps serving at the end instead of exiting.
 */
import { rm, writeFile, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { commands } from './commands/index.ts'
import { createProcessContext } from './commands/context.ts'
import { runCli } from './commands/router.ts'
import { DEMO_MARKER, demoDir } from './demo-dir.ts'
import { dropOutputNobodyReads } from './broken-pipe.ts'
import { generateEvents } from '../examples/generate-events.ts'
import { orderChanges, usersSnapshot, type UserRow } from '../examples/generate-tables.ts'
import { createParquetCodec } from '../adapters/offline/parquet/parquet-codec.ts'

dropOutputNobodyReads()
const keepServing = process.argv.includes('--serve')
const chosen = demoDir(process.env, process.cwd())
if ('problem' in chosen) {
  process.stderr.write(`npm start: ${chosen.problem}\n`)
  process.exit(2)
}
const root = chosen.dir
const port = process.env.KFS_SERVE_PORT ?? '8080'
const env: Record<string, string | undefined> = {
  PATH: process.env.PATH,
  HOME: process.env.HOME,
  KFS_DATA_DIR: root,
  KFS_LOG_LEVEL: process.env.KFS_LOG_LEVEL ?? 'warn',
  KFS_CHECKPOINT_INTERVAL_MS: '2000',
  KFS_SERVE_PORT: port,
}
const started = Date.now()
const steps: { step: string; seconds: number; detail: string }[] = []

async function kfs(step: string, argv: string[], capture = false): Promise<string> {
  const t0 = Date.now()
  process.stderr.write(`\n▶ ${step}\n  $ kfs ${argv.join(' ')}\n`)
  let out = ''
  const code = await runCli(argv, commands, (json) =>
    createProcessContext({
      json,
      env,
      cwd: process.cwd(),
      stdout: { write: (t: string) => ((out += t), capture || process.stdout.write(indent(t))) } as unknown as NodeJS.WritableStream,
      stderr: { write: (t: string) => process.stderr.write(indent(t)) } as unknown as NodeJS.WritableStream,
    }),
  )
  if (code !== 0) throw new Error(`step "${step}" failed (exit ${code})`)
  const seconds = (Date.now() - t0) / 1000
  steps.push({ step, seconds, detail: out.trim().split('\n').at(-1) ?? '' })
  return out
}

function indent(text: string): string {
  return text.replace(/^(?=.)/gm, '  ')
}

await rm(root, { recursive: true, force: true })
await mkdir(root, { recursive: true })
await writeFile(join(root, DEMO_MARKER), 'made by npm start (main/start.ts), which clears this folder on its next run\n')
process.stderr.write(`kfs demo — embedded defaults under ${root} (no Kafka, Redis or S3 needed)\n`)

// Event time ends now, so the online statuses are what a live system would show.
const events = 30_000
const meanGapMs = 250
// The first stream ends 20 minutes ago; the second ("more events arrive") fills the last 20 minutes.
const secondStartMs = Date.now() - 20 * 60_000
const startMs = secondStartMs - 60_000 - events * meanGapMs
await kfs('Publish the feature definitions to the registry', ['apply'])
await kfs('Produce a realistic stream (skewed keys, out-of-order and late events)', ['produce', '--generate', String(events), '--start', new Date(startMs).toISOString(), '--seed', '7'])
await kfs('Run the streaming engine until it has consumed everything', ['run', '--until-caught-up', '--idle', '1s'])

await kfs('A new view arrives: publish user_big_spends', ['apply', '--features', 'examples/with-new-view.ts'])
await kfs('Backfill it from the raw archive (same operators), then hand it over to live', ['replay', '--features', 'examples/with-new-view.ts', '--views', 'user_big_spends'])
await kfs('More events arrive', ['produce', '--features', 'examples/with-new-view.ts', '--generate', '5000', '--start', new Date(secondStartMs).toISOString(), '--seed', '8'])
await kfs('Run again: all views live, the new one continuing from its backfill', ['run', '--features', 'examples/with-new-view.ts', '--until-caught-up', '--idle', '1s'])

// The batch tier (docs/table-and-changelog-sources.md): two nightly exports of the users table,
// and the orders database's changelog, over the same users and the same stretch of time.
const TIERS = 'examples/three-tiers.ts'
const DAY = 86_400_000
const firstNightMs = Math.floor(startMs / DAY) * DAY - 2 * DAY
const tables = join(root, 'tables')
await mkdir(tables, { recursive: true })
const parquet = createParquetCodec()
const writeUsers = async (night: 1 | 2): Promise<string> => {
  const rows = usersSnapshot(night, { firstNightMs })
  const columns = (['user_id', 'status', 'credit_limit', 'country', 'updated_at'] as const).map((name) => ({
    name,
    type: name === 'credit_limit' ? ('double' as const) : name === 'updated_at' ? ('timestamptz' as const) : ('string' as const),
    required: true,
  }))
  const path = join(tables, `users-night-${night}.parquet`)
  await writeFile(path, await parquet.encode(columns, columns.map((c) => rows.map((r: UserRow) => r[c.name]))))
  return path
}
const ordersPath = join(root, 'orders-changelog.ndjson')
await writeFile(ordersPath, orderChanges({ count: 3_000, startMs, meanGapMs: (events * meanGapMs) / 3_000 }).map((c) => JSON.stringify(c)).join('\n') + '\n')
await kfs('The batch tier arrives: publish the users table and orders changelog views', ['apply', '--features', TIERS])
await kfs('Ingest the first nightly users snapshot', ['ingest', '--features', TIERS, '--source', 'users', '--snapshot', await writeUsers(1)])
await kfs('Ingest the next night: only changed and new rows are appended', ['ingest', '--features', TIERS, '--source', 'users', '--snapshot', await writeUsers(2)])
await kfs('Ingest the first night again: nothing to append', ['ingest', '--features', TIERS, '--source', 'users', '--snapshot', join(tables, 'users-night-1.parquet')])
await kfs('A CDC tool publishes the orders changelog (Debezium JSON)', ['produce', '--features', TIERS, '--topic', 'shop.public.orders', '--file', ordersPath])
await kfs('Run: attributes of the users table, open orders per user (re-keyed, retracting)', ['run', '--features', TIERS, '--until-caught-up', '--idle', '1s'])

// Labels: a sample of users at times within the stream (e.g. checkout attempts to score).
const labels = ['user_id,ts,amount,is_fraud']
let i = 0
for (const g of generateEvents({ count: 4_000, seed: 99, startMs, meanGapMs: (events * meanGapMs) / 4_000 })) {
  if (g.topic !== 'purchases') continue
  labels.push(`${g.event.user_id},${new Date(g.event.ts as number).toISOString()},${g.event.amount},${i++ % 17 === 0 ? 1 : 0}`)
}
const labelsPath = join(root, 'labels.csv')
await writeFile(labelsPath, labels.join('\n') + '\n')
const trainingPath = join(root, 'fraud_v4_training_set.parquet')
await kfs('Build a point-in-time training set over all three tiers', ['training-set', '--features', TIERS, '--labels', labelsPath, '--service', 'fraud_model_v4', '--out', trainingPath])
await kfs('Prove live == replay for every view, batch tier included', ['verify-parity', '--features', TIERS])

// Serve, show one real response, then exit (or keep serving with --serve).
process.stderr.write(`\n▶ Serve online features\n  $ kfs serve --port ${port}\n`)
const serving = runCli(['serve', '--features', TIERS], commands, (json) =>
  createProcessContext({ json, env, cwd: process.cwd(), stdout: process.stdout, stderr: { write: (t: string) => process.stderr.write(indent(t)) } as unknown as NodeJS.WritableStream }),
)
const base = `http://127.0.0.1:${port}`
let sample = ''
for (let attempt = 0; attempt < 50 && sample === ''; attempt++) {
  await new Promise((r) => setTimeout(r, 200))
  try {
    const res = await fetch(`${base}/v1/features`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ entities: { user_id: ['u0', 'u1'] }, service: 'fraud_model_v4', request: { amount: 250 } }),
    })
    sample = await res.text()
  } catch {
    // not listening yet
  }
}
process.stderr.write(
  [
    '',
    '  Try:',
    `    curl ${base}/v1/features/user_purchases/u0`,
    `    curl ${base}/v1/features/user_profile/u0`,
    `    curl -XPOST ${base}/v1/features -d '{"entities":{"user_id":["u0","u1"]},"service":"fraud_model_v4","request":{"amount":250}}'`,
    `    open ${base}/            (feature catalog)      ${base}/v1/registry      ${base}/metrics`,
    '',
    `  POST /v1/features (fraud_model_v4, u0 and u1) answered:`,
    `    ${sample.slice(0, 600)}${sample.length > 600 ? '…' : ''}`,
    '',
  ].join('\n'),
)

process.stderr.write('\nSummary\n')
for (const s of steps) process.stderr.write(`  ${s.seconds.toFixed(1).padStart(5)}s  ${s.step}${s.detail ? ` — ${s.detail.slice(0, 110)}` : ''}\n`)
process.stderr.write(`  total ${((Date.now() - started) / 1000).toFixed(1)}s · data under ${root} · training set ${trainingPath}\n`)
if (sample === '') throw new Error('serving did not answer')

if (keepServing) {
  process.stderr.write(`\nServing on ${base} — Ctrl-C to stop.\n`)
  await serving
} else {
  process.kill(process.pid, 'SIGTERM')
  await serving
}
