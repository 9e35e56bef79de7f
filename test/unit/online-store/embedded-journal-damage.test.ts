/**
 * The embedded online store reopened over a journal damaged after four acknowledged syncs — cut at
 * every length, emptied, deleted while the store file names it, each batch removed, duplicated,
 * swapped, changed, made unreadable or zero-filled (journal-damage-cases.ts): it holds every
 * acknowledged row or stops with DATA_CORRUPT naming the journal, never fewer rows without a word.
 * A torn tail after the last acknowledged sync (every prefix of an append that never returned, a
 * zero-filled page of one) reads with no error and every acknowledged row, as before.
 *
 * Before, nothing recorded how far the journal had been acknowledged: every cut back to an earlier
 * sync mark, an emptied or deleted journal, a removed last batch and a zero-filled last batch
 * loaded fewer rows silently (acknowledged rows lost), and a changed value read as written.
 *
 * Also: a store written before the acknowledged end was recorded (no slots, a file without
 * `acked`) opens with its rows, and is protected from its next sync on; both slots damaged is
 * damage, one torn slot is not.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { EmbeddedOnlineStore } from '../../../adapters/online-store/embedded/embedded-online-store.ts'
import { FeatureStoreError } from '../../../core/errors.ts'
import { ModelDisk } from './model-disk.ts'
import { ACKNOWLEDGED, BATCHES, clock, damages, FIRST, snapshot, v, writeAcknowledged } from './journal-damage-cases.ts'

const DIR = '/model'
const PATH = join(DIR, 'online.json')

const journalName = (disk: ModelDisk) => (JSON.parse(disk.text('online.json')!) as { journal: string }).journal

/** The disk a killed writer leaves after writeAcknowledged (no close: the journal stays). */
async function acknowledged(): Promise<ModelDisk> {
  const disk = new ModelDisk(DIR)
  await writeAcknowledged(await EmbeddedOnlineStore.open({ clock, path: PATH, files: disk }))
  return disk.restarted()
}

/** Opens `disk`: every acknowledged row, or DATA_CORRUPT naming `named`; `mustRead`: no error allowed. */
async function assertAllOrNamedDamage(
  disk: ModelDisk,
  named: string,
  where: string,
  mustRead = false,
): Promise<'read' | 'refused'> {
  let store: EmbeddedOnlineStore
  try {
    store = await EmbeddedOnlineStore.open({ clock, path: PATH, files: disk })
  } catch (err: unknown) {
    assert.ok(!mustRead, `${where}: refused, but it is no damage to acknowledged rows: ${String(err)}`)
    assert.ok(err instanceof FeatureStoreError && err.code === 'DATA_CORRUPT', `${where}: ${String(err)}`)
    assert.ok(err.message.includes(named), `${where}: ${err.message}`)
    return 'refused'
  }
  assert.deepEqual(await snapshot(store), ACKNOWLEDGED, `${where}: read without an error, so every acknowledged row`)
  return 'read'
}

void describe('online store > embedded > a journal damaged after its syncs were acknowledged', () => {
  void test('every damage: every acknowledged row or DATA_CORRUPT naming the journal; every torn tail: every acknowledged row', async () => {
    const base = await acknowledged()
    const name = journalName(base)
    const journal = base.text(name)!
    const outcomes = new Map<string, 'read' | 'refused'>()
    for (const damage of damages(journal)) {
      const disk = base.restarted()
      disk.damage(name, damage.apply(journal))
      outcomes.set(damage.name, await assertAllOrNamedDamage(disk, join(DIR, name), damage.name, damage.harmless))
    }
    // A cut anywhere below the journal's end removes acknowledged bytes: each one is reported.
    const cuts = [...outcomes].filter(([n]) => n.startsWith('cut to '))
    assert.equal(cuts.length, journal.length)
    assert.deepEqual(
      cuts.filter(([, o]) => o === 'read').map(([n]) => n),
      [],
    )
    for (const n of ['emptied', 'deleted while the file names it', `batch ${BATCHES.length} of ${BATCHES.length} removed`])
      assert.equal(outcomes.get(n), 'refused', n)
  })

  void test('a torn tail is still cut, and the store goes on: a sync after the reopen is found by the next one', async () => {
    const base = await acknowledged()
    const name = journalName(base)
    const journal = base.text(name)!
    for (const damage of damages(journal).filter((d) => d.harmless === true)) {
      const disk = base.restarted()
      disk.damage(name, damage.apply(journal))
      const store = await EmbeddedOnlineStore.open({ clock, path: PATH, files: disk })
      await store.writeRows(v, [{ entityKey: 'b', asOfMs: 20, values: [2, 'after'] }])
      await store.sync()
      const again = await EmbeddedOnlineStore.open({ clock, path: PATH, files: disk.restarted() })
      const expected = [...ACKNOWLEDGED]
      expected[1] = { status: 'PRESENT', asOfMs: 20, values: [2, 'after'] }
      assert.deepEqual(await snapshot(again), expected, damage.name)
    }
  })

  void test('one acknowledged-end slot that does not read claims less, never damage; both is damage naming them', async () => {
    const base = await acknowledged()
    for (const slot of [0, 1]) {
      for (const text of [undefined, '', '{"journal"', 'garbage']) {
        const disk = base.restarted()
        disk.damage(`online.json.acked-${slot}`, text)
        await assertAllOrNamedDamage(disk, PATH, `slot ${slot} ${JSON.stringify(text)}`, true)
      }
    }
    const disk = base.restarted()
    disk.damage('online.json.acked-0', 'garbage')
    disk.damage('online.json.acked-1', '')
    await assert.rejects(
      EmbeddedOnlineStore.open({ clock, path: PATH, files: disk }),
      (err: unknown) =>
        err instanceof FeatureStoreError && err.code === 'DATA_CORRUPT' && err.message.includes(`${PATH}.acked-0`),
    )
  })

  void test('a store written before the acknowledged end was recorded opens, and is protected from its next sync on', async () => {
    const disk = new ModelDisk(DIR)
    await writeAcknowledged(await EmbeddedOnlineStore.open({ clock, path: PATH, files: disk }))
    // As the version before wrote it: no slots, and a file without `acked`.
    const old = disk.restarted()
    const file = JSON.parse(old.text('online.json')!) as Record<string, unknown>
    delete file.acked
    old.damage('online.json', JSON.stringify(file))
    old.damage('online.json.acked-0', undefined)
    old.damage('online.json.acked-1', undefined)
    const store = await EmbeddedOnlineStore.open({ clock, path: PATH, files: old })
    assert.deepEqual(await snapshot(store), ACKNOWLEDGED)
    // Its next syncs: a new file with the slots, then an append recorded as acknowledged.
    await store.writeRows(v, [FIRST[1]!])
    await store.writeRows(v, [{ entityKey: 'b', asOfMs: 20, values: [2, 'after'] }])
    await store.sync()
    await store.writeRows(v, [{ entityKey: 'b', asOfMs: 21, values: [3, 'later'] }])
    await store.sync()
    const after = old.restarted()
    after.damage(journalName(after), '')
    await assert.rejects(
      EmbeddedOnlineStore.open({ clock, path: PATH, files: after }),
      (err: unknown) =>
        err instanceof FeatureStoreError && err.code === 'DATA_CORRUPT' && err.message.includes(journalName(after)),
    )
  })
})
