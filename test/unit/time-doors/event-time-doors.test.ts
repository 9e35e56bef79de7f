/**
 * The event-time range at every door that takes an event time: years 1–9999 (core/iso-time.ts),
 * the range training labels keep (training/labels.ts). At each door, the boundaries — year 0, the
 * last ms before year 1, year 1, the last ms of 9999, year 10000, ±8.64e15 ms (a Date's limits) —
 * and NaN where the door can carry it (a CSV cell; a Parquet timestamp, JSON and an Avro long have
 * none, and a Parquet event-time column of doubles is refused whole as not the declared type):
 * - `kfs ingest` of a CSV snapshot (epoch ms and ISO text) and of a Parquet one: each row outside
 *   the range rejected `invalid_event_time`, its detail naming the column, the time and the range;
 * - `kfs produce --file` of plain NDJSON events and of Debezium JSON to a JSON and an Avro
 *   changelog: a usage error listing each bad line `invalid_event_time: …`, nothing sent;
 * - the engine reading such records written by another producer (Avro events, Debezium JSON, the
 *   Avro change envelope): each dead-lettered `invalid_event_time` with the same detail.
 * Times inside the range pass every door. Before, all of these took year 0 and ±8.64e15 while
 * training labels refused them.
 */
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/index.ts'
import { createParquetCodec } from '../../../adapters/offline/parquet/parquet-codec.ts'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { isoTextOrMs, MAX_TIME_MS, MIN_TIME_MS } from '../../../core/iso-time.ts'
import { DEAD_LETTER_HEADERS } from '../../../engine/dead-letter-topic.ts'
import { createWideType } from '../../../schemas/avro-type.ts'
import * as fx from '../../fixtures/features/key-doors.ts'
import { runKfsInProcess } from '../../support/in-process-cli.ts'
import { CORPUS_FEATURES } from '../cli/ingest-corpus.ts'
import { writeAccountsParquet } from '../ingest/snapshots.ts'
import { readWholeTopic } from '../../support/read-whole-topic.ts'

const YEAR_0 = Date.UTC(2000, 0, 1) - 2000 * 365.2425 * 86_400_000 // 0000-01-01T00:00:00Z
const BOUNDARIES: readonly { readonly what: string; readonly ms: number; readonly ok: boolean }[] = [
  { what: 'year 0', ms: YEAR_0, ok: false },
  { what: 'the last ms before year 1', ms: MIN_TIME_MS - 1, ok: false },
  { what: 'year 1', ms: MIN_TIME_MS, ok: true },
  { what: 'the last ms of 9999', ms: MAX_TIME_MS, ok: true },
  { what: 'year 10000', ms: MAX_TIME_MS + 1, ok: false },
  { what: '+8.64e15 ms', ms: 8.64e15, ok: false },
  { what: '-8.64e15 ms', ms: -8.64e15, ok: false },
]
const BAD = BOUNDARIES.filter((b) => !b.ok)
const GOOD = BOUNDARIES.filter((b) => b.ok)
const RANGE = '0001-01-01T00:00:00Z … 9999-12-31T23:59:59.999Z'
/** The detail every door gives a whole-ms time outside the range. */
const outside = (field: string, ms: number): string =>
  `${field} = ${ms} (${isoTextOrMs(ms)}) is outside ${RANGE}, the times kfs takes (as training labels)`
const escaped = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

const dirs: string[] = []
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})
const fresh = async (): Promise<string> => {
  const d = await mkdtemp(join(tmpdir(), 'kfs-time-doors-'))
  dirs.push(d)
  return d
}

void test('the boundaries are what they say', () => {
  assert.equal(new Date(YEAR_0).toISOString(), '0000-01-01T00:00:00.000Z')
  assert.equal(new Date(MIN_TIME_MS).toISOString(), '0001-01-01T00:00:00.000Z')
  assert.equal(new Date(MAX_TIME_MS).toISOString(), '9999-12-31T23:59:59.999Z')
  assert.equal(new Date(MAX_TIME_MS + 1).toISOString(), '+010000-01-01T00:00:00.000Z')
})

interface Rejection {
  readonly row: number
  readonly reason: string
  readonly detail: string
}

