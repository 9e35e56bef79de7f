/**
 * `kfs groups` and `kfs groups retire <group>` (docs/semantics.md §14). Before, a group that stopped
 * for good kept its topics: its checkpoints refused every other group, and no command removed them
 * (by hand, the next group then archived every record again). Now retire removes the group's
 * checkpoints and claims; a topic it has checkpoints of stays retired (its archive holds what it
 * read), a topic it only claimed is freed for the next group. Usage errors exit 2 and change
 * nothing; a group that wrote within --quiet is taken for running and not retired (exit 1).
 */
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { after, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { LocalObjectStore } from '../../../adapters/object-store/local/local-object-store.ts'
import { requireSoleLiveGroup } from '../../../main/commands/live-groups.ts'
import { runKfsInProcess } from '../../support/in-process-cli.ts'

const root = mkdtempSync(join(tmpdir(), 'kfs-groups-command-'))
after(() => rmSync(root, { recursive: true, force: true }))
let cases = 0

// The example views plus a second view over purchases, which a run adding it backfills first.
const repo = fileURLToPath(new URL('../../../', import.meta.url))
const modulePath = join(root, 'features.ts')
writeFileSync(
  modulePath,
  `import { featureView } from '${repo}features/index.ts'
import { purchases, user } from '${repo}examples/features.ts'
export * from '${repo}examples/features.ts'
export const userOrders = featureView({
  name: 'user_orders', version: 1, entity: user, source: purchases,
  aggregations: [{ op: 'count', windows: ['1d'] }],
  ttl: '30d', freshnessSla: '1m', owner: 'audit@kfs', description: 'a second view over purchases',
})
`,
)
const RUN = ['run', '--until-caught-up', '--idle', '1s', '--features', modulePath]

const TOPICS = ['clicks', 'kfs.clicks.by-item', 'purchases']
/** The CLI an hour on: a group that ran a moment ago has been quiet that long. */
const anHourOn = {
  clock: { nowMs: () => Date.now() + 3_600_000, sleep: (ms: number) => new Promise<void>((r) => setTimeout(r, ms)) },
}

function filesOf(dir: string): Map<string, number> {
  const files = new Map<string, number>()
  const walk = (at: string): void => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const path = join(at, entry.name)
      if (entry.isDirectory()) walk(path)
      else files.set(relative(dir, path), statSync(path).size)
    }
  }
  if (existsSync(dir)) walk(dir)
  return files
}

const checkpointGroups = (dir: string): string[] => {
  const at = join(dir, 'objects', 'checkpoints')
  return existsSync(at) ? readdirSync(at).map(decodeURIComponent).sort() : []
}

async function kfs(dir: string, args: readonly string[], code: number, overrides = {}): Promise<string> {
  const r = await runKfsInProcess(args, dir, overrides)
  assert.equal(r.code, code, `kfs ${args.join(' ')}\n${r.stdout}\n${r.stderr}`)
  return `${r.stdout}${r.stderr}`
}

/**
 * A data dir with the views applied and records produced; `ran`: the groups that ran over them,
 * each first without user_orders, then with it (backfilled under `<group>.backfill.user_orders@1`).
 */
async function store(ran: readonly string[]): Promise<string> {
  const dir = join(root, `case-${cases++}`)
  await kfs(dir, ['apply', '--features', modulePath], 0)
  await kfs(dir, ['produce', '--generate', '200'], 0)
  for (const group of ran) {
    await kfs(dir, [...RUN, '--group', group, '--views', 'user_clicks,item_clicks,user_purchases'], 0)
    await kfs(dir, [...RUN, '--group', group], 0)
  }
  return dir
}

