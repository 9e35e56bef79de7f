/**
 * `kfs replay --as-of <time>` (docs/semantics.md §14): each archive table is pinned to the snapshot
 * current at that time — the last of its snapshot log committed at or before it, as Iceberg's
 * as-of-timestamp — and the backfill is the one `--snapshot-id <that snapshot>` runs: the same
 * records, rows and completion offsets, the snapshot named in the summary and the --json output.
 * Times exactly at a commit, between two, after the last (the future), each spelling (ISO-8601 with
 * and without a zone, epoch ms); a time before the first snapshot, on an expired one, against an
 * archive with none, a bad spelling, both pins, or --as-of with --online-from-offline exit 2 naming
 * why, with nothing written. Views over two topics each get their own table's snapshot, and the
 * view backfilled from an older snapshot is handed over to live with no gap and no overlap
 * (verify-parity).
 */
import assert from 'node:assert/strict'
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { LocalObjectStore } from '../../../adapters/object-store/index.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { userBigSpends } from '../../../examples/with-new-view.ts'
import type { SnapshotLogEntry } from '../../../ports/snapshot-log.ts'
import { runKfsInProcess, type CliResult } from '../../support/in-process-cli.ts'

const repo = fileURLToPath(new URL('../../../', import.meta.url))
const root = mkdtempSync(join(tmpdir(), 'kfs-replay-as-of-'))
after(() => rmSync(root, { recursive: true, force: true }))

// The new views: user_big_spends over purchases (examples/with-new-view.ts) and one over clicks.
const modulePath = join(root, 'features.ts')
writeFileSync(
  modulePath,
  `import { featureView } from '${repo}features/index.ts'
import { clicks, user } from '${repo}examples/features.ts'
export * from '${repo}examples/with-new-view.ts'
export const userClickCount = featureView({
  name: 'user_click_count', version: 1, entity: user, source: clicks,
  aggregations: [{ op: 'count', windows: ['1d'] }],
  ttl: '30d', freshnessSla: '1m', owner: 'audit@kfs', description: 'added later, over clicks',
})
`,
)
const NEW = ['--features', modulePath]
const VIEW = userBigSpends.name

interface Summary {
  readonly view: string
  readonly archiveSnapshotId: string | null
  readonly asOfMs?: number
  readonly archiveSnapshotCommittedAtMs?: number
  readonly records: number
  readonly rows: number
  readonly completeThrough: Record<string, string>
}

// The tables name their files by absolute URI, so every case runs in the same dir: the base's,
// restored from a copy before each (a view is backfilled once per data dir).
const base = join(root, 'base')
const saved = join(root, 'saved')
let cases = 0
function copyOfBase(): string {
  rmSync(base, { recursive: true, force: true })
  cpSync(saved, base, { recursive: true })
  return base
}

const sinkOf = (dir: string): IcebergOfflineSink =>
  new IcebergOfflineSink(new LocalObjectStore(join(dir, 'objects')), { parquetWorker: false })

async function archiveLog(dir: string, topic: string): Promise<readonly SnapshotLogEntry[]> {
  const sink = sinkOf(dir)
  return (await sink.snapshotLog(sink.tableId({ kind: 'archive', topic }))).entries
}

async function kfs(args: readonly string[], dir: string, env: Record<string, string> = {}): Promise<CliResult> {
  return runKfsInProcess([...args, ...NEW], dir, {}, env)
}

/** `kfs replay --views <views> <pin> --json`: its summaries, which must succeed. */
async function replay(dir: string, views: string, pin: readonly string[]): Promise<Summary[]> {
  const r = await kfs(['replay', '--views', views, ...pin, '--json'], dir)
  assert.equal(r.code, 0, `replay ${pin.join(' ')}: ${r.stderr}`)
  return JSON.parse(r.stdout) as Summary[]
}

/** The view's offline rows, without the wall-clock write time two backfills cannot share. */
async function rowsOf(dir: string): Promise<string> {
  const rows = await sinkOf(dir).readFeatureRows(userBigSpends)
  return JSON.stringify(
    [...rows].sort(([a], [b]) => (a < b ? -1 : 1)).map(([key, list]) => [key, list.map((r) => ({ ...r, createdAtMs: 0 }))]),
  )
}

/** No backfill happened: no backfill checkpoint group, no feature table of the new views. */
function assertNothingWritten(dir: string, what: string): void {
  const groups = existsSync(join(dir, 'objects', 'checkpoints')) ? readdirSync(join(dir, 'objects', 'checkpoints')) : []
  assert.deepEqual(
    groups.filter((g) => decodeURIComponent(g).includes('.backfill.')),
    [],
    `${what}: no backfill checkpoints`,
  )
  for (const view of [VIEW, 'user_click_count'])
    assert.equal(existsSync(join(dir, 'objects', 'warehouse', 'features', `${view}_v1`)), false, `${what}: no table of ${view}`)
}

