import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import type { Logger } from '../../../core/logger.ts'
import { createDecoder } from '../../../schemas/decoder.ts'
import { createEncoder } from '../../../schemas/encoder.ts'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import {
  fromServedEvent,
  isSampled,
  isValidRequestId,
  sampleFraction,
  SERVED_FEATURES_SCHEMA,
  ServedLog,
  toServedEvent,
  type ServedLogMessage,
  type ServedLogTransport,
  type ServedRecord,
} from '../../../serving/served-log/index.ts'

const dirs: string[] = []
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})

function record(i: number, overrides: Partial<ServedRecord> = {}): ServedRecord {
  return {
    requestId: `req-${i}`,
    servedAtMs: 1_700_000_000_000 + i,
    viewName: 'user_stats',
    viewVersion: 2,
    entityKey: `u${i}`,
    status: 'PRESENT',
    asOfMs: 1_699_999_999_000 + i,
    features: ['clicks_1h', 'spend_1h', 'last_city', 'recent'],
    values: [i, 0.1 + 0.2 * i, `city-${i}`, [`i${i}`, 'x']],
    ...overrides,
  }
}

function capturingLogger(): { logger: Logger; warnings: { fields: Record<string, unknown>; msg: string | undefined }[] } {
  const warnings: { fields: Record<string, unknown>; msg: string | undefined }[] = []
  const noop = () => {}
  const logger: Logger = {
    fatal: noop,
    error: noop,
    info: noop,
    debug: noop,
    trace: noop,
    warn: ((fields: Record<string, unknown>, msg?: string) => void warnings.push({ fields, msg })) as Logger['warn'],
    child: () => logger,
  }
  return { logger, warnings }
}

/** A transport that records what it was sent, and fails while `failing` is set. */
function fakeTransport(): ServedLogTransport & { batches: ServedLogMessage[][]; failing: boolean; closed: boolean } {
  const t = {
    batches: [] as ServedLogMessage[][],
    failing: false,
    closed: false,
    async send(records: readonly ServedLogMessage[]) {
      if (t.failing) throw new Error('broker down')
      t.batches.push([...records])
    },
    async close() {
      t.closed = true
    },
  }
  return t
}

const jsonEncoder = async () => (event: unknown) => new TextEncoder().encode(JSON.stringify(event))

void describe('serving > served log > sampling', () => {
  const ids = Array.from({ length: 20_000 }, (_, i) => `request-${i}`)

  void test('the same id always gets the same answer, and rates 0 and 1 are none and all', () => {
    for (const id of ids.slice(0, 200)) {
      assert.equal(isSampled(id, 0.37), isSampled(id, 0.37))
      assert.equal(sampleFraction(id), sampleFraction(id))
      assert.equal(isSampled(id, 0), false)
      assert.equal(isSampled(id, 1), true)
    }
  })

  void test('a lower rate samples a subset of a higher rate (nested samples)', () => {
    for (const id of ids) if (isSampled(id, 0.1)) assert.ok(isSampled(id, 0.5), id)
  })

  void test('the sampled share is the rate within 4 standard deviations', () => {
    for (const rate of [0.01, 0.3, 0.9]) {
      const hits = ids.filter((id) => isSampled(id, rate)).length
      const sd = Math.sqrt(ids.length * rate * (1 - rate))
      assert.ok(Math.abs(hits - ids.length * rate) <= 4 * sd, `rate ${rate}: ${hits} of ${ids.length}`)
    }
    for (const id of ids.slice(0, 100)) {
      const f = sampleFraction(id)
      assert.ok(f >= 0 && f < 1)
    }
  })

  void test('request ids a client may pass', () => {
    for (const ok of ['abc', '6f1c2c1e-5c4b-4b8e-9d52-4d3c0f7e9a11', 'a.b:c_d-1']) assert.equal(isValidRequestId(ok), true, ok)
    for (const bad of ['', 'a b', 'x'.repeat(129), 'é', 'a\nb']) assert.equal(isValidRequestId(bad), false, JSON.stringify(bad))
  })
})

void describe('serving > served log > record encoding', () => {
  void test('Avro round trip through the registry keeps every value bit for bit', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kfs-served-'))
    dirs.push(dir)
    const registry = new EmbeddedSchemaRegistry({ dir })
    const encoder = await createEncoder({ registry, subject: 'served-value', schema: SERVED_FEATURES_SCHEMA })
    const decoder = createDecoder({ registry, readerSchema: SERVED_FEATURES_SCHEMA })
    const cases: ServedRecord[] = [
      record(1),
      record(2, { values: [Number.MAX_SAFE_INTEGER, 0.1 + 0.2, '', []], features: ['a', 'b', 'c', 'd'] }),
      record(3, { values: [5e-324, -1.7976931348623157e308, 'ünï\u001fcode', [1.5, -2.25]], entityKey: 'u\u001fi9' }),
      record(4, { status: 'MISSING', asOfMs: null, values: [null, null, null, null] }),
      record(5, { status: 'OUTSIDE_TTL', features: [], values: [] }),
    ]
    for (const original of cases) {
      const bytes = encoder.encode(toServedEvent(original))
      const decoded = await decoder.decode(bytes)
      assert.ok(decoded.ok)
      const back = fromServedEvent(decoded.event)
      assert.deepEqual(back, original)
      back!.values.forEach((v, i) => {
        if (typeof v === 'number') assert.ok(Object.is(v, original.values[i]), `value ${i} of ${original.requestId}`)
      })
    }
  })

  void test('the event names the view as name@version and carries values as JSON', () => {
    const event = toServedEvent(record(7))
    assert.equal(event.view, 'user_stats@2')
    assert.equal(event.served_at, 1_700_000_000_007)
    assert.deepEqual(JSON.parse(event.values_json), [7, 0.1 + 0.2 * 7, 'city-7', ['i7', 'x']])
  })

  void test('malformed events are refused, not thrown', () => {
    const good = toServedEvent(record(1)) as unknown as Record<string, unknown>
    const broken: Record<string, unknown>[] = [
      { ...good, view: 'no-version' },
      { ...good, view: 'v@0' },
      { ...good, status: 'FINE' },
      { ...good, values_json: '[1,2' },
      { ...good, values_json: '[1,2,3]' },
      { ...good, values_json: '[{"a":1},2,3,4]' },
      { ...good, served_at: 1.5 },
      { ...good, as_of: 'yesterday' },
    ]
    for (const event of broken) assert.equal(fromServedEvent(event), undefined, JSON.stringify(event))
    assert.notEqual(fromServedEvent(good), undefined)
  })
})

