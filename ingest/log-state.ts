/**
 * What a table source's log already holds (docs/design.md §11), folded from its envelopes in
 * append order: every appended version of a row as (primary key, event time, row fingerprint),
 * and per key the latest row by (event time, append order) — the `before` image of the next change.
 * Read from the log itself, so a re-run after a crash knows exactly what the first run wrote.
 *
 * One entry per key holds both, so the planner asks "does the log know this key at all?" with one
 * lookup and fingerprints a snapshot row only when it does (a first ingest fingerprints nothing).
 */
import type { TableRow } from '../ports/table-snapshots.ts'
import type { RowColumn } from './row-columns.ts'

export interface LatestRow {
  readonly t: number
  /** null after a delete: the key's next change is a create again. */
  readonly row: TableRow | null
}

interface KeyEntry {
  t: number
  row: TableRow | null
  /** `${t}\u0000${fingerprint}` of each appended version: one string for the usual single version. */
  versions: string | Set<string> | undefined
}

/** A row's identity over the declared columns (what a re-ingest compares). */
export function rowFingerprint(columns: readonly RowColumn[], row: TableRow): string {
  let text = ''
  for (const c of columns) text += `${c.canonical(row[c.name])}\u0000`
  return text
}

const versionOf = (t: number, fingerprint: string): string => `${t}\u0000${fingerprint}`

export class LogState {
  readonly #keys = new Map<string, KeyEntry>()
  #versions = 0

  /** An appended change of `key` at `t`: `row` is its after image (null for a delete). */
  record(key: string, t: number, row: TableRow | null, fingerprint: string | null): void {
    let entry = this.#keys.get(key)
    if (entry === undefined) {
      entry = { t, row, versions: undefined }
      this.#keys.set(key, entry)
    } else if (t >= entry.t) {
      // Ties in event time go to the later append: records arrive here in append order.
      entry.t = t
      entry.row = row
    }
    if (row === null || fingerprint === null) return
    const version = versionOf(t, fingerprint)
    const known = entry.versions
    if (known === undefined) entry.versions = version
    else if (typeof known === 'string') {
      if (known === version) return
      entry.versions = new Set([known, version])
    } else {
      if (known.has(version)) return
      known.add(version)
    }
    this.#versions++
  }

  /** Whether any change of `key` was appended: only then can `holds` or `latest` answer. */
  knows(key: string): boolean {
    return this.#keys.has(key)
  }

  holds(key: string, t: number, fingerprint: string): boolean {
    const known = this.#keys.get(key)?.versions
    if (known === undefined) return false
    const version = versionOf(t, fingerprint)
    return typeof known === 'string' ? known === version : known.has(version)
  }

  latest(key: string): LatestRow | undefined {
    return this.#keys.get(key)
  }

  /** Keys the log has seen (any change, deletes included). */
  get size(): number {
    return this.#keys.size
  }

  /** Distinct (key, event time, row) versions appended. */
  get versions(): number {
    return this.#versions
  }
}