let purchasesLog: readonly SnapshotLogEntry[]
before(async () => {
  // Two live runs, a second apart at least: the archives get snapshots at distinct times.
  for (const args of [
    ['apply'],
    ['produce', '--generate', '300'],
    ['run', '--until-caught-up', '--idle', '1s'],
    ['produce', '--generate', '300'],
    ['run', '--until-caught-up', '--idle', '1s'],
    ['apply', ...NEW],
  ]) {
    const r = await runKfsInProcess(args, base)
    assert.equal(r.code, 0, `kfs ${args.join(' ')}\n${r.stderr}`)
  }
  cpSync(base, saved, { recursive: true })
  purchasesLog = await archiveLog(base, 'purchases')
  assert.ok(purchasesLog.length >= 2, `${purchasesLog.length} archive snapshots`)
  assert.ok(purchasesLog[1]!.timestampMs - purchasesLog[0]!.timestampMs >= 2, 'the first two commits are apart')
})

/** The snapshot current at `timeMs` by the log, as Iceberg picks it. */
const currentAt = (log: readonly SnapshotLogEntry[], timeMs: number): string =>
  log.filter((e) => e.timestampMs <= timeMs).at(-1)!.snapshotId

void describe('kfs replay --as-of: the snapshot current at the time, replayed as --snapshot-id replays it', () => {
  const times: { what: string; spell: () => string; timeMs: () => number }[] = [
    {
      what: 'exactly at the first commit (epoch ms)',
      timeMs: () => purchasesLog[0]!.timestampMs,
      spell: () => String(purchasesLog[0]!.timestampMs),
    },
    {
      what: 'between the first two commits (ISO-8601, Z)',
      timeMs: () => purchasesLog[1]!.timestampMs - 1,
      spell: () => new Date(purchasesLog[1]!.timestampMs - 1).toISOString(),
    },
    {
      what: 'exactly at the second commit (ISO-8601, +02:00)',
      timeMs: () => purchasesLog[1]!.timestampMs,
      spell: () => isoInPlusTwo(purchasesLog[1]!.timestampMs),
    },
    {
      what: 'after the last commit, in the future (ISO-8601 without a zone: UTC)',
      timeMs: () => Date.now() + 86_400_000,
      spell: () => new Date(Date.now() + 86_400_000).toISOString().replace('Z', ''),
    },
  ]
  for (const t of times) {
    void test(t.what, async () => {
      const expected = currentAt(purchasesLog, t.timeMs())
      const asOf = copyOfBase()
      const r = await kfs(['replay', '--views', VIEW, '--as-of', t.spell()], asOf)
      assert.equal(r.code, 0, r.stderr)
      assert.match(
        r.stdout,
        new RegExp(
          `^${VIEW} v1: backfilled \\d+ records → \\d+ rows, \\d+ dead letters, from archive snapshot ${expected}, current at `,
        ),
      )
      // A re-run reports the completed backfill and the offsets it completed through.
      const json = await kfs(['replay', '--views', VIEW, '--json'], asOf)
      assert.equal(json.code, 0, json.stderr)
      const asOfThrough = (JSON.parse(json.stdout) as Summary[])[0]!.completeThrough
      const asOfRows = await rowsOf(asOf)
      const pinned = copyOfBase()
      const [byId] = await replay(pinned, VIEW, ['--snapshot-id', expected])
      assert.deepEqual(asOfThrough, byId!.completeThrough)
      assert.equal(asOfRows, await rowsOf(pinned), 'the same rows as --snapshot-id')
    })
  }

  void test('--json names the snapshot chosen, the time asked and when that snapshot was committed', async () => {
    const timeMs = purchasesLog[1]!.timestampMs - 1
    const [s] = await replay(copyOfBase(), VIEW, ['--as-of', String(timeMs)])
    assert.equal(s!.archiveSnapshotId, purchasesLog[0]!.snapshotId)
    assert.equal(s!.asOfMs, timeMs)
    assert.equal(s!.archiveSnapshotCommittedAtMs, purchasesLog[0]!.timestampMs)
    const [current] = await replay(copyOfBase(), VIEW, [])
    assert.ok(s!.records < current!.records, `the older snapshot holds fewer records (${s!.records} < ${current!.records})`)
  })

  void test('views over two topics: each archive table gets its own snapshot current at the time', async () => {
    const dir = copyOfBase()
    const clicksLog = await archiveLog(dir, 'clicks')
    const timeMs = Math.max(purchasesLog[0]!.timestampMs, clicksLog[0]!.timestampMs)
    const summaries = await replay(dir, `${VIEW},user_click_count`, ['--as-of', String(timeMs)])
    const byView = new Map(summaries.map((s) => [s.view, s.archiveSnapshotId]))
    assert.equal(byView.get(`${VIEW}@1`), currentAt(purchasesLog, timeMs))
    assert.equal(byView.get('user_click_count@1'), currentAt(clicksLog, timeMs))
  })

  void test('an older snapshot hands over to live with no gap and no overlap (verify-parity)', async () => {
    const dir = copyOfBase()
    await replay(dir, VIEW, ['--as-of', String(purchasesLog[0]!.timestampMs)])
    for (const args of [
      ['run', '--until-caught-up', '--idle', '1s'],
      ['verify-parity', '--views', VIEW],
    ]) {
      const r = await kfs(args, dir)
      assert.equal(r.code, 0, `kfs ${args.join(' ')}\n${r.stdout}${r.stderr}`)
    }
  })
})

