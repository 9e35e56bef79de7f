/**
 * `kfs replay` run again for a view whose backfill is complete: the work is done, so the re-run
 * succeeds (exit 0) saying so — "already backfilled", complete through the same offsets the run
 * that completed it reported — and writes nothing. It exited 1 ("already backfilled and live"),
 * so a backfill whose final status write lost its answer reported failure and then, re-run, failed
 * again for being done. Several views: each one already complete is reported so, the others are
 * backfilled.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { runKfsInProcess } from '../../support/in-process-cli.ts'

const dataDir = mkdtempSync(join(tmpdir(), 'kfs-replay-rerun-'))
after(() => rmSync(dataDir, { recursive: true, force: true }))
const WITH_NEW = ['--features', 'examples/with-new-view.ts']

interface Summary {
  readonly view: string
  readonly alreadyComplete?: boolean
  readonly records?: number
  readonly completeThrough: Record<string, string>
}

let first: Summary

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
  const r = await runKfsInProcess(['replay', '--views', 'user_big_spends', '--json', ...WITH_NEW], dataDir)
  assert.equal(r.code, 0, r.stderr)
  first = (JSON.parse(r.stdout) as Summary[])[0]!
})

void describe('kfs replay: a re-run of a completed backfill', () => {
  void test('the first run backfilled records', () => {
    assert.equal(first.view, 'user_big_spends@1')
    assert.equal(first.alreadyComplete, undefined)
    assert.ok((first.records ?? 0) > 0, JSON.stringify(first))
  })

  void test('exit 0, "already backfilled" through the same offsets, nothing written', async () => {
    const r = await runKfsInProcess(['replay', '--views', 'user_big_spends', ...WITH_NEW], dataDir)
    assert.equal(r.code, 0, r.stderr)
    assert.equal(
      r.stdout,
      `user_big_spends v1: already backfilled (complete through ${Object.entries(first.completeThrough)
        .map(([p, offset]) => `purchases/${p}@${offset}`)
        .join(', ')}); nothing written — publish a new version to recompute it\n`,
    )
    assert.equal(r.stderr, '')
    const json = await runKfsInProcess(['replay', '--views', 'user_big_spends', '--json', ...WITH_NEW], dataDir)
    assert.equal(json.code, 0, json.stderr)
    assert.deepEqual(JSON.parse(json.stdout), [
      { view: 'user_big_spends@1', alreadyComplete: true, completeThrough: first.completeThrough },
    ])
  })

  void test('several views: each complete one reported so, none failing the others', async () => {
    const r = await runKfsInProcess(['replay', '--views', 'user_purchases,user_big_spends', '--json', ...WITH_NEW], dataDir)
    assert.equal(r.code, 0, r.stderr)
    const got = JSON.parse(r.stdout) as Summary[]
    assert.deepEqual(got.map((s) => [s.view, s.alreadyComplete]).sort(), [
      ['user_big_spends@1', true],
      ['user_purchases@1', true],
    ])
  })
})
