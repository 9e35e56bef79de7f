/**
 * The embedded online store after a crash (the process gone without close): every write made
 * before a `sync()` is found by the next `open`, in the order the rows landed — the engine syncs
 * before each checkpoint publish, and a restart never writes those rows again. Before, rows lived
 * only in memory until `close()`, so a killed `kfs run` on the embedded defaults lost every online
 * write its checkpoints had counted as landed. Also: a torn final append is cut, a damaged line is
 * refused with its place named, a journal left beside a newer file is not applied, and a journal
 * grown past the file is folded into a new one.
 */
import assert from 'node:assert/strict'
import { appendFile, copyFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { FeatureStoreError } from '../../core/errors.ts'
import { EmbeddedOnlineStore } from '../../adapters/online-store/embedded/embedded-online-store.ts'
import { unlockedStoreFiles } from '../support/unlocked-store-files.ts'
import { feature, plainRead, row, view } from '../contracts/online-store.ts'

const clock = { nowMs: () => 1_000_000, sleep: async () => {} }
const v = view('journaled', [feature('x', 'double'), feature('s', 'string')], { ttlMs: 10_000_000 })
const read = async (store: EmbeddedOnlineStore, keys: readonly string[]) =>
  (
    await store.readRows(
      keys.map((entityKey) => ({ view: v, entityKey, features: ['x', 's'] })),
      1_000_000,
    )
  ).map(plainRead)

async function withDir(fn: (dir: string, path: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'kfs-online-journal-'))
  try {
    await fn(dir, join(dir, 'online.json'))
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

const journals = async (dir: string) => (await readdir(dir)).filter((f) => f.includes('.journal-')).sort()

void test('online store > embedded > every write before a sync survives a crash, last landing wins', () =>
  withDir(async (dir, path) => {
    const first = await EmbeddedOnlineStore.open({ clock, path, files: unlockedStoreFiles })
    await first.writeRows(v, [row('a', 10, [1, 'a1']), row('b', 10, [2, 'b1'])])
    await first.sync() // the first sync writes the file
    await first.writeRows(v, [row('a', 20, [3, 'a2'])])
    await first.writeRows(v, [row('c', 5, [null, 'c1'])])
    await first.sync()
    // An equal as_of with other values lands (docs/design.md §5), and the journal keeps that order.
    await first.writeRows(v, [row('a', 20, [4, 'a3']), row('b', 9, [0, 'stale'])])
    await first.sync()
    const before = (await journals(dir)).length
    await first.sync() // nothing changed: nothing appended
    assert.equal((await journals(dir)).length, before)
    // Crash: `first` is never closed.
    const second = await EmbeddedOnlineStore.open({ clock, path, files: unlockedStoreFiles })
    assert.deepEqual(await read(second, ['a', 'b', 'c', 'd']), [
      { status: 'PRESENT', asOfMs: 20, values: [4, 'a3'] },
      { status: 'PRESENT', asOfMs: 10, values: [2, 'b1'] },
      { status: 'PRESENT', asOfMs: 5, values: [null, 'c1'] },
      { status: 'MISSING', asOfMs: null, values: [null, null] },
    ])
    // The reopened store goes on journaling where the first left off, and a close folds it all in.
    await second.writeRows(v, [row('d', 1, [7, 'd1'])])
    await second.sync()
    const third = await EmbeddedOnlineStore.open({ clock, path, files: unlockedStoreFiles })
    assert.deepEqual((await read(third, ['d']))[0], { status: 'PRESENT', asOfMs: 1, values: [7, 'd1'] })
    await third.close()
    assert.equal((await journals(dir)).length, 0, 'the close left an empty journal, or none')
  }))

void test('online store > embedded > a torn final append is cut; a damaged line or a journal path elsewhere is refused', () =>
  withDir(async (dir, path) => {
    const store = await EmbeddedOnlineStore.open({ clock, path, files: unlockedStoreFiles })
    await store.writeRows(v, [row('a', 1, [1, 'x'])])
    await store.sync()
    await store.writeRows(v, [row('a', 2, [2, 'y']), row('b', 2, [3, 'z'])])
    await store.sync()
    // The acknowledged end recorded before the last append (journal-acked-end.ts): its slot is the next one written.
    const lastSlot = `${path}.acked-1`
    const beforeLast = await readFile(lastSlot, 'utf8')
    await store.writeRows(v, [row('b', 3, [5, 'q'])])
    await store.sync()
    const afterLast = await readFile(lastSlot, 'utf8')
    const [journal] = await journals(dir)
    const file = join(dir, journal!)
    const lines = await readFile(file, 'utf8')
    const storeFile = await readFile(path, 'utf8')
    // Two appends (the first sync wrote the file), each ending with its sync mark.
    const [a2, b2, mark1, b3, mark2, end] = lines.split('\n')
    assert.equal(end, '', 'complete lines')
    assert.equal(mark1, mark2, 'the same sync mark ends each append')
    const zeros = (line: string) => '\0'.repeat(line.length)
    const journalOf = (...ls: string[]) => ls.map((l) => `${l}\n`).join('')

    // Damage to an acknowledged sync: before the last append, or in it once another append follows.
    const damaged: [string, string][] = [
      ['a line that is not JSON', journalOf('{"key":', a2!, b2!, mark1!, b3!, mark2!)],
      [
        'a line of another shape',
        journalOf('{"key":"a","asOfMs":"2","expiresAtMs":1,"fields":{}}', a2!, b2!, mark1!, b3!, mark2!),
      ],
      [
        'a field value not text',
        journalOf(a2!, '{"key":"a","asOfMs":3,"expiresAtMs":1,"fields":{"x":1}}', b2!, mark1!, b3!, mark2!),
      ],
      ['a zero-filled line before the last append', journalOf(zeros(a2!), b2!, mark1!, b3!, mark2!)],
      ['a zero-filled line in the last append once another began', `${journalOf(a2!, b2!, mark1!, zeros(b3!), mark2!)}{"key":"x`],
    ]
    for (const [what, body] of damaged) {
      await writeFile(file, body)
      await assert.rejects(
        EmbeddedOnlineStore.open({ clock, path, files: unlockedStoreFiles }),
        (err: unknown) =>
          err instanceof FeatureStoreError &&
          err.code === 'DATA_CORRUPT' &&
          err.message.startsWith(`online store journal ${file} line `),
        what,
      )
    }

    // What a crash leaves of an append that never returned: cut, and every acknowledged row kept.
    // The last case's append is the last one above, caught by a power loss before its datasync
    // returned: so its acknowledged end was never recorded either.
    const torn: [string, string, number, string][] = [
      ['a cut line', `${lines}{"key":"jour`, 3, afterLast],
      ['a whole line without its sync mark', `${lines}${b3!.replace('"asOfMs":3', '"asOfMs":4')}\n`, 3, afterLast],
      ['a zero-filled line and its mark', `${lines}${journalOf(zeros(b3!), mark2!)}`, 3, afterLast],
      [
        'the last append with a zero-filled line, its mark on disk',
        journalOf(a2!, b2!, mark1!, zeros(b3!), mark2!),
        2,
        beforeLast,
      ],
      ['a zero-filled tail', `${lines}${zeros(b3!)}`, 3, afterLast],
    ]
    for (const [what, body, bAsOfMs, acked] of torn) {
      await writeFile(path, storeFile)
      await writeFile(file, body)
      await writeFile(lastSlot, acked)
      const reopened = await EmbeddedOnlineStore.open({ clock, path, files: unlockedStoreFiles })
      assert.deepEqual(
        (await read(reopened, ['a', 'b'])).map((r) => r?.asOfMs),
        [2, bAsOfMs],
        what,
      )
      // Folded into a new file: the next open reads the same without the journal.
      assert.deepEqual(await journals(dir), [], `${what}: folded away`)
      const again = await EmbeddedOnlineStore.open({ clock, path, files: unlockedStoreFiles })
      assert.deepEqual(
        (await read(again, ['a', 'b'])).map((r) => r?.asOfMs),
        [2, bAsOfMs],
        `${what}: reopened`,
      )
    }
    await writeFile(path, storeFile)
    await writeFile(file, lines)
    await writeFile(lastSlot, afterLast)

    await appendFile(file, '{"key":"jour')
    const reopened = await EmbeddedOnlineStore.open({ clock, path, files: unlockedStoreFiles })
    assert.deepEqual(
      (await read(reopened, ['a', 'b'])).map((r) => r?.asOfMs),
      [2, 3],
    )
    // The torn bytes are gone with their journal (the open folded the store into a new file): a
    // sync after it appends to a clean journal, and the next open reads it. Before, the append
    // landed behind the torn bytes and the next open refused the joined line as damage.
    assert.deepEqual(await journals(dir), [], 'the torn journal was folded away')
    await reopened.writeRows(v, [row('c', 3, [4, 'w'])])
    await reopened.sync()
    const after = await EmbeddedOnlineStore.open({ clock, path, files: unlockedStoreFiles })
    assert.deepEqual(
      (await read(after, ['a', 'b', 'c'])).map((r) => r?.asOfMs),
      [2, 3, 3],
    )

    const layout = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>
    for (const name of ['../elsewhere', '/etc/passwd', '', '..']) {
      await writeFile(path, JSON.stringify({ ...layout, journal: name }))
      await assert.rejects(
        EmbeddedOnlineStore.open({ clock, path, files: unlockedStoreFiles }),
        (err: unknown) =>
          err instanceof FeatureStoreError && err.code === 'DATA_CORRUPT' && err.message.includes('not a file name beside it'),
        JSON.stringify(name),
      )
    }
    await writeFile(path, JSON.stringify({ ...layout, journal: 7 }))
    await assert.rejects(
      EmbeddedOnlineStore.open({ clock, path, files: unlockedStoreFiles }),
      (err: unknown) => err instanceof FeatureStoreError && err.code === 'DATA_CORRUPT',
      'a journal name not text',
    )
  }))

void test('online store > embedded > a journal left beside a newer file is not applied; a long journal is folded', () =>
  withDir(async (dir, path) => {
    const store = await EmbeddedOnlineStore.open({ clock, path, files: unlockedStoreFiles })
    await store.writeRows(v, [row('a', 1, [1, 'old'])])
    await store.sync()
    await store.writeRows(v, [row('a', 1, [1, 'older line, newer file wins'])])
    await store.sync()
    const [oldJournal] = await journals(dir)
    const kept = join(dir, 'kept')
    await copyFile(join(dir, oldJournal!), kept)
    await store.writeRows(v, [row('a', 2, [2, 'new'])])
    await store.flush()
    // A crash between the file's replacement and the old journal's removal leaves it beside the file.
    await copyFile(kept, join(dir, oldJournal!))
    const reopened = await EmbeddedOnlineStore.open({ clock, path, files: unlockedStoreFiles })
    assert.deepEqual((await read(reopened, ['a']))[0], { status: 'PRESENT', asOfMs: 2, values: [2, 'new'] })

    // Rows of ~200 KB: the journal outgrows the file and 4 MiB after ~25 syncs, and is folded.
    const big = 'é'.repeat(100_000)
    const seen = new Set<string>()
    for (let i = 0; i < 40 && seen.size < 2; i++) {
      await reopened.writeRows(v, [row('big', 10 + i, [i, big])])
      await reopened.sync()
      const now = (await journals(dir)).filter((j) => j !== oldJournal)
      assert.ok(now.length <= 1, `one journal at a time: ${now.join(', ')}`)
      for (const j of now) seen.add(j)
    }
    assert.equal(seen.size, 2, 'the journal was folded into a new file, which a new journal continues')
    const after = await EmbeddedOnlineStore.open({ clock, path, files: unlockedStoreFiles })
    assert.equal((await read(after, ['big']))[0]!.status, 'PRESENT')
  }))

void test('online store > embedded > every journal the file does not name is removed on open, never applied; other files stay', async () => {
  const key = (k: string) => `${v.name}:${v.version}|${k}`
  const line = (k: string, asOfMs: number, expiresAtMs: number, s: string) =>
    `${JSON.stringify({ key: key(k), asOfMs, expiresAtMs, fields: { x: '9', s } })}\n`
  // Each is what a crash can leave beside a newer file (or worse): applied, each would bring back
  // a row the file's replaced, or fail the open.
  const leftovers: [string, string, string][] = [
    ['a tie on as_of that a later row won', 'online.json.journal-1-1-0', line('a', 20, 9_000_000_000, 'tie')],
    ['a row that expired before a lower as_of landed', 'online.json.journal-1-1-1', line('k', 50, 500, 'expired')],
    ['a line that does not read', 'online.json.journal-1-1-2', '{"key":\n'],
    ['a torn tail', 'online.json.journal-1-1-3', line('b', 99, 9_000_000_000, 'torn').slice(0, 30)],
    ['an empty journal', 'online.json.journal-1-1-4', ''],
    ['a temp file never renamed', 'online.json.tmp-77', '{"format":"kfs-online-store/1","rows":[]}'],
    ['a half-written temp file', 'online.json.tmp-78', '{"format":"kfs-onl'],
  ]
  for (const [what, name, text] of leftovers) {
    await withDir(async (dir, path) => {
      const store = await EmbeddedOnlineStore.open({ clock, path, files: unlockedStoreFiles })
      await store.writeRows(v, [row('a', 20, [1, 'won']), row('k', 5, [2, 'landed later'])])
      await store.sync()
      await store.writeRows(v, [row('b', 3, [3, 'journaled'])])
      await store.sync()
      const [journal] = await journals(dir)
      // Crash (no close), leaving the leftover — and a file of another store, which is not ours.
      await writeFile(join(dir, name), text)
      await writeFile(join(dir, 'other.json.journal-1-1-0'), line('a', 1, 1, 'not ours'))
      const reopened = await EmbeddedOnlineStore.open({ clock, path, files: unlockedStoreFiles })
      assert.deepEqual(
        await read(reopened, ['a', 'k', 'b']),
        [
          { status: 'PRESENT', asOfMs: 20, values: [1, 'won'] },
          { status: 'PRESENT', asOfMs: 5, values: [2, 'landed later'] },
          { status: 'PRESENT', asOfMs: 3, values: [3, 'journaled'] },
        ],
        what,
      )
      assert.deepEqual(
        (await readdir(dir)).sort(),
        ['online.json', 'online.json.acked-0', 'online.json.acked-1', journal!, 'other.json.journal-1-1-0'].sort(),
        `${what}: removed`,
      )
    })
  }
})

void test('online store > embedded > a file and journal from before sync marks still load, torn tail cut; the first sync moves to marks', () =>
  withDir(async (dir, path) => {
    const key = (k: string) => `${v.name}:${v.version}|${k}`
    const stored = (k: string, asOfMs: number, s: string) =>
      JSON.stringify({ key: key(k), asOfMs, expiresAtMs: 9_000_000_000, fields: { x: '1', s } })
    await writeFile(
      path,
      JSON.stringify({
        format: 'kfs-online-store/1',
        rows: [JSON.parse(stored('a', 1, 'file'))],
        journal: 'online.json.journal-old',
      }),
    )
    await writeFile(
      join(dir, 'online.json.journal-old'),
      `${stored('a', 2, 'journal')}\n${stored('b', 1, 'journal')}\n{"key":"tor`,
    )
    const store = await EmbeddedOnlineStore.open({ clock, path, files: unlockedStoreFiles })
    assert.deepEqual(
      (await read(store, ['a', 'b'])).map((r) => r?.values[1]),
      ['journal', 'journal'],
    )
    await store.writeRows(v, [row('c', 1, [1, 'new'])])
    await store.sync()
    const layout = JSON.parse(await readFile(path, 'utf8')) as { framed?: boolean }
    assert.equal(layout.framed, true, 'the store now writes sync marks')
    const again = await EmbeddedOnlineStore.open({ clock, path, files: unlockedStoreFiles })
    assert.deepEqual(
      (await read(again, ['a', 'b', 'c'])).map((r) => r?.values[1]),
      ['journal', 'journal', 'new'],
    )
    // An unmarked journal keeps the old rule: a damaged line other than the last piece is refused.
    await writeFile(path, JSON.stringify({ format: 'kfs-online-store/1', rows: [], journal: 'online.json.journal-old' }))
    await writeFile(join(dir, 'online.json.journal-old'), `{"key":\n${stored('a', 2, 'journal')}\n`)
    await assert.rejects(
      EmbeddedOnlineStore.open({ clock, path, files: unlockedStoreFiles }),
      (err: unknown) => err instanceof FeatureStoreError && err.code === 'DATA_CORRUPT',
    )
  }))
