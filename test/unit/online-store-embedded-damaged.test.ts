/**
 * The embedded online store's file, damaged on disk (cut short, emptied, edited into another
 * shape): `open` refuses it with one error that names the file and says how to get the rows
 * back — never a JSON SyntaxError or a TypeError with a stack trace, never a store missing rows.
 */
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { FeatureStoreError } from '../../core/errors.ts'
import { EmbeddedOnlineStore } from '../../adapters/online-store/embedded/embedded-online-store.ts'
import { feature, row, view } from '../contracts/online-store.ts'

void test('online store > embedded > a damaged file is refused, named, with the way back', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kfs-online-damaged-'))
  try {
    const path = join(dir, 'online.json')
    const clock = { nowMs: () => 1_000_000, sleep: async () => {} }
    const v = view('persisted', [feature('x', 'double')], { ttlMs: 10_000 })
    const store = await EmbeddedOnlineStore.open({ clock, path })
    await store.writeRows(v, [row('a', 999_000, [1.5]), row('b', 999_500, [2.5])])
    await store.close()
    const text = await readFile(path, 'utf8')
    const layout = JSON.parse(text) as { format: string; rows: { key: string; fields: Record<string, unknown> }[] }
    const damaged: [string, string][] = [
      ['cut to half', text.slice(0, text.length >> 1)],
      ['cut by its last byte', text.slice(0, -1)],
      ['empty', ''],
      ['null', 'null'],
      ['rows not a list', JSON.stringify({ ...layout, rows: {} })],
      ['a row without a key', JSON.stringify({ ...layout, rows: [{ ...layout.rows[0], key: 7 }] })],
      ['a row of null', JSON.stringify({ ...layout, rows: [null] })],
      ['a field value not text', JSON.stringify({ ...layout, rows: [{ ...layout.rows[0], fields: { ...layout.rows[0]!.fields, x: 1.5 } }] })],
    ]
    for (const [what, body] of damaged) {
      await writeFile(path, body)
      await assert.rejects(
        EmbeddedOnlineStore.open({ clock, path }),
        (err: unknown) =>
          err instanceof FeatureStoreError &&
          err.code === 'DATA_CORRUPT' &&
          err.message.startsWith(`online store file ${path} is damaged (`) &&
          err.message.endsWith('move it away and reload the online rows with kfs replay --online-from-offline'),
        what,
      )
    }
    // The file as written still opens with both rows.
    await writeFile(path, text)
    const again = await EmbeddedOnlineStore.open({ clock, path })
    assert.equal((await again.readRows(['a', 'b'].map((entityKey) => ({ view: v, entityKey, features: ['x'] })), 1_000_000)).filter((r) => r.status === 'PRESENT').length, 2)
    await again.close()
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