void describe('kfs groups', () => {
  void test('usage errors exit 2 and change nothing', async () => {
    const empty = join(root, `case-${cases++}`)
    assert.match(
      await kfs(empty, ['groups', 'retire', 'a', '--yes'], 2),
      /no live group a on this store: no topic claim and no checkpoint names it; the store has none/,
    )
    const dir = await store(['a'])
    const before = filesOf(dir)
    const errors: [string[], RegExp][] = [
      [['groups', 'frob'], /unknown subcommand 'frob'; use list or retire\.\n/],
      [['groups', 'retyre', 'a'], /unknown subcommand 'retyre'.*retire/],
      [['groups', 'list', 'a'], /groups list takes no argument \('a'\)/],
      [['groups', '--yes'], /--yes applies only to groups retire/],
      [['groups', 'list', '--quiet', '1m'], /--quiet applies only to groups retire/],
      [['groups', 'retire'], /groups retire needs a group/],
      [['groups', 'retire', 'a', 'b', '--yes'], /unexpected argument 'b'/],
      [['groups', 'retire', 'zz', '--yes'], /no live group zz on this store: .*; groups: a\./],
      [['groups', 'retire', 'A', '--yes'], /no live group A on this store.*Did you mean 'a'\?/],
      [['groups', 'retire', 'a.backfill.user_clicks@1', '--yes'], /no live group a\.backfill\.user_clicks@1 on this store/],
      [['groups', 'retire', 'a', '--yes', '--quiet', 'soon'], /--quiet: 'soon' is not/],
      [
        ['groups', 'retire', 'a'],
        /groups retire a would delete its \d+ checkpoint object\(s\) \(its backfills' too\); keep clicks, kfs\.clicks\.by-item, purchases retired: no group can start over them on this store; add --yes to do it/,
      ],
    ]
    for (const [args, message] of errors) {
      assert.match(await kfs(dir, args, 2, anHourOn), message, args.join(' '))
      assert.deepEqual(filesOf(dir), before, `kfs ${args.join(' ')} changed nothing`)
    }
  })

  void test('a group that wrote within --quiet may be running: not retired (exit 1), nothing changed', async () => {
    const dir = await store(['a'])
    const before = filesOf(dir)
    assert.match(
      await kfs(dir, ['groups', 'retire', 'a', '--yes'], 1),
      /cannot retire group a: it wrote a checkpoint or claim \S+ ago \(.+\), within --quiet 15m, so it may still be running; stop every member of it first/,
    )
    assert.match(await kfs(dir, ['groups', 'retire', 'a', '--yes', '--quiet', '2h'], 1, anHourOn), /within --quiet 2h/)
    assert.deepEqual(filesOf(dir), before)
  })

  void test('retiring a group that ran: its checkpoints and its backfills’ go, its topics stay retired, no group starts over them', async () => {
    const dir = await store(['a'])
    assert.ok(
      checkpointGroups(dir).some((g) => g.startsWith('a.backfill.')),
      'the backfill checkpointed',
    )
    assert.match(await kfs(dir, ['groups'], 0), /^TOPIC +GROUP +STATE +SINCE +LAST CHECKPOINT\nclicks +a +claimed +\S+ +20\d\d-/)
    assert.match(
      await kfs(dir, [...RUN, '--group', 'b'], 1),
      /kfs groups lists each topic's group \(kfs groups retire removes one that stopped for good, and frees only the topics it never checkpointed: their archives hold what it read\)/,
    )
    const out = await kfs(dir, ['groups', 'retire', 'a', '--yes'], 0, anHourOn)
    assert.match(
      out,
      /retired group a: deleted its \d+ checkpoint object\(s\) \(its backfills' too\); kept clicks, kfs\.clicks\.by-item, purchases retired/,
    )
    assert.deepEqual(
      [...filesOf(join(dir, 'objects', 'checkpoints')).keys()],
      [],
      'no checkpoint object left (the local store may keep empty folders)',
    )
    const listed = JSON.parse(await kfs(dir, ['groups', '--json'], 0)) as {
      topics: { topic: string; group: string; state: string }[]
    }
    assert.deepEqual(
      listed.topics.map((t) => [t.topic, t.group, t.state]),
      TOPICS.map((t) => [t, 'a', 'retired']),
    )
    const before = filesOf(dir)
    for (const group of ['b', 'a']) {
      assert.match(
        await kfs(dir, [...RUN, '--group', group], 1),
        new RegExp(
          `cannot run as group ${group}: the archives of clicks, kfs\\.clicks\\.by-item, purchases hold what group a read before it was retired \\(.+\\), and a group starting over would archive every record again on this store; give this deployment its own store`,
        ),
      )
    }
    assert.deepEqual(filesOf(dir), before, 'the refused runs wrote nothing')
    assert.match(await kfs(dir, ['groups', 'retire', 'a', '--yes'], 0), /group a is retired already/)
  })

  void test('retiring a group that only claimed (its start failed before a checkpoint) frees its topics: another group then starts', async () => {
    const dir = await store([])
    // A start that claimed, then failed before its first checkpoint (a minute after the epoch: long quiet).
    await requireSoleLiveGroup(new LocalObjectStore(join(dir, 'objects')), 'a', TOPICS, 60_000)
    assert.match(
      await kfs(dir, [...RUN, '--group', 'b'], 1),
      /cannot run as group b: clicks is consumed by live group a; kfs\.clicks\.by-item is consumed by live group a; purchases is consumed by live group a/,
    )
    assert.match(await kfs(dir, ['groups'], 0), /\nclicks +a +claimed +1970-01-01T00:01:00\.000Z +—\n/)
    assert.match(
      await kfs(dir, ['groups', 'retire', 'a', '--yes'], 0),
      /retired group a: deleted its 0 checkpoint object\(s\) \(its backfills' too\); freed clicks, kfs\.clicks\.by-item, purchases \(claimed, never checkpointed\) for any group/,
    )
    await kfs(dir, [...RUN, '--group', 'b'], 0)
    const listed = JSON.parse(await kfs(dir, ['groups', '--json'], 0)) as {
      topics: { topic: string; group: string; state: string }[]
    }
    assert.deepEqual(
      listed.topics.map((t) => [t.topic, t.group, t.state]),
      TOPICS.map((t) => [t, 'b', 'claimed']),
    )
  })

  void test('a store from before claims: its group still runs and claims its topics; retiring it keeps them retired', async () => {
    const dir = await store(['a'])
    rmSync(join(dir, 'objects', 'claims'), { recursive: true })
    assert.match(await kfs(dir, ['groups'], 0), /\nclicks +a +unclaimed +— +20\d\d-/)
    assert.match(await kfs(dir, [...RUN, '--group', 'b'], 1), /cannot run as group b: clicks is consumed by live group a/)
    await kfs(dir, [...RUN, '--group', 'a'], 0)
    assert.match(await kfs(dir, ['groups'], 0), /\nclicks +a +claimed +20\d\d-/)
    rmSync(join(dir, 'objects', 'claims'), { recursive: true })
    await kfs(dir, ['groups', 'retire', 'a', '--yes'], 0, anHourOn)
    assert.match(
      await kfs(dir, [...RUN, '--group', 'b'], 1),
      /the archives of clicks, kfs\.clicks\.by-item, purchases hold what group a read before it was retired/,
    )
  })
})
