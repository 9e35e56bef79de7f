/**
 * The Redis Cluster hash slot of a key, by Redis's own rule (keyHashSlot in its cluster.c): CRC16
 * (XMODEM) mod 16384 of the key's hash tag — the bytes between its first `{` and the first `}`
 * after it — or of the whole key when it has no `{`, no `}` after it, or nothing between them.
 *
 * Not cluster-key-slot (ioredis's own): it skips an empty tag and reads on to the next `}`, so a
 * key like `kfs:v:1:{}{x}` (the entity key `}{x`: one that begins with `}`) gets the slot of `{x`
 * where Redis hashes the whole key. Grouped by that slot, a script call held keys of two slots,
 * and Redis refused the whole write (CROSSSLOT) for good. ioredis still routes single commands by
 * its own slot; a wrong guess costs one MOVED redirect, which it follows.
 */
const TABLE = (() => {
  const table = new Uint16Array(256)
  for (let i = 0; i < 256; i++) {
    let crc = i << 8
    for (let b = 0; b < 8; b++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff
    table[i] = crc
  }
  return table
})()

function crc16(bytes: Uint8Array, start: number, end: number): number {
  let crc = 0
  for (let i = start; i < end; i++) crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ bytes[i]!) & 0xff]!
  return crc
}

const OPEN = 0x7b
const CLOSE = 0x7d

export function redisKeySlot(key: string): number {
  const bytes = Buffer.from(key, 'utf8')
  const open = bytes.indexOf(OPEN)
  if (open !== -1) {
    const close = bytes.indexOf(CLOSE, open + 1)
    if (close > open + 1) return crc16(bytes, open + 1, close) & 0x3fff
  }
  return crc16(bytes, 0, bytes.length) & 0x3fff
}
