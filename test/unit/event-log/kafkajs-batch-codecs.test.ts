/**
 * The batch codecs kfs gives kafkajs (batch-codecs.ts, xerial-snappy.ts, batch-header.ts): every
 * codec in kafkajs's table round-trips any bytes; snappy reads both the Java client's xerial framing
 * (several blocks) and librdkafka's single raw block; any bytes a codec cannot read fail as a
 * non-retriable UndecodableBatchError naming the codec — never another error, which kafkajs would
 * retry and restart on forever; and the batch's offsets are read back from the header before the
 * compressed records only when that header checks out.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import kafkajs from 'kafkajs'
import { compressSync, uncompressSync } from 'snappy'
import {
  batchCodec,
  CODEC_IDS,
  registerBatchCodecs,
  UndecodableBatchError,
  undecodableBatchIn,
  type BatchCodecName,
  type Codec,
} from '../../../adapters/event-log/kafka/batch-codecs.ts'
import { batchOffsetsOf } from '../../../adapters/event-log/kafka/batch-header.ts'
import { readXerialSnappy, writeXerialSnappy } from '../../../adapters/event-log/kafka/xerial-snappy.ts'

const CODECS: readonly BatchCodecName[] = ['gzip', 'snappy', 'lz4', 'zstd']
const XERIAL_HEADER = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1])

function kafkajsCodec(name: BatchCodecName): Codec {
  registerBatchCodecs()
  return (kafkajs.CompressionCodecs as Record<number, () => Codec>)[CODEC_IDS[name]]!()
}

/** Bytes from tiny to past several 32 KiB snappy blocks and 64 KiB lz4 blocks, often repetitive (compressible). */
const payload = fc.oneof(
  fc.uint8Array({ maxLength: 300 }),
  fc
    .tuple(fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.integer({ min: 1, max: 4000 }))
    .map(([unit, times]) => new Uint8Array(Buffer.concat(Array.from({ length: times }, () => Buffer.from(unit))))),
)

void describe('kafkajs batch codecs', () => {
  void test('kafkajs has a codec for every compression Kafka defines once kfs registers them', () => {
    registerBatchCodecs()
    const table = kafkajs.CompressionCodecs as Record<number, () => Codec>
    for (const name of CODECS) assert.equal(typeof table[CODEC_IDS[name]]!().decompress, 'function', name)
  })

  for (const name of CODECS) {
    void test(`${name}: any bytes round-trip through kafkajs's table`, async () => {
      const codec = kafkajsCodec(name)
      await fc.assert(
        fc.asyncProperty(payload, async (bytes) => {
          const data = Buffer.from(bytes)
          assert.deepEqual(await codec.decompress(await codec.compress({ buffer: data })), data)
        }),
        { numRuns: 40 },
      )
    })

    void test(`${name}: bytes it cannot read fail as a non-retriable UndecodableBatchError naming ${name}, nothing else`, async () => {
      const codec = kafkajsCodec(name)
      // Valid output cut short or bit-flipped, and plain garbage.
      const damaged = fc.tuple(payload, fc.nat(), fc.nat()).map(async ([bytes, cut, flip]) => {
        const whole = await codec.compress({ buffer: Buffer.from(bytes) })
        const out = Buffer.from(whole.subarray(0, cut % (whole.length + 1)))
        if (out.length > 0) out[flip % out.length]! ^= 0x5a
        return out
      })
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            damaged,
            fc.uint8Array({ maxLength: 200 }).map(async (b) => Buffer.from(b)),
          ),
          async (input) => {
            const bytes = await input
            try {
              await codec.decompress(bytes)
            } catch (err: unknown) {
              assert.ok(err instanceof UndecodableBatchError, `${name}: ${String(err)}`)
              assert.equal(err.codec, name)
              assert.equal(err.retriable, false)
              assert.match(err.message, new RegExp(`^a ${name}-compressed record batch`))
            }
          },
        ),
        { numRuns: 60 },
      )
    })
  }

  void test('snappy: the Java client framing with several blocks, and a raw block as librdkafka writes it, both read', async () => {
    const codec = kafkajsCodec('snappy')
    const data = Buffer.from('kafka '.repeat(30_000))
    const framed = writeXerialSnappy(data, (b) => compressSync(b))
    assert.deepEqual(framed.subarray(0, 16), XERIAL_HEADER)
    assert.ok(framed.length < data.length)
    assert.deepEqual(await codec.decompress(framed), data)
    assert.deepEqual(await codec.decompress(compressSync(data)), data)
  })

  void test('snappy: a xerial frame cut in a block length or a block is an error naming the byte, not a short read', () => {
    const framed = writeXerialSnappy(Buffer.from('x'.repeat(100_000)), (b) => compressSync(b))
    const uncompress = (b: Buffer) => uncompressSync(b, { asBuffer: true }) as Buffer
    assert.throws(() => readXerialSnappy(framed.subarray(0, 18), uncompress), /block length is cut short at byte 16/)
    assert.throws(() => readXerialSnappy(framed.subarray(0, framed.length - 1), uncompress), /runs past the end/)
  })
})

