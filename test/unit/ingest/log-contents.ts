/**
 * What a table source's log holds, for the ingest fault test: each partition's records as bytes,
 * compared record by record; and the log's directory copied or torn as a crash leaves it.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, statSync, truncateSync } from 'node:fs'
import { basename, join } from 'node:path'
import { FeatureStoreError } from '../../../core/errors.ts'
import { scanTopic } from '../../../ingest/scan-topic.ts'
import type { EventLog } from '../../../ports/event-log.ts'

/** The source's topic and its partition count. */
export interface Topic {
  readonly topic: string
  readonly partitions: number
}

/** Each partition's records, `offset key value` in hex: what two logs must agree on byte for byte (not the produce time). */
export async function contents(log: EventLog, source: Topic): Promise<string[][]> {
  const out: string[][] = Array.from({ length: source.partitions }, () => [])
  if ((await total(log, source)) === 0) return out // perhaps no topic yet: nothing to scan
  await scanTopic(
    log,
    source.topic,
    (records) => {
      for (const r of records)
        out[r.partition]!.push(
          `${r.offset} ${Buffer.from(r.key ?? []).toString('hex')} ${Buffer.from(r.value ?? []).toString('hex')}`,
        )
    },
    { groupPrefix: 'ingest-faults-check' },
  )
  return out
}

/** Records in the log; none before the topic is created. */
export async function total(log: EventLog, source: Topic): Promise<number> {
  const ends = await log.endOffsets(source.topic).catch((err: unknown) => {
    if (err instanceof FeatureStoreError && err.code === 'NOT_FOUND') return []
    throw err
  })
  return ends.reduce((sum, e) => sum + Number(e), 0)
}

/** Where `got` is not, partition by partition, a prefix of `want` at least as long as `from`; undefined when it is. */
export function notPrefix(
  got: readonly string[][],
  want: readonly string[][],
  from: readonly string[][] | undefined,
): string | undefined {
  for (let p = 0; p < want.length; p++) {
    const [g, w] = [got[p] ?? [], want[p]!]
    const i = g.findIndex((record, j) => w[j] !== record)
    if (i >= 0) return `partition ${p}: offset ${i} is not the record a clean run writes there`
    if (g.length < (from?.[p]?.length ?? 0)) return `partition ${p}: ${g.length} records, fewer than it held before`
  }
  return undefined
}

/** Where two logs first differ, or undefined when they hold the same records. */
export function difference(got: readonly string[][], want: readonly string[][]): string | undefined {
  for (let p = 0; p < want.length; p++) {
    const [g, w] = [got[p] ?? [], want[p]!]
    const i = w.findIndex((record, j) => g[j] !== record)
    if (i >= 0 || g.length !== w.length)
      return `partition ${p}: ${g.length} records where a clean run leaves ${w.length}${i >= 0 ? `, first different at offset ${i}${g[i] === undefined ? ' (missing)' : ''}` : ' (extra records at the end)'}`
  }
  return undefined
}

/** The partition's newest segment one byte short: a write cut off by the crash. */
export function tearLastSegment(partitionDir: string): void {
  const last = readdirSync(partitionDir)
    .filter((n) => n.endsWith('.log'))
    .sort()
    .at(-1)!
  const path = join(partitionDir, last)
  truncateSync(path, statSync(path).size - 1)
}

/** A copy of a log's directory as a new process finds it (no LOCK of a live owner; nothing yet when the log was never opened). */
export function copyDir(from: string, to: string): void {
  if (existsSync(from)) cpSync(from, to, { recursive: true, filter: (path) => basename(path) !== 'LOCK' })
  else mkdirSync(to, { recursive: true })
}
