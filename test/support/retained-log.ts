/**
 * An event log as a Kafka client sees it once retention deleted records: the embedded log keeps
 * every record, so this wraps it (test/unit/engine/deleted-mid-run.test.ts, deleted-while-idle.test.ts).
 */
import { purchases } from '../../examples/features.ts'
import type { ConsumerHandlers, EventLog, LogBatch } from '../../ports/event-log.ts'

export type Reset = 'earliest' | 'latest'

/**
 * The embedded log as a Kafka client sees it once retention deleted the offsets before
 * `deleteBefore(bound)` of every partition (or of each, given one a partition): its start offsets say so, and a consumer's read from
 * below the bound is out of range, so the client restarts the partition at the log's first record
 * left (or its end) — as kafkajs and @platformatic/kafka do — and delivers from there. `repeat`
 * hands the first batch after each restart over twice (a client restarting mid-batch).
 */
export function retainedLog(log: EventLog, reset: Reset, repeat: boolean, topic = purchases.topic) {
  let bounds: number | readonly number[] | undefined
  const boundOf = (partition: number) => (typeof bounds === 'number' ? bounds : bounds?.[partition])
  const resets: string[] = []
  const wrapped: EventLog = new Proxy(log, {
    get(target, name, receiver) {
      if (name === 'startOffsets')
        return async (of: string) =>
          (await log.endOffsets(of)).map((end, p) => String(of === topic ? Math.min(boundOf(p) ?? 0, Number(end)) : 0))
      if (name === 'consumer') {
        return (options: Parameters<EventLog['consumer']>[0]) => {
          const consumer = log.consumer(options)
          const justReset = new Set<number>()
          return Object.assign(Object.create(consumer) as typeof consumer, {
            run: (handlers: ConsumerHandlers) =>
              consumer.run({
                ...handlers,
                eachBatch: async (batch: LogBatch) => {
                  const first = Number(batch.span?.from ?? batch.records[0]!.offset)
                  const bound = boundOf(batch.partition)
                  if (bound !== undefined && first < bound && batch.topic === topic) {
                    const end = Number((await log.endOffsets(batch.topic))[batch.partition])
                    const to = reset === 'earliest' ? Math.min(bound, end) : end
                    resets.push(`${batch.partition}:${first}->${to}`)
                    justReset.add(batch.partition)
                    consumer.seek({ topic: batch.topic, partition: batch.partition, offset: String(to) })
                    return { consumed: 0 }
                  }
                  if (repeat && justReset.delete(batch.partition)) await handlers.eachBatch(batch)
                  return handlers.eachBatch(batch)
                },
              }),
            seek: consumer.seek.bind(consumer),
            commit: consumer.commit.bind(consumer),
            pause: consumer.pause.bind(consumer),
            resume: consumer.resume.bind(consumer),
            stop: consumer.stop.bind(consumer),
          })
        }
      }
      const value: unknown = Reflect.get(target, name, receiver)
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value
    },
  })
  return { log: wrapped, resets, deleteBefore: (offsets: number | readonly number[]) => (bounds = offsets) }
}
