/** Helpers of the EmbeddedLogReader tests: a writer's log in a chosen state, and what a reader must leave as it was. */
import { appendFileSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/embedded-event-log.ts'
import { encodeRecords } from '../../../adapters/event-log/embedded/record-format.ts'
import { createDeadLetterTopicSink } from '../../../engine/dead-letter-topic.ts'
import { readDeadLetters } from '../../../replay/dead-letters/redrive.ts'
import { readToEnd } from '../../../replay/dead-letters/read-to-end.ts'
import type { EventLog } from '../../../ports/event-log.ts'

export const DL = 'kfs.dead-letters'
export const SEGMENT = join('topics', 't', '0', '00000000000000000000.log')

/** Every file under `root` with its bytes, and every directory: what a reader must leave as it was. */
export function snapshot(root: string): Map<string, string> {
  const out = new Map<string, string>()
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name)
      if (statSync(path).isDirectory()) {
        out.set(`${relative(root, path)}/`, 'dir')
        walk(path)
      } else out.set(relative(root, path), readFileSync(path).toString('hex'))
    }
  }
  walk(root)
  return out
}

/** A writer's log under `<root>/log` with topic t (1 partition, `records` records) and `letters` dead letters; closed unless `keepOpen`. */
export async function writtenLog(
  root: string,
  records: number,
  letters: number,
  keepOpen = false,
): Promise<{ dir: string; writer: EmbeddedEventLog }> {
  const dir = join(root, 'log')
  const writer = new EmbeddedEventLog({ dir, fsync: 'never' })
  await writer.createTopic('t', 1)
  if (records > 0)
    await writer.produce(
      't',
      Array.from({ length: records }, (_, i) => ({ key: null, value: Buffer.from(`r${i}`) })),
    )
  await appendLetters(writer, 0, letters)
  if (!keepOpen) await writer.close()
  return { dir, writer }
}

export async function appendLetters(log: EventLog, from: number, count: number): Promise<void> {
  if (count === 0) return
  const sink = createDeadLetterTopicSink(log, DL)
  await sink.write(
    Array.from({ length: count }, (_, i) => ({
      topic: 't',
      partition: 0,
      offset: String(from + i),
      key: null,
      value: Buffer.from(`bad${from + i}`),
      reason: 'undecodable' as const,
      detail: `letter ${from + i}`,
      view: 'v',
    })),
  )
}

/** Whole records in the segment format, written past the partition's end without acknowledging them: an append in flight. */
export function inFlight(dir: string, base: number, values: readonly string[]): void {
  const { buf } = encodeRecords(
    values.map((v) => ({ timestampMs: 1, key: null, value: Buffer.from(v), headers: {} })),
    base,
  )
  appendFileSync(join(dir, SEGMENT), buf)
}

export async function values(log: EventLog, topic: string): Promise<string[]> {
  const read = await readToEnd(log, [topic], { groupPrefix: 'reader-test', timeoutMs: 30_000 })
  return read.get(topic)!.map((r) => Buffer.from(r.value!).toString())
}

export async function letterDetails(log: EventLog): Promise<string[]> {
  return (await readDeadLetters(log, DL)).entries.map((e) => e.detail)
}
