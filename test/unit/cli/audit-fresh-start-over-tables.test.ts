/**
 * A partition that starts with no checkpoint of its group over tables that already hold it
 * (docs/semantics.md §14, "A partition with no checkpoint over tables that hold it"). A group ran,
 * its checkpoints were deleted by hand (all, or some partitions', a re-keyed view's internal
 * topic's), or another group starts after the first one's checkpoints and claims went: the start
 * is refused, exit 1, naming every refused partition in one error (`--json`: its context lists
 * them; it used to name the first one met) and each table that holds it — the archive, a plain
 * view's and a re-keyed view's feature table — and the ways out, and writes nothing into them.
 * Before, it started every view from the topic's start and exited 0: the archive held every
 * record twice (`verify-parity`: damaged) and the feature tables each row twice. The legitimate
 * starts still run: the first one, a restart, and a group whose view's backfill checkpoints alone
 * were deleted (its catch-up skips the rows the table holds).
 */
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { after, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { runKfsInProcess } from '../../support/in-process-cli.ts'

const repo = fileURLToPath(new URL('../../../', import.meta.url))
const root = mkdtempSync(join(tmpdir(), 'kfs-fresh-start-'))
after(() => rmSync(root, { recursive: true, force: true }))

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
const MODULE = ['--features', modulePath]
const RUN = ['run', '--until-caught-up', '--idle', '1s', ...MODULE]

/** Every file under `dir` with its size. */
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

const warehouse = (dir: string): Map<string, number> => filesOf(join(dir, 'objects', 'warehouse'))
const objects = (dir: string, ...path: string[]): string => join(dir, 'objects', ...path)

interface Case {
  readonly name: string
  /** Views of the first run (all when empty). */
  readonly views: readonly string[]
  /** What is removed by hand between the two runs (paths under objects/). */
  readonly remove: readonly string[][]
  readonly group: string
  /** Each pattern the refusal must match; a case without one must run (exit 0). */
  readonly refused?: readonly RegExp[]
  /** Every partition refused, as `--json` names them (context.partitions): all in one error. */
  readonly partitions?: string
  /** Only the refused partitions stop: the others may go on committing. */
  readonly partial?: boolean
}

const cases: Case[] = [
  {
    name: 'every checkpoint of the group deleted, the same group started again',
    views: [],
    remove: [['checkpoints', 'a']],
    group: 'a',
    refused: [
      /group a has no checkpoint of 9 partitions whose tables hold their records already:/,
      ...[0, 1, 2].flatMap((p) => [
        new RegExp(
          `clicks/${p} — the archive table of clicks \\([^)]+\\): committed by group a through offset \\d+; the feature table of user_clicks@1`,
        ),
        new RegExp(
          `purchases/${p} — the archive table of purchases \\([^)]+\\): committed by group a through offset \\d+; the feature table of user_orders@1`,
        ),
        new RegExp(
          `kfs\\.clicks\\.by-item/${p} — the archive table of kfs\\.clicks\\.by-item \\([^)]+\\): committed by group a through offset \\d+`,
        ),
      ]),
      /Restore the group's checkpoints \(checkpoints\/a\/clicks\/0\/, checkpoints\/a\/clicks\/1\/, .*, checkpoints\/a\/purchases\/2\/ in the store\), or start the views over on a new store/,
    ],
    partitions: ['clicks', 'kfs.clicks.by-item', 'purchases'].flatMap((t) => [0, 1, 2].map((p) => `${t}/${p}`)).join(', '),
  },
  {
    name: 'the checkpoints of one partition deleted',
    views: ['user_purchases', 'user_orders'],
    remove: [['checkpoints', 'a', 'purchases', '1']],
    group: 'a',
    partial: true,
    refused: [
      /purchases\/1: group a has no checkpoint of this partition, but these tables hold its records already — the archive table of purchases \([^)]+\): committed by group a through offset [1-9]\d*; the feature table of user_orders@1 \([^)]+\): committed by group a through offset [1-9]\d*; the feature table of user_purchases@1 \([^)]+\): committed by group a through offset [1-9]\d*/,
    ],
    partitions: 'purchases/1',
  },
  {
    name: 'another group after the first group’s checkpoints and claims were deleted',
    views: ['user_purchases'],
    remove: [['checkpoints', 'a'], ['claims']],
    group: 'b',
    refused: [
      /group b has no checkpoint of 3 partitions whose tables hold their records already:/,
      /purchases\/0 — the archive table of purchases \([^)]+\): committed by group a through offset \d+/,
      /purchases\/2 — .*committed by group a through offset \d+/,
    ],
    partitions: 'purchases/0, purchases/1, purchases/2',
  },
  {
    name: 'a re-keyed view’s internal topic’s checkpoints deleted',
    views: ['item_clicks'],
    remove: [['checkpoints', 'a', 'kfs.clicks.by-item']],
    group: 'a',
    refused: [
      // The internal topic is archived too.
      /kfs\.clicks\.by-item\/\d — the archive table of kfs\.clicks\.by-item \([^)]+\): committed by group a through offset \d+; the feature table of item_clicks@1 \([^)]+\): committed by group a through offset \d+/,
    ],
    partitions: 'kfs.clicks.by-item/0, kfs.clicks.by-item/1, kfs.clicks.by-item/2',
  },
  { name: 'a restart with its checkpoints', views: [], remove: [], group: 'a' },
  {
    name: 'only a backfill’s checkpoints deleted: the catch-up skips the rows its table holds',
    views: ['user_purchases'],
    remove: [['checkpoints', 'a.backfill.user_orders%401']],
    group: 'a',
  },
]

