/**
 * In-process consumer-group membership for the embedded log, and the group's committed offsets.
 *
 * Strategy (one rebalance at a time, serialised on a promise chain):
 * 1. Every join and leave (and the creation of a subscribed topic) triggers a rebalance.
 * 2. The new assignment is round-robin: partitions in (topic, partition) order are dealt to the
 *    members subscribed to their topic, in join order — Kafka's RoundRobinAssignor. When a member
 *    asked for an exclusive assignment (ports.ts), every partition of a topic goes to its earliest
 *    subscribed member instead: the owner keeps the topic while it stays, the next one takes it all
 *    when it leaves (as the Kafka adapter's exclusive assigner).
 * 3. First every member that loses partitions is told (`revoke`, which waits for its in-flight
 *    batch), then every member whose assignment changed gets its full new assignment (`assign`).
 *    So no partition is ever delivered to two members at once.
 *
 * Committed offsets are persisted to `groups/<groupId>.json` (atomic replace) and survive restarts.
 */
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import type { TopicPartitionOffset } from '../../../ports/event-log.ts'
import { fileNameFor, readJson, writeJsonAtomic } from './durable-file.ts'
import { isJsonObject } from '../../../core/json-object.ts'
import { SourceError } from '../../../core/errors.ts'
import { listedOtherwise } from '../../local-disk/file-name.ts'

export interface TopicPartition {
  readonly topic: string
  readonly partition: number
}

export interface GroupMember {
  readonly topics: readonly string[]
  /** Wants every partition of a topic given to one member (ports.ts `exclusive`). */
  readonly exclusive?: boolean
  revoke(partitions: readonly TopicPartition[]): Promise<void>
  assign(partitions: readonly TopicPartition[]): Promise<void>
}

type Offsets = Record<string, Record<string, number>>

/** Topic → partition → the next offset to read, each a whole number ≥ 0. */
const isOffsets = (v: unknown): boolean => isJsonObject(v) && Object.values(v).every((byPartition) => isJsonObject(byPartition) && Object.values(byPartition).every((o) => Number.isSafeInteger(o) && (o as number) >= 0))

/** An offset a group may commit: a decimal string of a whole number (it is stored as a JSON number). */
export const isCommittableOffset = (v: unknown): boolean => typeof v === 'string' && /^\d+$/.test(v) && Number.isSafeInteger(Number(v))

/**
 * Refuses (BAD_REQUEST) offsets that are not a whole number, or name a partition the log does not
 * have — before any is stored: one stored would make the group's file, or a transaction's journal,
 * fail to read on the next open.
 */
export function checkOffsets(offsets: readonly TopicPartitionOffset[], partitionCount: (topic: string) => number): void {
  for (const o of offsets) {
    if (!isCommittableOffset(o.offset)) throw new SourceError('BAD_REQUEST', `cannot commit offset '${String(o.offset)}' for partition ${o.partition} of topic '${o.topic}': an offset is a whole number`, { context: { topic: o.topic, partition: o.partition } })
    if (typeof o.topic !== 'string' || !Number.isInteger(o.partition) || o.partition < 0 || o.partition >= partitionCount(o.topic)) {
      throw new SourceError('BAD_REQUEST', `cannot commit an offset for partition ${o.partition} of topic '${o.topic}': the log has no such partition`, { context: { topic: o.topic, partition: o.partition } })
    }
  }
}

export class GroupCoordinator {
  readonly #file: string
  readonly #fsync: boolean
  readonly #partitionCount: (topic: string) => number
  readonly #beforeCommit: () => void
  readonly #members: GroupMember[] = []
  readonly #assignment = new Map<GroupMember, readonly TopicPartition[]>()
  readonly #offsets: Offsets
  #chain: Promise<void> = Promise.resolve()

