/**
 * The raw side of the platformatic consumer's fetch loop: which Fetch request goes to which
 * broker, which partitions an OFFSET_OUT_OF_RANGE answer names, and the loop's idle wait that a
 * seek, a resume or a new assignment cuts short.
 */
import { findErrorBy, ResponseError, type ClusterMetadata, type fetchV17 } from '@platformatic/kafka'

export type FetchRequestTopic = fetchV17.FetchRequestTopic
export type FetchResponse = fetchV17.FetchResponse
export type TP = { readonly topic: string; readonly partition: number }
/** A partition to fetch, from its position, as of a version of its state (a seek bumps it). */
export type FetchWanted = TP & { readonly position: bigint; readonly version: number }

/** Kafka's error code for an offset before the log start or past its end. */
const OFFSET_OUT_OF_RANGE = 1

/**
 * One Fetch request per partition leader; `names` maps the topic ids of the answers back to names.
 * Epochs are -1 (no leader-epoch fencing), as kafkajs fetches.
 */
export function fetchRequestsByLeader(
  metadata: ClusterMetadata,
  wanted: readonly FetchWanted[],
  maxBytesPerPartition: number,
): { byNode: Map<number, FetchRequestTopic[]>; names: Map<string, string> } {
  const byNode = new Map<number, FetchRequestTopic[]>()
  const names = new Map<string, string>()
  for (const w of wanted) {
    const topic = metadata.topics.get(w.topic)
    const leader = topic?.partitions[w.partition]?.leader
    if (topic === undefined || leader === undefined || leader < 0) continue
    names.set(topic.id, w.topic)
    const requests = byNode.get(leader) ?? byNode.set(leader, []).get(leader)!
    const partition = {
      partition: w.partition,
      fetchOffset: w.position,
      partitionMaxBytes: maxBytesPerPartition,
      currentLeaderEpoch: -1,
      lastFetchedEpoch: -1,
    }
    const existing = requests.find((r) => r.topicId === topic.id)
    if (existing) existing.partitions.push(partition)
    else requests.push({ topicId: topic.id, partitions: [partition] })
  }
  return { byNode, names }
}

/**
 * The partitions a failed fetch reports out of range. The library rejects the whole fetch with a
 * ResponseError: the answer is on it, and its per-partition errors (ProtocolErrors, one with
 * apiId OFFSET_OUT_OF_RANGE) carry none — looking the answer up on the OFFSET_OUT_OF_RANGE error
 * found nothing, and the consumer crashed where it should have restarted the partition.
 */
export function outOfRangePartitions(err: unknown, names: ReadonlyMap<string, string>): TP[] {
  if (!(err instanceof Error) || findErrorBy(err, 'apiId', 'OFFSET_OUT_OF_RANGE') === null) return []
  const response = (findErrorBy(err, 'code', ResponseError.code) as { response?: FetchResponse } | null)?.response
  if (!response?.responses) return []
  return response.responses.flatMap((t) => {
    const topic = names.get(t.topicId)
    if (topic === undefined) return []
    return t.partitions.filter((p) => p.errorCode === OFFSET_OUT_OF_RANGE).map((p) => ({ topic, partition: p.partitionIndex }))
  })
}

/** A sleep that `wake()` ends early. */
export class Waker {
  #wake: (() => void) | undefined

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms)
      function done(): void {
        clearTimeout(timer)
        resolve()
      }
      this.#wake = done
    })
  }

  wake(): void {
    const wake = this.#wake
    this.#wake = undefined
    wake?.()
  }
}
