/**
 * Table snapshots port: the rows of a table source at one snapshot (docs/design.md §11), read by
 * `kfs ingest` and appended to the source's log. Adapters: Parquet and CSV files or folders
 * (adapters/tables), Iceberg tables on the object store (adapters/offline/iceberg).
 *
 * Guarantees:
 * - `id` names the snapshot's content: the same content gives the same id (files: a digest of
 *   their bytes; Iceberg: the table's snapshot id), so a re-ingest can be told from a new snapshot.
 * - `rows()` yields every row of the snapshot once, in batches, in a fixed order (files in name
 *   order, rows in file order); each call reads anew from the start. Ingest sorts the rows itself,
 *   so the order only fixes which of two duplicate rows is reported.
 * - Values: long/int → number (a bigint beyond ±2^53), float/double → number, string → string,
 *   boolean → boolean, timestamps → epoch milliseconds (number), dates → epoch ms of midnight UTC;
 *   a null or an empty CSV cell → null. CSV cells are typed by `columns` (parsed as the declared
 *   row schema's types: a cell that does not parse stays a string, so ingest rejects its row with
 *   a reason instead of guessing).
 * - `columns` is the snapshot's own schema (names and kinds, file order), for schema-change checks.
 *
 * Failure modes: `open` rejects with a clear Error for a location that does not exist, holds no
 * files, or is not the declared format (not Parquet, not an Iceberg table); `rows()` may reject
 * mid-read on a store error (ingest then appends nothing of a half-read snapshot it has not sorted).
 */
import type { TableLocation } from '../features/types.ts'

export type TableColumnKind = 'long' | 'double' | 'string' | 'boolean' | 'timestamp' | 'other'

export interface TableColumn {
  readonly name: string
  readonly kind: TableColumnKind
}

export type TableRow = Readonly<Record<string, unknown>>

/**
 * Rows column by column: column name → one value per row (the values of `rows()`, undefined for
 * null), in an array or another indexable container of the same values: index it, use no
 * array methods.
 */
export interface TableColumnBatch {
  readonly numRows: number
  readonly columns: Readonly<Record<string, ArrayLike<unknown>>>
}

export interface TableSnapshot {
  /** The snapshot's identity (see Guarantees). */
  readonly id: string
  /** Where it was read from, for messages (a path, a metadata location). */
  readonly where: string
  readonly columns: readonly TableColumn[]
  /** Number of rows when known from metadata (for a progress bar); undefined otherwise. */
  readonly rowCount: number | undefined
  rows(): AsyncIterable<readonly TableRow[]>
  /**
   * The same rows, in the same order, column by column: for a reader that holds columns anyway
   * (Parquet), no object per row. Optional; absent, a caller reads `rows()`.
   */
  columnBatches?(): AsyncIterable<TableColumnBatch>
  /**
   * Where row `row` (1-based, in the order of the last read) came from, for messages about it:
   * its file and its line (CSV) or row within the file (Parquet). Callable while the read goes on,
   * for the rows yielded so far (a rejects file is written as rows are rejected). Optional;
   * undefined for a row not read.
   */
  locate?(row: number): string | undefined
}

export interface TableSnapshotReader {
  /**
   * The snapshot to ingest. `at`: for files a path overriding the location's; for Iceberg a
   * snapshot id; absent: the location's current content.
   */
  open(location: TableLocation, at?: string): Promise<TableSnapshot>
}
