/**
 * `kfs replay`, `kfs registry show` and `kfs registry list` of a view that was never backfilled say so. A view `kfs run` first ran while its
 * topic's archive was empty is complete at once, with no offsets, and computed live from the start
 * of its topic (replay/backfill-before-live.ts). Before, a replay of it printed "already backfilled
 * (complete through {})" — an empty map leaked into the message, and a backfill that never ran —
 * and registry show said "complete (updated …)", as if it had run; registry list's BACKFILL column
 * said "complete" after show had learned better, and its --json carried no liveFromStart. Then
 * show's line opened "complete (updated …); never backfilled: …", contradicting itself: it now
 * opens as the BACKFILL column does, "never backfilled (updated …): " and replay's reason.
 *
 * Every view of the demo module goes live from the start here (the first `kfs run` finds no
 * archive), and each is replayed with and without --online, and shown, with and without --json;
 * show says what replay says, word for word, and list (text and --json) what both say. Before the
 * run (pending) and with offsets (a real backfill) none of them says anything of the kind.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { listJson, renderList, renderShow, showJson } from '../../../main/commands/registry-format.ts'
import type { RegistrySnapshot, StoredView } from '../../../registry/index.ts'
import { runKfsInProcess } from '../../support/in-process-cli.ts'

const dataDir = mkdtempSync(join(tmpdir(), 'kfs-replay-live-from-start-'))
after(() => rmSync(dataDir, { recursive: true, force: true }))

let views: readonly string[] = []
/** registry show of every view, text and --json, before kfs run first ran it. */
const pendingShows: { name: string; text: string; json: string }[] = []
/** registry list, text and --json, before kfs run. */
const pendingList = { text: '', json: '' }

const NEVER_BACKFILLED = /never backfilled|live from the start|liveFromStart/

async function show(name: string, json: boolean): Promise<string> {
  const r = await runKfsInProcess(['registry', 'show', name, ...(json ? ['--json'] : [])], dataDir)
  assert.equal(r.code, 0, r.stderr)
  return r.stdout
}

before(async () => {
  for (const args of [['apply'], ['produce', '--generate', '200'], ['run', '--until-caught-up', '--idle', '1s']]) {
    if (args[0] === 'run') {
      const list = await runKfsInProcess(['registry', 'list', '--json'], dataDir)
      pendingList.json = list.stdout
      pendingList.text = (await runKfsInProcess(['registry', 'list'], dataDir)).stdout
      for (const { name } of (JSON.parse(list.stdout) as { views: { name: string }[] }).views)
        pendingShows.push({ name, text: await show(name, false), json: await show(name, true) })
    }
    const r = await runKfsInProcess(args, dataDir)
    assert.equal(r.code, 0, `kfs ${args.join(' ')}\n${r.stderr}`)
  }
  const list = await runKfsInProcess(['registry', 'list', '--json'], dataDir)
  views = (JSON.parse(list.stdout) as { views: { name: string }[] }).views.map((v) => v.name)
  assert.ok(views.length > 1, 'the demo module has views')
})