async function ingest(format: 'csv' | 'parquet', file: string): Promise<{ appended: number; rejects: Rejection[] }> {
  const dataDir = await fresh()
  const rejectsFile = join(dataDir, 'rejects.ndjson')
  const r = await runKfsInProcess(
    [
      'ingest',
      '--source',
      format === 'csv' ? 'accounts_csv' : 'accounts',
      '--snapshot',
      file,
      '--rejects',
      rejectsFile,
      ...CORPUS_FEATURES,
      '--json',
    ],
    dataDir,
  )
  const rejects = (await readFile(rejectsFile, 'utf8').catch(() => assert.fail(`no rejects file: ${r.stdout}${r.stderr}`)))
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Rejection)
  // Rejected rows make the run exit 1, the others appended.
  assert.equal(r.code, rejects.length > 0 ? 1 : 0, r.stdout.slice(0, 500) + r.stderr.slice(0, 500))
  return { appended: (JSON.parse(r.stdout) as { appended: number }).appended, rejects }
}

void describe('event times at kfs ingest', () => {
  void test('a CSV snapshot, epoch ms and ISO text: each time outside years 1–9999 (and NaN) rejected invalid_event_time naming it; the rest appended', async () => {
    const cells = [
      ...BOUNDARIES.map((b) => ({ cell: String(b.ms), ok: b.ok, detail: outside('event-time column updated_at', b.ms) })),
      { cell: '0000-01-01T00:00:00Z', ok: false, detail: outside('event-time column updated_at', YEAR_0) },
      { cell: '0001-01-01', ok: true, detail: '' },
      { cell: '9999-12-31T23:59:59.999Z', ok: true, detail: '' },
      // Not of the ISO form (five-digit year), so no time at all: the column holds text.
      {
        cell: '10000-01-01T00:00:00Z',
        ok: false,
        detail: 'event-time column updated_at holds text "10000-01-01T00:00:00Z", not epoch milliseconds',
      },
      { cell: 'NaN', ok: false, detail: 'event-time column updated_at holds text "NaN", not epoch milliseconds' },
    ]
    const file = join(await fresh(), 'accounts.csv')
    await writeFile(file, `account_id,updated_at,balance,tier,visits\n${cells.map((c, i) => `a${i},${c.cell},1.5,,\n`).join('')}`)
    const { appended, rejects } = await ingest('csv', file)
    assert.equal(appended, cells.filter((c) => c.ok).length)
    assert.deepEqual(
      rejects.map((r) => ({ row: r.row, reason: r.reason, detail: r.detail })),
      cells.flatMap((c, i) => (c.ok ? [] : [{ row: i + 1, reason: 'invalid_event_time', detail: c.detail }])),
    )
  })

  void test('a Parquet snapshot: each time outside years 1–9999 rejected invalid_event_time naming it; the rest appended', async () => {
    const codec = createParquetCodec({ worker: false })
    const dir = await fresh()
    const stamps = join(dir, 'stamps.parquet')
    await writeAccountsParquet(
      codec,
      stamps,
      BOUNDARIES.map((b, i) => ({ account_id: `a${i}`, updated_at: b.ms, balance: 1.5 })),
    )
    const fromStamps = await ingest('parquet', stamps)
    assert.equal(fromStamps.appended, GOOD.length)
    assert.deepEqual(
      fromStamps.rejects.map((r) => ({ row: r.row, reason: r.reason, detail: r.detail })),
      BOUNDARIES.flatMap((b, i) =>
        b.ok ? [] : [{ row: i + 1, reason: 'invalid_event_time', detail: outside('event-time column updated_at', b.ms) }],
      ),
    )
  })
})

const T = 1_700_000_000_000
const PRODUCE_FEATURES = ['--features', 'test/fixtures/features/key-doors.ts']
const TARGETS = [
  { what: 'plain events', topic: fx.events.topic, field: 'ts', line: (ms: number) => ({ user_id: 'u1', raw: '"u1"', ts: ms }) },
  ...(['json', 'avro'] as const).map((format) => ({
    what: `a changelog in ${format}`,
    topic: `keys.orders.${format}`,
    field: 'ts_ms',
    line: (ms: number) => ({ op: 'c', before: null, after: { order_id: 'o1', user_id: 'u1' }, ts_ms: ms }),
  })),
]