void describe('serving > served log > writer', () => {
  void test('batches records in order, keyed by view ref, off the calling path', async () => {
    const transport = fakeTransport()
    const log = new ServedLog(transport, jsonEncoder, { sampleRate: 1, maxBatchRecords: 3, flushIntervalMs: 10_000 })
    log.record([record(1), record(2)])
    log.record([record(3), record(4)])
    assert.equal(transport.batches.length, 0, 'nothing is sent synchronously')
    await log.flush()
    assert.deepEqual(transport.batches.map((b) => b.length), [3, 1])
    const sent = transport.batches.flat().map((m) => JSON.parse(new TextDecoder().decode(m.value)) as { request_id: string })
    assert.deepEqual(sent.map((e) => e.request_id), ['req-1', 'req-2', 'req-3', 'req-4'])
    assert.ok(transport.batches.flat().every((m) => m.key === 'user_stats@2'))
    assert.deepEqual(log.stats(), { sampledRequests: 2, sent: 4, dropped: { buffer_full: 0, encode_failed: 0, send_failed: 0, shutdown: 0 } })
    await log.close()
    assert.equal(transport.closed, true)
  })

  void test('a failing log drops and counts records, warns rate-limited, never throws', async () => {
    const transport = fakeTransport()
    const { logger, warnings } = capturingLogger()
    let now = 0
    const log = new ServedLog(transport, jsonEncoder, { sampleRate: 1, flushIntervalMs: 10_000, warnIntervalMs: 1_000, logger, clock: { nowMs: () => now } })
    transport.failing = true
    log.record([record(1), record(2)])
    await log.flush()
    log.record([record(3)])
    await log.flush()
    assert.equal(warnings.length, 1, 'second failure within the interval is not logged again')
    assert.deepEqual([warnings[0]!.fields.reason, warnings[0]!.fields.count], ['send_failed', 2])
    now += 1_000
    log.record([record(4)])
    await log.flush()
    assert.equal(warnings.length, 2)
    assert.equal(warnings[1]!.fields.count, 2, 'the count since the previous warning')
    transport.failing = false
    log.record([record(5)])
    await log.flush()
    assert.deepEqual(log.stats().dropped.send_failed, 4)
    assert.equal(log.stats().sent, 1)
    assert.deepEqual(transport.batches.flat().length, 1)
  })

  void test('a full buffer drops whole requests; an encoder failure drops the batch and retries registration', async () => {
    const transport = fakeTransport()
    let attempts = 0
    const flaky = async () => {
      attempts++
      if (attempts === 1) throw new Error('registry down')
      return (event: unknown) => new TextEncoder().encode(JSON.stringify(event))
    }
    const log = new ServedLog(transport, flaky, { sampleRate: 1, maxBufferedRecords: 3, flushIntervalMs: 10_000 })
    log.record([record(1), record(2)])
    log.record([record(3), record(4)])
    assert.equal(log.stats().dropped.buffer_full, 2)
    await log.flush()
    assert.equal(log.stats().dropped.encode_failed, 2)
    log.record([record(5)])
    await log.flush()
    assert.equal(attempts, 2)
    assert.equal(log.stats().sent, 1)
    await log.close()
    log.record([record(6)])
    assert.equal(log.stats().dropped.shutdown, 1)
  })

  void test('records are sent by the timer without an explicit flush', async () => {
    const transport = fakeTransport()
    const log = new ServedLog(transport, jsonEncoder, { sampleRate: 1, flushIntervalMs: 5 })
    log.record([record(1)])
    while (transport.batches.length === 0) await new Promise((resolve) => setTimeout(resolve, 5))
    assert.equal(transport.batches[0]![0]!.key, 'user_stats@2')
    await log.close()
  })

  void test('sampling follows the configured rate by request id', () => {
    const log = new ServedLog(fakeTransport(), jsonEncoder, { sampleRate: 0.25 })
    for (let i = 0; i < 500; i++) assert.equal(log.isSampled(`r${i}`), isSampled(`r${i}`, 0.25))
    assert.throws(() => new ServedLog(fakeTransport(), jsonEncoder, { sampleRate: 1.5 }), RangeError)
  })
})