void describe('kfs replay of views computed live from the start: "never backfilled", no empty map', () => {
  for (const online of [false, true]) {
    void test(`kfs replay --views <every view>${online ? ' --online' : ''}`, async () => {
      const r = await runKfsInProcess(['replay', '--views', views.join(','), ...(online ? ['--online'] : [])], dataDir)
      assert.equal(r.code, 0, r.stderr)
      assert.doesNotMatch(r.stdout + r.stderr, /\{\}/, 'an empty map in a message')
      const lines = r.stdout.trimEnd().split('\n')
      assert.equal(lines.length, views.length, r.stdout)
      for (const [i, name] of views.entries()) {
        const then = online
          ? 'online store loaded from its offline table: [1-9]\\d* entities, \\d+ rows written online, \\d+ already fresher'
          : 'nothing written — publish a new version to backfill it from the archive'
        assert.match(
          lines[i]!,
          new RegExp(
            `^${name} v1: never backfilled: computed live from the start of \\S+ \\(its archive was empty when kfs run first ran the view\\); ${then}$`,
          ),
        )
      }
    })

    void test(`kfs replay --views <every view>${online ? ' --online' : ''} --json`, async () => {
      const r = await runKfsInProcess(['replay', '--views', views.join(','), ...(online ? ['--online'] : []), '--json'], dataDir)
      assert.equal(r.code, 0, r.stderr)
      const summary = JSON.parse(r.stdout) as {
        view: string
        alreadyComplete: boolean
        liveFromStart?: boolean
        onlineLoaded?: unknown
      }[]
      assert.deepEqual(
        summary.map((s) => [s.view, s.alreadyComplete, s.liveFromStart, s.onlineLoaded !== undefined]),
        views.map((name) => [`${name}@1`, true, true, online]),
      )
    })
  }
})

void describe('kfs registry show of views computed live from the start says what replay says', () => {
  void test('text: the backfill line says "never backfilled", not "complete", with replay\'s reason word for word', async () => {
    const r = await runKfsInProcess(['replay', '--views', views.join(',')], dataDir)
    assert.equal(r.code, 0, r.stderr)
    const replayed = r.stdout.trimEnd().split('\n')
    for (const [i, name] of views.entries()) {
      const reason = /^\S+ v1: never backfilled: (.*); nothing written/.exec(replayed[i]!)?.[1]
      assert.ok(reason !== undefined, replayed[i])
      const line = (await show(name, false)).split('\n').find((l) => l.startsWith('  backfill '))
      assert.equal(line, `  backfill      never backfilled (updated ${/\(updated (\S+)\)/.exec(line ?? '')?.[1]}): ${reason}`)
      assert.doesNotMatch(line!, /complete|through/)
    }
  })

  void test('--json: the backfill is marked liveFromStart, as replay --json marks the view', async () => {
    for (const name of views) {
      const shown = JSON.parse(await show(name, true)) as {
        name: string
        backfill: { state: string; completeThrough: unknown[]; liveFromStart?: boolean }
      }
      assert.equal(shown.name, name)
      assert.deepEqual(
        [shown.backfill.state, shown.backfill.completeThrough, shown.backfill.liveFromStart],
        ['complete', [], true],
      )
    }
  })

  void test('pending (before kfs run) and a backfill with offsets say nothing of it', async () => {
    assert.deepEqual(
      pendingShows.map((p) => p.name),
      views,
    )
    for (const p of pendingShows) {
      assert.match(p.text, /^ {2}backfill {6}pending \(updated \S+\)$/m)
      assert.doesNotMatch(p.text + p.json, NEVER_BACKFILLED)
    }
    for (const name of views) {
      const stored = JSON.parse(await show(name, true)) as StoredView & { backfill: { updatedAtMs: number } }
      const backfilled = {
        ...stored,
        backfill: {
          state: 'complete' as const,
          updatedAtMs: stored.backfill.updatedAtMs,
          completeThrough: [{ topic: stored.logic.source.topic, partition: 0, offset: '42' }],
        },
      }
      const text = renderShow(backfilled, [1], [])
      assert.match(
        text,
        new RegExp(`^ {2}backfill {6}complete \\(updated \\S+\\) through ${stored.logic.source.topic}/0@42$`, 'm'),
      )
      assert.doesNotMatch(text + JSON.stringify(showJson(backfilled, [1], [])), NEVER_BACKFILLED)
    }
  })
})

