/**
 * Snappy as Kafka clients put it in a record batch. The Java client writes xerial's stream framing
 * (snappy-java's SnappyOutputStream): an 8-byte magic `\x82SNAPPY\0`, two 4-byte versions, then
 * blocks, each a 4-byte big-endian length and one raw snappy block. librdkafka reads and may write
 * a single raw block without the framing; the Java consumer reads both, and so does this.
 */
const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00])
const HEADER_BYTES = 16
/** snappy-java's default block size: what the Java producer writes. */
const BLOCK_BYTES = 32 * 1024

export function readXerialSnappy(data: Buffer, uncompress: (block: Buffer) => Buffer): Buffer {
  if (data.length < HEADER_BYTES || !data.subarray(0, XERIAL_MAGIC.length).equals(XERIAL_MAGIC)) return uncompress(data)
  const blocks: Buffer[] = []
  let at = HEADER_BYTES
  while (at < data.length) {
    if (at + 4 > data.length) throw new Error(`xerial snappy framing: a block length is cut short at byte ${at}`)
    const length = data.readInt32BE(at)
    at += 4
    if (length < 0 || at + length > data.length)
      throw new Error(`xerial snappy framing: a block of ${length} bytes at byte ${at} runs past the end (${data.length} bytes)`)
    blocks.push(uncompress(data.subarray(at, at + length)))
    at += length
  }
  return Buffer.concat(blocks)
}

export function writeXerialSnappy(data: Buffer, compress: (block: Buffer) => Buffer): Buffer {
  const header = Buffer.alloc(HEADER_BYTES)
  XERIAL_MAGIC.copy(header)
  header.writeInt32BE(1, 8)
  header.writeInt32BE(1, 12)
  const parts: Buffer[] = [header]
  for (let at = 0; at < data.length; at += BLOCK_BYTES) {
    const block = compress(data.subarray(at, at + BLOCK_BYTES))
    const length = Buffer.alloc(4)
    length.writeInt32BE(block.length)
    parts.push(length, block)
  }
  return Buffer.concat(parts)
}
