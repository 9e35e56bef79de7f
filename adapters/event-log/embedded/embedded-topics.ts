/**
 * The topics of an embedded log open in this process (./embedded-event-log.ts): each opened once,
 * its partitions sharing the log's bounded set of open sealed segments (./segment-handles.ts) and
 * its one-at-a-time compaction queue (./compaction-schedule.ts).
 *
 * A topic created before its compaction setting was stored (topics from before session 36: a
 * table source's, the re-key stage's row groups) was never compacted. Declared again with
 * `compactAfterMs`, its topic.json is upgraded to hold it — logged once, as the next declaration
 * finds it stored — and its partitions compact from their next roll on. Any other setting of an
 * existing topic stays as it was, as in Kafka.
 */
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Clock } from '../../../core/clock.ts'
import { SourceError } from '../../../core/errors.ts'
import type { Logger } from '../../../core/logger.ts'
import { isTopicName } from '../../../core/topic-name.ts'
import { makeDirSync } from '../../local-disk/sync-dir.ts'
import type { CompactionSettings } from './compaction.ts'
import { CompactionQueue } from './compaction-schedule.ts'
import { openPartitions, PartitionLog, type PartitionLogOptions } from './partition-log.ts'
import { SegmentHandles } from './segment-handles.ts'
import { topicSettings, writeTopicMeta } from './topic-meta.ts'

export interface Topic {
  readonly partitions: PartitionLog[]
  roundRobin: number
}

export interface EmbeddedTopicsOptions {
  readonly dir: string
  readonly clock: Clock
  readonly logger: Logger
  readonly fsync: boolean
  readonly segmentBytes: number
  readonly openSegments: number | undefined
  readonly compactionMaxKeys: number | undefined
  readonly fault: PartitionLogOptions['fault']
}

export class EmbeddedTopics {
  readonly #options: EmbeddedTopicsOptions
  readonly #topics = new Map<string, Topic>()
  readonly handles: SegmentHandles
  readonly compactions = new CompactionQueue()

  constructor(options: EmbeddedTopicsOptions) {
    this.#options = options
    this.handles = new SegmentHandles(options.openSegments)
  }

  /** The topic, opened on first use; undefined while none is stored under that name. */
  get(name: string): Topic | undefined {
    const cached = this.#topics.get(name)
    if (cached) return cached
    if (!isTopicName(name)) return undefined
    const dir = this.#topicDir(name)
    const settings = topicSettings(dir, name)
    if (settings === undefined) return undefined
    const { partitions: partitionCount, compactAfterMs } = settings
    // A partition past the count with records: topic.json lost a partition (empty ones are left by a failed open).
    const extra = readdirSync(dir).find(
      (n) => /^\d+$/.test(n) && Number(n) >= partitionCount && PartitionLog.holdsRecords(join(dir, n)),
    )
    if (extra !== undefined) {
      throw new SourceError(
        'DATA_CORRUPT',
        `embedded log state file ${join(dir, 'topic.json')} says ${partitionCount} partitions, but partition ${extra} holds records: restore it from a copy`,
        {
          context: { path: join(dir, 'topic.json'), partition: Number(extra) },
        },
      )
    }
    const compaction = compactAfterMs === undefined ? {} : { compaction: this.#compaction(name, compactAfterMs) }
    const partitions = openPartitions(dir, partitionCount, {
      segmentBytes: this.#options.segmentBytes,
      fsync: this.#options.fsync,
      fault: this.#options.fault,
      handles: this.handles,
      compactionQueue: this.compactions,
      ...compaction,
    })
    const topic: Topic = { partitions, roundRobin: 0 }
    this.#topics.set(name, topic)
    return topic
  }

  /** Creates the topic; true when it is new. An existing one stored without a compaction setting takes `compactAfterMs`. */
  create(name: string, partitions: number, compactAfterMs: number | undefined): boolean {
    const existing = this.get(name)
    if (existing) {
      if (compactAfterMs !== undefined) this.#upgrade(name, existing, compactAfterMs)
      return false
    }
    const dir = this.#topicDir(name)
    makeDirSync(dir, this.#options.fsync)
    writeTopicMeta(dir, name, partitions, this.#options.fsync, compactAfterMs)
    this.get(name)
    return true
  }

  /** Closes every partition open. */
  closeAll(): void {
    for (const t of this.#topics.values()) for (const p of t.partitions) p.close()
    this.#topics.clear()
  }

  #upgrade(name: string, topic: Topic, compactAfterMs: number): void {
    const dir = this.#topicDir(name)
    const stored = topicSettings(dir, name)
    if (stored === undefined || stored.compactAfterMs !== undefined) return
    writeTopicMeta(dir, name, stored.partitions, this.#options.fsync, compactAfterMs)
    const settings = this.#compaction(name, compactAfterMs)
    for (const p of topic.partitions) p.startCompacting(settings)
    this.#options.logger.warn(
      { topic: name, compactAfterMs, path: join(dir, 'topic.json') },
      'topic stored without its compaction setting (created before the embedded log kept it): stored now, so its partitions compact from their next segment roll on',
    )
  }

  #compaction(topic: string, afterMs: number): CompactionSettings {
    return {
      afterMs,
      nowMs: () => this.#options.clock.nowMs(),
      ...(this.#options.compactionMaxKeys === undefined ? {} : { maxKeys: this.#options.compactionMaxKeys }),
      onFailure: (err: unknown) =>
        this.#options.logger.warn(
          { topic, err: err instanceof Error ? err.message : String(err) },
          'an embedded log compaction pass failed; the segments stay as they were, and the next segment roll tries again',
        ),
    }
  }

  #topicDir(name: string): string {
    return join(this.#options.dir, 'topics', name)
  }
}
