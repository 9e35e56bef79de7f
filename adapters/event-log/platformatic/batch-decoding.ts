/**
 * Compressed batches on `@platformatic/kafka`. The library decodes every compression Kafka defines
 * itself (gzip and zstd with node:zlib, snappy — xerial framing or a raw block — and lz4 frames
 * with its own WebAssembly), on every Node it runs on; nothing is registered here.
 *
 * What it does not do is say which batch failed when one cannot be decompressed: the codec throws
 * whatever its implementation throws, the library retries the Fetch as if the network had failed,
 * and the whole answer is lost without a topic, partition or codec in the error. So each codec's
 * decompression is wrapped (by each event log, each function once) to fail with the library's own non-retriable
 * `UnsupportedCompressionError` naming the codec (no retries of the same bytes), and the consumer
 * reads each partition of the failed Fetch again, alone and a batch at a time, to name the
 * partition and offset of the batch (`undecodableFetch`).
 */
import { compressionsAlgorithms, findErrorBy, UnsupportedCompressionError } from '@platformatic/kafka'
import { SourceError } from '../../../core/errors.ts'
import type { FetchRequestTopic, FetchResponse } from './fetch-requests.ts'

const NAMED = Symbol('kfs.named-decompression')

type Decompress = ((data: Buffer) => Buffer) & { [NAMED]?: true }

/** Wraps every codec's decompression (each function once) so a failure names its codec and is not retried. */
export function nameDecompressionFailures(): void {
  for (const [codec, algorithm] of Object.entries(compressionsAlgorithms)) {
    if (codec === 'none') continue
    const target = algorithm as unknown as { decompressSync: Decompress }
    const decompress = target.decompressSync
    if (decompress[NAMED] === true) continue
    const named: Decompress = (data) => {
      try {
        return decompress(data)
      } catch (err: unknown) {
        const reason = err instanceof Error ? err.message : String(err)
        throw new UnsupportedCompressionError(`a ${codec}-compressed record batch could not be decompressed: ${reason}`, {
          cause: err instanceof Error ? err : new Error(reason),
          codec,
        })
      }
    }
    named[NAMED] = true
    target.decompressSync = named
  }
}

/** The library's error for a batch it cannot decompress (ours above, or an unknown codec's bits). */
export function undecodableBatchIn(err: unknown): (Error & { codec?: string }) | undefined {
  return (findErrorBy(err as Error, 'code', UnsupportedCompressionError.code) as (Error & { codec?: string }) | null) ?? undefined
}

/** At most this many single-batch fetches look for the batch in one partition; past it, its read position is named. */
const MAX_STEPS = 1000

/**
 * The failure of a Fetch that held a batch no codec could decompress, naming where it sits: each
 * partition of the request is read again alone, one batch a fetch (`fetchAlone`, a partition byte
 * limit of 1: the broker still sends the first batch whole), from its read position on, until the
 * batch that fails the same way; its first offset is named. Not retriable: the same bytes fail
 * the same way.
 */
export async function undecodableFetch(
  err: unknown,
  topics: readonly FetchRequestTopic[],
  names: ReadonlyMap<string, string>,
  groupId: string,
  fetchAlone: (topic: FetchRequestTopic) => Promise<FetchResponse>,
): Promise<SourceError | undefined> {
  const undecodable = undecodableBatchIn(err)
  if (undecodable === undefined) return undefined
  const failing: string[] = []
  for (const t of topics) {
    for (const p of t.partitions) {
      const at = await undecodableBatchOf(t, p, fetchAlone)
      if (at !== undefined) failing.push(`${names.get(t.topicId) ?? t.topicId}/${p.partition} ${at}`)
    }
  }
  const asked = topics.flatMap((t) => t.partitions.map((p) => `${names.get(t.topicId) ?? t.topicId}/${p.partition}`))
  const where = failing.length > 0 ? `partition ${failing.join(', ')}` : `one of the partitions ${asked.join(', ')}`
  return new SourceError(
    'SOURCE_REJECTED',
    `kafka consumer of group ${groupId} cannot read ${where}: ${undecodable.message}. It stops rather than skip the batch's records`,
    { cause: err, context: { groupId, codec: undecodable.codec, partitions: (failing.length > 0 ? failing : asked).join(', ') } },
  )
}

type FetchRequestPartition = FetchRequestTopic['partitions'][number]

/** Where the partition's undecodable batch is ("at offset N"), or undefined when none fails. */
async function undecodableBatchOf(
  topic: FetchRequestTopic,
  partition: FetchRequestPartition,
  fetchAlone: (topic: FetchRequestTopic) => Promise<FetchResponse>,
): Promise<string | undefined> {
  let offset = partition.fetchOffset
  for (let step = 0; step < MAX_STEPS; step++) {
    let answer: FetchResponse
    try {
      answer = await fetchAlone({ ...topic, partitions: [{ ...partition, fetchOffset: offset, partitionMaxBytes: 1 }] })
    } catch (e: unknown) {
      return undecodableBatchIn(e) === undefined ? undefined : `at offset ${offset}`
    }
    const last = answer.responses[0]?.partitions[0]?.records?.at(-1)
    if (last === undefined) return undefined
    offset = last.firstOffset + BigInt(last.lastOffsetDelta) + 1n
  }
  return `at or after offset ${partition.fetchOffset}`
}
