/**
 * The embedded online store stopped at every step of its write / rename / remove sequence, on a
 * model disk (./model-disk.ts) that keeps, after the crash, what a process crash keeps and every
 * image a power loss could leave (durable names plus any subset of the name changes since the last
 * directory fsync; none, half, all of each file's unsynced bytes, or all with a zero-filled hole). After each, the store reopens
 * without an error and holds, for every key, what a store that never crashed held at the last sync
 * that returned — or what the interrupted call was making durable — and nothing else; its directory
 * holds the file, its journal and the acknowledged-end slots only (no leftover journal or temp
 * file); and it goes on working: a row synced after the reopen is found by the next one. The steps
 * include each sync's acknowledged-end record (journal-acked-end.ts: the slot written and
 * datasynced after the journal's append and directory fsync) and the slots' creation: no crash at
 * any of them makes the store, or a follower reading the image first, report false damage.
 *
 * Before: a journal left by a crash between writing a file and removing the old one stayed forever;
 * the rename and a new journal were never fsynced into the directory (a power loss could bring back
 * the old file after its journal was removed, or lose a journal whose rows a checkpoint counted as
 * durable); and a sync after a torn tail appended behind the torn bytes, so the next open refused the
 * store as damaged.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { EmbeddedOnlineFollower } from '../../../adapters/online-store/embedded/embedded-online-follower.ts'
import { EmbeddedOnlineStore } from '../../../adapters/online-store/embedded/embedded-online-store.ts'
import { feature, plainRead, row, view } from '../../contracts/online-store.ts'
import { Crash, ModelDisk, type Unsynced } from './model-disk.ts'

const DIR = '/model'
const PATH = join(DIR, 'online.json')
const clock = { nowMs: () => 1_000_000, sleep: async () => {} }
const v = view('crashed', [feature('x', 'double'), feature('s', 'string')], { ttlMs: 10_000_000 })
const KEYS = ['a', 'b', 'c', 'd', 'e', 'z']

type Step = readonly ['write', ReturnType<typeof row>[]] | readonly ['sync' | 'flush' | 'close']

/** Every kind of persisting call: the first sync (writes the file), syncs that create and extend a journal, a flush that replaces the file and removes the journal, a sync on the new file, a close. */
const SCRIPT: Step[] = [
  ['write', [row('a', 10, [1, 'a1']), row('b', 10, [2, 'b1'])]],
  ['sync'],
  ['write', [row('a', 20, [3, 'a2']), row('c', 5, [null, 'c1'])]],
  ['sync'],
  // A tie on as_of lands (the later row wins), an older row does not.
  ['write', [row('b', 10, [4, 'b2']), row('a', 19, [0, 'stale'])]],
  ['sync'],
  ['write', [row('d', 1, [5, 'd1'])]],
  ['flush'],
  ['write', [row('a', 30, [6, 'a3']), row('e', 2, [7, 'e1'])]],
  ['sync'],
  ['write', [row('c', 6, [8, 'c2'])]],
  ['close'],
]

type Snapshot = ReturnType<typeof plainRead>[]

async function snapshot(store: Pick<EmbeddedOnlineStore, 'readRows'>): Promise<Snapshot> {
  return (
    await store.readRows(
      KEYS.map((entityKey) => ({ view: v, entityKey, features: ['x', 's'] })),
      clock.nowMs(),
    )
  ).map(plainRead)
}

interface Crashed {
  readonly disk: ModelDisk
  readonly step: string
  /** What a never-crashed store held when the last persisting call returned. */
  readonly synced: Snapshot
  /** What it held when the crash came (the interrupted call was making this durable). */
  readonly pending: Snapshot
}

