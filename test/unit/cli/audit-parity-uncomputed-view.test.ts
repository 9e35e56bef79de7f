/**
 * `kfs verify-parity` on a view that is published but not computed yet (added with `kfs apply`,
 * its backfill pending): exit 1 saying so and how to compute it. It said the view's feature table
 * "is missing or has no snapshot … restore it from a copy", which sends an operator to restore
 * backups when nothing is damaged — and so did a view backfilled by kfs replay and not yet taken
 * over by the live group. After kfs run, the view verifies; computed views verify as before.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { runKfsInProcess } from '../../support/in-process-cli.ts'

const dataDir = mkdtempSync(join(tmpdir(), 'kfs-parity-uncomputed-'))
after(() => rmSync(dataDir, { recursive: true, force: true }))
const WITH_NEW = ['--features', 'examples/with-new-view.ts']

before(async () => {
  for (const args of [
    ['apply'],
    ['produce', '--generate', '1500'],
    ['run', '--until-caught-up', '--idle', '1s'],
    ['apply', ...WITH_NEW],
  ]) {
    const r = await runKfsInProcess(args, dataDir)
    assert.equal(r.code, 0, `kfs ${args.join(' ')}\n${r.stderr}`)
  }
})

void describe('kfs verify-parity: a published view not computed yet', () => {
  void test('exit 1 naming the view, its backfill state and the way on; nothing about restoring a copy', async () => {
    for (const json of [false, true]) {
      const r = await runKfsInProcess(
        ['verify-parity', '--views', 'user_big_spends', ...WITH_NEW, ...(json ? ['--json'] : [])],
        dataDir,
      )
      assert.equal(r.code, 1, r.stderr + r.stdout)
      assert.equal(
        r.stderr,
        'kfs verify-parity: nothing to compare for user_big_spends v1: it has not been computed yet (its backfill is pending); run kfs replay --views user_big_spends, or kfs run, first\n',
      )
      assert.doesNotMatch(r.stderr, /restore it from a copy|unexpected error/)
      if (json) assert.equal((JSON.parse(r.stdout) as { error: { code: string } }).error.code, 'NOT_FOUND')
    }
  })

  void test('a computed view beside it still verifies', async () => {
    const r = await runKfsInProcess(['verify-parity', '--views', 'user_purchases', ...WITH_NEW], dataDir)
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /✓ user_purchases@1/)
  })

  void test('backfilled, not yet taken over by the live group: exit 1 saying so; after kfs run, it verifies', async () => {
    const replay = await runKfsInProcess(['replay', '--views', 'user_big_spends', ...WITH_NEW], dataDir)
    assert.equal(replay.code, 0, replay.stderr)
    const before = await runKfsInProcess(['verify-parity', '--views', 'user_big_spends', ...WITH_NEW], dataDir)
    assert.equal(before.code, 1, before.stderr + before.stdout)
    assert.match(
      before.stderr,
      /user_big_spends_v1 has no commit of group kfs-engine yet.*a backfill's, until kfs run takes the view over: run it/,
    )
    assert.doesNotMatch(before.stderr, /restore it from a copy/)
    const run = await runKfsInProcess(['run', '--until-caught-up', '--idle', '1s', ...WITH_NEW], dataDir)
    assert.equal(run.code, 0, run.stderr)
    const r = await runKfsInProcess(['verify-parity', '--views', 'user_big_spends', ...WITH_NEW], dataDir)
    assert.equal(r.code, 0, r.stderr + r.stdout)
    assert.match(r.stdout, /✓ user_big_spends@1/)
  })
})
