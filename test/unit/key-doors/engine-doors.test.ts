/**
 * The key rule at the engine's doors (docs/semantics.md §20), end to end on embedded defaults —
 * `kfs apply` and `kfs run --until-caught-up` in-process: every part of the corpus (corpus.ts) as
 * an Avro event's join key, as the key a view's `map` makes, as a changelog's primary key and as
 * the column the re-key stage keys by, in Debezium JSON and in the Avro change envelope. Each bad
 * key is dead-lettered `invalid_key` with core's reason (`join key <field> is <reason>`) by every
 * reader it is bad for — a lone surrogate included, which a map could make and JSON can escape
 * but bytes carry only as bytes that are not UTF-8 (then the reason is that). Each tricky-but-valid
 * key is taken by every view, and the row written online is served back by the same key.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/index.ts'
import { EmbeddedOnlineStore } from '../../../adapters/online-store/embedded/embedded-online-store.ts'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { DEAD_LETTER_HEADERS } from '../../../engine/dead-letter-topic.ts'
import type { FeatureViewDef } from '../../../features/types.ts'
import { createWideType } from '../../../schemas/avro-type.ts'
import { createServer } from '../../../serving/server/index.ts'
import { captureLogger } from '../serving/server-harness.ts'
import * as fx from '../../fixtures/features/key-doors.ts'
import { runKfsInProcess } from '../../support/in-process-cli.ts'
import { BAD_PARTS, GOOD_PARTS, KIND_REASON, reasonOf, wtf8 } from './corpus.ts'
import { readWholeTopic } from '../../support/read-whole-topic.ts'

const FEATURES = ['--features', 'test/fixtures/features/key-doors.ts']
const DEAD_LETTERS = 'kfs.dead-letters'
const T0 = 1_700_000_000_000
const okKey = (i: number): string => `ok-${i}`
const escaped = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** A record's Avro body with the text `marker` overwritten by `part`'s bytes (WTF-8 for a lone surrogate). */
function withPart(body: Buffer, marker: string, part: string): Buffer {
  const at = body.indexOf(Buffer.from(marker))
  assert.ok(at >= 0)
  const bytes = wtf8(part)
  assert.equal(bytes.length, Buffer.byteLength(marker))
  return Buffer.concat([body.subarray(0, at), bytes, body.subarray(at + bytes.length)])
}
const framed = (id: number, body: Buffer): Buffer => Buffer.concat([Buffer.from([0, 0, 0, 0, 0]).fill(id, 4), body])
/** A marker as long as the part's bytes, found nowhere else in the record. */
const markerOf = (part: string): string => 'Z'.repeat(wtf8(part).length)

const CORPUS = [
  ...BAD_PARTS.map((b) => ({ what: b.what, part: b.part, bad: true })),
  ...GOOD_PARTS.map((g) => ({ ...g, bad: false })),
]

interface Letter {
  readonly reason: string
  readonly detail: string
  readonly view: string | undefined
  readonly topic: string
  readonly offset: string
}

const dirs: string[] = []
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})

