import assert from 'node:assert/strict'
import { test } from 'node:test'
import kafkajs from 'kafkajs'
import type { Logger } from '../../../core/logger.ts'
import { createServer } from 'node:net'
import { SourceError } from '../../../core/errors.ts'
import { KafkaEventLog } from '../../../adapters/event-log/kafka/index.ts'
import { kafkajsLogCreator } from '../../../adapters/event-log/kafka/log-creator.ts'

const { logLevel } = kafkajs

function capturing(): { logger: Logger; lines: { level: string; msg: string }[] } {
  const lines: { level: string; msg: string }[] = []
  const at = (level: string) => (_fields: unknown, msg?: string) => void lines.push({ level, msg: msg ?? '' })
  const logger: Logger = {
    fatal: at('fatal'),
    error: at('error'),
    warn: at('warn'),
    info: at('info'),
    debug: at('debug'),
    trace: at('trace'),
    child: () => logger,
  }
  return { logger, lines }
}

void test('kafkajs logs > an existing topic on an idempotent create is debug, other response errors stay errors', () => {
  const { logger, lines } = capturing()
  const log = kafkajsLogCreator(logger)(logLevel.INFO)
  const entry = (message: string, error: string) => ({
    namespace: 'Connection',
    level: logLevel.ERROR,
    label: 'ERROR',
    log: { timestamp: '', message, error },
  })
  log(entry('Response CreateTopics(key: 19, version: 3)', 'Topic with this name already exists'))
  log(entry('Response CreateTopics(key: 19, version: 3)', 'The request parameters do not satisfy the configured policy'))
  log(entry('Response Produce(key: 0, version: 7)', 'Topic with this name already exists'))
  log({ namespace: 'Consumer', level: logLevel.WARN, label: 'WARN', log: { timestamp: '', message: 'rebalancing' } })
  assert.deepEqual(
    lines.map((l) => l.level),
    ['debug', 'error', 'error', 'warn'],
  )
})

void test('kafkajs logs > retried and expected answers are debug (info for a rebalance); real failures keep WARN/ERROR', () => {
  const { logger, lines } = capturing()
  const log = kafkajsLogCreator(logger)(logLevel.INFO)
  const line = (namespace: string, level: number, message: string, error?: string) =>
    log({ namespace, level, label: '', log: { timestamp: '', message, ...(error === undefined ? {} : { error }) } })
  const demoted: [string, number, string, string?][] = [
    // Every createTopics answer with a topic error is this aggregate; the admin client rethrows all but "already exists".
    ['Connection', logLevel.ERROR, 'Response CreateTopics(key: 19, version: 3)', 'Topic creation errors'],
    ['Connection', logLevel.ERROR, 'Response GroupCoordinator(key: 10, version: 2)', 'The group coordinator is not available'],
    [
      'Connection',
      logLevel.ERROR,
      'Response InitProducerId(key: 22, version: 1)',
      "The coordinator is loading and hence can't process requests for this group",
    ],
    [
      'Connection',
      logLevel.ERROR,
      'Response AddPartitionsToTxn(key: 24, version: 1)',
      'The producer attempted to update a transaction while another concurrent operation on the same transaction was ongoing',
    ],
    [
      'Connection',
      logLevel.ERROR,
      'Response Produce(key: 0, version: 7)',
      'This server is not the leader for that topic-partition',
    ],
    [
      'Connection',
      logLevel.ERROR,
      'Response JoinGroup(key: 11, version: 5)',
      'The group member needs to have a valid member id before actually entering a consumer group',
    ],
    ['Connection', logLevel.ERROR, 'Response Heartbeat(key: 12, version: 3)', 'The group is rebalancing, so a rejoin is needed'],
    ['Producer', logLevel.WARN, 'Limiting retries for the idempotent producer may invalidate EoS guarantees'],
    ['Producer', logLevel.ERROR, 'Failed to send messages: This server is not the leader for that topic-partition'],
  ]
  const kept: [string, number, string, string?][] = [
    ['Connection', logLevel.ERROR, 'Connection error: connect ECONNREFUSED 127.0.0.1:1'],
    [
      'Connection',
      logLevel.ERROR,
      'Response Metadata(key: 3, version: 6)',
      'Not authorized to access topics: [Topic authorization failed]',
    ],
    ['Connection', logLevel.ERROR, 'Response Produce(key: 0, version: 7)', 'The broker received an out of order sequence number'],
    [
      'Connection',
      logLevel.ERROR,
      'Response SaslAuthenticate(key: 36, version: 1)',
      'Authentication failed during authentication due to invalid credentials with SASL mechanism',
    ],
    ['Producer', logLevel.ERROR, 'Failed to send messages: The broker received an out of order sequence number'],
    ['Consumer', logLevel.ERROR, 'Crash: KafkaJSNumberOfRetriesExceeded: Connection error: connect ECONNREFUSED 127.0.0.1:1'],
    ['Consumer', logLevel.WARN, 'consumer#run was called, but the consumer is already running'],
  ]
  for (const args of [...demoted, ...kept]) line(...args)
  line('Runner', logLevel.WARN, 'The group is rebalancing, re-joining')
  line('ConsumerGroup', logLevel.INFO, 'Pausing fetching from 1 topics')
  line('ConsumerGroup', logLevel.INFO, 'Consumer has joined the group')
  assert.deepEqual(
    lines.map((l) => l.level),
    [...demoted.map(() => 'debug'), 'error', 'error', 'error', 'error', 'error', 'error', 'warn', 'info', 'debug', 'info'],
  )
})

void test('kafkajs logs > an unreachable broker is still an ERROR line, and the call fails with the reason', async () => {
  // A port that was free a moment ago: nothing listens, so connecting is refused.
  const probe = createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const port = (probe.address() as { port: number }).port
  await new Promise<void>((resolve) => probe.close(() => resolve()))
  const { logger, lines } = capturing()
  const log = new KafkaEventLog({ brokers: [`127.0.0.1:${port}`], logger, retries: 0, connectionTimeoutMs: 500 })
  try {
    await assert.rejects(log.createTopic('kfs-unreachable', 1), (err: unknown) => {
      assert.ok(err instanceof SourceError)
      assert.match(err.message, /^kafka createTopic failed: .*ECONNREFUSED/)
      return true
    })
  } finally {
    await log.close()
  }
  assert.ok(
    lines.some((l) => l.level === 'error' && /ECONNREFUSED/.test(l.msg)),
    `an error line names the refused connection; got ${JSON.stringify(lines)}`,
  )
})
