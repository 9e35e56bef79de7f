/**
 * A realistic, reproducible event stream for the example sources: skewed users and items (a few
 * are far more active), sessions of clicks followed now and then by a purchase, a little
 * disorder within the sources' out-of-orderness, and a few events late beyond allowed lateness.
 * The same seed always yields the same events.
 */
/** The topics the generator writes (the example sources'). */
export const GENERATED_TOPICS = ['clicks', 'purchases'] as const

export interface GeneratedEvent {
  readonly topic: (typeof GENERATED_TOPICS)[number]
  readonly event: Record<string, unknown>
}

export interface GenerateOptions {
  readonly count: number
  readonly seed?: number
  readonly users?: number
  readonly items?: number
  readonly startMs?: number
  /** Mean gap between consecutive events, in event time. */
  readonly meanGapMs?: number
  /** Fraction of events delayed within out-of-orderness, and beyond allowed lateness. */
  readonly disorder?: number
  readonly late?: number
}

const CATEGORIES = ['books', 'games', 'garden', 'kitchen', 'music', 'outdoor', 'toys'] as const

export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export function* generateEvents(options: GenerateOptions): Generator<GeneratedEvent> {
  const rand = prng(options.seed ?? 42)
  const users = options.users ?? 2_000
  const items = options.items ?? 500
  const gap = options.meanGapMs ?? 200
  const disorder = options.disorder ?? 0.05
  const late = options.late ?? 0.005
  let t = options.startMs ?? Date.UTC(2026, 10, 1)
  // Zipf-like skew without a table: squaring a uniform draw concentrates mass on low ids.
  const pick = (n: number, power: number) => Math.floor(n * rand() ** power)
  for (let i = 0; i < options.count; i++) {
    t += Math.max(1, Math.round(-Math.log(1 - rand()) * gap))
    const r = rand()
    const ts = r < late ? t - 120_000 - Math.round(rand() * 3_600_000) : r < late + disorder ? t - Math.round(rand() * 4_000) : t
    const user = `u${pick(users, 2.5)}`
    const itemN = pick(items, 2)
    const item = `i${itemN}`
    if (rand() < 0.12) {
      yield {
        topic: 'purchases',
        event: { user_id: user, item_id: item, amount: Math.round((5 + rand() * 195) * 100) / 100, currency: (['EUR', 'USD', 'GBP'] as const)[pick(3, 1)], ts },
      }
    } else {
      const bot = rand() < 0.1
      yield {
        topic: 'clicks',
        event: { user_id: user, item_id: item, category: CATEGORIES[itemN % CATEGORIES.length], dwell_ms: bot ? Math.round(rand() * 300) : rand() < 0.03 ? null : Math.round(500 + rand() * 60_000), ts },
      }
    }
  }
}
