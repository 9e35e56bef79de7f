/**
 * The floor for consuming: a bare kafkajs consumer (eachBatch, no processing, no commits) reading a
 * topic from the beginning under a fresh group, timed from its first fetch request to its last
 * record (from the first batch alone, a topic that fits in a few fetches would read in "0 ms").
 * Over the same span it also takes the CPU time spent by this process and by the broker
 * (`cpuMs`; the broker's only when `brokerCpuMs` can read it): the work any consumer costs.
 */
import kafkajs from 'kafkajs'
import { brokerCpuMs } from './stack.ts'

export async function rawConsume(
  brokers: readonly string[],
  topic: string,
  total: number,
  groupId: string,
): Promise<{ elapsedMs: number; records: number; cpuMs: number; brokerCpuMs: number | undefined }> {
  const kafka = new kafkajs.Kafka({ clientId: 'kfs-bench-raw', brokers: [...brokers], logLevel: kafkajs.logLevel.NOTHING })
  const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false })
  let records = 0
  let first: number | undefined
  let last = 0
  let cpuAtFirst: NodeJS.CpuUsage | undefined
  let brokerAtFirst: number | undefined
  let cpuAtLast: NodeJS.CpuUsage | undefined
  let brokerAtLast: number | undefined
  let done: () => void = () => {}
  const finished = new Promise<void>((resolve) => (done = resolve))
  consumer.on(consumer.events.FETCH_START, () => {
    if (first !== undefined) return
    first = performance.now()
    cpuAtFirst = process.cpuUsage()
    brokerAtFirst = brokerCpuMs()
  })
  await consumer.connect()
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true })
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        if (batch.messages.length === 0) return
        records += batch.messages.length
        if (records >= total) {
          last = performance.now()
          cpuAtLast = process.cpuUsage(cpuAtFirst)
          brokerAtLast = brokerCpuMs()
          done()
        }
      },
    })
    await finished
  } finally {
    await consumer.disconnect()
  }
  const broker = brokerAtFirst !== undefined && brokerAtLast !== undefined ? brokerAtLast - brokerAtFirst : undefined
  const ownMs = cpuAtLast === undefined ? 0 : (cpuAtLast.user + cpuAtLast.system) / 1000
  return { elapsedMs: last - (first ?? last), records, cpuMs: ownMs + (broker ?? 0), brokerCpuMs: broker }
}

/** A bare kafkajs consumer calling `onRecord(key)` for every record, from the end of the topic. */
export async function rawListen(brokers: readonly string[], topic: string, groupId: string, onRecord: (key: string) => void): Promise<() => Promise<void>> {
  const kafka = new kafkajs.Kafka({ clientId: 'kfs-bench-raw', brokers: [...brokers], logLevel: kafkajs.logLevel.NOTHING })
  const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false })
  await consumer.connect()
  await consumer.subscribe({ topics: [topic], fromBeginning: true })
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      for (const m of batch.messages) onRecord(m.key?.toString('utf8') ?? '')
    },
  })
  return () => consumer.disconnect()
}
