/**
 * One live group per topic per store (docs/semantics.md §14). The raw archive of a topic and the
 * re-key internal topics belong to the store and are written by the engine that consumes the
 * topic, so `kfs run` as a second group over a topic another live group has checkpoints of is
 * refused before anything is written: exit 1, naming the topic, the other group and the ways out.
 * Before, it exited 0 after archiving every record a second time and re-keying it a second time
 * (verify-parity, replay and backfills then failed on a damaged archive table, and the first
 * group's re-keyed views read the duplicates). The same group again, or a group over other
 * topics only, still runs.
 */
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { after, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { runKfsInProcess } from '../../support/in-process-cli.ts'

const repo = fileURLToPath(new URL('../../../', import.meta.url))
const root = mkdtempSync(join(tmpdir(), 'kfs-second-live-group-'))
after(() => rmSync(root, { recursive: true, force: true }))

// The example views plus a second view over purchases, so `--views` can split one topic.
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

/** Every file of the data dir with its size: the archive, the checkpoints, the log's topics. */
function filesOf(dir: string): Map<string, number> {
  const files = new Map<string, number>()
  const walk = (at: string): void => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const path = join(at, entry.name)
      if (entry.isDirectory()) walk(path)
      else files.set(relative(dir, path), statSync(path).size)
    }
  }
  walk(dir)
  return files
}

/** Snapshots of the archive tables: one manifest list per snapshot. */
function archiveSnapshots(dir: string): number {
  const archive = join(dir, 'objects', 'warehouse', 'archive')
  return [...filesOf(archive).keys()].filter((f) => /\/metadata\/snap-[^/]+\.avro$/.test(f)).length
}

function checkpointGroups(dir: string): string[] {
  const at = join(dir, 'objects', 'checkpoints')
  return existsSync(at) ? readdirSync(at).map((g) => decodeURIComponent(g)) : []
}

const cases: { name: string; first: string[]; second: string[]; refused?: RegExp }[] = [
  {
    name: 'a second group over the same source topics',
    first: [],
    second: ['--group', 'b'],
    refused:
      /cannot run as group b: clicks is consumed by live group kfs-engine; kfs\.clicks\.by-item is consumed by live group kfs-engine; purchases is consumed by live group kfs-engine on this store; a topic's raw archive and re-key internal topics are written by the one live group that consumes it/,
  },
  {
    name: 'a second group over only a re-keyed view’s internal topic',
    first: ['--views', 'item_clicks', '--group', 'a'],
    second: ['--views', 'item_clicks', '--group', 'b'],
    // The re-key stage of a reads clicks too: b's would re-key every record into the internal topic again.
    refused: /cannot run as group b: clicks is consumed by live group a; kfs\.clicks\.by-item is consumed by live group a on this store/,
  },
  {
    name: '--views split across two groups over one topic',
    first: ['--views', 'user_purchases', '--group', 'a'],
    second: ['--views', 'user_orders', '--group', 'b'],
    refused: /cannot run as group b: purchases is consumed by live group a on this store/,
  },
  {
    name: '--views split across two groups, one re-keying the other’s topic',
    first: ['--views', 'user_clicks', '--group', 'a'],
    second: ['--views', 'item_clicks', '--group', 'b'],
    refused: /cannot run as group b: clicks is consumed by live group a on this store/,
  },
  {
    name: 'the default group after a named one',
    first: ['--group', 'a'],
    second: [],
    refused: /cannot run as group kfs-engine: clicks is consumed by live group a/,
  },
  { name: 'the same group again', first: ['--group', 'a'], second: ['--group', 'a'] },
  {
    name: 'the same group with more views (a rolling deploy)',
    first: ['--views', 'user_purchases'],
    second: ['--views', 'user_purchases,user_orders'],
  },
  {
    name: 'a second group over a different topic only',
    first: ['--views', 'user_purchases', '--group', 'a'],
    second: ['--views', 'user_clicks', '--group', 'b'],
  },
]

void describe('kfs run: a second live group over a topic of the store is refused before it writes anything', () => {
  for (const [i, c] of cases.entries()) {
    void test(c.name, async () => {
      const dir = join(root, `case-${i}`)
      for (const args of [
        ['apply', ...MODULE],
        ['produce', '--generate', '300'],
        [...RUN, ...c.first],
      ]) {
        const r = await runKfsInProcess(args, dir)
        assert.equal(r.code, 0, `kfs ${args.join(' ')}\n${r.stderr}`)
      }
      const before = filesOf(dir)
      const snapshots = archiveSnapshots(dir)
      const r = await runKfsInProcess([...RUN, ...c.second], dir)
      if (c.refused === undefined) {
        assert.equal(r.code, 0, r.stderr)
        return
      }
      assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`)
      assert.match(r.stderr, c.refused)
      const first = c.first.includes('--group') ? c.first[c.first.indexOf('--group') + 1] : 'kfs-engine'
      assert.match(
        r.stderr,
        new RegExp(
          `run with --group ${first} \\(members of one group share the partitions\\), or give this deployment its own store`,
        ),
      )
      assert.equal(archiveSnapshots(dir), snapshots, 'no archive snapshot')
      assert.deepEqual(checkpointGroups(dir), [first], 'no checkpoints of the refused group')
      assert.deepEqual(filesOf(dir), before, 'nothing written')
    })
  }
})