/** Runs SCRIPT with a crash at step `n` of the disk; undefined when the script ends first. */
async function runCrashingAt(n: number): Promise<Crashed | undefined> {
  const disk = new ModelDisk(DIR, n)
  const store = await EmbeddedOnlineStore.open({ clock, path: PATH, files: disk })
  const reference = new EmbeddedOnlineStore({ clock })
  let synced = await snapshot(reference)
  for (const step of SCRIPT) {
    if (step[0] === 'write') {
      await store.writeRows(v, step[1])
      await reference.writeRows(v, step[1])
      continue
    }
    try {
      await store[step[0]]()
    } catch (err: unknown) {
      if (!(err instanceof Crash)) throw err
      return { disk, step: err.step, synced, pending: await snapshot(reference) }
    }
    synced = await snapshot(reference)
  }
  return undefined
}

/** Every image a crash can leave on `disk`. */
function images(disk: ModelDisk): [string, ModelDisk][] {
  const out: [string, ModelDisk][] = [['process crash', disk.restarted()]]
  for (let kept = 0; kept < 1 << disk.pendingNameOps; kept++) {
    for (const unsynced of ['none', 'half', 'all', 'hole'] satisfies Unsynced[]) {
      out.push([
        `power loss keeping name changes ${kept.toString(2)} and ${unsynced} of the unsynced bytes`,
        disk.powerLost(kept, unsynced),
      ])
    }
  }
  return out
}

/** The store's directory holds its file, the journal the file names and the acknowledged-end slots, nothing else. */
function assertNoLeftovers(disk: ModelDisk, where: string): void {
  const file = disk.text('online.json')
  const named = file === undefined ? undefined : (JSON.parse(file) as { journal?: string }).journal
  const kept = ['online.json', named, 'online.json.acked-0', 'online.json.acked-1']
  const extra = disk.names().filter((n) => !kept.includes(n))
  assert.deepEqual(extra, [], `${where}: left behind`)
}

/** What `got` reads at each key is what the crash allows: synced, or what the interrupted call was making durable. */
function assertAllowed(crashed: Crashed, got: Snapshot, where: string): void {
  KEYS.forEach((key, i) => {
    const allowed = [crashed.synced[i], crashed.pending[i]]
    assert.ok(
      allowed.some((a) => JSON.stringify(a) === JSON.stringify(got[i])),
      `${where}: key ${key} reads ${JSON.stringify(got[i])}, expected ${JSON.stringify(allowed[0])} (synced) or ${JSON.stringify(allowed[1])} (being synced)`,
    )
  })
}

/** Reopens `image` (a follower first, as kfs serve restarted then would) and checks it against the crash; then a sync after the reopen survives the next crash. */
async function assertRecovers(crashed: Crashed, image: ModelDisk, where: string): Promise<void> {
  // A follower reads the image before any recovery: no false damage, every synced row.
  const follower = await EmbeddedOnlineFollower.follow({ clock, path: PATH, pollMs: 0, files: image.followed() })
  assertAllowed(crashed, await snapshot(follower), `${where} (follower)`)
  await follower.close()
  const store = await EmbeddedOnlineStore.open({ clock, path: PATH, files: image })
  const got = await snapshot(store)
  assertAllowed(crashed, got, where)
  assertNoLeftovers(image, where)
  await store.writeRows(v, [row('z', 99, [9, 'after'])])
  await store.sync()
  for (const [how, next] of images(image)) {
    const again = await EmbeddedOnlineStore.open({ clock, path: PATH, files: next })
    const expected = [...got]
    expected[KEYS.indexOf('z')] = { status: 'PRESENT', asOfMs: 99, values: [9, 'after'] }
    assert.deepEqual(await snapshot(again), expected, `${where}, then a sync and a ${how}`)
  }
}

