/**
 * A topic whose partition count is not the one its source declares (docs/semantics.md §10), on the
 * embedded log, through every command that reads or writes a source's topic: `kfs run`, `kfs
 * replay`, `kfs verify-parity`, `kfs produce` (--generate and --file) and `kfs ingest`, with fewer
 * and with more partitions than declared — a topic made so before the first run, and one changed
 * after it (grown by hand, as `kafka-topics.sh --alter` grows a Kafka topic; or made again with
 * fewer). Each refuses with exit 1, naming the topic, both counts and the way on, and writes
 * nothing: no record, no claim, no checkpoint, no table commit. A command over the other topics
 * still runs. Before, every one of them went on: run and replay kept each entity's state in the
 * partition its events arrived in — two partial states once keys moved — and verify-parity
 * compared two equally split results.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/index.ts'
import { writeTopicMeta } from '../../../adapters/event-log/embedded/topic-meta.ts'
import { createParquetCodec } from '../../../adapters/offline/parquet/parquet-codec.ts'
import { runKfsInProcess } from '../../support/in-process-cli.ts'
import { writeAccountsParquet } from '../ingest/snapshots.ts'

const root = mkdtempSync(join(tmpdir(), 'kfs-partition-count-'))
after(() => rmSync(root, { recursive: true, force: true }))
const DECLARED = 3 // examples/features.ts: purchases and clicks take the default
const WITH_NEW = ['--features', 'examples/with-new-view.ts']
const TS = 1_793_491_200_000
let dirs = 0

async function kfs(dataDir: string, args: readonly string[]) {
  return runKfsInProcess(args, dataDir)
}

async function ok(dataDir: string, args: readonly string[]): Promise<void> {
  const r = await kfs(dataDir, args)
  assert.equal(r.code, 0, `kfs ${args.join(' ')}: ${r.stderr}`)
}

/** The embedded log of `dataDir`, opened for `use` and closed after. */
async function withLog<T>(dataDir: string, use: (log: EmbeddedEventLog) => Promise<T>): Promise<T> {
  const log = new EmbeddedEventLog({ dir: join(dataDir, 'log'), fsync: 'never' })
  try {
    return await use(log)
  } finally {
    await log.close()
  }
}

/** Every file under `dir` with its size: what a refused command must leave as it was. */
function files(dir: string): string[] {
  const out: string[] = []
  const walk = (at: string): void => {
    for (const name of readdirSync(at)) {
      const path = join(at, name)
      const stat = statSync(path)
      if (stat.isDirectory()) walk(path)
      else if (name !== 'LOCK') out.push(`${relative(dir, path)} ${stat.size}`)
    }
  }
  walk(dir)
  return out.sort()
}

/** `purchases` now has `count` partitions: grown by hand (the embedded log's --alter), or made again with fewer. */
async function changePurchases(dataDir: string, count: number): Promise<void> {
  const topicDir = join(dataDir, 'log', 'topics', 'purchases')
  if (count > DECLARED) writeTopicMeta(topicDir, 'purchases', count, false)
  else rmSync(topicDir, { recursive: true })
  // Opened once here, so the files of the new partitions are not what a refused command writes.
  await withLog(dataDir, (log) => log.createTopic('purchases', count))
}

const refusal = (count: number): RegExp =>
  new RegExp(
    `topic purchases has ${count} partitions, but source purchases declares ${DECLARED}: kfs keeps each entity's state in the partition its events arrive in.*` +
      (count < DECLARED
        ? `the topic was created with fewer: declare partitions: ${count} in source purchases`
        : `if it has had ${count} partitions from its first event, declare partitions: ${count} in source purchases.*recreate the topic with ${DECLARED} partitions`),
  )

/** Refused: exit 1 with the message, and nothing under `dataDir` written. */
async function refused(dataDir: string, args: readonly string[], count: number): Promise<void> {
  const was = files(dataDir)
  const r = await kfs(dataDir, args)
  assert.equal(r.code, 1, `kfs ${args.join(' ')} should refuse: ${r.stdout}${r.stderr}`)
  assert.match(r.stderr + r.stdout, refusal(count), `kfs ${args.join(' ')}`)
  assert.deepEqual(files(dataDir), was, `kfs ${args.join(' ')} wrote nothing`)
}

