/**
 * `kfs replay --online-from-offline` reloads only views that are computed (their backfill complete,
 * docs/semantics.md §14). A view whose backfill is pending has no offline table, or a running or
 * killed one only part of its history; before, it was reported as "0 entities" beside the others
 * and the command exited 0 — the operator restoring a lost online store was told it was done
 * while that view stayed empty. Now every selected view is checked before anything is written:
 * any not computed exits 1 naming it and the way on; once computed, it reloads.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { runKfsInProcess } from '../../support/in-process-cli.ts'

const dataDir = mkdtempSync(join(tmpdir(), 'kfs-reload-uncomputed-'))
after(() => rmSync(dataDir, { recursive: true, force: true }))
const WITH_NEW = ['--features', 'examples/with-new-view.ts']

before(async () => {
  for (const args of [
    ['apply'],
    ['produce', '--generate', '600'],
    ['run', '--until-caught-up', '--idle', '1s'],
    ['apply', ...WITH_NEW],
  ]) {
    const r = await runKfsInProcess(args, dataDir)
    assert.equal(r.code, 0, `kfs ${args.join(' ')}\n${r.stderr}`)
  }
})

const refused = [
  { name: 'the uncomputed view named beside a computed one', views: ['--views', 'user_big_spends,user_purchases'] },
  { name: 'the uncomputed view alone', views: ['--views', 'user_big_spends'] },
]

void describe('kfs replay --online-from-offline: a view not computed yet is not "reloaded"', () => {
  for (const c of refused) {
    void test(`${c.name}: exit 1 before anything is written, naming it and the way on`, async () => {
      const r = await runKfsInProcess(['replay', '--online-from-offline', ...c.views, ...WITH_NEW], dataDir)
      assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`)
      assert.equal(r.stdout, '', 'no view was reloaded')
      assert.match(
        r.stderr,
        /nothing reloaded: user_big_spends v1 \(backfill pending\) is not computed yet.*\(kfs replay --views user_big_spends --online, or kfs run\), or leave it out of --views/,
      )
    })
  }

  void test('every online view (the default): the computed ones reloaded, the uncomputed one left out and said so', async () => {
    const r = await runKfsInProcess(['replay', '--online-from-offline', ...WITH_NEW], dataDir)
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stderr, /^not reloaded: user_big_spends v1 \(backfill pending\) is not computed yet; compute it first/)
    assert.deepEqual(
      r.stdout
        .split('\n')
        .filter(Boolean)
        .map((line) => line.split(' ')[0]),
      ['item_clicks', 'user_clicks', 'user_purchases'],
    )
  })

  void test('once computed, it reloads with the others', async () => {
    const backfill = await runKfsInProcess(['replay', '--views', 'user_big_spends', ...WITH_NEW], dataDir)
    assert.equal(backfill.code, 0, backfill.stderr)
    const r = await runKfsInProcess(['replay', '--online-from-offline', '--json', ...WITH_NEW], dataDir)
    assert.equal(r.code, 0, r.stderr)
    const got = JSON.parse(r.stdout) as { view: string; entities: number }[]
    assert.deepEqual(
      got.map((v) => v.view),
      ['item_clicks@1', 'user_big_spends@1', 'user_clicks@1', 'user_purchases@1'],
    )
    assert.ok(
      got.every((v) => v.entities > 0),
      r.stdout,
    )
  })
})
