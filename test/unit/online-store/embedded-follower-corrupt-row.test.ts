/**
 * A follower (kfs serve beside kfs run) whose writer's file holds a row with a text that is not a
 * value of its type (damage, a hand edit): the row is held and reads as StoredRowUnreadable, and
 * every other row of the file is picked up and announced as usual. Before, telling the change
 * listeners decoded the row and threw, which failed the whole reload at that row on every poll:
 * the follower kept serving what it held before, and no row written after it was ever seen.
 */
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { EmbeddedOnlineFollower } from '../../../adapters/online-store/embedded/embedded-online-follower.ts'
import { EmbeddedOnlineStore } from '../../../adapters/online-store/embedded/embedded-online-store.ts'
import type { OnlineChange } from '../../../ports/online-semantics.ts'
import { StoredRowUnreadable } from '../../../ports/online-store.ts'
import { feature, plainRead, row, view } from '../../contracts/online-store.ts'

const NOW = 1_000_000
const clock = { nowMs: () => NOW, sleep: async () => {} }
const v = view('followed', [feature('n', 'long'), feature('s', 'string')], { ttlMs: 10_000_000 })

interface StoreFile {
  rows: { key: string; fields: Record<string, string> }[]
}

void test('a follower holds a corrupt row as unreadable and still picks up and announces every other row', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kfs-follower-corrupt-'))
  const path = join(dir, 'online-store.json')
  try {
    const writer = await EmbeddedOnlineStore.open({ clock, path })
    await writer.writeRows(v, [row('a', 10, [1, 'a1'])])
    await writer.close()
    const follower = await EmbeddedOnlineFollower.follow({ clock, path, pollMs: 0 })
    const heard: OnlineChange[] = []
    await follower.subscribeChanges([v], (change) => heard.push(change))

    // The writer's next file: a and b rewritten, c new; then b's long damaged by hand.
    const next = await EmbeddedOnlineStore.open({ clock, path })
    await next.writeRows(v, [row('a', 20, [2, 'a2']), row('b', 20, [3, 'b2']), row('c', 20, [4, 'c2'])])
    await next.close()
    const file = JSON.parse(await readFile(path, 'utf8')) as StoreFile
    file.rows.find((r) => r.key.endsWith('|b'))!.fields.n = 'three'
    await writeFile(path, JSON.stringify(file))

    await follower.refresh()
    const reads = await follower.readRows(
      ['a', 'c'].map((entityKey) => ({ view: v, entityKey, features: ['n', 's'] })),
      NOW,
    )
    assert.deepEqual(reads.map(plainRead), [
      { status: 'PRESENT', asOfMs: 20, values: [2, 'a2'] },
      { status: 'PRESENT', asOfMs: 20, values: [4, 'c2'] },
    ])
    const [b] = await follower.readRows([{ view: v, entityKey: 'b', features: ['n', 's'] }], NOW)
    assert.throws(
      () => b!.values,
      (err: unknown) => err instanceof StoredRowUnreadable && err.view === 'followed' && err.feature === 'n',
    )
    assert.deepEqual(heard.map((c) => c.entityKey).sort(), ['a', 'c'], 'the good rows are announced; the unreadable one is not')
    await follower.close()
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
