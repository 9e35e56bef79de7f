/**
 * What a writer's Avro logical type means to the source's reader, per pair (docs/semantics.md,
 * "Logical types"). avsc resolves a writer against a reader by their underlying types alone, so a
 * writer's `timestamp-micros` long read as the reader's `timestamp-millis` would arrive 1000× off.
 * Each pair of (writer logical type or none, reader logical type or none) is one of:
 *
 * - `same`: the number or bytes mean the same to both — read as they are;
 * - `convert`: one unit to another of the same clock (timestamps UTC, local timestamps, times of
 *   day), exactly: a finer reader multiplies, a coarser one floors toward −∞ as the Parquet reader
 *   does (adapters/offline/parquet/compact-columns.ts);
 * - `refuse`: the meaning changes and no exact conversion exists (a local timestamp read as UTC,
 *   a decimal with another scale, a date read as a plain number) — the writer is a schema mismatch.
 *
 * A logical type counts only on the underlying type the Avro spec puts it on, with valid
 * parameters; any other (unknown names, a decimal whose scale exceeds its precision) is ignored,
 * as the spec tells readers to do.
 */
import { ownValue } from '../core/own-property.ts'

export interface Logical {
  readonly name: string
  readonly precision?: number
  readonly scale?: number
}

export type LogicalPairing =
  | { readonly kind: 'same' }
  | {
      readonly kind: 'convert'
      readonly from: string
      readonly to: string
      readonly convert: (value: number | bigint) => number | bigint
    }
  | { readonly kind: 'refuse'; readonly why: string }

/** Which underlying Avro types each logical type belongs on (Avro 1.12). */
const ON: Readonly<Record<string, readonly string[]>> = {
  date: ['int'],
  'time-millis': ['int'],
  'time-micros': ['long'],
  'timestamp-millis': ['long'],
  'timestamp-micros': ['long'],
  'timestamp-nanos': ['long'],
  'local-timestamp-millis': ['long'],
  'local-timestamp-micros': ['long'],
  'local-timestamp-nanos': ['long'],
  decimal: ['bytes', 'fixed'],
  'big-decimal': ['bytes'],
  uuid: ['string', 'fixed'],
  duration: ['fixed'],
}

/** The clocks a number can count on, and the power of 1000 of its unit (0: ms, 1: µs, 2: ns). */
const CLOCK: Readonly<Record<string, { readonly clock: string; readonly unit: number }>> = {
  'time-millis': { clock: 'time of day', unit: 0 },
  'time-micros': { clock: 'time of day', unit: 1 },
  'time-nanos': { clock: 'time of day', unit: 2 },
  'timestamp-millis': { clock: 'UTC instant', unit: 0 },
  'timestamp-micros': { clock: 'UTC instant', unit: 1 },
  'timestamp-nanos': { clock: 'UTC instant', unit: 2 },
  'local-timestamp-millis': { clock: 'local date-time', unit: 0 },
  'local-timestamp-micros': { clock: 'local date-time', unit: 1 },
  'local-timestamp-nanos': { clock: 'local date-time', unit: 2 },
}

/**
 * Kafka Connect's and Debezium's semantic types (a Connect schema's `name`, an Avro schema's
 * `connect.name` from the Avro converter), as the logical types they are: Debezium's Timestamp
 * family has no time zone (a DATETIME column), so it is a local timestamp; `time-nanos` has no Avro
 * name but converts like the other times of day.
 */
export const CONNECT_LOGICAL: Readonly<Record<string, Logical>> = {
  'org.apache.kafka.connect.data.Timestamp': { name: 'timestamp-millis' },
  'org.apache.kafka.connect.data.Date': { name: 'date' },
  'org.apache.kafka.connect.data.Time': { name: 'time-millis' },
  'io.debezium.time.Date': { name: 'date' },
  'io.debezium.time.Time': { name: 'time-millis' },
  'io.debezium.time.MicroTime': { name: 'time-micros' },
  'io.debezium.time.NanoTime': { name: 'time-nanos' },
  'io.debezium.time.Timestamp': { name: 'local-timestamp-millis' },
  'io.debezium.time.MicroTimestamp': { name: 'local-timestamp-micros' },
  'io.debezium.time.NanoTimestamp': { name: 'local-timestamp-nanos' },
  'io.debezium.data.Uuid': { name: 'uuid' },
}

/**
 * Put as the `logicalType` of a node that has none but a Connect name (`withConnectMarks`), so
 * avsc keeps it on the tree; never stored or registered.
 */
export const CONNECT_MARK = 'kfs:connect-name'

/** A copy of the schema JSON with each Connect-named node without a logical type marked. */
export function withConnectMarks(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withConnectMarks)
  if (node === null || typeof node !== 'object') return node
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(node)) out[k] = withConnectMarks(v)
  if (
    out.logicalType === undefined &&
    typeof out.type === 'string' &&
    connectLogical(out['connect.name'], out.type) !== undefined
  )
    out.logicalType = CONNECT_MARK
  return out
}

/** The logical type a Connect semantic type on `type` (int, long, string) stands for, if any. */
export function connectLogical(connectName: unknown, type: string): Logical | undefined {
  if (typeof connectName !== 'string') return undefined
  const l = ownValue(CONNECT_LOGICAL, connectName)
  if (l === undefined) return undefined
  const on = l.name === 'time-nanos' ? ['long'] : (ownValue(ON, l.name) ?? [])
  return on.includes(type) ? l : undefined
}

/** What kfs reads a plain int or long as wherever it gives one a meaning (an event time: features/avro-fields.ts). */
const PLAIN_NUMBER_MEANS = new Set(['timestamp-millis', 'local-timestamp-millis'])

