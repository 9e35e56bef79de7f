/**
 * kfs ingest over random sequences of table snapshots (docs/design.md §11), against an oracle
 * written from the docs alone: the log must hold each distinct (primary key, event time, row) of
 * every snapshot ingested exactly once — the same snapshot again appends nothing, a newer one only
 * its new and changed rows, an older one re-ingested what the log lacks — each key's first record
 * a create and every later one an update whose before image is the key's current row (its
 * greatest event time so far: a row older than it is appended after it, superseded).
 *
 * Between snapshots rows are inserted, updated (a later time, the same time with other values, or
 * an earlier time), deleted (absent from the next export) and re-inserted as they were. Runs are
 * killed after a random number of records appended (the embedded log took a prefix), then run
 * again: nothing lost, nothing doubled.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/index.ts'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { ingestSnapshot } from '../../../ingest/ingest-snapshot.ts'
import type { EventLog } from '../../../ports/event-log.ts'
import type { TableRow } from '../../../ports/table-snapshots.ts'
import { createDecoder } from '../../../schemas/decoder.ts'
import { createEncoder } from '../../../schemas/encoder.ts'
import { prng } from '../../support/scenario.ts'
import { accountsSource } from './fixtures.ts'
import { forwardingLog } from './logs.ts'
import { decodedPartitions, snapshotOf } from './memory-snapshots.ts'

const dir = mkdtempSync(join(tmpdir(), 'kfs-ingest-oracle-'))
after(() => rmSync(dir, { recursive: true, force: true }))
const source = accountsSource()
const SEQUENCES = 16

/** A log that takes the first `budget` records produced, then fails as a killed run would. */
function dying(log: EventLog, budget: number): EventLog {
  let left = budget
  return forwardingLog(log, async (topic, records) => {
    const taken = records.slice(0, left)
    left -= taken.length
    const out = taken.length > 0 ? await log.produce(topic, taken) : []
    if (taken.length < records.length) throw new Error('killed')
    return out
  })
}

/** A table: per key, its row (distinct keys; event time `updated_at`). */
type Table = Map<string, TableRow>

function nextExport(rnd: () => number, table: Table, gone: Table, clock: { now: number }): Table {
  const int = (lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1))
  const next: Table = new Map(table)
  for (let i = 0; i < int(1, 6); i++) {
    clock.now += int(1, 50)
    const r = rnd()
    const keys = [...next.keys()]
    const key = keys[Math.floor(rnd() * keys.length)]
    if (r < 0.3 || key === undefined) {
      const k = `acct-${int(0, 30)}`
      const back = gone.get(k)
      // A deleted row comes back as it was, or anew.
      next.set(
        k,
        back !== undefined && rnd() < 0.5
          ? back
          : { account_id: k, updated_at: clock.now, balance: int(0, 9), tier: null, visits: int(0, 3) },
      )
    } else if (r < 0.5) {
      gone.set(key, next.get(key)!)
      next.delete(key)
    } else {
      const old = next.get(key)!
      const t = r < 0.75 ? clock.now : r < 0.9 ? (old.updated_at as number) : (old.updated_at as number) - int(1, 30)
      next.set(key, { ...old, updated_at: t, balance: int(0, 9), tier: rnd() < 0.5 ? 'gold' : null })
    }
  }
  return next
}

const tripleOf = (row: Record<string, unknown>): string =>
  JSON.stringify([row.account_id, Number(row.updated_at), row.balance, row.tier, row.visits])

void describe('kfs ingest > random snapshot sequences, killed runs re-run', () => {
  void test(`the log holds every distinct row of the snapshots once, as creates then updates chained by key (${SEQUENCES} sequences)`, async () => {
    for (let seq = 1; seq <= SEQUENCES; seq++) {
      const rnd = prng(seq)
      const where = join(dir, `s${seq}`)
      const log = new EmbeddedEventLog({ dir: join(where, 'log'), fsync: 'never' })
      const registry = new EmbeddedSchemaRegistry({ dir: join(where, 'schemas') })
      const encoder = await createEncoder({ registry, subject: `${source.topic}-value`, schema: source.schema })
      const decoder = createDecoder({ registry, readerSchema: source.schema })
      const run = (id: string, rows: readonly TableRow[], on: EventLog = log) =>
        ingestSnapshot({ log: on, reader: snapshotOf(id, rows, 3), encoder, decoder }, { source, chunkRecords: 3 })
      const exports: [string, TableRow[]][] = []
      const expected = new Set<string>()
      let table: Table = new Map()
      const gone: Table = new Map()
      const clock = { now: 10_000 }
      for (let step = 0; step < 8; step++) {
        // A new export, or one ingested before again.
        const again = exports.length > 0 && rnd() < 0.25
        if (!again) {
          table = nextExport(rnd, table, gone, clock)
          exports.push([`snap-${step}`, [...table.values()]])
        }
        const [id, rows] = again ? exports[Math.floor(rnd() * exports.length)]! : exports[exports.length - 1]!
        for (const row of rows) expected.add(tripleOf(row))
        if (rnd() < 0.5) {
          const budget = Math.floor(rnd() * (rows.length + 1))
          await run(id, rows, dying(log, budget)).then(
            () => undefined,
            (err: unknown) => assert.match(String(err), /killed/, `sequence ${seq}: a killed run fails as killed`),
          )
        }
        await run(id, rows)
        const again2 = await run(id, rows)
        assert.equal(again2.appended, 0, `sequence ${seq}, ${id}: the same snapshot again appends nothing`)
      }
      const partitions = await decodedPartitions(log, decoder, source.topic, { partitions: 3, offsets: false })
      const seen: string[] = []
      for (const records of partitions) {
        // Per key, its current row as views read the log: the greatest event time, the later record on a tie.
        const current = new Map<string, { t: number; triple: string }>()
        for (const text of records) {
          const e = JSON.parse(text) as { op: string; before: Record<string, unknown> | null; after: Record<string, unknown> }
          const key = String(e.after.account_id)
          const prior = current.get(key)
          if (prior === undefined)
            assert.deepEqual([e.op, e.before], ['c', null], `sequence ${seq}: ${key}'s first record is a create`)
          else
            assert.deepEqual(
              [e.op, tripleOf(e.before!)],
              ['u', prior.triple],
              `sequence ${seq}: ${key}'s update names its current row`,
            )
          const t = Number(e.after.updated_at)
          if (prior === undefined || t >= prior.t) current.set(key, { t, triple: tripleOf(e.after) })
          seen.push(tripleOf(e.after))
        }
      }
      assert.equal(seen.length, new Set(seen).size, `sequence ${seq}: no row appended twice`)
      assert.deepEqual(new Set(seen), expected, `sequence ${seq}: every row of every snapshot, nothing else`)
      await log.close()
    }
  })
})
