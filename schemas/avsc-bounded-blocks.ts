/**
 * Array and map blocks whose item count the bytes cannot hold are refused before they are read,
 * installed once for the whole process (as ./avsc-exact-longs.ts).
 *
 * Why: avsc 5.7.9 trusts a block's count. A 10-byte record claiming 10^8 array items costs 20 s
 * and 1.2 GB before avsc notices the body ran out, and a larger count never finishes — one such
 * record in a topic would stall or kill every consumer of it. A block's size in the skip path is
 * trusted too, and a negative one moves the reader backwards into the same block forever.
 *
 * The rule: every map entry takes at least one byte (its key's length), and so does every array
 * item except of a zero-width type (`null`, an empty record, a `fixed` of size 0). A block of n
 * items with fewer than n bytes left is refused, unless its first item read in zero bytes — then
 * the array may hold up to MAX_ZERO_WIDTH_ITEMS items, as many as the largest value kfs reads
 * (1 MiB) could hold one-byte items. A negative block size is refused. Refusals throw; the decoder
 * turns them into an `undecodable` dead letter with the reason.
 */
import avro from 'avsc'

interface TapLike {
  buf: Buffer
  pos: number
  readLong(): number
  readString(): string
  skipString(): void
}

/** A type or a resolver: what avsc's array and map readers see as `this`. */
interface ItemsReader {
  _read(tap: TapLike): unknown
  _skip(tap: TapLike): void
}

interface ArrayLike {
  itemsType: ItemsReader
}

interface MapLike {
  valuesType: ItemsReader
}

interface Methods<T> {
  _read(this: T, tap: TapLike): unknown
  _skip(this: T, tap: TapLike): void
}

export const MAX_ZERO_WIDTH_ITEMS = 1 << 20

function malformed(what: string, detail: string): RangeError {
  return new RangeError(`malformed Avro ${what}: ${detail}`)
}

/** The byte size that follows a negative block count; a negative one would move the reader back. */
function blockSize(tap: TapLike, what: string): number {
  const size = tap.readLong()
  if (size < 0) throw malformed(what, `a block of negative size ${size}`)
  return size
}

/** The count of the next block (0 ends the value); a negative count's byte size is read and checked. */
function blockCount(tap: TapLike, what: string): number {
  const n = tap.readLong()
  if (n >= 0) return n
  blockSize(tap, what)
  return -n
}

function tooMany(n: number, left: number, what: string): RangeError {
  return malformed(what, `a block of ${n} items with ${Math.max(0, left)} bytes left`)
}

/**
 * A block of `n` items that the bytes left cannot hold: admitted only when its items are
 * zero-width, which reading (or skipping) the first one tells; `first` does that and returns it.
 */
function firstOfOversizeBlock<V>(n: number, total: number, tap: TapLike, what: string, first: () => V): V {
  const left = tap.buf.length - tap.pos
  const start = tap.pos
  const value = first()
  if (tap.pos !== start || total + n > MAX_ZERO_WIDTH_ITEMS) throw tooMany(n, left, what)
  return value
}

function readArray(this: ArrayLike, tap: TapLike): unknown[] {
  const items = this.itemsType
  let val: unknown[] | undefined
  let i = 0
  let n: number
  while ((n = blockCount(tap, 'array'))) {
    if (n > tap.buf.length - tap.pos) {
      const first = firstOfOversizeBlock(n, i, tap, 'array', () => items._read(tap))
      val ??= new Array<unknown>(n)
      val[i++] = first
      n--
    }
    val ??= new Array<unknown>(n)
    while (n--) val[i++] = items._read(tap)
  }
  return val ?? []
}

function skipArray(this: ArrayLike, tap: TapLike): void {
  const items = this.itemsType
  let skipped = 0
  let n: number
  while ((n = tap.readLong())) {
    if (n < 0) {
      // A sized block is skipped whole, without reading its items.
      tap.pos += blockSize(tap, 'array')
      continue
    }
    skipped += n
    if (n > tap.buf.length - tap.pos) {
      firstOfOversizeBlock(n, skipped - n, tap, 'array', () => items._skip(tap))
      n--
    }
    while (n--) items._skip(tap)
  }
}

function readMap(this: MapLike, tap: TapLike): Record<string, unknown> {
  const values = this.valuesType
  const val: Record<string, unknown> = {}
  let n: number
  while ((n = blockCount(tap, 'map'))) {
    if (n > tap.buf.length - tap.pos) throw tooMany(n, tap.buf.length - tap.pos, 'map')
    while (n--) {
      const key = tap.readString()
      val[key] = values._read(tap)
    }
  }
  return val
}

function skipMap(this: MapLike, tap: TapLike): void {
  const values = this.valuesType
  let n: number
  while ((n = tap.readLong())) {
    if (n < 0) {
      tap.pos += blockSize(tap, 'map')
      continue
    }
    if (n > tap.buf.length - tap.pos) throw tooMany(n, tap.buf.length - tap.pos, 'map')
    while (n--) {
      tap.skipString()
      values._skip(tap)
    }
  }
}

// Resolvers copy `_read` from these prototypes when they are built, so every type and resolver
// kfs creates (all after this module is loaded) reads through the checked versions.
const arrayMethods = avro.types.ArrayType.prototype as unknown as Methods<ArrayLike>
const mapMethods = avro.types.MapType.prototype as unknown as Methods<MapLike>
arrayMethods._read = readArray
arrayMethods._skip = skipArray
mapMethods._read = readMap
mapMethods._skip = skipMap

/** Whether the checked block readers are in place (a test pins it against a future avsc). */
export function avscBlocksAreBounded(): boolean {
  return (
    arrayMethods._read === readArray &&
    mapMethods._read === readMap &&
    arrayMethods._skip === skipArray &&
    mapMethods._skip === skipMap
  )
}
