/**
 * A Parquet file with INT96 timestamps, written by hand: the legacy timestamp Spark, Hive and
 * Impala exports still carry, which neither writer at hand (DuckDB, parquet-wasm) writes. One row
 * group, every column REQUIRED (so no definition levels), one PLAIN data page each, uncompressed;
 * the footer in Thrift's compact protocol. Only what the format needs for these columns.
 */

export type HandColumn =
  /** Text as given, or raw bytes (which need not be UTF-8: a writer that does not check, as some do not). */
  | { readonly name: string; readonly type: 'string'; readonly values: readonly (string | Uint8Array)[] }
  | { readonly name: string; readonly type: 'int96'; readonly values: readonly number[] }
  | { readonly name: string; readonly type: 'double'; readonly values: readonly number[] }
  | { readonly name: string; readonly type: 'long'; readonly values: readonly number[] }

// Parquet's physical types and the Thrift compact protocol's field types.
const PHYSICAL = { string: 6, int96: 3, double: 5, long: 2 } as const
const I32 = 5
const I64 = 6
const BINARY = 8
const LIST = 9
const STRUCT = 12
const JULIAN_DAY_OF_EPOCH = 2_440_588
const MS_PER_DAY = 86_400_000

class CompactWriter {
  readonly bytes: number[] = []
  #last: number[] = [0]

  varint(n: bigint): void {
    let v = n
    while (v >= 0x80n) {
      this.bytes.push(Number(v & 0x7fn) | 0x80)
      v >>= 7n
    }
    this.bytes.push(Number(v))
  }

  #zigzag(n: number | bigint): void {
    const v = BigInt(n)
    this.varint((v << 1n) ^ (v >> 63n))
  }

  #field(id: number, type: number): void {
    const delta = id - this.#last[this.#last.length - 1]!
    this.bytes.push(((delta & 0xf) << 4) | type)
    this.#last[this.#last.length - 1] = id
  }

  i32(id: number, v: number): void {
    this.#field(id, I32)
    this.#zigzag(v)
  }

  i64(id: number, v: number): void {
    this.#field(id, I64)
    this.#zigzag(v)
  }

  string(id: number, s: string): void {
    this.#field(id, BINARY)
    this.#raw(s)
  }

  #raw(s: string): void {
    const b = Buffer.from(s, 'utf8')
    this.varint(BigInt(b.length))
    this.bytes.push(...b)
  }

  /** A struct's fields (`body`), then its stop byte. */
  struct(id: number | undefined, body: () => void): void {
    if (id !== undefined) this.#field(id, STRUCT)
    this.#last.push(0)
    body()
    this.bytes.push(0)
    this.#last.pop()
  }

  listOfStructs(id: number, items: readonly (() => void)[]): void {
    this.#field(id, LIST)
    this.bytes.push((items.length << 4) | STRUCT)
    for (const item of items) this.struct(undefined, item)
  }

  listOfI32(id: number, items: readonly number[]): void {
    this.#field(id, LIST)
    this.bytes.push((items.length << 4) | I32)
    for (const v of items) this.#zigzag(v)
  }

  listOfStrings(id: number, items: readonly string[]): void {
    this.#field(id, LIST)
    this.bytes.push((items.length << 4) | BINARY)
    for (const s of items) this.#raw(s)
  }
}

function plainValues(column: HandColumn): Buffer {
  switch (column.type) {
    case 'string':
      return Buffer.concat(
        column.values.map((s) => {
          const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : Buffer.from(s)
          const len = Buffer.alloc(4)
          len.writeUInt32LE(b.length)
          return Buffer.concat([len, b])
        }),
      )
    case 'double': {
      const out = Buffer.alloc(8 * column.values.length)
      column.values.forEach((v, i) => out.writeDoubleLE(v, 8 * i))
      return out
    }
    case 'long': {
      const out = Buffer.alloc(8 * column.values.length)
      column.values.forEach((v, i) => out.writeBigInt64LE(BigInt(v), 8 * i))
      return out
    }
    case 'int96': {
      // Nanoseconds within the day (8 bytes), then the Julian day (4 bytes), little-endian.
      const out = Buffer.alloc(12 * column.values.length)
      column.values.forEach((ms, i) => {
        const day = Math.floor(ms / MS_PER_DAY)
        out.writeBigInt64LE(BigInt(ms - day * MS_PER_DAY) * 1_000_000n, 12 * i)
        out.writeInt32LE(day + JULIAN_DAY_OF_EPOCH, 12 * i + 8)
      })
      return out
    }
  }
}

/** The Parquet file of `columns` (all of one length): INT96 values given as epoch ms. */
export function writeHandParquet(columns: readonly HandColumn[]): Uint8Array {
  const rows = columns[0]!.values.length
  const parts: Buffer[] = [Buffer.from('PAR1')]
  let offset = 4
  const chunks: { offset: number; size: number; column: HandColumn }[] = []
  for (const column of columns) {
    const data = plainValues(column)
    const header = new CompactWriter()
    header.struct(undefined, () => {
      header.i32(1, 0) // DATA_PAGE
      header.i32(2, data.length)
      header.i32(3, data.length)
      header.struct(5, () => {
        header.i32(1, rows)
        header.i32(2, 0) // PLAIN
        header.i32(3, 3) // RLE (no levels: every column REQUIRED)
        header.i32(4, 3)
      })
    })
    const page = Buffer.concat([Buffer.from(header.bytes), data])
    chunks.push({ offset, size: page.length, column })
    parts.push(page)
    offset += page.length
  }
  const meta = new CompactWriter()
  meta.struct(undefined, () => {
    meta.i32(1, 1)
    meta.listOfStructs(2, [
      () => {
        meta.string(4, 'schema')
        meta.i32(5, columns.length)
      },
      ...columns.map((c) => () => {
        meta.i32(1, PHYSICAL[c.type])
        meta.i32(3, 0) // REQUIRED
        meta.string(4, c.name)
        if (c.type === 'string') meta.i32(6, 0) // UTF8
      }),
    ])
    meta.i64(3, rows)
    meta.listOfStructs(4, [
      () => {
        meta.listOfStructs(
          1,
          chunks.map((chunk) => () => {
            meta.i64(2, chunk.offset)
            meta.struct(3, () => {
              meta.i32(1, PHYSICAL[chunk.column.type])
              meta.listOfI32(2, [0, 3])
              meta.listOfStrings(3, [chunk.column.name])
              meta.i32(4, 0) // UNCOMPRESSED
              meta.i64(5, rows)
              meta.i64(6, chunk.size)
              meta.i64(7, chunk.size)
              meta.i64(9, chunk.offset)
            })
          }),
        )
        meta.i64(2, offset - 4)
        meta.i64(3, rows)
      },
    ])
  })
  const footer = Buffer.from(meta.bytes)
  const length = Buffer.alloc(4)
  length.writeUInt32LE(footer.length)
  return Buffer.concat([...parts, footer, length, Buffer.from('PAR1')])
}
