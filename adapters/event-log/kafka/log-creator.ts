/**
 * Routes kafkajs's own log lines into the kfs `Logger`. Levels map one to one, except for lines
 * kafkajs logs as WARN or ERROR about things that are part of normal operation, which would
 * otherwise bury real problems (issue #20): those go to debug, or info for rebalances.
 *
 * What is demoted, and why that hides no failure:
 * - kafkajs's `Connection` logs every error answer of the broker (`Response <Api>`) at ERROR,
 *   before its caller sees it. When Kafka marks the error retriable (a coordinator loading or
 *   moving, CONCURRENT_TRANSACTIONS after a restart, a leader election), kafkajs retries, and only
 *   if the retries run out does the caller get the error, which kfs then reports with its context.
 *   The same holds for CreateTopics's "Topic creation errors": the admin client swallows "already
 *   exists" (kfs creates topics idempotently) and rethrows anything else to `createTopic`.
 * - The join protocol's expected answers (a member id is required, the group is rebalancing):
 *   kafkajs acts on them by rejoining.
 * - The producer's "Failed to send messages: <retriable error>": retried the same way.
 * - "Limiting retries for the idempotent producer…": kfs bounds retries on purpose (a call fails
 *   with a retriable SourceError instead of hanging), and its exactly-once rests on transactions
 *   and checkpoints, not on the plain producer's retries (kafka-event-log.ts).
 * - ConsumerGroup's INFO "Pausing/Resuming fetching": kfs pauses partitions as backpressure.
 * Everything else — connection failures, non-retriable answers, crashes — keeps its level.
 */
import kafkajs, { type logCreator as LogCreator } from 'kafkajs'
// kafkajs keeps Kafka's error table (code, message, retriable) in this module; the package has no
// exports map, and its version is pinned (2.2.4), so the table is read rather than copied.
// @ts-expect-error -- an untyped CommonJS module of kafkajs
import protocolErrors from 'kafkajs/src/protocol/error.js'
import type { Logger } from '../../../core/logger.ts'

const { logLevel } = kafkajs

const RETRIABLE_MESSAGES: ReadonlySet<string> = new Set(
  (protocolErrors as { errorCodes: { message: string; retriable: boolean }[] }).errorCodes
    .filter((e) => e.retriable)
    .map((e) => e.message),
)

/** Answers of the group protocol that kafkajs handles by rejoining. */
const REJOIN_MESSAGES: ReadonlySet<string> = new Set([
  'The group member needs to have a valid member id before actually entering a consumer group',
  'The group is rebalancing, so a rejoin is needed',
])

type Level = 'error' | 'warn' | 'info' | 'debug'

/** The level kfs logs a kafkajs line at. */
export function kfsLevelOf(namespace: string, level: number, message: string, fields: Record<string, unknown>): Level {
  const natural: Level =
    level === logLevel.ERROR ? 'error' : level === logLevel.WARN ? 'warn' : level === logLevel.INFO ? 'info' : 'debug'
  // kfs pauses partitions for backpressure many times a second under load: a line each is noise.
  if (namespace === 'ConsumerGroup' && /^(Pausing|Resuming) fetching from/.test(message)) return 'debug'
  if (natural !== 'error' && natural !== 'warn') return natural
  const error = typeof fields.error === 'string' ? fields.error : ''
  if (namespace === 'Connection' && message.startsWith('Response ')) {
    if (RETRIABLE_MESSAGES.has(error) || REJOIN_MESSAGES.has(error)) return 'debug'
    if (
      message.startsWith('Response CreateTopics') &&
      (error === 'Topic creation errors' || error === 'Topic with this name already exists')
    )
      return 'debug'
    return natural
  }
  if (namespace === 'Producer') {
    if (message.startsWith('Limiting retries for the idempotent producer')) return 'debug'
    const sendFailure = /^Failed to send messages: (.*)$/.exec(message)
    if (sendFailure && RETRIABLE_MESSAGES.has(sendFailure[1]!)) return 'debug'
  }
  // kafkajs's runner rejoins on its own; a rebalance is an operation (scale-out, restart), not a fault.
  if (namespace === 'Runner' && message === 'The group is rebalancing, re-joining') return 'info'
  return natural
}

export function kafkajsLogCreator(logger: Logger): LogCreator {
  return () =>
    ({ namespace, level, log }) => {
      const { message, ...fields } = log
      logger[kfsLevelOf(namespace, level, message, fields)]({ kafkajs: namespace, ...fields }, message)
    }
}
