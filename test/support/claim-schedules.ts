/**
 * Every interleaving of concurrent starts' object-store calls (stateless model checking): each
 * start ("actor") reaches the store through a gate that holds each claim-store call until the
 * explorer lets it through, one call at a time, so a schedule is the order in which the actors'
 * calls land. `exploreSchedules` runs every schedule once, depth first: after a run it backtracks
 * to the last step that had an actor not yet tried there.
 *
 * Calls outside `claims/` (the listing of the checkpoints, which no actor writes) pass ungated:
 * their order cannot change an outcome, and gating them would only multiply the schedules.
 */
import { CLAIMS_PREFIX } from '../../main/commands/topic-claims.ts'
import type { ObjectStore } from '../../ports/object-store.ts'
import { forwardingStore } from './forwarding-store.ts'

export type GatedOperation = 'get' | 'putIfAbsent' | 'put' | 'delete' | 'list'

/** A call an actor is held at: which one, and how to let it through (`fail`: as a store failing it). */
export interface HeldCall {
  readonly actor: number
  readonly operation: GatedOperation
  readonly key: string
  /** The actor's how-manieth gated call (0-based). */
  readonly index: number
}

/** How a held call goes through: normally, failing before it reaches the store, or after it landed (a lost answer). */
export type Passage = 'ok' | 'fail-before' | 'fail-after'

export class InjectedClaimFault extends Error {
  override readonly name = 'InjectedClaimFault'
}

export interface ActorOutcome<T> {
  readonly value?: T
  readonly error?: unknown
}

export interface ScheduleRun<T> {
  readonly outcomes: readonly ActorOutcome<T>[]
  /** The calls in the order they landed. */
  readonly trace: readonly HeldCall[]
}

interface Actor {
  state: 'running' | 'held' | 'done'
  held?: { call: HeldCall; go: (passage: Passage) => void }
  calls: number
}

/**
 * Runs the actors (`start(store, actor)`) over `inner` with their claim calls in the order
 * `choose` picks among the held ones (`choose(held, step)` returns an index into `held`, sorted by
 * actor); `passage` says how each call goes through.
 */
export async function runSchedule<T>(
  inner: ObjectStore,
  actors: number,
  start: (store: ObjectStore, actor: number) => Promise<T>,
  choose: (held: readonly HeldCall[], step: number) => number,
  passage: (call: HeldCall) => Passage = () => 'ok',
): Promise<ScheduleRun<T>> {
  const states: Actor[] = Array.from({ length: actors }, () => ({ state: 'running', calls: 0 }))
  let changed: () => void = () => {}
  const notify = (): void => changed()
  const gated = (actor: number): ObjectStore => {
    const base = forwardingStore(inner)
    const gate = async <R>(operation: GatedOperation, key: string, run: () => Promise<R>): Promise<R> => {
      if (!key.startsWith(CLAIMS_PREFIX)) return run()
      const me = states[actor]!
      const how = await new Promise<Passage>((go) => {
        me.held = { call: { actor, operation, key, index: me.calls++ }, go }
        me.state = 'held'
        notify()
      })
      if (how === 'fail-before') throw new InjectedClaimFault(`${operation} ${key} failed before it reached the store`)
      const result = await run()
      if (how === 'fail-after') throw new InjectedClaimFault(`${operation} ${key} landed, and its answer was lost`)
      return result
    }
    return {
      ...base,
      get: (k) => gate('get', k, () => inner.get(k)),
      put: (k, b) => gate('put', k, () => inner.put(k, b)),
      putIfAbsent: (k, b) => gate('putIfAbsent', k, () => inner.putIfAbsent(k, b)),
      delete: (k) => gate('delete', k, () => inner.delete(k)),
      list: (p) => gate('list', p, () => inner.list(p)),
    }
  }
  const outcomes: ActorOutcome<T>[] = new Array(actors)
  for (let a = 0; a < actors; a++) {
    void start(gated(a), a).then(
      (value) => ((outcomes[a] = { value }), (states[a]!.state = 'done'), notify()),
      (error: unknown) => ((outcomes[a] = { error }), (states[a]!.state = 'done'), notify()),
    )
  }
  const trace: HeldCall[] = []
  for (let step = 0; ; step++) {
    while (states.some((s) => s.state === 'running')) await new Promise<void>((resolve) => (changed = resolve))
    const held = states.flatMap((s) => (s.state === 'held' && s.held ? [s.held] : []))
    if (held.length === 0) break
    const pick =
      held[
        choose(
          held.map((h) => h.call),
          step,
        )
      ]!
    const actor = states[pick.call.actor]!
    actor.state = 'running'
    actor.held = undefined
    trace.push(pick.call)
    pick.go(passage(pick.call))
  }
  return { outcomes, trace }
}

/**
 * Runs `run` once per schedule of the actors' calls, depth first, and returns how many schedules
 * there were. `run(choose)` must run one schedule with that chooser (a fresh store each time).
 */
export async function exploreSchedules(
  run: (choose: (held: readonly HeldCall[], step: number) => number) => Promise<void>,
): Promise<number> {
  let prefix: number[] = []
  let schedules = 0
  for (;;) {
    const taken: number[] = []
    const widths: number[] = []
    await run((held, step) => {
      const pick = prefix[step] ?? 0
      taken.push(pick)
      widths.push(held.length)
      return pick
    })
    schedules++
    let k = taken.length - 1
    while (k >= 0 && taken[k]! + 1 >= widths[k]!) k--
    if (k < 0) return schedules
    prefix = [...taken.slice(0, k), taken[k]! + 1]
  }
}