function eventsFile(topic: 'purchases' | 'clicks'): string {
  const file = join(root, `${topic}-${dirs++}.ndjson`)
  const line = (u: number) =>
    topic === 'purchases'
      ? `{"user_id":"u${u}","item_id":"i1","amount":2.5,"currency":"EUR","ts":${TS + u}}`
      : `{"user_id":"u${u}","item_id":"i1","category":"books","dwell_ms":null,"ts":${TS + u}}`
  writeFileSync(file, [1, 2, 3].map(line).join('\n'))
  return file
}

for (const count of [DECLARED - 1, DECLARED + 1]) {
  const how = count < DECLARED ? 'fewer' : 'more'
  void describe(`a source's topic with ${how} partitions than declared (${count} for ${DECLARED})`, () => {
    void test('made so before the first run: run, replay, produce --generate and --file refuse, writing nothing', async () => {
      const dataDir = join(root, `fresh-${count}`)
      await ok(dataDir, ['apply'])
      await withLog(dataDir, (log) => log.createTopic('purchases', count))
      for (const args of [
        ['run', '--until-caught-up', '--idle', '1s'],
        ['produce', '--generate', '200'],
        ['produce', '--topic', 'purchases', '--file', eventsFile('purchases')],
        ['replay', '--views', 'user_purchases'],
      ])
        await refused(dataDir, args, count)
      assert.deepEqual(await withLog(dataDir, (log) => log.endOffsets('purchases')), Array<string>(count).fill('0'))
    })

    void describe('changed after a first run', () => {
      const dataDir = join(root, `changed-${count}`)
      before(async () => {
        for (const args of [
          ['apply'],
          ['produce', '--generate', '600'],
          ['run', '--until-caught-up', '--idle', '1s'],
          ['apply', ...WITH_NEW],
        ])
          await ok(dataDir, args)
        await changePurchases(dataDir, count)
      })

      void test('run, replay and produce refuse, writing nothing', async () => {
        for (const args of [
          ['run', '--until-caught-up', '--idle', '1s'],
          ['run', '--views', 'user_purchases', '--until-caught-up', '--idle', '1s', ...WITH_NEW],
          ['replay', '--views', 'user_big_spends', ...WITH_NEW],
          ['produce', '--generate', '200'],
          ['produce', '--topic', 'purchases', '--file', eventsFile('purchases')],
        ])
          await refused(dataDir, args, count)
      })

      void test("verify-parity: the topic's views are not checked, with the reason; the others are", async () => {
        const r = await kfs(dataDir, ['verify-parity', '--json'])
        assert.equal(r.code, 1, r.stderr)
        const results = JSON.parse(r.stdout) as { view: string; status: string; code?: string; reason?: string }[]
        const purchases = results.find((v) => v.view === 'user_purchases@1')
        assert.equal(purchases?.status, 'unchecked', r.stdout)
        assert.equal(purchases.code, 'INVARIANT_VIOLATED')
        assert.match(purchases.reason ?? '', refusal(count))
        const others = results.filter((v) => v.view !== 'user_purchases@1').map((v) => `${v.view} ${v.status}`)
        assert.deepEqual(others.sort(), ['item_clicks@1 match', 'user_clicks@1 match'], r.stdout)
        const one = await kfs(dataDir, ['verify-parity', '--views', 'user_purchases'])
        assert.equal(one.code, 1)
        assert.match(one.stderr, refusal(count))
      })

      void test('commands over the other topic go on', async () => {
        await ok(dataDir, ['produce', '--topic', 'clicks', '--file', eventsFile('clicks')])
        await ok(dataDir, ['run', '--views', 'user_clicks,item_clicks', '--until-caught-up', '--idle', '1s'])
      })
    })

    void test(`kfs ingest into a table source's topic with ${how} partitions: refused, nothing appended`, async () => {
      const dataDir = join(root, `ingest-${count}`)
      const snapshot = join(root, `accounts-${count}.parquet`)
      await writeAccountsParquet(createParquetCodec({ worker: false }), snapshot, [
        { account_id: 'a', updated_at: 1_000, balance: 1, tier: 'gold', visits: null },
      ])
      await withLog(dataDir, (log) => log.createTopic('accounts', count))
      const r = await kfs(dataDir, [
        'ingest',
        '--source',
        'accounts',
        '--snapshot',
        snapshot,
        '--features',
        'test/unit/ingest/fixtures.ts',
      ])
      assert.equal(r.code, 1, r.stdout + r.stderr)
      assert.match(r.stderr, new RegExp(`topic accounts has ${count} partitions, but source accounts declares ${DECLARED}`))
      assert.deepEqual(await withLog(dataDir, (log) => log.endOffsets('accounts')), Array<string>(count).fill('0'))
    })
  })
}
