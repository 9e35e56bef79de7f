/**
 * The audit's own fault loop for backfills (docs/semantics.md §14): a backfill of a view added after
 * its stream was archived is killed at each step it takes — every read and write of the object
 * store (archive reads, table staging and commits, its checkpoints and states), every online write
 * and sync, every dead-letter write; a mutation killed before it lands and after — then run again
 * to completion. Nothing is lost or doubled: the offline table, the online rows per key and the
 * dead letters (by origin) end as the live run's (the oracle) and an uninterrupted backfill's.
 * A kill drops the process's memory: the online store keeps only what it synced, the stores are
 * opened afresh, and no call after the kill point runs.
 */
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import fc from 'fast-check'
import { EmbeddedOnlineStore } from '../../../adapters/online-store/embedded/embedded-online-store.ts'
import { readFeatureRowsByEntity } from '../../../adapters/offline/iceberg/feature-rows.ts'
import { LocalObjectStore } from '../../../adapters/object-store/index.ts'
import type { DeadLetter } from '../../../ports/dead-letters.ts'
import { live, liveRun, onlineRows, rowsOf, stretch, tapsView, type LiveRun } from './taps-stream.ts'
import { backfillKilledThenRerun } from '../../support/killed-process.ts'
import { unlockedStoreFiles } from '../../support/unlocked-store-files.ts'

let root = ''
let liveParts: LiveRun
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'kfs-fault-loop-'))
  // One fixed stream with late events, an idle gap and undecodable records.
  const [stretches] = fc.sample(fc.array(stretch, { minLength: 3, maxLength: 3 }), { seed: 31, numRuns: 1 })
  liveParts = await liveRun(join(root, 'live'), [
    ...stretches!.slice(0, 2).map((s) => ({ ...s, idleAfter: true })),
    stretches![2]!,
  ])
})
after(async () => {
  if (root !== '') await rm(root, { recursive: true, force: true })
})

interface Outcome {
  readonly offline: unknown
  readonly online: unknown
  readonly letters: string[]
  readonly trace: readonly string[]
}

/**
 * A backfill of the live view's logic under a new name `name` (its own table, checkpoint group and
 * online rows, so each run starts afresh over the one archive), killed at `killAt` (0: never), then
 * run again.
 */
async function backfillKilledAt(name: string, killAt: number, landed: boolean): Promise<Outcome> {
  const dir = join(root, 'live')
  const added = tapsView(name)
  const onlinePath = join(root, name, 'rows.json')
  await mkdir(join(root, name), { recursive: true })
  const letters: DeadLetter[] = []
  const processes = await backfillKilledThenRerun({
    warehouse: join(dir, 'warehouse'),
    onlinePath,
    view: added,
    decoder: liveParts.decoderFor(),
    letters,
    killAt,
    landed,
    checkpointEveryRecords: 13,
  })
  const store = new LocalObjectStore(join(dir, 'warehouse'))
  const rows = rowsOf(await readFeatureRowsByEntity(store, added))
  const reopened = await EmbeddedOnlineStore.open({ path: onlinePath, files: unlockedStoreFiles })
  const outcome = {
    offline: rows,
    online: await onlineRows(reopened, added, Object.keys(rows)),
    letters: [...new Set(letters.map((l) => `${l.partition}/${l.offset}/${l.reason}`))].sort(),
    trace: processes[0]!.trace,
  }
  await reopened.close()
  await rm(join(root, name), { recursive: true, force: true })
  return outcome
}

void test('a backfill killed at any step, then run again, ends as live and as one never killed', async () => {
  const store = new LocalObjectStore(join(root, 'live', 'warehouse'))
  const liveRows = rowsOf(await readFeatureRowsByEntity(store, live))
  assert.ok(Object.keys(liveRows).length > 0, 'live wrote rows')
  const clean = await backfillKilledAt('taps_clean', 0, false)
  assert.deepEqual(clean.offline, liveRows, 'an uninterrupted backfill: offline rows = live')
  assert.deepEqual(clean.online, await onlineRows(liveParts.liveOnline, live, Object.keys(liveRows)), 'online rows = live')
  assert.ok(clean.letters.length > 0, 'the stream had late records: dead letters are compared')
  // Every kind of step (the method and what it touches: archive metadata, archive data, the table's
  // files and commits, checkpoint states and records, online writes and syncs, dead letters), its
  // first, a middle and its last call; each killed before it lands and after.
  const kindOf = (what: string) => what.replace(/taps_clean/g, 'V').replace(/[0-9a-f]{8}-[0-9a-f-]{27}|\d+/g, '#')
  const byKind = new Map<string, number[]>()
  clean.trace.forEach((what, i) => byKind.set(kindOf(what), [...(byKind.get(kindOf(what)) ?? []), i + 1]))
  const killAt = [...new Set([...byKind.values()].flatMap((at) => [at[0]!, at[Math.floor(at.length / 2)]!, at.at(-1)!]))].sort(
    (a, b) => a - b,
  )
  assert.ok(byKind.size > 15, `the backfill took kinds of steps to kill: ${[...byKind.keys()].join(' · ')}`)
  for (const k of killAt)
    for (const landed of [false, true]) {
      const got = await backfillKilledAt(`taps_k${k}_${landed}`, k, landed)
      const at = `killed at call ${k} (${clean.trace[k - 1]})${landed ? ', after it landed' : ''}`
      assert.deepEqual(got.offline, clean.offline, `${at}: offline rows`)
      assert.deepEqual(got.online, clean.online, `${at}: online rows`)
      assert.deepEqual(got.letters, clean.letters, `${at}: dead letters by origin`)
    }
})
