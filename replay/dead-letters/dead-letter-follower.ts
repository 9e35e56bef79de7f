/**
 * The dead letters not yet re-driven, kept up to date by reading only what is new on the
 * dead-letter topic and its marker topic since the last read (engine/topic-follower.ts): what
 * `kfs serve`'s catalog page counts. Each read answers as `readDeadLetters` (./redrive.ts) of the
 * whole topics would, after a restart (nothing kept: the first read is whole) and after the topic
 * was deleted and created again alike.
 */
import { TopicFollower, type ReadStats } from '../../engine/topic-follower.ts'
import type { EventLog, LogRecord } from '../../ports/event-log.ts'
import { parseDeadLetter, positionId } from './dead-letter-entry.ts'
import { markerTopicOf, parseMarker } from './redrive.ts'

/** What the counts need of a letter. */
export interface PendingLetter {
  readonly reason: string
  readonly view: string | undefined
  /** The source topic of the refused record. */
  readonly topic: string
}

/** A letter with the id of the record it stands for, or a marker naming a re-driven record. */
type Kept = { readonly letter: PendingLetter & { readonly target: string } } | { readonly redriven: string }

export interface DeadLetterFollower {
  /** Reads what is new; resolves with the letters whose record is not re-driven, and what the read cost. */
  read(log: EventLog): Promise<{ readonly pending: PendingLetter[]; readonly stats: ReadStats }>
}

export function followDeadLetters(deadLetterTopic: string, options: { readonly timeoutMs?: number } = {}): DeadLetterFollower {
  const markerTopic = markerTopicOf(deadLetterTopic)
  const follower = new TopicFollower<Kept>(
    [
      {
        topic: deadLetterTopic,
        parse: (record: LogRecord) => {
          const entry = parseDeadLetter(record)
          return entry === undefined
            ? undefined
            : { letter: { reason: entry.reason, view: entry.view, topic: entry.target.topic, target: positionId(entry.target) } }
        },
      },
      {
        topic: markerTopic,
        parse: (record: LogRecord) => {
          const marker = parseMarker(record)
          return marker === undefined ? undefined : { redriven: marker.target }
        },
      },
    ],
    { groupPrefix: 'kfs-dead-letters-follow', ...options },
  )
  return {
    async read(log) {
      const stats = await follower.read(log)
      const redriven = new Set<string>()
      for (const kept of follower.items(markerTopic)) if ('redriven' in kept) redriven.add(kept.redriven)
      const pending: PendingLetter[] = []
      for (const kept of follower.items(deadLetterTopic))
        if ('letter' in kept && !redriven.has(kept.letter.target))
          pending.push({ reason: kept.letter.reason, view: kept.letter.view, topic: kept.letter.topic })
      return { pending, stats }
    },
  }
}
