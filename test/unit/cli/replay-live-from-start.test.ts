/**
 * `kfs replay` of a view that was never backfilled says so. A view `kfs run` first ran while its
 * topic's archive was empty is complete at once, with no offsets, and computed live from the start
 * of its topic (replay/backfill-before-live.ts). Before, a replay of it printed "already backfilled
 * (complete through {})" — an empty map leaked into the message, and a backfill that never ran.
 *
 * Every view of the demo module goes live from the start here (the first `kfs run` finds no
 * archive), and each is replayed with and without --online, with and without --json.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { runKfsInProcess } from '../../support/in-process-cli.ts'

const dataDir = mkdtempSync(join(tmpdir(), 'kfs-replay-live-from-start-'))
after(() => rmSync(dataDir, { recursive: true, force: true }))

let views: readonly string[] = []

before(async () => {
  for (const args of [['apply'], ['produce', '--generate', '200'], ['run', '--until-caught-up', '--idle', '1s']]) {
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
