/**
 * Registry-framed Avro of change envelopes (features/change-envelope.ts), written back to back
 * into one AvroSink: what `kfs ingest` appends by the million. The same bytes as the Encoder's
 * `encode(envelope)` (./encoder.ts) for every envelope whose images hold valid values of the row
 * schema — which the ingest planner has checked (pinned by test/unit/schemas/change-envelope-writer.test.ts).
 *
 * Built from the envelope schema itself: each row column gets a writer for its Avro type (the
 * primitives, and a two-branch union of null with one); any richer column type is written by
 * avsc's type for it. A schema of another shape than `changeEnvelopeSchema`'s gets no writer
 * (`undefined`): the caller then encodes envelope objects with the Encoder.
 */
import type { Type } from 'avsc'
import type { AvroSchema } from '../ports/schema-registry.ts'
import { createFastType, createWideType } from './avro-type.ts'
import { AvroSink } from './avro-sink.ts'
import { FRAME_HEADER_BYTES, MAGIC_BYTE } from './codec.ts'

type ValueWriter = (sink: AvroSink, value: unknown) => void

interface AvscType {
  readonly typeName: string
  readonly types?: readonly AvscType[]
  readonly fields?: readonly { readonly name: string; readonly type: AvscType }[]
}

/** An image: a row object, the index of a row in the column arrays passed along, or none. */
export type EnvelopeImage = Readonly<Record<string, unknown>> | number | null

export interface ChangeEnvelopeWriter {
  /** The row's columns in schema order: images are read by these names, or at these positions of the column arrays. */
  readonly columns: readonly string[]
  /**
   * Appends one framed envelope { op, before, after, ts_ms, snapshot }; a numeric image is the
   * row at that index of `values` (column c's value `values[c][index]`).
   */
  write(sink: AvroSink, op: string, values: readonly ArrayLike<unknown>[], before: EnvelopeImage, after: EnvelopeImage, tsMs: number, snapshot: string | null): void

  // The parts of `write`, for a caller that writes rows ahead and assembles envelopes later
  // (`kfs ingest` encodes rows in snapshot order, envelopes in append order): head, two images
  // (a union branch byte, then the row's fields), tail are write's bytes — as long as no part set
  // `sink.sawWide`; one that did needs the whole envelope from `write`.
  writeHead(sink: AvroSink, op: string): void
  /** An image's row fields alone, after its branch byte. */
  writeRow(sink: AvroSink, values: readonly ArrayLike<unknown>[], index: number): void
  writeImage(sink: AvroSink, values: readonly ArrayLike<unknown>[], image: EnvelopeImage): void
  /** The union branch byte before a present image, and the byte of none. */
  readonly imageBranch: number
  readonly noImage: number
  writeTail(sink: AvroSink, tsMs: number, snapshot: string | null): void
}

const ENVELOPE_FIELDS = ['op', 'before', 'after', 'ts_ms', 'snapshot']

const isLong = (t: AvscType): boolean => t.typeName === 'long' || t.typeName === 'abstract:long'

function primitiveWriter(t: AvscType): ValueWriter | undefined {
  if (isLong(t) || t.typeName === 'int') return (sink, v) => sink.writeLong(v as number | bigint)
  switch (t.typeName) {
    case 'string':
      return (sink, v) => sink.writeString(v as string)
    case 'double':
      return (sink, v) => sink.writeDouble(v as number)
    case 'float':
      return (sink, v) => sink.writeFloat(v as number)
    case 'boolean':
      return (sink, v) => sink.writeBoolean(v as boolean)
    default:
      return undefined
  }
}

/** A union of null and one other type: its branch indexes, or undefined. */
function nullableOf(t: AvscType): { nullIndex: number; other: AvscType } | undefined {
  if (!t.typeName.startsWith('union') || t.types?.length !== 2) return undefined
  const nullIndex = t.types.findIndex((b) => b.typeName === 'null')
  if (nullIndex < 0) return undefined
  return { nullIndex, other: t.types[1 - nullIndex]! }
}

/** The writer of one row column: `wide` is its avsc wide type, `fast` its avsc own-long type (for avsc-only types). */
function valueWriter(wide: AvscType, fast: AvscType): ValueWriter {
  const own = primitiveWriter(wide)
  if (own !== undefined) return own
  const nullable = nullableOf(wide)
  const inner = nullable === undefined ? undefined : primitiveWriter(nullable.other)
  if (nullable !== undefined && inner !== undefined) {
    // A union index is a long: 0 → 0x00, 1 → 0x02.
    const nullByte = nullable.nullIndex << 1
    const valueByte = (1 - nullable.nullIndex) << 1
    return (sink, v) => {
      if (v === null || v === undefined) sink.writeByte(nullByte)
      else {
        sink.writeByte(valueByte)
        inner(sink, v)
      }
    }
  }
  // As the Encoder: avsc's fast type when it takes the value, else the wide type for the whole event.
  const wideType = wide as unknown as Type
  const fastType = fast as unknown as Type
  return (sink, v) => {
    const value = v ?? null
    if (!sink.wide && fastType.isValid(value)) sink.writeRaw(fastType.toBuffer(value))
    else {
      sink.sawWide = true
      sink.writeRaw(wideType.toBuffer(value))
    }
  }
}