/** Each view's BACKFILL cell of registry list's text, by view name (cells may hold spaces: cut at the header's columns). */
function listBackfillCells(text: string): Map<string, string> {
  const lines = text.split('\n')
  const header = lines.findIndex((l) => /^ {2}NAME +VERSION +HASH +FEATURES +BACKFILL +OWNER/.test(l))
  assert.ok(header >= 0, text)
  const [from, to] = [lines[header]!.indexOf('BACKFILL'), lines[header]!.indexOf('OWNER')]
  const cells = new Map<string, string>()
  for (const row of lines.slice(header + 1)) {
    if (row.trim() === '') break
    cells.set(row.trim().split(/\s+/)[0]!, row.slice(from, to).trim())
  }
  return cells
}

interface ListedView {
  name: string
  backfill?: { state: string; completeThrough: unknown[]; liveFromStart?: boolean }
}

void describe('kfs registry list of views computed live from the start says what show and replay say', () => {
  void test('every view: list, show and replay agree, text and --json', async () => {
    const outputs: string[] = []
    for (const args of [
      ['registry', 'list'],
      ['registry', 'list', '--json'],
      ['replay', '--views', views.join(',')],
      ['replay', '--views', views.join(','), '--json'],
    ]) {
      const r = await runKfsInProcess(args, dataDir)
      assert.equal(r.code, 0, `kfs ${args.join(' ')}\n${r.stderr}`)
      outputs.push(r.stdout)
    }
    const [listText, listJsonText, replayText, replayJsonText] = outputs
    const cells = listBackfillCells(listText!)
    const listed = (JSON.parse(listJsonText!) as { views: ListedView[] }).views
    const replayed = JSON.parse(replayJsonText!) as { view: string; liveFromStart?: boolean }[]
    assert.deepEqual([...cells.keys()], views)
    for (const [i, name] of views.entries()) {
      const replayLine = /^\S+ v1: (never backfilled): ([^;]*);/.exec(replayText!.split('\n')[i]!)
      const showLine = /^ {2}backfill {6}(never backfilled) \(updated \S+\): (.*)$/m.exec(await show(name, false))
      assert.ok(
        replayLine !== null && showLine !== null && showLine[2] === replayLine[2],
        `${name}: replay and show give the reason alike`,
      )
      // The column opens as show's line and replay's sentence do, not with "complete".
      assert.equal(cells.get(name), 'never backfilled (live from the start)', `${name}: its BACKFILL column`)
      assert.equal(cells.get(name)!.split(' (')[0], showLine[1])
      assert.equal(showLine[1], replayLine[1])
      const shown = (JSON.parse(await show(name, true)) as ListedView).backfill
      const inList = listed.find((v) => v.name === name)?.backfill
      assert.deepEqual(inList, shown, `${name}: list --json carries the backfill show --json does`)
      assert.deepEqual([inList?.state, inList?.completeThrough, inList?.liveFromStart], ['complete', [], true])
      assert.equal(replayed[i]?.liveFromStart, true)
    }
  })

  void test('pending (before kfs run) and a backfill with offsets: list says its state, no liveFromStart', async () => {
    const pendingCells = listBackfillCells(pendingList.text)
    assert.deepEqual(
      [...pendingCells.entries()],
      views.map((name) => [name, 'pending']),
    )
    assert.doesNotMatch(pendingList.text + pendingList.json, NEVER_BACKFILLED)
    const stored = JSON.parse((await runKfsInProcess(['registry', 'list', '--json'], dataDir)).stdout) as RegistrySnapshot
    const backfilled: RegistrySnapshot = {
      ...stored,
      views: stored.views.map((v) => ({
        ...v,
        backfill: {
          state: 'complete' as const,
          updatedAtMs: v.backfill!.updatedAtMs,
          completeThrough: [{ topic: v.logic.source.topic, partition: 0, offset: '42' }],
        },
      })),
    }
    assert.deepEqual(
      [...listBackfillCells(renderList(backfilled)).entries()],
      views.map((name) => [name, 'complete']),
    )
    assert.doesNotMatch(renderList(backfilled) + JSON.stringify(listJson(backfilled, 'here')), NEVER_BACKFILLED)
  })
})