/** A v2 batch header (61 bytes) followed by the compressed records, as a Fetch answer holds it. */
function batchBytes(first: bigint, lastDelta: number, attributes: number, records: Buffer, magic = 2): Buffer {
  const header = Buffer.alloc(61)
  header.writeBigInt64BE(first, 0)
  header.writeInt32BE(49 + records.length, 8)
  header.writeInt8(magic, 16)
  header.writeInt16BE(attributes, 21)
  header.writeInt32BE(lastDelta, 23)
  // Something before the batch, as the rest of a Fetch answer.
  return Buffer.concat([Buffer.alloc(7, 1), header, records])
}

void describe('the offsets of a batch a codec cannot read', () => {
  void test('are read from the header before the records when it checks out', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 2n ** 62n }),
        fc.nat({ max: 100_000 }),
        fc.constantFrom(...CODECS),
        fc.uint8Array({ minLength: 1, maxLength: 100 }),
        (first, delta, name, records) => {
          const bytes = batchBytes(first, delta, CODEC_IDS[name] | 0x10, Buffer.from(records))
          const view = bytes.subarray(7 + 61)
          assert.deepEqual(batchOffsetsOf(view, CODEC_IDS[name]), {
            first: first.toString(),
            last: (first + BigInt(delta)).toString(),
          })
        },
      ),
    )
  })

  void test('are unknown, never guessed, when the bytes before are not that batch header', () => {
    const records = Buffer.from('compressed')
    const view = (b: Buffer) => b.subarray(b.length - records.length)
    assert.equal(batchOffsetsOf(view(batchBytes(5n, 3, 3, records, 1)), 3), undefined, 'magic 1')
    assert.equal(batchOffsetsOf(view(batchBytes(5n, 3, 2, records)), 3), undefined, 'another codec')
    const whole = batchBytes(5n, 3, 3, records)
    assert.equal(
      batchOffsetsOf(whole.subarray(7 + 61, whole.length - 2), 3),
      undefined,
      'records shorter than the batch length says',
    )
    const alone = Buffer.alloc(records.length)
    records.copy(alone)
    assert.equal(batchOffsetsOf(alone, 3), undefined, 'nothing before')
  })

  void test('a codec failure carries them, and is found under the errors kafkajs wraps it in', async () => {
    const bytes = batchBytes(40n, 9, 4, Buffer.from('not zstd at all'))
    const failing = batchCodec('zstd')
    const err = await failing.decompress(bytes.subarray(7 + 61)).then(
      () => assert.fail('decompressed garbage'),
      (e: unknown) => e,
    )
    assert.ok(err instanceof UndecodableBatchError)
    assert.deepEqual(err.offsets, { first: '40', last: '49' })
    assert.match(err.message, /offsets 40–49/)
    const wrapped = Object.assign(new kafkajs.KafkaJSNonRetriableError(err), { cause: err })
    assert.equal(undecodableBatchIn(new Error('outer', { cause: wrapped })), err)
    assert.equal(undecodableBatchIn(new Error('unrelated')), undefined)
  })
})
