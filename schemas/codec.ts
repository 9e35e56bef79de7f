/**
 * Confluent wire framing for Avro values, the layout every producer and the registry agree on:
 *
 * ```
 * byte 0       magic byte, always 0
 * bytes 1..4   schema id, unsigned 32-bit big-endian (the registry's global id)
 * bytes 5..    Avro binary body (no container header, no sync markers)
 * ```
 *
 * Framing only: turning the body into an event needs the writer schema (see `decoder.ts`).
 * Never throws on bad bytes; the caller turns a failure into a dead letter.
 */
export const MAGIC_BYTE = 0
export const FRAME_HEADER_BYTES = 5

export type Unframed =
  | { readonly ok: true; readonly schemaId: number; readonly body: Buffer }
  | { readonly ok: false; readonly detail: string }

export function frame(schemaId: number, body: Uint8Array): Buffer {
  if (!Number.isInteger(schemaId) || schemaId < 0 || schemaId > 0xffffffff) {
    throw new RangeError(`schema id ${schemaId} does not fit the 4-byte wire field`)
  }
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + body.length)
  out[0] = MAGIC_BYTE
  out.writeUInt32BE(schemaId, 1)
  out.set(body, FRAME_HEADER_BYTES)
  return out
}

export function unframe(value: Uint8Array): Unframed {
  if (value.length < FRAME_HEADER_BYTES) {
    return { ok: false, detail: `${value.length} bytes is shorter than the ${FRAME_HEADER_BYTES}-byte frame header` }
  }
  if (value[0] !== MAGIC_BYTE) return { ok: false, detail: `magic byte is ${value[0]}, expected ${MAGIC_BYTE}` }
  const buf = Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.length)
  return { ok: true, schemaId: buf.readUInt32BE(1), body: buf.subarray(FRAME_HEADER_BYTES) }
}
