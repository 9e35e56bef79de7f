import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import type { Clock } from '../../core/clock.ts'
import { EmbeddedOnlineStore } from '../../adapters/online-store/embedded/embedded-online-store.ts'
import { feature, plainRead, row, runOnlineStoreContract, view } from '../contracts/online-store.ts'

function manualClock(startMs: number): Clock & { advance(ms: number): void } {
  let now = startMs
  return { nowMs: () => now, sleep: async (ms) => void (now += ms), advance: (ms) => void (now += ms) }
}

runOnlineStoreContract('embedded', async () => {
  const clock = manualClock(1_700_000_000_000)
  return { store: new EmbeddedOnlineStore({ clock }), advance: async (ms) => clock.advance(ms), nowMs: () => clock.nowMs() }
})

void test('online store > embedded > persists live rows across close and open', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kfs-online-'))
  try {
    const path = join(dir, 'online.json')
    const clock = manualClock(1_000_000)
    const v = view('persisted', [feature('x', 'double'), feature('tags', 'string[]')], { ttlMs: 10_000 })
    const first = await EmbeddedOnlineStore.open({ clock, path })
    await first.writeRows(v, [row('a', 999_000, [0.1 + 0.2, ['t']]), row('b', 999_500, [null, []])])
    await first.close()
    const second = await EmbeddedOnlineStore.open({ clock, path })
    const reads = await second.readRows(['a', 'b', 'c'].map((entityKey) => ({ view: v, entityKey, features: ['x', 'tags'] })), 1_000_000)
    assert.deepEqual(reads.map(plainRead), [
      { status: 'PRESENT', asOfMs: 999_000, values: [0.1 + 0.2, ['t']] },
      { status: 'PRESENT', asOfMs: 999_500, values: [null, []] },
      { status: 'MISSING', asOfMs: null, values: [null, null] },
    ])
    // Zombie protection survives the restart too.
    assert.deepEqual(await second.writeRows(v, [row('a', 998_000, [1, []])]), { written: 0, stale: 1 })
    clock.advance(10_000)
    const [expired] = await second.readRows([{ view: v, entityKey: 'a', features: ['x'] }], 1_000_000)
    assert.equal(expired?.status, 'MISSING')
    await second.close()
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
