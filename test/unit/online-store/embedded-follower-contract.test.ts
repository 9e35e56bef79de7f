/**
 * The online-store contract, read through a follower: every write goes to the writer, which syncs
 * it (as the engine does at a checkpoint), and everything is read from — and every change heard
 * through — a follower of the same directory that has looked since. Statuses, TTL, conditional
 * writes, coalescing, values and the change feed are then the writer's, seen from another reader.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Clock } from '../../../core/clock.ts'
import { EmbeddedOnlineFollower } from '../../../adapters/online-store/embedded/embedded-online-follower.ts'
import { EmbeddedOnlineStore } from '../../../adapters/online-store/embedded/embedded-online-store.ts'
import { runOnlineStoreContract, type ContractStore } from '../../contracts/online-store.ts'

runOnlineStoreContract('embedded, read by a follower', async () => {
  let now = 1_700_000_000_000
  const clock: Clock = { nowMs: () => now, sleep: async (ms) => void (now += ms) }
  const dir = mkdtempSync(join(tmpdir(), 'kfs-follower-contract-'))
  const path = join(dir, 'online-store.json')
  const writer = await EmbeddedOnlineStore.open({ clock, path })
  const follower = await EmbeddedOnlineFollower.follow({ clock, path, pollMs: 0 })
  const store: ContractStore = {
    async writeRows(view, rows) {
      const result = await writer.writeRows(view, rows)
      await writer.sync()
      await follower.refresh()
      return result
    },
    readRows: (lookups, nowMs) => follower.readRows(lookups, nowMs),
    subscribeChanges: (views, listener) => follower.subscribeChanges(views, listener),
    async close() {
      await follower.close()
      await writer.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
  return { store, advance: async (ms) => void (now += ms), nowMs: () => now }
})