void describe('kfs run: a partition with no checkpoint over tables that hold it is refused', () => {
  for (const [i, c] of cases.entries()) {
    void test(c.name, async () => {
      const dir = join(root, `case-${i}`)
      const views = c.views.length > 0 ? ['--views', c.views.join(',')] : []
      const backfilled = c.remove.some((p) => p[1]?.includes('.backfill.'))
      for (const args of [
        ['apply', ...MODULE],
        ['produce', '--generate', '300'],
        [...RUN, ...views, '--group', 'a'],
        ...(backfilled ? [['replay', '--views', 'user_orders', '--group', 'a', ...MODULE]] : []),
      ]) {
        const r = await runKfsInProcess(args, dir)
        assert.equal(r.code, 0, `kfs ${args.join(' ')}\n${r.stderr}`)
      }
      for (const path of c.remove) {
        assert.ok(existsSync(objects(dir, ...path)), `objects/${path.join('/')} exists`)
        rmSync(objects(dir, ...path), { recursive: true })
      }
      const before = warehouse(dir)
      const second = backfilled ? ['--views', 'user_purchases,user_orders'] : views
      const r = await runKfsInProcess([...RUN, ...second, '--group', c.group, '--json'], dir)
      if (c.refused === undefined) {
        assert.equal(r.code, 0, r.stderr)
      } else {
        assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`)
        for (const pattern of c.refused) assert.match(r.stderr, pattern)
        const { error } = JSON.parse(r.stdout) as { error: { code: string; message: string; context: Record<string, unknown> } }
        assert.equal(error.code, 'INVARIANT_VIOLATED')
        assert.equal(error.context.group, c.group)
        assert.equal(error.context.partitions, c.partitions, 'every refused partition, in one error')
        if (!c.partial) assert.deepEqual(warehouse(dir), before, 'nothing written into the tables')
      }
      // Every table holds each record and row once: the archive is whole and the views agree with it
      // (verify-parity reads the group's checkpoints: not when all of them are gone).
      if (c.group !== 'a' || filesOf(objects(dir, 'checkpoints', 'a')).size === 0) return
      const parity = await runKfsInProcess(
        ['verify-parity', '--group', 'a', ...MODULE, ...(backfilled ? ['--views', 'user_purchases,user_orders'] : views)],
        dir,
      )
      assert.equal(parity.code, 0, `${parity.stdout}\n${parity.stderr}`)
    })
  }
})