void describe('online store > embedded > a crash at every step', () => {
  void test('reopens to every synced row, never a stale one, and leaves no journal behind', async () => {
    const seen = new Set<string>()
    const ackSteps = new Set<string>()
    let n = 0
    for (; ; n++) {
      const crashed = await runCrashingAt(n)
      if (crashed === undefined) break
      seen.add(crashed.step.split(' ')[0]!)
      if (crashed.step.includes('.acked-')) ackSteps.add(crashed.step.split(' ')[0]!)
      for (const [how, image] of images(crashed.disk))
        await assertRecovers(crashed, image, `crash at step ${n} (${crashed.step}), ${how}`)
    }
    // The script reached every kind of step, so the loop above crashed at each of them.
    assert.deepEqual([...seen].sort(), ['create', 'datasync', 'remove', 'rename', 'syncdir', 'write'])
    // Among them, the acknowledged-end record's own steps: its slot created, written, datasynced.
    assert.deepEqual([...ackSteps].sort(), ['create', 'datasync', 'write'])
    assert.ok(n > 20, `only ${n} steps`)
  })

  void test('a crash during recovery is recovered from by the next open', async () => {
    // Recovery takes steps of its own (a torn journal folded into a new file, leftovers removed
    // after a directory fsync): each of them is crashed in turn, on every image of every crash.
    const seen = new Set<string>()
    for (let n = 0; ; n++) {
      const crashed = await runCrashingAt(n)
      if (crashed === undefined) break
      for (const [how, image] of images(crashed.disk)) {
        for (let r = 0; ; r++) {
          const disk = image.restarted()
          disk.crashAfter(r)
          try {
            await EmbeddedOnlineStore.open({ clock, path: PATH, files: disk })
            break
          } catch (err: unknown) {
            if (!(err instanceof Crash)) throw err
            seen.add(err.step.split(' ')[0]!)
            for (const [how2, after] of images(disk))
              await assertRecovers(
                crashed,
                after,
                `crash at step ${n} (${crashed.step}), ${how}, recovery crashed at ${err.step}, ${how2}`,
              )
          }
        }
      }
    }
    assert.deepEqual([...seen].sort(), ['create', 'datasync', 'remove', 'rename', 'syncdir', 'write'])
  })
})

void describe('online store > embedded > durable step order', () => {
  void test('a new file: datasync, rename, directory fsync, then the old journal goes; a journal is fsynced into the directory once; each append is recorded as acknowledged after it', async () => {
    const disk = new ModelDisk(DIR)
    const store = await EmbeddedOnlineStore.open({ clock, path: PATH, files: disk })
    await store.writeRows(v, [row('a', 1, [1, 'x'])])
    await store.sync()
    const tmp = disk.steps.find((s) => s.startsWith('create online.json.tmp-'))!.slice('create '.length)
    const journal = (JSON.parse(disk.text('online.json')!) as { journal: string }).journal
    const slots = ['online.json.acked-0', 'online.json.acked-1']
    assert.deepEqual(
      disk.steps,
      [
        ...slots.flatMap((s) => [`create ${s}`, `write ${s}`, `datasync ${s}`]),
        'syncdir',
        `create ${tmp}`,
        `write ${tmp}`,
        `datasync ${tmp}`,
        `rename ${tmp} online.json`,
        'syncdir',
      ],
      'the first file: the acknowledged-end slots made durable first, once',
    )

    const from = disk.steps.length
    await store.writeRows(v, [row('a', 2, [2, 'y'])])
    await store.sync()
    assert.deepEqual(
      disk.steps.slice(from),
      [`create ${journal}`, `write ${journal}`, `datasync ${journal}`, 'syncdir', `write ${slots[0]}`, `datasync ${slots[0]}`],
      'the journal created: one directory fsync, then its acknowledged end recorded',
    )
    const second = disk.steps.length
    await store.writeRows(v, [row('a', 3, [3, 'z'])])
    await store.sync()
    await store.sync()
    assert.deepEqual(
      disk.steps.slice(second),
      [`write ${journal}`, `datasync ${journal}`, `write ${slots[1]}`, `datasync ${slots[1]}`],
      'later syncs: no directory fsync, the other slot, and nothing with nothing to sync',
    )

    const third = disk.steps.length
    await store.flush()
    assert.deepEqual(disk.steps.slice(third), [
      `create ${tmp}`,
      `write ${tmp}`,
      `datasync ${tmp}`,
      `rename ${tmp} online.json`,
      'syncdir',
      `remove ${journal}`,
    ])
  })
})
