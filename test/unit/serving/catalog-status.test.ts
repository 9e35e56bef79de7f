/**
 * The catalog's live status: freshness against the SLA, the newest as_of kept from the change
 * feed, dead letters attributed to views, and the cached provider (answers from memory, refreshes
 * a stale part behind the page, keeps the last known values when a refresh fails).
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { cachedCatalogStatus } from '../../../serving/handlers/catalog/status-cache.ts'
import { deadLettersByView, freshnessOf, NewestAsOf, newest } from '../../../serving/handlers/catalog/status.ts'

const views = [
  { name: 'clicks_v', version: 1, source: { topic: 'clicks' } },
  { name: 'clicks_v', version: 2, source: { topic: 'clicks' } },
  { name: 'orders_v', version: 1, source: { topic: 'orders' } },
]

void describe('serving > catalog status', () => {
  void test('freshness: age against the SLA, breached only past it, not judged without rows', () => {
    assert.deepEqual(freshnessOf(1000, 61_000, 60_000), { ageMs: 60_000, newestAsOfMs: 1000, breached: false })
    assert.equal(freshnessOf(1000, 61_001, 60_000).breached, true)
    assert.deepEqual(freshnessOf(undefined, 61_001, 60_000), { ageMs: undefined, newestAsOfMs: undefined, breached: false })
    assert.equal(freshnessOf(5000, 1000, 60_000).ageMs, 0) // a row from the future is fresh, not negative
    assert.equal(newest(undefined, 3), 3)
    assert.equal(newest(4, 3), 4)
  })

  void test('newest as_of per view version, never going back', () => {
    const seen = new NewestAsOf()
    seen.observe({ view: 'clicks_v', version: 1, asOfMs: 50 })
    seen.observe({ view: 'clicks_v', version: 1, asOfMs: 20 })
    seen.observe({ view: 'clicks_v', version: 2, asOfMs: 10 })
    assert.equal(seen.of('clicks_v@1'), 50)
    assert.equal(seen.of('clicks_v@2'), 10)
    assert.equal(seen.of('orders_v@1'), undefined)
  })

  void test('dead letters: a named view counts for its versions; an unnamed one for every view of its topic', () => {
    const counts = deadLettersByView(
      [
        { reason: 'late', view: 'clicks_v', topic: 'clicks' },
        { reason: 'late', view: 'clicks_v', topic: 'clicks' },
        { reason: 'undecodable', view: undefined, topic: 'orders' },
        { reason: 'undecodable', view: undefined, topic: 'elsewhere' },
      ],
      views,
    )
    assert.deepEqual(Object.fromEntries(counts), { 'clicks_v@1': { late: 2 }, 'clicks_v@2': { late: 2 }, 'orders_v@1': { undecodable: 1 } })
  })

  void test('cached provider: answers from memory, refreshes a stale part once, keeps the last values on failure', async () => {
    let now = 0
    let backfillReads = 0
    let letterReads = 0
    let lettersFail = false
    const errors: string[] = []
    const status = cachedCatalogStatus({
      views,
      nowMs: () => now,
      backfillEveryMs: 100,
      deadLettersEveryMs: 1000,
      async backfill(view, version) {
        backfillReads++
        return view === 'orders_v' ? undefined : { state: version === 1 ? 'complete' : 'running', updatedAtMs: 7 }
      },
      async deadLetters() {
        letterReads++
        if (lettersFail) throw new Error('log down')
        return [{ reason: 'late', view: 'orders_v', topic: 'orders' }]
      },
      onError: (part) => errors.push(part),
    })
    assert.deepEqual(await status.provider(), { views: { 'clicks_v@1': {}, 'clicks_v@2': {}, 'orders_v@1': {} } }) // nothing read yet
    await status.refresh()
    assert.equal(backfillReads, 3) // refresh() joined the refresh the first page load started
    now = 50
    const known = await status.provider()
    assert.deepEqual(known.views['clicks_v@2'], { backfill: { state: 'running', updatedAtMs: 7 }, deadLetters: { byReason: {}, readAtMs: 0 } })
    assert.deepEqual(known.views['orders_v@1'], { deadLetters: { byReason: { late: 1 }, readAtMs: 0 } })
    assert.equal(backfillReads, 3) // fresh: no read
    now = 2000
    lettersFail = true
    await status.provider()
    await status.refresh()
    assert.deepEqual((await status.provider()).views['orders_v@1']?.deadLetters, { byReason: { late: 1 }, readAtMs: 0 })
    assert.ok(errors.includes('dead letters'))
    const readsAfterFailure = letterReads
    await status.provider() // failed at now = 2000: not retried until stale again
    assert.equal(letterReads, readsAfterFailure)
  })

  void test('cached provider: the newest as_of known elsewhere (the offline table) and the engine progress come with the backfill states', async () => {
    const status = cachedCatalogStatus({
      views,
      nowMs: () => 0,
      async backfill() {
        return undefined
      },
      async tableStats(view, version) {
        return view === 'clicks_v' && version === 2 ? { newestAsOfMs: 1_700_000_000_000, rows: 10, nullsByFeature: { a: 3 } } : undefined
      },
      async progress(view, version) {
        return view === 'clicks_v' && version === 2 ? { lastCheckpointMs: 1_699_999_999_000, lagRecords: 42 } : undefined
      },
    })
    await status.refresh()
    const known = await status.provider()
    assert.deepEqual(known.views['clicks_v@2'], {
      newestAsOfMs: 1_700_000_000_000,
      progress: { lastCheckpointMs: 1_699_999_999_000, lagRecords: 42, readAtMs: 0 },
      table: { rows: 10, nullsByFeature: { a: 3 } },
    })
    assert.deepEqual(known.views['clicks_v@1'], {})
  })
  void test('cached provider: one view whose progress cannot be read is reported, and every other view still shows its state', async () => {
    const errors: { part: string; message: string }[] = []
    const status = cachedCatalogStatus({
      views,
      nowMs: () => 0,
      async backfill(view) {
        return view === 'orders_v' ? { state: 'complete', updatedAtMs: 3 } : undefined
      },
      async progress(view) {
        if (view === 'clicks_v') throw new Error('record 12 of clicks-0 is damaged')
        return { lastCheckpointMs: 5, lagRecords: 0 }
      },
      onError: (part, err) => errors.push({ part, message: (err as Error).message }),
    })
    await status.refresh()
    const known = await status.provider()
    assert.deepEqual(known.views['orders_v@1'], { backfill: { state: 'complete', updatedAtMs: 3 }, progress: { lastCheckpointMs: 5, lagRecords: 0, readAtMs: 0 } })
    assert.deepEqual(known.views['clicks_v@1'], {})
    assert.deepEqual(errors, [
      { part: 'progress', message: 'record 12 of clicks-0 is damaged' },
      { part: 'progress', message: 'record 12 of clicks-0 is damaged' },
    ])
  })
})