/** The record type of the envelope's images, when `type` has the shape of changeEnvelopeSchema's. */
function envelopeShape(type: AvscType): { row: AvscType; imageNull: number; snapshotNull: number } | undefined {
  const fields = type.fields
  if (type.typeName !== 'record' || fields === undefined || fields.map((f) => f.name).join() !== ENVELOPE_FIELDS.join())
    return undefined
  const [op, before, after, ts, snapshot] = fields.map((f) => f.type) as [AvscType, AvscType, AvscType, AvscType, AvscType]
  const beforeImage = nullableOf(before)
  const afterImage = nullableOf(after)
  const snapshotText = nullableOf(snapshot)
  if (
    op.typeName !== 'string' ||
    !isLong(ts) ||
    beforeImage?.other.typeName !== 'record' ||
    snapshotText?.other.typeName !== 'string'
  )
    return undefined
  if (afterImage?.other !== beforeImage.other || afterImage.nullIndex !== beforeImage.nullIndex) return undefined
  return { row: beforeImage.other, imageNull: beforeImage.nullIndex, snapshotNull: snapshotText.nullIndex }
}

export function createChangeEnvelopeWriter(schema: AvroSchema, schemaId: number): ChangeEnvelopeWriter | undefined {
  const shape = envelopeShape(createWideType(schema) as unknown as AvscType)
  const fastShape = envelopeShape(createFastType(schema) as unknown as AvscType)
  if (shape === undefined || fastShape === undefined) return undefined
  const rowFields = shape.row.fields!
  const columns = rowFields.map((f) => f.name)
  const writers = rowFields.map((f, c) => valueWriter(f.type, fastShape.row.fields![c]!.type))
  const header = Buffer.alloc(FRAME_HEADER_BYTES)
  header[0] = MAGIC_BYTE
  header.writeUInt32BE(schemaId, 1)
  const imageBranch = (1 - shape.imageNull) << 1
  const noImage = shape.imageNull << 1
  const snapshotBranch = (1 - shape.snapshotNull) << 1
  const noSnapshot = shape.snapshotNull << 1

  const writeRow = (sink: AvroSink, values: readonly ArrayLike<unknown>[], image: number | Readonly<Record<string, unknown>>): void => {
    if (typeof image === 'number') for (let c = 0; c < writers.length; c++) writers[c]!(sink, values[c]![image])
    else for (let c = 0; c < writers.length; c++) writers[c]!(sink, image[columns[c]!])
  }
  const writeImage = (sink: AvroSink, values: readonly ArrayLike<unknown>[], image: EnvelopeImage): void => {
    if (image === null) sink.writeByte(noImage)
    else {
      sink.writeByte(imageBranch)
      writeRow(sink, values, image)
    }
  }
  const writeHead = (sink: AvroSink, op: string): void => {
    sink.writeRaw(header)
    sink.writeString(op)
  }
  const writeTail = (sink: AvroSink, tsMs: number, snapshot: string | null): void => {
    sink.writeLong(tsMs)
    if (snapshot === null) sink.writeByte(noSnapshot)
    else {
      sink.writeByte(snapshotBranch)
      sink.writeString(snapshot)
    }
  }
  const writeOnce = (
    sink: AvroSink,
    op: string,
    values: readonly ArrayLike<unknown>[],
    before: EnvelopeImage,
    after: EnvelopeImage,
    tsMs: number,
    snapshot: string | null,
  ): void => {
    writeHead(sink, op)
    writeImage(sink, values, before)
    writeImage(sink, values, after)
    writeTail(sink, tsMs, snapshot)
  }
  return {
    columns,
    imageBranch,
    noImage,
    writeHead,
    writeRow: (sink, values, index) => writeRow(sink, values, index),
    writeImage,
    writeTail,
    write(sink, op, values, before, after, tsMs, snapshot) {
      const start = sink.pos
      sink.sawWide = false
      writeOnce(sink, op, values, before, after, tsMs, snapshot)
      if (!sink.sawWide) return
      // A value only the wide type takes: the Encoder then writes the whole envelope with it.
      sink.pos = start
      sink.wide = true
      writeOnce(sink, op, values, before, after, tsMs, snapshot)
      sink.wide = false
    },
  }
}
