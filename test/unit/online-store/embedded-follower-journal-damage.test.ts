/**
 * The follower (kfs serve beside kfs run) over a writer's journal damaged after four acknowledged
 * syncs — every damage and torn tail of journal-damage-cases.ts — both when it starts on the damaged
 * store and when the damage comes while it follows. Starting, it holds every acknowledged row or
 * refuses with DATA_CORRUPT naming the journal, as the writer's open does; following, a refresh
 * either finds nothing wrong or rejects with DATA_CORRUPT naming the journal (a poll reports it
 * through onError), and it keeps serving every acknowledged row it held. A torn tail is no damage.
 *
 * And what its writer does meanwhile is never taken for damage: the file replaced (and the journal
 * it read removed) between its reads, or an acknowledged-end slot caught mid-write.
 *
 * Before: a follower starting on a journal cut back, emptied or deleted served fewer rows without a
 * word; one following saw nothing of a journal cut under it; and one whose reload met a
 * replacement served the old file without its journal's rows until the next poll.
 */
import assert from 'node:assert/strict'
import { mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { EmbeddedOnlineFollower } from '../../../adapters/online-store/embedded/embedded-online-follower.ts'
import { EmbeddedOnlineStore } from '../../../adapters/online-store/embedded/embedded-online-store.ts'
import { nodeFollowedFiles, type FollowedFiles } from '../../../adapters/online-store/embedded/store-files.ts'
import { FeatureStoreError } from '../../../core/errors.ts'
import { unlockedStoreFiles } from '../../support/unlocked-store-files.ts'
import { row } from '../../contracts/online-store.ts'
import { ACKNOWLEDGED, clock, damages, snapshot, v, writeAcknowledged } from './journal-damage-cases.ts'

interface Acknowledged {
  readonly dir: string
  readonly path: string
  readonly writer: EmbeddedOnlineStore
  readonly journal: string
  readonly text: string
}

/** A writer's directory after writeAcknowledged, the writer still open (its journal not folded away). */
async function withAcknowledged(fn: (s: Acknowledged) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'kfs-follower-damage-'))
  try {
    const path = join(dir, 'online.json')
    const writer = await EmbeddedOnlineStore.open({ clock, path, files: unlockedStoreFiles })
    await writeAcknowledged(writer)
    const journal = join(
      dir,
      (await readdir(dir)).find((n) => n.includes('.journal-'))!,
    )
    await fn({ dir, path, writer, journal, text: await readFile(journal, 'latin1') })
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

const follow = (path: string, files?: FollowedFiles) => EmbeddedOnlineFollower.follow({ clock, path, pollMs: 0, files })

async function place(journal: string, text: string | undefined): Promise<void> {
  if (text === undefined) await rm(journal, { force: true })
  else await writeFile(journal, text, 'latin1')
}

function assertNamedDamage(err: unknown, named: string, where: string): void {
  assert.ok(err instanceof FeatureStoreError && err.code === 'DATA_CORRUPT', `${where}: ${String(err)}`)
  assert.ok(err.message.includes(named), `${where}: ${err.message}`)
}

void describe('online store > embedded > follower over a damaged journal', () => {
  void test('starting on it: every acknowledged row, or DATA_CORRUPT naming the journal; a torn tail reads', () =>
    withAcknowledged(async ({ path, journal, text }) => {
      let refused = 0
      for (const damage of damages(text)) {
        await place(journal, damage.apply(text))
        const follower = await follow(path).catch((err: unknown) => {
          assert.ok(damage.harmless !== true, `${damage.name}: refused: ${String(err)}`)
          assertNamedDamage(err, journal, damage.name)
          refused++
          return undefined
        })
        if (follower === undefined) continue
        assert.deepEqual(
          await snapshot(follower),
          ACKNOWLEDGED,
          `${damage.name}: followed without an error, so every acknowledged row`,
        )
        await follower.close()
      }
      // Every cut below the end, the emptied and the deleted journal at least.
      assert.ok(refused >= text.length + 2, `only ${refused} refused`)
      await place(journal, text)
    }))

  void test('while following: a refresh finds nothing wrong or rejects naming the journal, and every acknowledged row stays served', () =>
    withAcknowledged(async ({ path, journal, text }) => {
      for (const damage of damages(text)) {
        await place(journal, text)
        const follower = await follow(path)
        await place(journal, damage.apply(text))
        const cut = damage.name.startsWith('cut to ') || damage.name === 'emptied' || damage.name.startsWith('deleted')
        await follower.refresh().then(
          () => assert.ok(!cut, `${damage.name}: nothing reported`),
          (err: unknown) => {
            assert.ok(damage.harmless !== true, `${damage.name}: reported: ${String(err)}`)
            assertNamedDamage(err, journal, damage.name)
          },
        )
        assert.deepEqual(await snapshot(follower), ACKNOWLEDGED, `${damage.name}: still served`)
        await follower.close()
      }
      await place(journal, text)
    }))

  void test('a poll that meets damage reports it through onError and keeps serving', () =>
    withAcknowledged(async ({ path, journal, text }) => {
      const errors: unknown[] = []
      let looks = 0
      // Counts the polls' looks at the file (no clock): the wait below ends once two polls began after the damage.
      const files: FollowedFiles = { ...nodeFollowedFiles, version: (file) => (looks++, nodeFollowedFiles.version(file)) }
      const follower = await EmbeddedOnlineFollower.follow({ clock, path, files, pollMs: 1, onError: (err) => errors.push(err) })
      // One truncate(2): a poll never sees a state between (a rewrite would show it an empty journal first).
      await truncate(journal, text.length >> 1)
      looks = 0
      while (looks < 5) await new Promise((resolve) => setImmediate(resolve))
      assert.equal(errors.length, 1, 'reported once, not at every poll')
      assertNamedDamage(errors[0], journal, 'a poll')
      assert.deepEqual(await snapshot(follower), ACKNOWLEDGED)
      await follower.close()
    }))
})

void describe('online store > embedded > follower beside a writer at work: no false damage', () => {
  void test('the file replaced and the journal removed between the reads of a reload: read again, every row', () =>
    withAcknowledged(async ({ path, writer, journal }) => {
      let replaced = false
      const files: FollowedFiles = {
        ...nodeFollowedFiles,
        async readFrom(file, offset) {
          // The writer folds the journal into a new file just before the follower reads the journal.
          if (file === journal && !replaced) {
            replaced = true
            await writer.flush()
          }
          return nodeFollowedFiles.readFrom(file, offset)
        },
      }
      const follower = await follow(path, files)
      assert.ok(replaced, 'the replacement came mid-reload')
      assert.deepEqual(await snapshot(follower), ACKNOWLEDGED)
      await follower.close()
    }))

  void test('the file replaced and the journal removed between the looks of a poll: nothing reported, the next poll reads the new file', () =>
    withAcknowledged(async ({ path, writer, journal }) => {
      let polling = false
      let replaced = false
      const files: FollowedFiles = {
        ...nodeFollowedFiles,
        async readFrom(file, offset) {
          if (polling && file === journal && !replaced) {
            replaced = true
            await writer.writeRows(v, [row('b', 20, [2, 'after'])])
            await writer.flush()
          }
          return nodeFollowedFiles.readFrom(file, offset)
        },
      }
      const follower = await follow(path, files)
      polling = true
      await follower.refresh()
      assert.ok(replaced, 'the replacement came mid-poll')
      await follower.refresh()
      const expected = [...ACKNOWLEDGED]
      expected[1] = { status: 'PRESENT', asOfMs: 20, values: [2, 'after'] }
      assert.deepEqual(await snapshot(follower), expected)
      await follower.close()
    }))

  void test('both acknowledged-end slots caught mid-write: read again, every row; both damaged for good: DATA_CORRUPT', () =>
    withAcknowledged(async ({ path }) => {
      let torn = 2
      const files: FollowedFiles = {
        ...nodeFollowedFiles,
        async readFrom(file, offset) {
          // As a slot reads while the writer has truncated it and not yet written it again.
          if (file.includes('.acked-') && torn > 0) {
            torn--
            return { text: '', size: 0 }
          }
          return nodeFollowedFiles.readFrom(file, offset)
        },
      }
      const follower = await follow(path, files)
      assert.equal(torn, 0)
      assert.deepEqual(await snapshot(follower), ACKNOWLEDGED)
      await follower.close()

      for (const slot of [0, 1]) await writeFile(`${path}.acked-${slot}`, 'garbage')
      await assert.rejects(follow(path), (err: unknown) => {
        assertNamedDamage(err, `${path}.acked-0`, 'both slots')
        return true
      })
    }))
})
