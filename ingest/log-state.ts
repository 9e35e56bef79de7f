/**
 * What a table source's log already holds (docs/design.md §11), folded from its envelopes in
 * append order: every appended version of a row as (primary key, event time, row fingerprint),
 * and per key the latest row by (event time, append order) — the `before` image of the next change.
 * Read from the log itself, so a re-run after a crash knows exactly what the first run wrote.
 *
 * Versions are kept as one short digest each (not the rows), so a table of millions of keys fits.
 */
import { createHash } from 'node:crypto'
import type { TableRow } from '../ports/table-snapshots.ts'
import type { RowColumn } from './row-columns.ts'

export interface LatestRow {
  readonly t: number
  /** null after a delete: the key's next change is a create again. */
  readonly row: TableRow | null
}

/** A row's identity over the declared columns (what a re-ingest compares). */
export function rowFingerprint(columns: readonly RowColumn[], row: TableRow): string {
  let text = ''
  for (const c of columns) text += `${c.canonical(row[c.name])}\u0000`
  return text
}

function versionDigest(key: string, t: number, fingerprint: string): string {
  return createHash('sha1').update(key).update('\u0000').update(String(t)).update('\u0000').update(fingerprint).digest('base64')
}

export class LogState {
  readonly #versions = new Set<string>()
  readonly #latest = new Map<string, LatestRow>()

  /** An appended change of `key` at `t`: `row` is its after image (null for a delete). */
  record(key: string, t: number, row: TableRow | null, fingerprint: string | null): void {
    if (row !== null && fingerprint !== null) this.#versions.add(versionDigest(key, t, fingerprint))
    const prior = this.#latest.get(key)
    // Ties in event time go to the later append: records arrive here in append order.
    if (prior === undefined || t >= prior.t) this.#latest.set(key, { t, row })
  }

  holds(key: string, t: number, fingerprint: string): boolean {
    return this.#versions.has(versionDigest(key, t, fingerprint))
  }

  latest(key: string): LatestRow | undefined {
    return this.#latest.get(key)
  }

  get versions(): number {
    return this.#versions.size
  }
}
