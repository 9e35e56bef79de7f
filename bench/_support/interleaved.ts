/**
 * Same-run comparisons that share the machine's drift. On this VM one 10-second run can be twice as
 * fast as the next (load from other work, CPU steal), so "the server for 10 s, then the floor for
 * 10 s" compares two different machines. Running them as A B B A halves cancels a drift that is
 * steady across the four (the first and last rounds straddle the middle pair), and one that comes
 * in a burst lands on both sides or shows up in the per-round figures printed beside the totals.
 */
import type { WrkResult } from '../serving.ts'
import { quantile, type RateResult } from './serving-loadgen.ts'
import { processCpuMs } from './stack.ts'

/** Runs `a` and `b` in the order a, b, b, a; each side's two results in the order they ran. */
export async function abba<T>(a: () => Promise<T> | T, b: () => Promise<T> | T): Promise<{ a: [T, T]; b: [T, T] }> {
  const a1 = await a()
  const b1 = await b()
  const b2 = await b()
  const a2 = await a()
  return { a: [a1, a2], b: [b1, b2] }
}

/**
 * Two wrk rounds as one: requests over the summed duration (each round's duration is its requests
 * ÷ its rate), latencies request-weighted for the median and the worse of the two for the p99.
 */
export function combineWrk(rounds: readonly WrkResult[]): WrkResult {
  let requests = 0
  let seconds = 0
  let p50 = 0
  let p99 = 0
  let non2xx = 0
  for (const r of rounds) {
    requests += r.requests
    seconds += r.rps > 0 ? r.requests / r.rps : 0
    p50 += r.p50Ms * r.requests
    p99 = Math.max(p99, r.p99Ms)
    non2xx += r.non2xx
  }
  return {
    rps: seconds > 0 ? requests / seconds : 0,
    p50Ms: requests > 0 ? p50 / requests : Number.NaN,
    p99Ms: p99,
    non2xx,
    requests,
  }
}

/** The latencies a load generator run recorded (`RateResult.latencies`: a Float64Array's bytes in base64). */
export function latenciesOf(r: RateResult): Float64Array {
  if (typeof r.latencies !== 'string') throw new Error('the load generator did not return its latencies')
  const bytes = Buffer.from(r.latencies, 'base64')
  // A copy into a fresh buffer: the decoded bytes need not sit at an 8-byte aligned offset.
  return new Float64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length))
}

/**
 * CPU ms (/proc, all threads) each server process spent over the rounds it served, summed; NaN
 * once a reading is missing, so a lost figure shows as NaN rather than as a cheap server.
 */
export class CpuTally {
  readonly #ms = new Map<number | undefined, number>()

  async around<T>(pid: number | undefined, round: () => Promise<T> | T): Promise<T> {
    const before = processCpuMs(pid)
    const result = await round()
    const after = processCpuMs(pid)
    this.#ms.set(pid, (this.#ms.get(pid) ?? 0) + (before === undefined || after === undefined ? Number.NaN : after - before))
    return result
  }

  ms(pid: number | undefined): number {
    return this.#ms.get(pid) ?? Number.NaN
  }
}

/** Fixed-rate rounds as one run: every recorded latency in one distribution, rates over the summed time. */
export function combineRate(rounds: readonly RateResult[]): Omit<RateResult, 'latencies'> {
  const parts = rounds.map(latenciesOf)
  const all = new Float64Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    all.set(p, at)
    at += p.length
  }
  all.sort()
  const seconds = rounds.reduce((s, r) => s + r.elapsedS, 0)
  const sum = (pick: (r: RateResult) => number) => rounds.reduce((s, r) => s + pick(r), 0)
  return {
    sent: sum((r) => r.sent),
    ok: sum((r) => r.ok),
    errors: sum((r) => r.errors),
    achievedRps: seconds > 0 ? all.length / seconds : 0,
    elapsedS: seconds,
    p50Ms: quantile(all, 0.5),
    p99Ms: quantile(all, 0.99),
  }
}
