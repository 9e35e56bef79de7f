/**
 * `kfs replay`'s text names the offsets a backfill is complete through as people read them —
 * `purchases/0@112, purchases/1@98` — as `kfs registry show` does, in every form of its line: a
 * backfill (from the current snapshot, from the one current at --as-of), and a re-run of a view
 * already complete (without and with --online). Its --json keeps the data, a partition → offset
 * map. Before, the text printed that map raw: `(complete through {"0":"112","1":"98"})`.
 *
 * Two views added after their events were archived: one over a topic (purchases), one re-keyed
 * (its offsets are of the internal topic it is backfilled from).
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { runKfsInProcess } from '../../support/in-process-cli.ts'

const repo = fileURLToPath(new URL('../../../', import.meta.url))
const dataDir = mkdtempSync(join(tmpdir(), 'kfs-replay-offsets-text-'))
after(() => rmSync(dataDir, { recursive: true, force: true }))

/** The demo's module a few weeks later, plus a re-keyed view added then too. */
const module = join(dataDir, 'later.ts')
const FEATURES = ['--features', module]
const VIEWS = ['user_big_spends', 'item_clicks_late'] as const
/** Each view's backfill: user_big_spends from the current snapshot, item_clicks_late from the one current at --as-of. */
const BACKFILL_ARGS: Record<(typeof VIEWS)[number], readonly string[]> = {
  user_big_spends: [],
  item_clicks_late: ['--as-of', new Date(Date.now() + 3_600_000).toISOString()],
}

/** What each form of replay printed, per view. */
const printed = new Map<string, { backfilled: string; rerun: string; rerunOnline: string; rerunJson: string }>()

async function kfs(args: readonly string[]): Promise<string> {
  const r = await runKfsInProcess(args, dataDir)
  assert.equal(r.code, 0, `kfs ${args.join(' ')}\n${r.stderr}`)
  return r.stdout
}

before(async () => {
  writeFileSync(
    module,
    [
      `import { featureView } from ${JSON.stringify(join(repo, 'features/index.ts'))}`,
      `import { clicks, item } from ${JSON.stringify(join(repo, 'examples/features.ts'))}`,
      `export * from ${JSON.stringify(join(repo, 'examples/with-new-view.ts'))}`,
      `export const itemClicksLate = featureView({ name: 'item_clicks_late', version: 1, entity: item, source: clicks,`,
      `  aggregations: [{ op: 'count', windows: ['1d'] }], ttl: '2d', freshnessSla: '1m', owner: 'search@shop.example', description: 'late', tags: {} })`,
      '',
    ].join('\n'),
  )
  for (const args of [
    ['apply'],
    ['produce', '--generate', '400'],
    ['run', '--until-caught-up', '--idle', '1s'],
    ['apply', ...FEATURES],
  ])
    await kfs(args)
  for (const view of VIEWS) {
    const replay = ['replay', '--views', view, ...FEATURES]
    printed.set(view, {
      backfilled: await kfs([...replay, ...BACKFILL_ARGS[view]]),
      rerun: await kfs(replay),
      rerunOnline: await kfs([...replay, '--online']),
      rerunJson: await kfs([...replay, '--json']),
    })
  }
})

/** The offsets the registry holds for the view, as the text should name them. */
async function recorded(view: string): Promise<{ text: string; map: Record<string, string>; topic: string }> {
  const shown = JSON.parse(await kfs(['registry', 'show', view, '--json'])) as {
    backfill: { state: string; completeThrough: { topic: string; partition: number; offset: string }[] }
  }
  const through = shown.backfill.completeThrough
  assert.equal(shown.backfill.state, 'complete')
  assert.ok(through.length > 0, `${view}: a backfill with offsets`)
  return {
    text: through.map((o) => `${o.topic}/${o.partition}@${o.offset}`).join(', '),
    map: Object.fromEntries(through.map((o) => [String(o.partition), o.offset])),
    topic: through[0]!.topic,
  }
}

const quoted = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

void describe('kfs replay: the offsets in its text are topic/partition@offset, in every form', () => {
  for (const view of VIEWS) {
    void test(`${view}: backfilled, re-run, re-run --online — each names them as registry show does`, async () => {
      const out = printed.get(view)!
      const { text, topic } = await recorded(view)
      assert.equal(
        topic,
        view === 'item_clicks_late' ? 'kfs.clicks.by-item' : 'purchases',
        'the topic the view is backfilled from',
      )
      const from =
        view === 'item_clicks_late' ? 'archive snapshot \\S+, current at \\S+ \\(committed \\S+\\)' : 'archive snapshot \\S+'
      assert.match(
        out.backfilled,
        new RegExp(
          `^${view} v1: backfilled \\d+ records → \\d+ rows, \\d+ dead letters, from ${from} \\(complete through ${quoted(text)}\\)\\n$`,
        ),
      )
      const already = `${view} v1: already backfilled (complete through ${text}); `
      assert.equal(out.rerun, `${already}nothing written — publish a new version to recompute it\n`)
      assert.ok(out.rerunOnline.startsWith(`${already}online store loaded from its offline table: `), out.rerunOnline)
      const show = await kfs(['registry', 'show', view])
      assert.match(show, new RegExp(`^ {2}backfill {6}complete \\(updated \\S+\\) through ${quoted(text)}$`, 'm'))
      for (const form of [out.backfilled, out.rerun, out.rerunOnline])
        assert.doesNotMatch(form, /[{}"]/, `raw data in the text: ${form}`)
    })

    void test(`${view}: --json keeps the partition → offset map`, async () => {
      const { map } = await recorded(view)
      const [entry] = JSON.parse(printed.get(view)!.rerunJson) as {
        view: string
        alreadyComplete: boolean
        completeThrough: unknown
      }[]
      assert.deepEqual(entry, { view: `${view}@1`, alreadyComplete: true, completeThrough: map })
    })
  }
})
