/**
 * One (topic, partition) of one source: decode → operator task → feature rows, dead letters and
 * archive rows. Live consumption and replay both drive exactly this class, so the rows they
 * produce cannot differ (DESIGN §4): the only inputs are record bytes in offset order and the
 * archived idle markers. Processing time only stamps `created_at`.
 */
import type { FeatureViewDef, SourceDef } from '../../operators/define/types.ts'
import type { PartitionTask } from '../../operators/task/partition-task.ts'
import { eventTimeOf } from '../../operators/task/event-fields.ts'
import type { Decoder } from '../../schemas/decoder.ts'
import type { ArchiveRow, DeadLetter, LogRecord, OfflineFeatureRow } from '../ports.ts'

export interface ProcessedBatch {
  /** `rows[i]` belong to `views[i]`, in emission order. */
  readonly rows: OfflineFeatureRow[][]
  readonly deadLetters: DeadLetter[]
  readonly archive: ArchiveRow[]
}

export interface PartitionProcessorOptions {
  readonly topic: string
  readonly partition: number
  readonly source: SourceDef
  readonly task: PartitionTask
  readonly decoder: Decoder
  /** Next offset expected; records below it were already processed (at-least-once delivery). */
  readonly nextOffset: string
}

export class PartitionProcessor {
  readonly topic: string
  readonly partition: number
  readonly source: SourceDef
  readonly task: PartitionTask
  readonly #decoder: Decoder
  #nextOffset: bigint
  /** Records processed since the processor was created or restored; for checkpoint triggers. */
  processedSinceCheckpoint = 0

  constructor(options: PartitionProcessorOptions) {
    this.topic = options.topic
    this.partition = options.partition
    this.source = options.source
    this.task = options.task
    this.#decoder = options.decoder
    this.#nextOffset = BigInt(options.nextOffset)
  }

  get views(): readonly FeatureViewDef[] {
    return this.task.views
  }

  get nextOffset(): string {
    return this.#nextOffset.toString()
  }

  async processRecords(records: readonly LogRecord[], createdAtMs: number): Promise<ProcessedBatch> {
    const fresh = records.filter((r) => BigInt(r.offset) >= this.#nextOffset)
    const out = emptyBatch(this.task.views.length)
    if (fresh.length === 0) return out
    const decoded = await this.#decoder.decodeBatch(fresh.map((r) => r.value))
    for (let i = 0; i < fresh.length; i++) {
      const record = fresh[i] as LogRecord
      const result = decoded[i]!
      let eventTimeMs: number | null = null
      if (!result.ok) {
        out.deadLetters.push(this.#deadLetter(record, result.reason, result.detail))
      } else {
        const t = eventTimeOf(result.event[this.source.eventTimeField])
        eventTimeMs = t ?? null
        const output = this.task.processEvent({ offset: record.offset, eventTimeMs: t, event: result.event })
        this.#collect(out, output.rows, record.offset, false, createdAtMs)
        for (const letter of output.deadLetters) {
          out.deadLetters.push({ ...this.#deadLetter(record, letter.reason, letter.detail), ...(letter.view ? { view: letter.view } : {}) })
        }
      }
      out.archive.push({
        partition: this.partition,
        offset: record.offset,
        eventTimeMs,
        key: record.key,
        schemaId: result.ok ? result.schemaId : (result.schemaId ?? null),
        payload: record.value,
        markerWatermarkMs: null,
        timestampMs: record.timestampMs,
      })
      this.#nextOffset = BigInt(record.offset) + 1n
    }
    this.processedSinceCheckpoint += fresh.length
    return out
  }

  /** An idle-advance marker (live: from the idle detector; replay: from the archive). */
  processMarker(watermarkMs: number, createdAtMs: number, timestampMs: number): ProcessedBatch {
    const out = emptyBatch(this.task.views.length)
    const offset = this.nextOffset
    const output = this.task.processWatermarkMarker(watermarkMs)
    this.#collect(out, output.rows, offset, true, createdAtMs)
    out.archive.push({
      partition: this.partition,
      offset,
      eventTimeMs: null,
      key: null,
      schemaId: null,
      payload: null,
      markerWatermarkMs: watermarkMs,
      timestampMs,
    })
    this.processedSinceCheckpoint++
    return out
  }

  #collect(out: ProcessedBatch, rows: readonly (readonly import('../../operators/define/types.ts').FeatureRow[])[], offset: string, marker: boolean, createdAtMs: number): void {
    let seq = 0
    for (let v = 0; v < rows.length; v++) {
      const target = out.rows[v] as OfflineFeatureRow[]
      for (const row of rows[v] as readonly import('../../operators/define/types.ts').FeatureRow[]) {
        target.push({ ...row, createdAtMs, origin: { partition: this.partition, offset, seq: seq++, marker } })
      }
    }
  }

  #deadLetter(record: LogRecord, reason: DeadLetter['reason'], detail: string): DeadLetter {
    return { topic: this.topic, partition: this.partition, offset: record.offset, key: record.key, value: record.value, reason, detail }
  }
}

function emptyBatch(views: number): ProcessedBatch {
  return { rows: Array.from({ length: views }, () => []), deadLetters: [], archive: [] }
}

export function mergeBatches(into: ProcessedBatch, from: ProcessedBatch): void {
  for (let v = 0; v < from.rows.length; v++) (into.rows[v] as OfflineFeatureRow[]).push(...(from.rows[v] as OfflineFeatureRow[]))
  into.deadLetters.push(...from.deadLetters)
  into.archive.push(...from.archive)
}

export { emptyBatch }