void describe('event times at kfs produce --file', () => {
  for (const target of TARGETS) {
    void test(`${target.what}: each time outside years 1–9999 a usage error naming its line, nothing sent; times inside sent`, async () => {
      const dataDir = await fresh()
      const file = join(dataDir, 'events.ndjson')
      // A good line first, then the five bad ones: every one is listed (a usage error lists five).
      await writeFile(
        file,
        [target.line(T), ...BAD.map((b) => target.line(b.ms))].map((l) => JSON.stringify(l)).join('\n') + '\n',
      )
      const r = await runKfsInProcess(['produce', '--topic', target.topic, '--file', file, ...PRODUCE_FEATURES], dataDir)
      assert.equal(r.code, 2, r.stderr.slice(0, 500))
      assert.match(r.stderr, new RegExp(`${BAD.length} bad events \\(of ${BAD.length + 1}\\); nothing was sent`))
      BAD.forEach((b, i) =>
        assert.match(
          r.stderr,
          new RegExp(`\\n  line ${i + 2}: invalid_event_time: ${escaped(outside(target.field, b.ms))}\\n`),
          b.what,
        ),
      )
      await writeFile(file, GOOD.map((g) => JSON.stringify(target.line(g.ms))).join('\n') + '\n')
      const ok = await runKfsInProcess(['produce', '--topic', target.topic, '--file', file, ...PRODUCE_FEATURES], dataDir)
      assert.equal(ok.code, 0, ok.stderr.slice(0, 500))
    })
  }
})

void describe('event times at the engine, written by another producer', () => {
  void test('Avro events, Debezium JSON and the Avro change envelope: each time outside years 1–9999 dead-lettered invalid_event_time with the range; none inside', async () => {
    const dataDir = await fresh()
    const registry = new EmbeddedSchemaRegistry({ dir: join(dataDir, 'schemas') })
    const eventId = await registry.register(`${fx.events.topic}-value`, fx.events.schema)
    const envelopeId = await registry.register(`${fx.ordersAvro.topic}-value`, fx.ordersAvro.schema)
    const framed = (id: number, body: Buffer): Buffer => Buffer.concat([Buffer.from([0, 0, 0, 0, 0]).fill(id, 4), body])
    const eventType = createWideType(fx.events.schema as never)
    const envelopeType = createWideType(fx.ordersAvro.schema as never)
    const byTopic: [string, string, (ms: number, i: number) => Buffer][] = [
      [fx.events.topic, 'ts', (ms, i) => framed(eventId, eventType.toBuffer({ user_id: `u${i}`, raw: `"u${i}"`, ts: ms }))],
      [
        fx.ordersJson.topic,
        'ts_ms',
        (ms, i) => Buffer.from(JSON.stringify({ op: 'c', before: null, after: { order_id: `o${i}`, user_id: 'u1' }, ts_ms: ms })),
      ],
      [
        fx.ordersAvro.topic,
        'ts_ms',
        (ms, i) =>
          framed(
            envelopeId,
            envelopeType.toBuffer({
              op: 'c',
              before: null,
              after: { order_id: `o${i}`, user_id: 'u1' },
              ts_ms: ms,
              snapshot: null,
            }),
          ),
      ],
    ]
    const log = new EmbeddedEventLog({ dir: join(dataDir, 'log'), fsync: 'never' })
    for (const [topic, , body] of byTopic) {
      await log.createTopic(topic, 1)
      await log.produce(
        topic,
        BOUNDARIES.map((b, i) => ({ key: null, value: body(b.ms, i) })),
      )
    }
    await log.close()
    for (const args of [
      ['apply', ...PRODUCE_FEATURES],
      ['run', ...PRODUCE_FEATURES, '--until-caught-up', '--idle', '500ms'],
    ]) {
      const r = await runKfsInProcess(args, dataDir)
      assert.equal(r.code, 0, `kfs ${args.join(' ')}: ${r.stderr}`)
    }
    const letters = (await readWholeTopic(dataDir, 'kfs.dead-letters')).map(({ headers: h }) => ({
      reason: h[DEAD_LETTER_HEADERS.reason] ?? '',
      detail: h[DEAD_LETTER_HEADERS.detail] ?? '',
      topic: h[DEAD_LETTER_HEADERS.originTopic] ?? h[DEAD_LETTER_HEADERS.topic] ?? '',
      offset: Number(h[DEAD_LETTER_HEADERS.originOffset] ?? h[DEAD_LETTER_HEADERS.offset] ?? -1),
    }))
    const problems: string[] = []
    for (const [topic, field] of byTopic)
      BOUNDARIES.forEach((b, offset) => {
        const mine = letters.filter((l) => l.topic === topic && l.offset === offset && l.reason === 'invalid_event_time')
        if (b.ok && mine.length > 0) problems.push(`${topic} ${b.what}: refused ${JSON.stringify(mine)}`)
        if (!b.ok && (mine.length === 0 || mine.some((l) => !l.detail.endsWith(outside(field, b.ms)))))
          problems.push(`${topic} ${b.what}: ${JSON.stringify(mine)}`)
      })
    assert.deepEqual(problems, [])
  })
})
