/**
 * Which letters may be re-driven and where to (replay/dead-letters/redrive-plan.ts): a record goes
 * back only when no view reading where the copy lands would count it twice.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { FeatureViewDef } from '../../../features/types.ts'
import type { DeadLetterEntry } from '../../../replay/dead-letters/dead-letter-entry.ts'
import { assessLetters, redriveTargets, selectLetters, type ViewState } from '../../../replay/dead-letters/redrive-plan.ts'
import { testEntity, testSource, testView } from '../operators/defs.ts'

const clicks = testSource({ topic: 'clicks', keyedBy: 'user', partitions: 2 })
const user = testEntity(['user'])
const item = { ...testEntity(['item']), name: 'item' }
const userClicks = testView({ name: 'user_clicks', source: clicks, entity: { ...user, name: 'user' }, features: [{ op: 'count', windowMs: null }] })
const userSessions = testView({ name: 'user_sessions', source: clicks, entity: { ...user, name: 'user' }, features: [{ op: 'count', windowMs: null }] })
const itemClicks = testView({ name: 'item_clicks', source: clicks, entity: item, features: [{ op: 'count', windowMs: null }] })
const INTERNAL = 'kfs.clicks.by-item'

const complete = (view: FeatureViewDef, through: { topic: string; partition: number; offset: string }[] = []): ViewState => ({
  view,
  backfill: { state: 'complete', completeThrough: through, updatedAtMs: 0 },
})

let nextLetter = 0
function letter(read: string, options: { view?: string; version?: number; reason?: DeadLetterEntry['reason']; detail?: string; origin?: string } = {}): DeadLetterEntry {
  const [topic, partition, offset] = read.split('/')
  const position = { topic: topic!, partition: Number(partition), offset: offset! }
  const originParts = options.origin?.split('/')
  const origin = originParts ? { topic: originParts[0]!, partition: Number(originParts[1]), offset: originParts[2]! } : undefined
  return {
    at: { topic: 'kfs.dead-letters', partition: 0, offset: String(nextLetter++) },
    timeMs: 1_000,
    reason: options.reason ?? 'late',
    detail: options.detail ?? 'late',
    view: options.view,
    viewVersion: options.version,
    read: position,
    origin,
    target: origin ?? position,
    key: Buffer.from('k'),
    value: Buffer.from('v'),
  }
}

const statusOf = (entries: DeadLetterEntry[], states: ViewState[], redriven: string[] = []) =>
  assessLetters(entries, states, new Set(redriven)).map((a) => (a.status.kind === 'held' ? `held: ${a.status.why}` : a.status.kind))

void describe('dead letters > re-drive plan', () => {
  const states = [complete(userClicks), complete(userSessions), complete(itemClicks)]

  void test('a record some view reading its topic accepted is held, naming the view', () => {
    const [status] = statusOf([letter('clicks/0/5', { view: 'user_clicks' })], states)
    assert.match(status!, /^held: user_sessions, item_clicks did not refuse it/)
  })

  void test('every view of the topic refused it (one letter each, or one letter for all): re-drivable', () => {
    const each = [letter('clicks/0/5', { view: 'user_clicks' }), letter('clicks/0/5', { view: 'user_sessions' }), letter('clicks/0/5', { view: 'item_clicks', detail: 're-key by item: no item' })]
    assert.deepEqual(statusOf(each, states), ['redrivable', 'redrivable', 'redrivable'])
    // A record that did not decode: one letter from the direct views' slot, one from the re-key stage.
    const decode = [letter('clicks/1/9', { reason: 'undecodable', detail: 'bad bytes' }), letter('clicks/1/9', { reason: 'undecodable', detail: 're-key by item: bad bytes' })]
    assert.deepEqual(statusOf(decode, states), ['redrivable', 'redrivable'])
    // Only the direct views' letter: the re-keyed view has not refused it (yet).
    assert.match(statusOf([decode[0]!], states)[0]!, /^held: item_clicks did not refuse it/)
  })

  void test('a record refused on an internal topic goes back there: only the views re-keyed through it see the copy', () => {
    const entries = [letter(`${INTERNAL}/1/40`, { view: 'item_clicks' })]
    const assessed = assessLetters(entries, states, new Set())
    assert.equal(assessed[0]!.status.kind, 'redrivable')
    assert.deepEqual(redriveTargets(assessed).map((t) => [t.id, `${t.to.topic}/${t.to.partition}/${t.to.offset}`]), [[`${INTERNAL}/1/40`, `${INTERNAL}/1/40`]])
  })

  void test('letters naming their origin group with the source record; the copy then goes to the source', () => {
    const entries = [letter(`${INTERNAL}/1/40`, { view: 'item_clicks', origin: 'clicks/0/5' }), letter('clicks/0/5', { view: 'user_clicks' }), letter('clicks/0/5', { view: 'user_sessions' })]
    const targets = redriveTargets(assessLetters(entries, states, new Set()))
    assert.equal(targets.length, 1, 'one record, one copy')
    assert.deepEqual(targets[0]!.to, { topic: 'clicks', partition: 0, offset: '5' })
    assert.equal(targets[0]!.letter.read.topic, 'clicks', 'copied from the letter read at the source (its key is the source key)')
  })

  void test('a refusing view whose backfill read the record, or has yet to, holds it back', () => {
    const entries = [letter(`${INTERNAL}/1/40`, { view: 'item_clicks' })]
    const pending: ViewState = { view: itemClicks, backfill: { state: 'running', completeThrough: [], updatedAtMs: 0 } }
    assert.match(statusOf(entries, [pending])[0]!, /^held: item_clicks v1 has not completed its backfill/)
    const readPast = complete(itemClicks, [{ topic: INTERNAL, partition: 1, offset: '41' }])
    assert.match(statusOf(entries, [readPast])[0]!, /^held: item_clicks v1 read the record in its backfill \(complete through offset 41\)/)
    const before = complete(itemClicks, [{ topic: INTERNAL, partition: 1, offset: '40' }, { topic: INTERNAL, partition: 0, offset: '99' }])
    assert.deepEqual(statusOf(entries, [before]), ['redrivable'], 'live from offset 40 on: the letter is of the live version')
  })

  void test("a letter of the refusing view's current version (its backfill's own, or live's) is not held back by that backfill", () => {
    const v2 = { ...itemClicks, version: 2 }
    const readPast = (view: FeatureViewDef): ViewState => complete(view, [{ topic: INTERNAL, partition: 1, offset: '41' }])
    const running: ViewState = { view: v2, backfill: { state: 'running', completeThrough: [], updatedAtMs: 0 } }
    const at = `${INTERNAL}/1/40`
    const cases: { name: string; letters: DeadLetterEntry[]; state: ViewState; expect: RegExp }[] = [
      { name: 'written by the backfill of the current version', letters: [letter(at, { view: 'item_clicks', version: 2 })], state: readPast(v2), expect: /^redrivable$/ },
      { name: 'by the current version, its backfill still running', letters: [letter(at, { view: 'item_clicks', version: 2 })], state: running, expect: /^redrivable$/ },
      { name: 'an earlier version refused it, the current one refused it again', letters: [letter(at, { view: 'item_clicks', version: 1 }), letter(at, { view: 'item_clicks', version: 2 })], state: readPast(v2), expect: /^redrivable$/ },
      { name: 'only an earlier version refused it (the current one may have accepted it)', letters: [letter(at, { view: 'item_clicks', version: 1 })], state: readPast(v2), expect: /^held: item_clicks v2 read the record in its backfill/ },
      { name: 'an earlier version refused it, the current one is still backfilling', letters: [letter(at, { view: 'item_clicks', version: 1 })], state: running, expect: /^held: item_clicks v2 has not completed its backfill/ },
      { name: 'a letter naming no version (written before kfs named it)', letters: [letter(at, { view: 'item_clicks' })], state: readPast(itemClicks), expect: /^held: item_clicks v1 read the record in its backfill/ },
      { name: 'a letter naming no view, whatever its version header', letters: [letter(at, { reason: 'undecodable', detail: 'x', version: 1 })], state: readPast(itemClicks), expect: /^held: item_clicks v1 read the record in its backfill/ },
    ]
    for (const c of cases) {
      for (const status of statusOf(c.letters, [c.state])) assert.match(status, c.expect, c.name)
    }
  })

  void test('a record with a marker is re-driven, all its letters too; no view reads a topic: held', () => {
    const entries = [letter('clicks/0/7', { view: 'user_clicks' }), letter('clicks/0/7', { view: 'user_clicks' })]
    assert.deepEqual(statusOf(entries, states, ['clicks/0/7']), ['redriven', 'redriven'])
    assert.match(statusOf([letter('orders/0/1', { reason: 'undecodable' })], states)[0]!, /^held: no view of the features module reads orders/)
  })

  void test('filters: by reason, by refusing view (a letter without a view counts for each view it stands for), by time', () => {
    const entries = [letter('clicks/0/1', { reason: 'undecodable', detail: 'x' }), letter(`${INTERNAL}/0/2`, { view: 'item_clicks' }), { ...letter('clicks/1/3', { view: 'user_clicks' }), timeMs: 5_000 }]
    const assessed = assessLetters(entries, states, new Set())
    const offsets = (filter: Parameters<typeof selectLetters>[1]) => selectLetters(assessed, filter).map((a) => a.entry.read.offset)
    assert.deepEqual(offsets({ reasons: ['undecodable'] }), ['1'])
    assert.deepEqual(offsets({ views: ['user_sessions'] }), ['1'])
    assert.deepEqual(offsets({ views: ['item_clicks'] }), ['2'])
    assert.deepEqual(offsets({ topics: [INTERNAL] }), ['2'])
    assert.deepEqual(offsets({ fromMs: 2_000 }), ['3'])
    assert.deepEqual(offsets({ untilMs: 2_000 }), ['1', '2'])
  })
})
