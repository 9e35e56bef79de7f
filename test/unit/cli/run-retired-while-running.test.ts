/**
 * `kfs run` whose group is retired while it runs (docs/semantics.md §14): the run's checkpoints
 * read the topics' claims first, find them retired, and the run exits 1 naming the retire, with no
 * checkpoint of the retired group published. Before, it checkpointed on and exited 0.
 * (test/unit/engine/retired-while-running.test.ts runs the retire at every point of the engine's.)
 */
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { LocalObjectStore } from '../../../adapters/object-store/local/local-object-store.ts'
import { claimKey, encodeClaim, listClaims } from '../../../main/commands/topic-claims.ts'
import { runKfsInProcess, type CliResult } from '../../support/in-process-cli.ts'
import { waitFor } from '../../support/scenario.ts'

const root = mkdtempSync(join(tmpdir(), 'kfs-run-retired-'))
after(() => rmSync(root, { recursive: true, force: true }))
const features = fileURLToPath(new URL('../../../examples/features.ts', import.meta.url))
// No timed checkpoint: the run's only ones are its stop's, once caught up (after 1 s of quiet).
const env = { KFS_CHECKPOINT_INTERVAL_MS: '3600000' }
const TOPICS = ['clicks', 'kfs.clicks.by-item', 'purchases']

function records(dir: string): string[] {
  const at = join(dir, 'objects', 'checkpoints')
  return existsSync(at) ? (readdirSync(at, { recursive: true }) as string[]).filter((f) => /ckpt-\d+\.json$/.test(f)) : []
}

void test('kfs run whose group is retired while it runs exits 1 naming the retire, publishing no checkpoint', async () => {
  const dir = join(root, 'store')
  const kfs = async (args: readonly string[]): Promise<CliResult> => {
    const r = await runKfsInProcess(args, dir, {}, env)
    assert.equal(r.code, 0, `kfs ${args.join(' ')}\n${r.stdout}\n${r.stderr}`)
    return r
  }
  await kfs(['apply', '--features', features])
  await kfs(['produce', '--generate', '200'])
  const running = runKfsInProcess(
    ['run', '--group', 'old-engine', '--until-caught-up', '--idle', '1s', '--features', features],
    dir,
    {},
    env,
  )
  // As `kfs groups retire` leaves the topics of a group that checkpointed them, once the run claimed them.
  const store = new LocalObjectStore(join(dir, 'objects'))
  await waitFor(async () => (await listClaims(store)).length === TOPICS.length, 'the run claiming its topics')
  for (const claim of await listClaims(store))
    await store.put(claimKey(claim.topic), encodeClaim({ ...claim, retiredAtMs: Date.now() }))
  const r = await running
  assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`)
  assert.match(
    r.stderr,
    /group old-engine no longer holds topic (clicks|kfs\.clicks\.by-item|purchases): kfs groups retire retired group old-engine at /,
  )
  assert.deepEqual(records(dir), [], 'no checkpoint published')
})
