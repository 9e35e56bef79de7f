/**
 * Avro object container files, written and read synchronously in memory (Iceberg manifests and
 * manifest lists). Layout: magic `Obj\x01`, header map<bytes> (`avro.schema`, `avro.codec`, plus
 * Iceberg keys), 16-byte sync marker, then blocks of (long count, long byteSize, payload, sync).
 *
 * Why not avsc's BlockEncoder: it rebuilds the header schema from a `Type`, which drops Iceberg's
 * `field-id`/`element-id` attributes, and it cannot combine a raw schema with a BigInt `long`.
 * Here the header carries the raw schema JSON verbatim and records are encoded with a Type whose
 * `long` is a BigInt (snapshot ids are 63-bit). All longs in records are therefore bigint.
 */
import { randomBytes } from 'node:crypto'
import { deflateRawSync, inflateRawSync } from 'node:zlib'
import avro from 'avsc'
import { SinkWriteError } from '../../../core/errors.ts'
import { runSteps, type Steps } from '../../../core/steps.ts'

const MAGIC = Buffer.from([0x4f, 0x62, 0x6a, 0x01])

/** avsc `long` backed by BigInt (8-byte little-endian buffers are avsc's long-type contract). */
const BigLong = avro.types.LongType.__with({
  fromBuffer: (buf: Buffer) => buf.readBigInt64LE(),
  toBuffer: (n: bigint) => {
    const buf = Buffer.alloc(8)
    buf.writeBigInt64LE(n)
    return buf
  },
  fromJSON: (v: unknown) => BigInt(v as string | number),
  toJSON: (n: bigint) => Number(n),
  isValid: (n: unknown) => typeof n === 'bigint' && n >= -(2n ** 63n) && n < 2n ** 63n,
  compare: (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0),
})

const HEADER_TYPE = avro.Type.forSchema({
  type: 'record',
  name: 'org.apache.avro.file.Header',
  fields: [
    { name: 'magic', type: { type: 'fixed', name: 'Magic', size: 4 } },
    { name: 'meta', type: { type: 'map', values: 'bytes' } },
    { name: 'sync', type: { type: 'fixed', name: 'Sync', size: 16 } },
  ],
})
const LONG = avro.Type.forSchema('long')
/** Records per block written: a reader (and a writer) pauses between blocks. */
const BLOCK_RECORDS = 1000

export function avroTypeOf(schema: object): avro.Type {
  return avro.Type.forSchema(schema as avro.Schema, { registry: { long: BigLong } as never, wrapUnions: false })
}

/**
 * Compiled types by schema JSON. avsc compiles a type into generated functions, which V8 then has
 * to compile and optimise again: done per manifest, it was 10–18 ms of every table commit on the
 * engine's thread. A table's manifests share a handful of schemas; the bound only guards a
 * process that writes very many tables.
 */
const compiled = new Map<string, avro.Type>()
const MAX_COMPILED = 64

function compiledTypeOf(json: string, schema: object): avro.Type {
  let type = compiled.get(json)
  if (type === undefined) {
    if (compiled.size >= MAX_COMPILED) compiled.clear()
    type = avroTypeOf(schema)
    compiled.set(json, type)
  }
  return type
}

export interface AvroFile {
  readonly metadata: Readonly<Record<string, string>>
  readonly schema: unknown
  readonly records: unknown[]
}

/** `schema` is the raw JSON object (attributes kept verbatim); metadata values are UTF-8 strings. */
export function encodeAvroContainer(schema: object, records: readonly unknown[], metadata: Readonly<Record<string, string>>): Uint8Array {
  return runSteps(encodeAvroContainerSteps(schema, records, metadata))
}

/**
 * encodeAvroContainer, pausing after each block of 1,000 records: a merged manifest of 8 MB holds
 * tens of thousands of entries, seconds of encoding the engine's thread must not spend in one go.
 */
export function* encodeAvroContainerSteps(schema: object, records: readonly unknown[], metadata: Readonly<Record<string, string>>): Steps<Uint8Array> {
  const json = JSON.stringify(schema)
  const type = compiledTypeOf(json, schema)
  const meta: Record<string, Buffer> = { 'avro.schema': Buffer.from(json), 'avro.codec': Buffer.from('deflate') }
  for (const [k, v] of Object.entries(metadata)) meta[k] = Buffer.from(v)
  const sync = randomBytes(16)
  const parts: Buffer[] = [HEADER_TYPE.toBuffer({ magic: MAGIC, meta, sync })]
  for (let start = 0; start < records.length; start += BLOCK_RECORDS) {
    const chunk = records.slice(start, start + BLOCK_RECORDS)
    const payload = deflateRawSync(Buffer.concat(chunk.map((r) => type.toBuffer(r))))
    parts.push(LONG.toBuffer(chunk.length), LONG.toBuffer(payload.length), payload, sync)
    yield
  }
  return new Uint8Array(Buffer.concat(parts))
}

/** The file's records; `where` (its path) names it in the error when it does not decode. */
export function decodeAvroContainer(bytes: Uint8Array, where?: string): AvroFile {
  return runSteps(decodeAvroContainerSteps(bytes, where))
}

/** decodeAvroContainer, pausing after each block (as encodeAvroContainerSteps). */
export function* decodeAvroContainerSteps(bytes: Uint8Array, where?: string): Steps<AvroFile> {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  try {
    const header = HEADER_TYPE.decode(buf, 0)
    if (header.offset < 0) throw new Error('truncated header')
    const h = header.value as { magic: Buffer; meta: Record<string, Buffer>; sync: Buffer }
    if (!h.magic.equals(MAGIC)) throw new Error('not an Avro container file')
    const metadata: Record<string, string> = {}
    for (const [k, v] of Object.entries(h.meta)) metadata[k] = v.toString('utf8')
    const codec = metadata['avro.codec'] ?? 'null'
    if (codec !== 'null' && codec !== 'deflate') throw new Error(`unsupported Avro codec ${codec}`)
    const json = metadata['avro.schema'] ?? 'null'
    const schema = JSON.parse(json) as object
    const type = compiledTypeOf(json, schema)
    const records: unknown[] = []
    let pos = header.offset
    while (pos < buf.length) {
      const count = LONG.decode(buf, pos)
      const size = LONG.decode(buf, count.offset)
      if (count.offset < 0 || size.offset < 0) throw new Error('truncated block header')
      const start = size.offset
      const end = start + Number(size.value)
      const raw = buf.subarray(start, end)
      const payload = codec === 'deflate' ? inflateRawSync(raw) : raw
      let p = 0
      for (let i = 0; i < Number(count.value); i++) {
        const rec = type.decode(payload, p)
        if (rec.offset < 0) throw new Error('truncated record')
        records.push(rec.value)
        p = rec.offset
      }
      if (!buf.subarray(end, end + 16).equals(h.sync)) throw new Error('sync marker mismatch')
      pos = end + 16
      yield
    }
    return { metadata, schema, records }
  } catch (err: unknown) {
    const why = err instanceof Error ? err.message : String(err)
    throw new SinkWriteError('DATA_CORRUPT', `unreadable Avro file${where === undefined ? '' : ` ${where}`} (${why}): the file is damaged; restore it from a copy`, { cause: err, ...(where === undefined ? {} : { context: { file: where } }) })
  }
}