void describe('the key rule at the engine: Avro events, a map, changelogs (JSON, Avro), the re-key stage', () => {
  let dataDir: string
  let letters: Letter[]
  /** Topic → the corpus entry and which field holds its part, by offset. */
  const placed = new Map<string, { entry: (typeof CORPUS)[number]; field: 'user_id' | 'order_id' | 'raw' }[]>()

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'kfs-key-doors-'))
    dirs.push(dataDir)
    const registry = new EmbeddedSchemaRegistry({ dir: join(dataDir, 'schemas') })
    const eventId = await registry.register(`${fx.events.topic}-value`, fx.events.schema)
    const envelopeId = await registry.register(`${fx.ordersAvro.topic}-value`, fx.ordersAvro.schema)
    const eventType = createWideType(fx.events.schema as never)
    const envelopeType = createWideType(fx.ordersAvro.schema as never)
    const byTopic = new Map<string, Buffer[]>()
    const put = (topic: string, value: Buffer, entry: (typeof CORPUS)[number], field: 'user_id' | 'order_id' | 'raw'): void => {
      byTopic.set(topic, [...(byTopic.get(topic) ?? []), value])
      placed.set(topic, [...(placed.get(topic) ?? []), { entry, field }])
    }
    CORPUS.forEach((entry, i) => {
      const ts = T0 + i
      const m = markerOf(entry.part)
      // The part as the event's join key (its bytes), and as the key the map parses from `raw`.
      put(
        fx.events.topic,
        framed(eventId, withPart(eventType.toBuffer({ user_id: m, raw: JSON.stringify(okKey(i)), ts }), m, entry.part)),
        entry,
        'user_id',
      )
      put(
        fx.events.topic,
        framed(eventId, eventType.toBuffer({ user_id: okKey(i), raw: JSON.stringify(entry.part), ts })),
        entry,
        'raw',
      )
      // The part as the primary key, then as the column the re-key stage keys by: Debezium JSON (a lone surrogate escaped)…
      for (const [field, after] of [
        ['order_id', { order_id: entry.part, user_id: okKey(i) }],
        ['user_id', { order_id: okKey(i), user_id: entry.part }],
      ] as const) {
        put(fx.ordersJson.topic, Buffer.from(JSON.stringify({ op: 'c', before: null, after, ts_ms: ts })), entry, field)
        // …and the Avro change envelope (its bytes).
        const avroAfter = { ...after, [field]: m }
        put(
          fx.ordersAvro.topic,
          framed(
            envelopeId,
            withPart(
              envelopeType.toBuffer({ op: 'c', before: null, after: avroAfter, ts_ms: ts, snapshot: null }),
              m,
              entry.part,
            ),
          ),
          entry,
          field,
        )
      }
    })
    const log = new EmbeddedEventLog({ dir: join(dataDir, 'log'), fsync: 'never' })
    for (const [topic, values] of byTopic) {
      await log.createTopic(topic, 1)
      await log.produce(
        topic,
        values.map((value) => ({ key: null, value })),
      )
    }
    await log.close()
    for (const args of [
      ['apply', ...FEATURES],
      ['run', ...FEATURES, '--until-caught-up', '--idle', '500ms'],
    ]) {
      const r = await runKfsInProcess(args, dataDir)
      assert.equal(r.code, 0, `kfs ${args.join(' ')}: ${r.stderr}`)
    }
    letters = (await readWholeTopic(dataDir, DEAD_LETTERS)).map(({ headers: h }) => ({
      reason: h[DEAD_LETTER_HEADERS.reason] ?? '',
      detail: h[DEAD_LETTER_HEADERS.detail] ?? '',
      view: h[DEAD_LETTER_HEADERS.view],
      topic: h[DEAD_LETTER_HEADERS.originTopic] ?? h[DEAD_LETTER_HEADERS.topic] ?? '',
      offset: h[DEAD_LETTER_HEADERS.originOffset] ?? h[DEAD_LETTER_HEADERS.offset] ?? '',
    }))
  })

  void test('the corpus: core refuses each bad part for the reason of its kind', () => {
    for (const b of BAD_PARTS) assert.match(reasonOf(b.part), KIND_REASON[b.kind], b.what)
  })

  /** The views that key by `field` of a record of `topic` (a changelog's primary key keys every view of it). */
  const keyedBy = (topic: string, field: string): string[] => {
    if (topic === fx.events.topic) return [field === 'raw' ? fx.mappedCounts.name : fx.eventCounts.name]
    const format = topic === fx.ordersJson.topic ? 'json' : 'avro'
    return field === 'order_id' ? [`key_order_attrs_${format}`, `key_user_orders_${format}`] : [`key_user_orders_${format}`]
  }

  for (const topic of [fx.events.topic, fx.ordersJson.topic, fx.ordersAvro.topic]) {
    void test(`${topic}: each bad key is dead-lettered invalid_key with core's reason by each view it keys; no valid key is`, () => {
      const problems: string[] = []
      placed.get(topic)!.forEach(({ entry, field }, offset) => {
        const mine = letters.filter((l) => l.topic === topic && l.offset === String(offset))
        const keyField = field === 'raw' ? 'user_id' : field
        const where = `${entry.what} as ${field} (offset ${offset}): ${JSON.stringify(mine).slice(0, 400)}`
        if (!entry.bad) {
          if (mine.length > 0) problems.push(`a valid key refused: ${where}`)
          return
        }
        // Bytes cannot carry a lone surrogate: a byte door sees bytes that are not UTF-8 (JSON escapes it, a map makes it).
        const bytes = !entry.part.isWellFormed() && !(topic === fx.ordersJson.topic || field === 'raw')
        const want = `join key ${keyField} is ${bytes ? 'not valid UTF-8' : reasonOf(entry.part)}`
        // The detail may say where (`after: `, `re-key by user: `) and the size; the rule's words are core's.
        const says = (l: Letter): boolean =>
          l.reason === 'invalid_key' && new RegExp(`(^|: )${escaped(want)}( \\(\\d+ bytes\\))?$`).test(l.detail)
        for (const view of keyedBy(topic, field))
          if (!mine.some((l) => (l.view === view || l.view === undefined) && says(l)))
            problems.push(`${view} did not refuse it (${want}): ${where}`)
        for (const l of mine) if (l.reason === 'invalid_key' && !says(l)) problems.push(`another reason than ${want}: ${where}`)
      })
      assert.deepEqual(problems, [])
    })
  }

  void test('each valid key is taken by every view, and the row written online is served back by the same key', async () => {
    const clock = { nowMs: () => T0 + 86_400_000, sleep: async () => {} }
    const online = await EmbeddedOnlineStore.open({ clock, path: join(dataDir, 'online', 'online-store.json') })
    const views: FeatureViewDef[] = [
      fx.eventCounts,
      fx.mappedCounts,
      fx.orderAttrsJson,
      fx.orderAttrsAvro,
      fx.userOrdersJson,
      fx.userOrdersAvro,
    ]
    const server = createServer({
      store: online,
      views,
      services: [],
      requestFeatures: [],
      options: { clock, logger: captureLogger() },
    })
    const port = await server.listen(0)
    try {
      for (const v of views) {
        const joinKey = v.entity.joinKeys[0]!
        const feature = `${v.name}:${v.features[0]!.name}`
        const keys = GOOD_PARTS.map((g) => g.part)
        const res = await fetch(`http://127.0.0.1:${port}/v1/features`, {
          method: 'POST',
          body: JSON.stringify({ entities: { [joinKey]: keys }, features: [feature] }),
        })
        const text = await res.text()
        assert.equal(res.status, 200, text)
        const rows = (
          JSON.parse(text) as { rows: { entities: Record<string, string>; views: Record<string, { status: string }> }[] }
        ).rows
        assert.deepEqual(
          rows.map((r) => [r.entities[joinKey], r.views[v.name]?.status]),
          keys.map((k) => [k, 'PRESENT']),
          v.name,
        )
        for (const k of keys) {
          const one = await fetch(`http://127.0.0.1:${port}/v1/features/${v.name}/${encodeURIComponent(k)}`)
          assert.equal(one.status, 200, `${v.name} GET ${JSON.stringify(k)}: ${await one.text()}`)
        }
      }
    } finally {
      await server.close()
      await online.close()
    }
  })
})
