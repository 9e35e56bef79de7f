/**
 * The outside audit's seeded plans and its comparison of a chaotic run with the clean one
 * (test/unit/engine/audit-chaos.test.ts and its stale-restore twin): the writers of every record
 * kind, the phases of records and the idle gaps between them, and the outcome a chaotic run must
 * share with the clean one — the same offline rows, online rows and archive, and the same dead
 * letters (at least once each after a crash, docs/semantics.md §15).
 */
import assert from 'node:assert/strict'
import type { EmbeddedSchemaRegistry } from '../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { prng } from '../../examples/generate-events.ts'
import { createEncoder } from '../../schemas/encoder.ts'
import {
  DOUBLE_TIME_SCHEMA,
  OTHER_SCHEMA,
  POISON_KINDS,
  SCHEMA,
  T0,
  TOPIC,
  WRONG_TYPES_SCHEMA,
  planPhase,
  type Buy,
  type PlannedRecord,
  type Writers,
} from './audit-chaos-workload.ts'
import type { Outcome } from './audit-chaos-run.ts'

export async function writers(registry: EmbeddedSchemaRegistry): Promise<Writers> {
  const buy = await createEncoder({ registry, subject: `${TOPIC}-value`, schema: SCHEMA as never })
  const other = await createEncoder({ registry, subject: 'audit-other-value', schema: OTHER_SCHEMA as never })
  const wrong = await createEncoder({ registry, subject: 'audit-wrong-value', schema: WRONG_TYPES_SCHEMA as never })
  const double = await createEncoder({ registry, subject: 'audit-double-value', schema: DOUBLE_TIME_SCHEMA as never })
  return {
    buy: (b: Buy) => buy.encode(b as never),
    other: () => other.encode({ label: 'not a buy' }),
    wrongTypes: (b: Buy) => wrong.encode({ ...b, amount: String(b.amount) } as never),
    doubleTime: (b: Buy, ts: number) => double.encode({ ...b, ts } as never),
  }
}

export function plan(seed: number, w: Writers, phaseCount?: number): { phases: PlannedRecord[][]; gaps: number[] } {
  const rand = prng(seed)
  const clocks = [T0, T0 - 3_600_000, T0 + 120_000]
  const count = phaseCount ?? 4 + Math.floor(rand() * 3)
  const poisonAt = { next: Math.floor(rand() * POISON_KINDS.length) }
  const phases: PlannedRecord[][] = []
  const gaps: number[] = []
  for (let p = 0; p < count; p++) {
    phases.push(planPhase(rand, p, clocks, w, 2, poisonAt))
    gaps.push(30_000 + Math.floor(rand() * 150_000))
    // Idle markers move the watermark as if event time went on with the wall clock: so does the stream.
    for (let i = 0; i < clocks.length; i++) clocks[i]! += gaps.at(-1)! + 10_000
  }
  return { phases, gaps }
}

function diff(a: readonly string[], b: readonly string[]): string {
  const first = a.findIndex((x, i) => x !== b[i])
  const at = first < 0 ? Math.min(a.length, b.length) : first
  return `first difference at ${at} of ${a.length}/${b.length}:\n  clean:   ${a[at]}\n  chaotic: ${b[at]}`
}

export function assertSameOutcome(clean: Outcome, chaotic: Outcome, where: string): void {
  const want = [...clean.deadLetters.keys()].sort()
  const got = [...chaotic.deadLetters.keys()].sort()
  assert.deepEqual(
    got.filter((k) => !clean.deadLetters.has(k)),
    [],
    `${where}: dead letters the clean run did not write`,
  )
  assert.deepEqual(
    want.filter((k) => !chaotic.deadLetters.has(k)),
    [],
    `${where}: dead letters lost`,
  )
  for (const [view, rows] of clean.offline) {
    const got = chaotic.offline.get(view) ?? []
    assert.ok(rows.length === got.length && rows.every((r, i) => r === got[i]), `${where}: offline ${view}: ${diff(rows, got)}`)
  }
  const onlineDiff = [...clean.online]
    .filter(([k, v]) => chaotic.online.get(k) !== v)
    .map(([k, v]) => `${k}: ${v} vs ${chaotic.online.get(k)}`)
  assert.deepEqual(onlineDiff, [], `${where}: online rows`)
  clean.archive.forEach((list, p) =>
    assert.ok(
      list.join() === chaotic.archive[p]!.join(),
      `${where}: archive of partition ${p}: ${diff(list, chaotic.archive[p]!)}`,
    ),
  )
}
