/**
 * Every record of partition 0 of a topic in a data folder's embedded log, read by a consumer group
 * of its own (the log opened and closed here): what the engine's doors wrote there, for tests
 * that check dead letters or forwarded records after a command ran. A topic not created reads [].
 */
import { join } from 'node:path'
import { EmbeddedEventLog } from '../../adapters/event-log/embedded/index.ts'
import type { LogRecord } from '../../ports/event-log.ts'

export async function readWholeTopic(dataDir: string, topic: string): Promise<LogRecord[]> {
  const log = new EmbeddedEventLog({ dir: join(dataDir, 'log'), fsync: 'never' })
  try {
    const [end] = (await log.endOffsets(topic).catch(() => ['0'])).map(BigInt)
    if (!end) return []
    const out: LogRecord[] = []
    const consumer = log.consumer({ groupId: `check-${topic}`, topics: [topic] })
    let done!: () => void
    const all = new Promise<void>((resolve) => (done = resolve))
    await consumer.run({
      eachBatch: async (batch) => {
        out.push(...batch.records)
        if (BigInt(out.at(-1)!.offset) + 1n >= end) done()
      },
    })
    await all
    await consumer.stop()
    return out
  } finally {
    await log.close()
  }
}
