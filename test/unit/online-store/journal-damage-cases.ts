/**
 * Every kind of damage a journal of the embedded online store can take after its syncs were
 * acknowledged, and every kind of torn tail a crash leaves after them, as a table for the writer's
 * and the follower's tests (embedded-journal-damage.test.ts, embedded-follower-journal-damage.test.ts).
 *
 * The rows: four acknowledged syncs after the file, each landing a key of its own and moving `a`
 * on, so losing any batch changes what some key reads.
 */
import { feature, plainRead, row, view } from '../../contracts/online-store.ts'
import type { OnlineStore } from '../../../ports/online-store.ts'

export const clock = { nowMs: () => 1_000_000, sleep: async () => {} }
export const v = view('journaled', [feature('x', 'double'), feature('s', 'string')], { ttlMs: 10_000_000 })
/** The keys the acknowledged rows are read at; `tail` is written only by an append that never returned. */
export const KEYS = ['a', 'b', 'k1', 'k2', 'k3', 'k4']

/** What the store holds before any sync: written into the file by the first sync. */
export const FIRST = [row('a', 10, [0, 'a0']), row('b', 10, [1, 'b0'])]
/** One write per acknowledged sync after the first (each one journal append). */
// `a`'s text is not ASCII: lengths and CRCs are of bytes, and a character is several.
export const BATCHES = [1, 2, 3, 4].map((i) => [row(`k${i}`, 10, [i, `k${i}v`]), row('a', 10 + i, [10 + i, `a${i}é€`])])

/** Writes FIRST, syncs, then each of BATCHES with a sync after it: the state whose journal is damaged. */
export async function writeAcknowledged(store: Pick<OnlineStore, 'writeRows'> & { sync(): Promise<void> }): Promise<void> {
  await store.writeRows(v, FIRST)
  await store.sync()
  for (const batch of BATCHES) {
    await store.writeRows(v, batch)
    await store.sync()
  }
}

export async function snapshot(store: Pick<OnlineStore, 'readRows'>): Promise<ReturnType<typeof plainRead>[]> {
  return (
    await store.readRows(
      KEYS.map((entityKey) => ({ view: v, entityKey, features: ['x', 's'] })),
      clock.nowMs(),
    )
  ).map(plainRead)
}

/** What a store that was never damaged reads at KEYS after writeAcknowledged. */
export const ACKNOWLEDGED = [
  { status: 'PRESENT', asOfMs: 14, values: [14, 'a4é€'] },
  { status: 'PRESENT', asOfMs: 10, values: [1, 'b0'] },
  ...[1, 2, 3, 4].map((i) => ({ status: 'PRESENT', asOfMs: 10, values: [i, `k${i}v`] })),
]

export interface Damage {
  readonly name: string
  /** The journal's text after the damage; undefined: the journal is deleted (the file still names it). */
  readonly apply: (journal: string) => string | undefined
  /** Every acknowledged byte survives it: the journal must read, with every acknowledged row. */
  readonly harmless?: boolean
}

/** Byte ranges [start, end) of each append (a batch and its sync mark) in `journal`. */
export function batchRanges(journal: string): [number, number][] {
  const mark = '"key":"\\u0000synced"'
  const lines = journal.split('\n').slice(0, -1)
  const out: [number, number][] = []
  let start = 0
  let at = 0
  for (const line of lines) {
    at += line.length + 1
    if (line.includes(mark)) {
      out.push([start, at])
      start = at
    }
  }
  return out
}

/** A line a crash could leave beyond the last acknowledged sync: an append of a key nobody reads. */
const TAIL_ROW = `${JSON.stringify({ key: 'journaled:1|tail', asOfMs: 5, expiresAtMs: 99_000_000, fields: { x: '1', s: 't' } })}\n`

/**
 * Damage to acknowledged bytes (the store must read every acknowledged row or stop with DATA_CORRUPT
 * naming the journal), then torn tails after them (`harmless`: they must read, every acknowledged row).
 * `journal`: the journal's text as the four acknowledged syncs left it (as characters, or as bytes read as latin1).
 */
export function damages(journal: string): Damage[] {
  const ranges = batchRanges(journal)
  const markLine = journal.slice(journal.lastIndexOf('\n', journal.length - 2) + 1)
  const out: Damage[] = []
  for (let n = 0; n < journal.length; n++)
    out.push({ name: `cut to ${n} of ${journal.length} bytes`, apply: (j) => j.slice(0, n) })
  out.push({ name: 'emptied', apply: () => '' })
  out.push({ name: 'deleted while the file names it', apply: () => undefined })
  ranges.forEach(([start, end], i) => {
    const batch = journal.slice(start, end)
    const name = `batch ${i + 1} of ${ranges.length}`
    out.push({ name: `${name} removed`, apply: (j) => j.slice(0, start) + j.slice(end) })
    out.push({ name: `${name} duplicated`, apply: (j) => j.slice(0, end) + batch + j.slice(end) })
    // Still reads as rows: only the recorded CRC tells it from what was written.
    out.push({ name: `${name} with a value changed`, apply: (j) => j.slice(0, start) + batch.replace(/v"/, 'w"') + j.slice(end) })
    out.push({
      name: `${name} with a line that does not read`,
      apply: (j) => j.slice(0, start) + `X${batch.slice(1)}` + j.slice(end),
    })
    const half = (end - start) >> 1
    out.push({
      name: `${name} with its first half zero-filled`,
      apply: (j) => j.slice(0, start) + '\0'.repeat(half) + batch.slice(half) + j.slice(end),
    })
    const next = ranges[i + 1]
    if (next !== undefined) {
      out.push({
        name: `${name} swapped with the next`,
        apply: (j) => j.slice(0, start) + j.slice(next[0], next[1]) + batch + j.slice(next[1]),
      })
    }
  })
  // Torn tails: an append whose sync never returned, in every state a crash can leave it.
  const append = TAIL_ROW + markLine
  for (let n = 1; n <= append.length; n++)
    out.push({ name: `a torn append of ${n} of ${append.length} bytes`, apply: (j) => j + append.slice(0, n), harmless: true })
  const hole = append.length >> 1
  out.push({
    name: 'an append whose first half is zero-filled',
    apply: (j) => j + '\0'.repeat(hole) + append.slice(hole),
    harmless: true,
  })
  out.push({ name: 'an append of zeros', apply: (j) => j + '\0'.repeat(append.length), harmless: true })
  out.push({ name: 'the undamaged journal', apply: (j) => j, harmless: true })
  return out
}
