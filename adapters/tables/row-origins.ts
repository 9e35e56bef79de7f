/**
 * Where each row of a file snapshot came from (ports/table-snapshots.ts `locate`): a rejected
 * row of a folder of files was named only by its number across all of them, and a CSV row's
 * number is not its line (the header, blank lines and quoted line breaks come between). Kept as
 * the rows are read: one boundary per file, and for CSV one line number per row (4 bytes a row).
 */
export class RowOrigins {
  /** How many files the snapshot has: a row is located while the read goes on, its later files not begun. */
  readonly #fileCount: number
  /** Files in read order, with the number of rows read before each. */
  readonly #files: { readonly name: string; readonly before: number }[] = []
  #lines: Int32Array | undefined
  #rows = 0

  constructor(fileCount: number) {
    this.#fileCount = fileCount
  }

  /** Starts a read anew (each read of a snapshot is a whole read). */
  reset(): void {
    this.#files.length = 0
    this.#lines = undefined
    this.#rows = 0
  }

  /** The rows that follow are `name`'s. */
  file(name: string): void {
    this.#files.push({ name, before: this.#rows })
  }

  /** `count` rows of the current file read (Parquet: their place in the file is their order). */
  rows(count: number): void {
    this.#rows += count
  }

  /** One CSV row read, from line `line` of the current file. */
  line(line: number): void {
    if (this.#lines === undefined || this.#lines.length <= this.#rows) {
      const grown = new Int32Array(Math.max(1024, 2 * (this.#lines?.length ?? 0)))
      if (this.#lines !== undefined) grown.set(this.#lines)
      this.#lines = grown
    }
    this.#lines[this.#rows++] = line
  }

  locate(row: number): string | undefined {
    // One Parquet file's row is its number already: nothing to add.
    if (!Number.isInteger(row) || row < 1 || row > this.#rows || (this.#lines === undefined && this.#fileCount === 1))
      return undefined
    let lo = 0
    let hi = this.#files.length - 1
    // The last file whose rows start before this one.
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if (this.#files[mid]!.before < row) lo = mid
      else hi = mid - 1
    }
    const f = this.#files[lo]!
    return this.#lines === undefined ? `${f.name} row ${row - f.before}` : `${f.name} line ${this.#lines[row - 1]}`
  }
}
