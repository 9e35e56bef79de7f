/**
 * Where `kfs ingest` keeps every row it rejects, as the snapshot is read: the summary counts them
 * and shows the first few, and a sink (main/commands/ingest-rejects.ts: a file) gets each one with
 * its values, so no rejected row goes unnamed.
 */
import type { RejectedRow } from './plan-snapshot.ts'

export interface LocatedRejection extends RejectedRow {
  /** The snapshot's id. */
  readonly snapshot: string
  /** Its file and line (CSV) or row there (Parquet), when the reader can tell. */
  readonly at?: string
}

export interface RejectSink {
  /**
   * One rejected row, with the declared columns' values as the reader gave them. Called while the
   * snapshot is read, once per rejected row, in row order; never for an accepted row.
   */
  add(rejected: LocatedRejection, cells: Readonly<Record<string, unknown>>): void
  /**
   * Every rejected row has been added: called once the whole snapshot is read, before the log is
   * read or anything appended (which rows are rejected depends on the snapshot alone). A failure
   * here fails the ingest with nothing appended.
   */
  close(): Promise<void>
}
