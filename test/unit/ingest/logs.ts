/** Event logs for ingest tests: another log's methods, with `produce` replaced and no `producePacked` (as a Kafka log looks to ingest). */
import type { EventLog } from '../../../ports/event-log.ts'

export function forwardingLog(
  log: EventLog,
  produce: EventLog['produce'] = (topic, records) => log.produce(topic, records),
): EventLog {
  return {
    createTopic: (t, p) => log.createTopic(t, p),
    partitionCount: (t) => log.partitionCount(t),
    endOffsets: (t) => log.endOffsets(t),
    startOffsets: (t) => log.startOffsets(t),
    committedOffsets: (g, t) => log.committedOffsets(g, t),
    consumer: (o) => log.consumer(o),
    close: () => log.close(),
    produce,
  }
}