  /**
   * `beforeCommit` throws when the log takes no writes (a transaction commit in doubt). `listing`:
   * the entries of `dir` (default: as the file system lists them).
   */
  constructor(options: {
    dir: string
    groupId: string
    fsync: boolean
    partitionCount: (topic: string) => number
    beforeCommit?: () => void
    listing?: () => readonly string[]
  }) {
    const name = `${fileNameFor(options.groupId)}.json`
    this.#file = join(options.dir, name)
    this.#fsync = options.fsync
    this.#partitionCount = options.partitionCount
    this.#beforeCommit = options.beforeCommit ?? (() => {})
    const offsets = readJson<Offsets>(this.#file, isOffsets)
    // The file holds offsets only: whose, the listing tells (a case-insensitive file system gives
    // group MyGroup the file mygroup made, and MyGroup went on from mygroup's offsets).
    const other =
      offsets === undefined ? undefined : listedOtherwise(name, (options.listing ?? (() => readdirSync(options.dir)))())
    if (other !== undefined) {
      const otherGroup = other.endsWith('.json') && !other.startsWith('~') ? safeDecode(other.slice(0, -'.json'.length)) : other
      throw new SourceError(
        'BAD_REQUEST',
        `consumer group '${options.groupId}' and group '${otherGroup}' are one file ${this.#file} on this file system (it does not tell upper from lower case): their committed offsets would mix, so '${options.groupId}' is refused; use one spelling for both, or names that differ in more than case`,
        { context: { groupId: options.groupId, storedGroup: otherGroup, path: this.#file } },
      )
    }
    this.#offsets = offsets ?? {}
  }

  committed(topic: string, partition: number): number | undefined {
    return this.#offsets[topic]?.[String(partition)]
  }

  commit(offsets: readonly TopicPartitionOffset[]): void {
    if (offsets.length === 0) return
    this.#beforeCommit()
    checkOffsets(offsets, this.#partitionCount)
    for (const o of offsets) (this.#offsets[o.topic] ??= {})[String(o.partition)] = Number(o.offset)
    writeJsonAtomic(this.#file, this.#offsets, this.#fsync)
  }

  subscribes(topic: string): boolean {
    return this.#members.some((m) => m.topics.includes(topic))
  }

  join(member: GroupMember): Promise<void> {
    this.#members.push(member)
    return this.rebalance()
  }

  leave(member: GroupMember): Promise<void> {
    const i = this.#members.indexOf(member)
    if (i >= 0) this.#members.splice(i, 1)
    this.#assignment.delete(member)
    return this.rebalance()
  }

  rebalance(): Promise<void> {
    const run = this.#chain.then(() => this.#rebalance())
    this.#chain = run.catch(() => undefined)
    return run
  }

  async #rebalance(): Promise<void> {
    const next = this.#assign()
    for (const member of this.#members) {
      const before = this.#assignment.get(member) ?? []
      const after = next.get(member) ?? []
      const revoked = before.filter((tp) => !after.some((a) => same(a, tp)))
      if (revoked.length > 0) await member.revoke(revoked)
    }
    for (const member of this.#members) {
      const before = this.#assignment.get(member)
      const after = next.get(member) ?? []
      this.#assignment.set(member, after)
      if (before === undefined || before.length !== after.length || before.some((tp, i) => !same(tp, after[i] as TopicPartition))) {
        await member.assign(after)
      }
    }
  }

  #assign(): Map<GroupMember, TopicPartition[]> {
    const out = new Map<GroupMember, TopicPartition[]>(this.#members.map((m) => [m, []]))
    const topics = [...new Set(this.#members.flatMap((m) => m.topics))].sort()
    const exclusive = this.#members.some((m) => m.exclusive === true)
    let cursor = 0
    for (const topic of topics) {
      const eligible = this.#members.filter((m) => m.topics.includes(topic))
      if (exclusive) {
        for (let partition = 0; partition < this.#partitionCount(topic); partition++) out.get(eligible[0] as GroupMember)?.push({ topic, partition })
        continue
      }
      for (let partition = 0; partition < this.#partitionCount(topic); partition++) {
        // Deal in one sequence across topics so members share partitions evenly overall.
        let member = this.#members[cursor % this.#members.length] as GroupMember
        while (!eligible.includes(member)) member = this.#members[++cursor % this.#members.length] as GroupMember
        cursor++
        out.get(member)?.push({ topic, partition })
      }
    }
    return out
  }
}

function same(a: TopicPartition, b: TopicPartition): boolean {
  return a.topic === b.topic && a.partition === b.partition
}

function safeDecode(encoded: string): string {
  try {
    return decodeURIComponent(encoded)
  } catch {
    return encoded
  }
}
