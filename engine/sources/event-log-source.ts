/**
 * The live event log, Kafka or embedded, as an unbounded source (ports/source.ts), over the
 * `EventLog` port: a stream is a topic, a position an offset. Its readers read committed records
 * only — internal topics are written in transactions (rekey-stage.ts), and a view must never see
 * a record of an aborted one — and a handler error stops the reader and reaches `onCrash` rather
 * than redelivering a partly handled batch. Nothing is allocated per record: the log's records
 * are the source's records.
 */
import type { EventLog, LogBatch } from '../../ports/event-log.ts'
import type { SourceBatch, StreamPartition, UnboundedSource } from '../../ports/source.ts'

export function eventLogSource(log: Pick<EventLog, 'consumer' | 'endOffsets'>): UnboundedSource {
  return {
    bounded: false,
    ends: (stream) => log.endOffsets(stream),
    reader({ group, streams, onCrash }) {
      const consumer = log.consumer({ groupId: group, topics: streams, readCommitted: true, onCrash })
      return {
        run: (handlers) =>
          consumer.run({
            eachBatch: (batch) => handlers.batch(sourceBatchOf(batch)),
            onAssigned: (assigned) => handlers.assigned(assigned.map(streamPartitionOf)),
            onRevoked: (revoked) => handlers.revoked(revoked.map(streamPartitionOf)),
            onPosition: (notice) => handlers.moved(streamPartitionOf(notice), notice.nextOffset),
          }),
        seek: (at, position) => consumer.seek({ topic: at.stream, partition: at.partition, offset: position }),
        commit: (at, position) => consumer.commit([{ topic: at.stream, partition: at.partition, offset: position }]),
        stop: () => consumer.stop(),
      }
    },
  }
}

function streamPartitionOf(tp: { readonly topic: string; readonly partition: number }): StreamPartition {
  return { stream: tp.topic, partition: tp.partition }
}

function sourceBatchOf(batch: LogBatch): SourceBatch {
  const { topic, partition, records, highWatermark, span } = batch
  return span === undefined ? { stream: topic, partition, records, end: highWatermark } : { stream: topic, partition, records, end: highWatermark, span }
}