const NUMBERS = new Set(['int', 'long', 'float', 'double'])

/**
 * The logical type of one Avro type node (its JSON form, after a named reference is followed), or
 * undefined when it has none that counts (a fixed uuid is 16 bytes, a duration 12). A node without
 * one that carries a Connect `connect.name` counts as the logical type that name stands for.
 */
export function logicalOf(node: unknown): Logical | undefined {
  if (node === null || typeof node !== 'object' || Array.isArray(node)) return undefined
  const { type, logicalType, precision, scale, size } = node as Record<string, unknown>
  if (typeof type !== 'string') return undefined
  if (typeof logicalType !== 'string' || logicalType === CONNECT_MARK)
    return connectLogical((node as Record<string, unknown>)['connect.name'], type)
  if (!(ownValue(ON, logicalType) ?? []).includes(type)) return undefined
  if (logicalType === 'uuid' && type === 'fixed' && size !== 16) return undefined
  if (logicalType === 'duration' && size !== 12) return undefined
  if (logicalType !== 'decimal') return { name: logicalType }
  const s = scale ?? 0
  if (
    !Number.isInteger(precision) ||
    (precision as number) < 1 ||
    !Number.isInteger(s) ||
    (s as number) < 0 ||
    (s as number) > (precision as number)
  )
    return undefined
  // A fixed of n bytes holds at most floor(log10(2^(8n−1) − 1)) digits.
  if (
    type === 'fixed' &&
    (!Number.isInteger(size) || (precision as number) > Math.floor(Math.log10(2) * (8 * (size as number) - 1)))
  )
    return undefined
  return { name: 'decimal', precision: precision as number, scale: s as number }
}

export function describeLogical(logical: Logical | undefined, underlying: string): string {
  if (logical === undefined) return `plain ${underlying}`
  if (logical.name === 'decimal')
    return logical.precision === undefined ? `decimal(scale ${logical.scale})` : `decimal(${logical.precision}, ${logical.scale})`
  return logical.name
}

/**
 * The pairing of a writer's logical type with the reader's, where avsc has already matched their
 * underlying types (`writerType` as written, `readerType` as read: an int promoted to a long, bytes
 * read as a string).
 */
export function pairLogical(
  writer: Logical | undefined,
  writerType: string,
  reader: Logical | undefined,
  readerType: string,
): LogicalPairing {
  // A writer that declares nothing claims nothing the reader's declaration could contradict.
  if (writer === undefined || writer.name === 'uuid') return SAME
  if (reader !== undefined && sameLogical(writer, reader)) return SAME
  const was = describeLogical(writer, writerType)
  const is = describeLogical(reader, readerType)
  if (reader === undefined) {
    if (PLAIN_NUMBER_MEANS.has(writer.name) && NUMBERS.has(readerType)) return SAME
    if (writer.name === 'decimal' || writer.name === 'big-decimal' || writer.name === 'duration') {
      if (readerType === 'bytes' || readerType === 'fixed') return SAME
      return refuse(`its ${was} bytes would be read as a ${readerType}`)
    }
    return refuse(
      `a plain ${readerType} is read as epoch milliseconds, not as the writer's ${was}: declare the logical type in the source schema`,
    )
  }
  const w = ownValue(CLOCK, writer.name)
  const r = ownValue(CLOCK, reader.name)
  if (w !== undefined && r !== undefined) {
    if (w.clock !== r.clock) return refuse(`a ${w.clock} is not a ${r.clock}, and no time zone converts one into the other`)
    return { kind: 'convert', from: was, to: is, convert: rescale(1000n ** BigInt(Math.abs(r.unit - w.unit)), r.unit > w.unit) }
  }
  if (writer.name === 'decimal' && reader.name === 'decimal') {
    if (writer.scale !== reader.scale) return refuse(`the scale differs, so the same unscaled digits are another number`)
    // A writer that does not say its precision (a Connect Decimal may not) is held to the scale alone.
    return writer.precision === undefined || (reader.precision as number) >= writer.precision
      ? SAME
      : refuse(`the reader's precision is smaller than the writer's`)
  }
  return refuse(`they mean different things`)
}

const SAME: LogicalPairing = { kind: 'same' }

function refuse(why: string): LogicalPairing {
  return { kind: 'refuse', why }
}

function sameLogical(a: Logical, b: Logical): boolean {
  return a.name === b.name && a.precision === b.precision && a.scale === b.scale
}

const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER)
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)
const MIN_LONG = -(2n ** 63n)
const MAX_LONG = 2n ** 63n - 1n

/** Thrown when a finer unit's value does not fit a long (the value is refused, not wrapped). */
export class LogicalOverflow extends Error {}

/**
 * Exact: a finer unit multiplies (a long that overflows throws LogicalOverflow), a coarser one
 * floors toward −∞ (−1 µs is the millisecond before the epoch, −1). A number when safe, else a
 * bigint, as the wide long decodes (schemas/avro-type.ts).
 */
function rescale(factor: bigint, finer: boolean): (value: number | bigint) => number | bigint {
  return (value) => {
    const v = BigInt(value)
    let out: bigint
    if (finer) {
      out = v * factor
      if (out < MIN_LONG || out > MAX_LONG) throw new LogicalOverflow(`${v} × ${factor} does not fit a long`)
    } else {
      out = v / factor
      if (v % factor !== 0n && v < 0n) out -= 1n
    }
    return out >= MIN_SAFE && out <= MAX_SAFE ? Number(out) : out
  }
}