void describe('kfs replay --as-of: times it cannot answer, and bad invocations, exit 2 with nothing written', () => {
  const refused: { what: string; args: () => string[]; message: () => RegExp; dir?: () => Promise<string> }[] = [
    {
      what: 'before the first snapshot',
      args: () => ['--views', VIEW, '--as-of', String(purchasesLog[0]!.timestampMs - 1)],
      message: () =>
        new RegExp(
          `--as-of .*: the archive of purchases had no snapshot yet at that time; its first is snapshot ${purchasesLog[0]!.snapshotId}, current from `,
        ),
    },
    {
      what: 'on a snapshot that has expired',
      args: () => ['--views', VIEW, '--as-of', String(purchasesLog[0]!.timestampMs)],
      message: () =>
        /--as-of .*: the archive snapshot of purchases current at that time has expired .* the oldest kept is snapshot \d+, current from /,
      dir: async () => {
        const dir = copyOfBase()
        const r = await kfs(['compact', '--views', 'user_purchases', '--older-than', '1h'], dir, {
          KFS_SNAPSHOT_RETENTION_MS: '1',
          KFS_SNAPSHOT_MIN_KEEP: '1',
        })
        assert.equal(r.code, 0, r.stderr)
        const kept = (await archiveLog(dir, 'purchases')).map((e) => e.snapshotId)
        assert.ok(!kept.includes(purchasesLog[0]!.snapshotId), `the first archive snapshot expired (kept ${kept.join(', ')})`)
        return dir
      },
    },
    {
      what: 'an archive with no snapshot',
      args: () => ['--views', VIEW, '--as-of', '2026-11-01T00:00:00Z'],
      message: () => /--as-of 2026-11-01T00:00:00\.000Z: the archive of purchases has no snapshot to replay/,
      dir: async () => {
        const dir = join(root, `empty-${++cases}`)
        for (const args of [['apply'], ['apply', ...NEW]]) assert.equal((await runKfsInProcess(args, dir)).code, 0)
        return dir
      },
    },
    ...['yesterday', '2026-02-30T00:00:00Z', '2026-11-01T25:00:00Z', '12:00', '1.5', '-5', '99999999999999999'].map((bad) => ({
      what: `the spelling '${bad}'`,
      args: () => ['--views', VIEW, `--as-of=${bad}`],
      message: () =>
        new RegExp(`--as-of: '${bad.replace('.', '\\.')}' is not an ISO-8601 time, epoch milliseconds or a duration ago`),
    })),
    { what: 'an empty value', args: () => ['--views', VIEW, '--as-of='], message: () => /--as-of: empty value/ },
    {
      what: 'both --as-of and --snapshot-id',
      args: () => ['--views', VIEW, '--as-of', '1h', '--snapshot-id', purchasesLog[0]!.snapshotId],
      message: () => /give --snapshot-id or --as-of, not both/,
    },
    {
      what: '--as-of with --online-from-offline',
      args: () => ['--online-from-offline', '--as-of', '1h'],
      message: () => /--as-of is for a backfill, not --online-from-offline/,
    },
  ]
  for (const c of refused) {
    void test(c.what, async () => {
      const dir = c.dir === undefined ? copyOfBase() : await c.dir()
      const r = await kfs(['replay', ...c.args()], dir)
      assert.equal(r.code, 2, `${r.stdout}${r.stderr}`)
      assert.match(r.stderr, c.message())
      assert.equal(r.stdout, '')
      assertNothingWritten(dir, c.what)
    })
  }
})

/** `ms` as ISO-8601 in the +02:00 zone: the same instant, another spelling. */
function isoInPlusTwo(ms: number): string {
  return `${new Date(ms + 7_200_000).toISOString().slice(0, -1)}+02:00`
}
