/**
 * The port through which training sets read label files and write the typed CSV labels the
 * point-in-time joiner reads (training/labels.ts, training/README.md "Labels"). Adapter:
 * adapters/duckdb. Files are local paths.
 *
 * Why a port: label files come from pandas, polars, Spark and spreadsheets, with whatever Parquet
 * types their writers chose (large_string, dictionary-encoded strings, timestamps in s/ms/µs/ns
 * with or without a zone, unsigned and 64-bit integers). The engine that joins them reads all of
 * these natively, so training/ asks it rather than a second decoder with a narrower type table.
 *
 * Column types (`describe`), and the JS values `read` gives for them (null stays null):
 * | type        | file types                                           | JS value                     |
 * |-------------|------------------------------------------------------|------------------------------|
 * | `string`    | UTF-8 strings of any width, dictionary/enum strings  | string                       |
 * | `int`       | 8/16/32-bit integers, signed or not                  | number                       |
 * | `long`      | 64-bit and wider integers                            | number if a safe integer, else bigint (exact) |
 * | `double`    | float, double                                        | number                       |
 * | `boolean`   | boolean                                              | boolean                      |
 * | `timestamp` | timestamps of any unit, with or without zone; dates  | epoch ms, floored (a timestamp without zone is read as UTC); null for ±infinity |
 * | `other`     | anything else (decimal, lists, structs, uuid, blob…) | the engine's text of the value |
 *
 * `write` is the other direction, for labels kfs typed itself (CSV): `string`, `long` (number or
 * bigint, exact), `double`, `boolean` and `timestamp` (epoch ms → a UTC timestamp column, µs), in
 * the given row order; `int` and `other` are not written.
 *
 * A column the engine would read with fewer digits than the file holds — nanosecond timestamps
 * adjusted to UTC, top level or nested, which DuckDB reads as µs truncated toward zero — makes
 * `describe` (and so every read) reject with a BAD_REQUEST naming the column.
 *
 * Failure modes: a missing or unreadable file, or bytes that are not Parquet, reject (bytes the
 * engine cannot read: a BAD_REQUEST naming the file, as they are the user's input); an unknown
 * column name in `read`, `firstTimeOutside` or `firstBadKeyPart` rejects. `close` frees the engine; the reader is unusable afterwards.
 */

export type LabelValueType = 'string' | 'int' | 'long' | 'double' | 'boolean' | 'timestamp' | 'other'

export interface LabelColumn {
  readonly name: string
  readonly type: LabelValueType
  /** The file's own type as the engine names it (messages only), e.g. `TIMESTAMP_NS`. */
  readonly fileType?: string
}

export interface LabelReader {
  /**
   * Every column (file order) and the row count of a Parquet file. `fileNames`: the top-level
   * column names as the file spells them, in file order — a file may repeat a name, which the
   * engine makes unique in `columns` (`ts`, `ts` → `ts`, `ts_1`), so only these show the repeat.
   */
  describe(
    path: string,
  ): Promise<{ readonly columns: readonly LabelColumn[]; readonly rowCount: number; readonly fileNames: readonly string[] }>
  /** The values of `columns`, one array per column in the order asked, rows in file order. */
  read(path: string, columns: readonly string[]): Promise<unknown[][]>
  /**
   * The first row (0-based, file order) of a `timestamp`, `int` or `long` column whose value, as
   * `read` gives it, is null or lies outside [minMs, maxMs] (epoch ms), with that value; undefined
   * when every row lies inside. Checks a whole label-time column without decoding it into JS.
   * Rejects for a column of another type.
   */
  firstTimeOutside(
    path: string,
    column: string,
    range: { readonly minMs: number; readonly maxMs: number },
  ): Promise<{ readonly row: number; readonly value: unknown } | undefined>
  /**
   * The first row (0-based, file order) of a `timestamp`, `int` or `long` column whose value, as
   * `read` gives it, lies inside [minMs, maxMs], with that value; undefined when none does (nulls
   * never do). Rejects for a column of another type.
   */
  firstTimeInside(
    path: string,
    column: string,
    range: { readonly minMs: number; readonly maxMs: number },
  ): Promise<{ readonly row: number; readonly value: unknown } | undefined>
  /**
   * The first row (0-based, file order) of a `string` column whose value is longer than
   * `maxBytes` UTF-8 bytes or holds a control character (U+0000–U+001F, U+007F), with that value;
   * undefined when there is none (nulls and empty strings pass). Checks a whole entity-key column
   * (core/entity-key.ts's rules) without decoding it into JS. Rejects for a column of another type.
   */
  firstBadKeyPart(
    path: string,
    column: string,
    limits: { readonly maxBytes: number },
  ): Promise<{ readonly row: number; readonly value: string } | undefined>
  /** Writes one Parquet file of `columns` (one value array each, all of one length). */
  write(path: string, columns: readonly LabelColumn[], values: readonly (readonly unknown[])[]): Promise<void>
  close(): Promise<void>
}
