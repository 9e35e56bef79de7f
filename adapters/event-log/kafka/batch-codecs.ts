/**
 * The batch compressions Kafka defines that kafkajs 2.2.4 does not bring (it has only gzip and
 * throws KafkaJSNotImplemented for the others): snappy, lz4 and zstd, registered in kafkajs's
 * codec table, so batches that other producers (the Java client, Kafka Connect and Debezium,
 * librdkafka, Go clients) compressed are read like any other. kfs's own producers do not compress.
 *
 * - snappy: the `snappy` package (napi-rs bindings of the Rust snap crate). Kafka's Java client
 *   writes snappy in xerial's framing (xerial-snappy.ts); librdkafka may write one raw block.
 * - lz4: the LZ4 frame format Kafka uses for record batches (magic v2), through `lz4-napi`.
 * - zstd: Node's own zlib (since Node 22.15 / 23.8); an older Node reads no zstd batch and says so.
 * - gzip: node:zlib as kafkajs's own, replaced only so that its failures are named and not retried.
 *
 * Each binding is loaded on the first batch of its codec, so a machine whose binding does not load
 * still reads every other codec. A batch that cannot be decompressed fails with a non-retriable
 * `UndecodableBatchError` naming the codec and the batch's offsets: kafkajs then stops the consumer
 * (CRASH, restart false) instead of fetching the same batch again forever, and the consumer names
 * the partition (kafka-consumer.ts).
 */
import { promisify } from 'node:util'
import zlib from 'node:zlib'
import kafkajs from 'kafkajs'
import { batchOffsetsOf, type BatchOffsets } from './batch-header.ts'
import { readXerialSnappy, writeXerialSnappy } from './xerial-snappy.ts'

const { CompressionCodecs, CompressionTypes } = kafkajs

export type BatchCodecName = 'gzip' | 'snappy' | 'lz4' | 'zstd'

/** A codec as kafkajs calls it: `compress` gets kafkajs's Encoder (its bytes in `buffer`), `decompress` the bytes. */
export interface Codec {
  compress(encoder: { readonly buffer: Buffer }): Promise<Buffer>
  decompress(buffer: Buffer): Promise<Buffer>
}

/** One codec's implementation, on plain bytes. */
interface Implementation {
  compress(buffer: Buffer): Promise<Buffer>
  decompress(buffer: Buffer): Promise<Buffer>
}

/** A compressed batch kfs cannot read: not retried (kafkajs reads `retriable`), named by codec and offsets. */
export class UndecodableBatchError extends Error {
  override readonly name = 'UndecodableBatchError'
  readonly retriable = false
  readonly codec: BatchCodecName
  /** The batch's offsets, when its header could be read back (batch-header.ts). */
  readonly offsets: BatchOffsets | undefined
  /** What the codec said. */
  readonly reason: string

  constructor(codec: BatchCodecName, offsets: BatchOffsets | undefined, reason: unknown) {
    const text = reason instanceof Error ? reason.message : String(reason)
    const where = offsets === undefined ? '' : ` (offsets ${offsets.first}–${offsets.last})`
    // No `cause`: kafkajs rethrows an error's cause in its place, and this error would be lost.
    super(`a ${codec}-compressed record batch${where} could not be decompressed: ${text}`)
    this.codec = codec
    this.offsets = offsets
    this.reason = text
  }
}

type SnappyBinding = typeof import('snappy')
type Lz4Binding = typeof import('lz4-napi')

let snappyBinding: Promise<SnappyBinding> | undefined
let lz4Binding: Promise<Lz4Binding> | undefined
const loadSnappy = () => (snappyBinding ??= import('snappy'))
const loadLz4 = () => (lz4Binding ??= import('lz4-napi'))

const gzip = promisify(zlib.gzip)
// unzip, as kafkajs's own gzip codec: gzip or zlib headers.
const unzip = promisify(zlib.unzip)
const zstdDecompress = typeof zlib.zstdDecompress === 'function' ? promisify(zlib.zstdDecompress) : undefined
const zstdCompress = typeof zlib.zstdCompress === 'function' ? promisify(zlib.zstdCompress) : undefined

function zstdMissing(): never {
  throw new Error(`this Node (${process.version}) has no zstd in node:zlib; zstd needs Node 22.15, 23.8 or later`)
}

const codecs: Record<BatchCodecName, Implementation> = {
  gzip: { compress: (buffer) => gzip(buffer), decompress: (buffer) => unzip(buffer) },
  snappy: {
    compress: async (buffer) => writeXerialSnappy(buffer, (await loadSnappy()).compressSync),
    decompress: async (buffer) => {
      const snappy = await loadSnappy()
      return readXerialSnappy(buffer, (block) => snappy.uncompressSync(block, { asBuffer: true }) as Buffer)
    },
  },
  lz4: {
    compress: async (buffer) => (await loadLz4()).compressFrame(buffer),
    decompress: async (buffer) => (await loadLz4()).decompressFrame(buffer),
  },
  zstd: {
    compress: async (buffer) => (zstdCompress ?? zstdMissing)(buffer),
    decompress: async (buffer) => (zstdDecompress ?? zstdMissing)(buffer),
  },
}

/** The codec as kafkajs calls it (`codec`: another implementation of it), its failures turned into UndecodableBatchError. */
export function batchCodec(name: BatchCodecName, codec: Implementation = codecs[name]): Codec {
  return {
    compress: (encoder) => codec.compress(encoder.buffer),
    async decompress(buffer) {
      try {
        return await codec.decompress(buffer)
      } catch (err: unknown) {
        throw new UndecodableBatchError(name, batchOffsetsOf(buffer, CODEC_IDS[name]), err)
      }
    },
  }
}

/** The UndecodableBatchError behind a kafkajs failure (kafkajs wraps it in its own errors' `cause`). */
export function undecodableBatchIn(err: unknown): UndecodableBatchError | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++)
    if (e instanceof UndecodableBatchError) return e
  return undefined
}

/** The attribute bits of each codec in a record batch (Kafka's CompressionType ids). */
export const CODEC_IDS: Record<BatchCodecName, number> = { gzip: 1, snappy: 2, lz4: 3, zstd: 4 }

let registered = false

/** Fills kafkajs's codec table (one per process; kafkajs keeps one table for every client). */
export function registerBatchCodecs(): void {
  if (registered) return
  registered = true
  const table = CompressionCodecs as Record<number, () => Codec>
  for (const [type, name] of [
    [CompressionTypes.GZIP, 'gzip'],
    [CompressionTypes.Snappy, 'snappy'],
    [CompressionTypes.LZ4, 'lz4'],
    [CompressionTypes.ZSTD, 'zstd'],
  ] as const) {
    const codec = batchCodec(name)
    table[type] = () => codec
  }
}
