/**
 * The live engine's watch on the partition counts of the topics it reads (./source-partitions.ts).
 * A topic grown while `kfs run` runs is refused, but the Kafka clients notice the growth only at
 * their next metadata refresh (kafkajs: every 5 minutes, then a rebalance hands out the new
 * partitions), while a producer that learnt the new count sends keys to other partitions at once,
 * old partitions included. So the engine asks the log itself:
 * - before each checkpoint publish (with the claim check: the point of no return), a lookup started
 *   after the check was asked, so after the checkpoint's cut: a checkpoint covering a record that
 *   was produced after the growth is refused, and no row of it reaches the offline tables;
 * - every checkpoint interval from the engine's tick, so an engine with nothing to checkpoint stops too;
 * - and on every assignment, a partition past the declared count is refused before it is read
 *   (live-engine.ts).
 * Rows written online between the growth and the refusal stay (at most a checkpoint interval's).
 *
 * Concurrent asks share lookups, one at a time. A log that does not answer (a broker restarting) is
 * not a refusal: the lookup's failure is logged and the ask passes, and so does every ask waiting on
 * it. A lookup that hangs — neither answers nor fails — counts as failed once it has gone unanswered
 * for `patienceMs` by the clock (logged), and the asks waiting on it pass, the one that started it
 * included: checkpoints and a stop do not wait on a broker that is down. The next ask after a lookup
 * answered or failed looks again — after a hung one too, so a log that hangs once and then answers
 * is asked again, not trusted forever. A hung lookup's late answer is dropped (a newer lookup
 * answers for the asks since). The patience timer never keeps the process alive on its own.
 */
import type { Clock } from '../core/clock.ts'
import { InvariantViolation } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import type { SourceDef } from '../features/types.ts'
import type { EventLog } from '../ports/event-log.ts'
import { requireDeclaredPartitions } from './source-partitions.ts'

type Verdict = { readonly refused: InvariantViolation } | { readonly unanswered: unknown } | 'ok'

interface Lookup {
  /** Asks numbered up to this one were asked before the lookup started. */
  readonly covers: number
  /** The log's answer, or `unanswered` once the lookup has gone unanswered for `patienceMs` by the clock. */
  readonly verdict: Promise<Verdict>
}

export interface PartitionWatchOptions {
  readonly log: Pick<EventLog, 'partitionCount'>
  readonly sources: readonly SourceDef[]
  readonly clock: Clock
  readonly logger: Logger
  /** How long a lookup may go unanswered before asks stop waiting for it (default 5 s). */
  readonly patienceMs?: number
}

export class PartitionWatch {
  readonly #options: PartitionWatchOptions
  #asked = 0
  #running: Lookup | undefined
  #last: { readonly covers: number; readonly verdict: Verdict } | undefined

  constructor(options: PartitionWatchOptions) {
    this.#options = options
  }

  /** Resolves once a lookup started after this call found every topic at its declared count, or went unanswered; rejects with the refusal. */
  async require(): Promise<void> {
    const wanted = ++this.#asked
    for (;;) {
      if (this.#last !== undefined && this.#last.covers >= wanted) return judge(this.#last.verdict)
      const running = (this.#running ??= this.#start())
      const verdict = await running.verdict
      // A log that did not answer the lookup waited on passes its asks: no checkpoint waits longer.
      if (running.covers >= wanted || (typeof verdict === 'object' && 'unanswered' in verdict)) return judge(verdict)
    }
  }

  #start(): Lookup {
    const { log, sources, clock, logger } = this.#options
    const covers = this.#asked
    const answer = requireDeclaredPartitions(log, sources, { grown: true }).then(
      (): Verdict => 'ok',
      (err: unknown): Verdict => {
        if (err instanceof InvariantViolation) return { refused: err }
        logger.warn(
          { err },
          "partition counts of the engine's topics not checked: the log did not answer; asked again at the next checkpoint",
        )
        return { unanswered: err }
      },
    )
    const verdict = Promise.race([answer, this.#patience(clock.nowMs(), answer)])
    const lookup: Lookup = { covers, verdict }
    void verdict.then((v) => {
      // A lookup given up on leaves #running to the one started after it: its late answer is dropped.
      if (this.#running !== lookup) return
      this.#running = undefined
      this.#last = { covers, verdict: v }
    })
    return lookup
  }

  /**
   * Resolves with `unanswered` once the clock says `patienceMs` have passed since `startedAtMs`
   * with `answer` still unknown (never, if it comes first). The timer only wakes the check (the
   * clock decides, so a test's clock can); it is cleared when the answer comes, so an answered
   * lookup leaves nothing running, and unref'd, so a hung lookup never keeps the process alive.
   */
  #patience(startedAtMs: number, answer: Promise<Verdict>): Promise<Verdict> {
    const { clock, logger } = this.#options
    const patienceMs = this.#options.patienceMs ?? 5_000
    let timer: NodeJS.Timeout | undefined
    let answered = false
    void answer.then(() => {
      answered = true
      clearTimeout(timer)
    })
    return new Promise((resolve) => {
      const wake = (): void => {
        if (answered) return
        const left = patienceMs - (clock.nowMs() - startedAtMs)
        if (left >= 0) {
          timer = setTimeout(wake, left + 1)
          timer.unref()
          return
        }
        logger.warn(
          { patienceMs },
          `partition counts of the engine's topics not checked: the log has not answered for ${patienceMs} ms; counted as failed, asked again at the next checkpoint`,
        )
        resolve({ unanswered: new Error(`the log did not answer the partition counts within ${patienceMs} ms`) })
      }
      wake()
    })
  }
}

function judge(verdict: Verdict): void {
  if (typeof verdict === 'object' && 'refused' in verdict) throw verdict.refused
}
