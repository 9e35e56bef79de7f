/**
 * The embedded online store's serving follower (what `kfs serve` opens while `kfs run` writes the
 * store): it sees the rows its writer syncs after it opened — appended to the journal, folded into
 * a new file, or written by a new writer after the first closed — tells its change listeners of
 * them as a local write would, reads a journal only up to its last sync mark, and never changes
 * the writer's directory. Before, serve loaded the file once (stale rows forever, no push) and its
 * close wrote those stale rows over the writer's file, orphaning the writer's journal, which the
 * next open deleted.
 */
import assert from 'node:assert/strict'
import { appendFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { FeatureStoreError } from '../../../core/errors.ts'
import { EmbeddedOnlineFollower } from '../../../adapters/online-store/embedded/embedded-online-follower.ts'
import { EmbeddedOnlineStore } from '../../../adapters/online-store/embedded/embedded-online-store.ts'
import type { FeatureViewDef } from '../../../features/types.ts'
import type { OnlineChange } from '../../../ports/online-semantics.ts'
import { feature, plainRead, row, view } from '../../contracts/online-store.ts'

const NOW = 1_000_000
const clock = { nowMs: () => NOW, sleep: async () => {} }
// Keyed by attributes: its deletes are tombstones, which followers announce too.
const v: FeatureViewDef = {
  ...view('followed', [feature('x', 'double'), feature('s', 'string')], { ttlMs: 10_000_000 }),
  changeMode: 'attributes',
}

async function withDir(fn: (dir: string, path: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'kfs-online-follower-'))
  try {
    await fn(dir, join(dir, 'online-store.json'))
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

const read = async (store: Pick<EmbeddedOnlineFollower, 'readRows'>, keys: readonly string[]) =>
  (
    await store.readRows(
      keys.map((entityKey) => ({ view: v, entityKey, features: ['x', 's'] })),
      NOW,
    )
  ).map(plainRead)

const present = (asOfMs: number, values: unknown[]) => ({ status: 'PRESENT', asOfMs, values })
const MISSING = { status: 'MISSING', asOfMs: null, values: [null, null] }

/** Names and bytes of every file in `dir`: what a follower must leave as it found it. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const name of (await readdir(dir)).sort()) out[name] = await readFile(join(dir, name), 'latin1')
  return out
}

/** A follower that looks only when told (refresh): no test depends on a timer. */
const follow = (path: string) => EmbeddedOnlineFollower.follow({ clock, path, pollMs: 0 })

const journalOf = async (dir: string) =>
  join(
    dir,
    (await readdir(dir)).find((n) => n.includes('.journal-'))!,
  )

void describe('online store > embedded > follower', () => {
  void test('sees what its writer syncs after it opened: appended, folded into a new file, and by a new writer after the first closed', () =>
    withDir(async (_dir, path) => {
      const writer = await EmbeddedOnlineStore.open({ clock, path })
      await writer.writeRows(v, [row('a', 10, [1, 'a1'])])
      await writer.sync() // the first sync writes the file
      const follower = await follow(path)
      assert.deepEqual(await read(follower, ['a', 'b']), [present(10, [1, 'a1']), MISSING])

      await writer.writeRows(v, [row('b', 10, [2, 'b1'])])
      await follower.refresh()
      assert.deepEqual(await read(follower, ['b']), [MISSING], 'not synced yet: not on disk, not seen')
      await writer.sync() // appended to the journal
      await follower.refresh()
      assert.deepEqual(await read(follower, ['a', 'b']), [present(10, [1, 'a1']), present(10, [2, 'b1'])])

      // Synced into the journal and then folded into a new file before the follower looked.
      await writer.writeRows(v, [row('c', 10, [3, 'c1'])])
      await writer.sync()
      await writer.writeRows(v, [row('a', 20, [4, 'a2'])])
      await writer.flush()
      await follower.refresh()
      assert.deepEqual(await read(follower, ['a', 'c']), [present(20, [4, 'a2']), present(10, [3, 'c1'])])

      await writer.writeRows(v, [row('d', 10, [5, 'd1'])])
      await writer.close()
      const next = await EmbeddedOnlineStore.open({ clock, path })
      await next.writeRows(v, [row('e', 10, [6, 'e1']), row('b', 30, [null, 'b2'])])
      await next.sync()
      await follower.refresh()
      assert.deepEqual(await read(follower, ['a', 'b', 'c', 'd', 'e']), [
        present(20, [4, 'a2']),
        present(30, [null, 'b2']),
        present(10, [3, 'c1']),
        present(10, [5, 'd1']),
        present(10, [6, 'e1']),
      ])
      await follower.close()
      await next.close()
    }))

  void test('tells its change listeners of each row it picks up, as a local write does (a refresh of a held row is no change)', () =>
    withDir(async (_dir, path) => {
      const writer = await EmbeddedOnlineStore.open({ clock, path })
      await writer.writeRows(v, [row('a', 10, [1, 'a1'])])
      await writer.sync()
      const follower = await follow(path)
      const heard: OnlineChange[] = []
      const local: OnlineChange[] = []
      await follower.subscribeChanges([v], (c) => heard.push(c))
      await writer.subscribeChanges([v], (c) => local.push(c))

      await writer.writeRows(v, [row('a', 10, [1, 'a1'])]) // the same row again: its expiry only
      await writer.writeRows(v, [row('b', 10, [2, 'b1'])])
      await writer.writeRows(v, [row('a', 20, [3, 'a2'])])
      await writer.writeRows(v, [{ entityKey: 'b', asOfMs: 11, values: [null, null], deleted: true }])
      await writer.sync()
      await follower.refresh()
      // Per key, the last row synced: b's row and its tombstone were synced together.
      assert.deepEqual(heard, [
        { view: v.name, version: v.version, entityKey: 'a', asOfMs: 20, values: { x: 3, s: 'a2' } },
        { view: v.name, version: v.version, entityKey: 'b', asOfMs: 11, values: { x: null, s: null }, deleted: true },
      ])
      assert.deepEqual(heard, [local[1], local[2]], "as the writer's own listener heard a's and b's last rows")

      // Rows the follower first finds in a new file (synced and folded between two looks) are announced once.
      heard.length = 0
      await writer.writeRows(v, [row('c', 10, [4, 'c1'])])
      await writer.sync()
      await writer.flush()
      await follower.refresh()
      await follower.refresh()
      assert.deepEqual(heard, [{ view: v.name, version: v.version, entityKey: 'c', asOfMs: 10, values: { x: 4, s: 'c1' } }])
      await follower.close()
      await writer.close()
    }))

  void test('reads a journal only up to its last sync mark: an append under way is read once marked', () =>
    withDir(async (dir, path) => {
      const writer = await EmbeddedOnlineStore.open({ clock, path })
      await writer.writeRows(v, [row('a', 10, [1, 'a1'])])
      await writer.sync()
      await writer.writeRows(v, [row('b', 10, [2, 'b1'])])
      await writer.sync()
      const follower = await follow(path)
      // The bytes of the writer's next append, put back a piece at a time as a reader may find them.
      const journal = await journalOf(dir)
      const synced = await readFile(journal, 'utf8')
      await writer.writeRows(v, [row('c', 10, [3, 'c1']), row('d', 10, [4, 'd1'])])
      await writer.sync()
      const [cLine, dLine, mark] = (await readFile(journal, 'utf8')).slice(synced.length).split('\n')
      await writeFile(journal, synced)
      const steps: [string, string, unknown[]][] = [
        ['half a line', cLine!.slice(0, 20), [MISSING, MISSING]],
        ['the rest of the line', `${cLine!.slice(20)}\n`, [MISSING, MISSING]],
        ['a second whole line', `${dLine}\n`, [MISSING, MISSING]],
        ['the mark', `${mark}\n`, [present(10, [3, 'c1']), present(10, [4, 'd1'])]],
      ]
      for (const [what, bytes, expected] of steps) {
        await appendFile(journal, bytes)
        await follower.refresh()
        assert.deepEqual(await read(follower, ['c', 'd']), expected, what)
        assert.deepEqual(
          await read(follower, ['a', 'b']),
          [present(10, [1, 'a1']), present(10, [2, 'b1'])],
          `${what}: what was read stays`,
        )
      }
      await follower.close()
      await writer.close()
    }))

  void test('a store not written yet is followed from empty until it appears', () =>
    withDir(async (dir, path) => {
      const follower = await follow(path)
      assert.deepEqual(await read(follower, ['a']), [MISSING])
      assert.deepEqual(await readdir(dir), [], 'nothing created')
      const writer = await EmbeddedOnlineStore.open({ clock, path })
      await writer.writeRows(v, [row('a', 10, [1, 'a1'])])
      await writer.sync()
      await follower.refresh()
      assert.deepEqual(await read(follower, ['a']), [present(10, [1, 'a1'])])
      await follower.close()
      await writer.close()
    }))

  void test('never changes the directory: not on open, reading, or close — whatever state a writer left it in', async () => {
    // What a writer's open would repair (fold a torn tail, remove leftovers), a follower leaves to it.
    const cases: [string, (dir: string, path: string, writer: EmbeddedOnlineStore) => Promise<void>][] = [
      ['a file and its journal, its writer holding it (LOCK)', async () => {}],
      [
        'a torn tail at the journal end (a writer crashed mid-append)',
        async (dir) => appendFile(await journalOf(dir), '{"key":"followed:1|z","as'),
      ],
      [
        'a journal the file does not name, and a temp file (a writer crashed mid-fold)',
        async (_dir, path) => {
          await writeFile(`${path}.journal-1-2-3`, '')
          await writeFile(`${path}.tmp-4242`, '{"format":')
        },
      ],
      ['a writer that closed (the file alone)', async (_dir, _path, writer) => writer.close()],
    ]
    for (const [what, arrange] of cases) {
      await withDir(async (dir, path) => {
        const writer = await EmbeddedOnlineStore.open({ clock, path })
        await writer.writeRows(v, [row('a', 10, [1, 'a1'])])
        await writer.sync()
        await writer.writeRows(v, [row('b', 10, [2, 'b1'])])
        await writer.sync()
        await arrange(dir, path, writer)
        const before = await snapshot(dir)
        const follower = await follow(path)
        assert.deepEqual(await read(follower, ['a', 'b']), [present(10, [1, 'a1']), present(10, [2, 'b1'])], what)
        await follower.refresh()
        await follower.close()
        assert.deepEqual(await snapshot(dir), before, what)
        await writer.close()
      })
    }
  })

  void test('a damaged journal line fails the look, not the rows held; writes are refused', () =>
    withDir(async (dir, path) => {
      const writer = await EmbeddedOnlineStore.open({ clock, path })
      await writer.writeRows(v, [row('a', 10, [1, 'a1'])])
      await writer.sync()
      await writer.writeRows(v, [row('b', 10, [2, 'b1'])])
      await writer.sync()
      const follower = await follow(path)
      const journal = await journalOf(dir)
      const mark = (await readFile(journal, 'utf8')).split('\n')[1]
      await appendFile(
        journal,
        `not json\n${mark}\n{"key":"followed:1|c","asOfMs":1,"expiresAtMs":${NOW + 1},"fields":{}}\n${mark}\n`,
      )
      await assert.rejects(
        follower.refresh(),
        (err: unknown) => err instanceof FeatureStoreError && err.code === 'DATA_CORRUPT' && /line 3\b/.test(err.message),
      )
      assert.deepEqual(await read(follower, ['a', 'b']), [present(10, [1, 'a1']), present(10, [2, 'b1'])])
      await assert.rejects(follower.writeRows(v, [row('z', 1, [1, 'z'])]), /read-only/)
      await follower.close()
      await writer.close()
    }))

  void test('by itself (no refresh), it picks up what the writer syncs', () =>
    withDir(async (_dir, path) => {
      const follower = await EmbeddedOnlineFollower.follow({ path, pollMs: 10 })
      const writer = await EmbeddedOnlineStore.open({ path })
      const heard = new Promise<OnlineChange>((resolve) => void follower.subscribeChanges([v], resolve))
      await writer.writeRows(v, [row('a', Date.now(), [1, 'a1'])])
      await writer.sync()
      // Following keeps no process alive by itself (in kfs serve, the server does): this wait does.
      const alive = setInterval(() => {}, 1000)
      try {
        assert.equal((await heard).entityKey, 'a')
      } finally {
        clearInterval(alive)
      }
      assert.equal((await follower.readRows([{ view: v, entityKey: 'a', features: ['x'] }], Date.now()))[0]?.status, 'PRESENT')
      await follower.close()
      await writer.close()
    }))
})
