import assert from 'node:assert/strict'
import { test } from 'node:test'
import kafkajs from 'kafkajs'
import type { Logger } from '../../../core/logger.ts'
import { kafkajsLogCreator } from '../../../pipeline/kafka/log-creator.ts'

const { logLevel } = kafkajs

function capturing(): { logger: Logger; lines: { level: string; msg: string }[] } {
  const lines: { level: string; msg: string }[] = []
  const at = (level: string) => (_fields: unknown, msg?: string) => void lines.push({ level, msg: msg ?? '' })
  const logger: Logger = { fatal: at('fatal'), error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug'), trace: at('trace'), child: () => logger }
  return { logger, lines }
}

void test('kafkajs logs > an existing topic on an idempotent create is debug, other response errors stay errors', () => {
  const { logger, lines } = capturing()
  const log = kafkajsLogCreator(logger)(logLevel.INFO)
  const entry = (message: string, error: string) => ({ namespace: 'Connection', level: logLevel.ERROR, label: 'ERROR', log: { timestamp: '', message, error } })
  log(entry('Response CreateTopics(key: 19, version: 3)', 'Topic with this name already exists'))
  log(entry('Response CreateTopics(key: 19, version: 3)', 'The request parameters do not satisfy the configured policy'))
  log(entry('Response Produce(key: 0, version: 7)', 'Topic with this name already exists'))
  log({ namespace: 'Consumer', level: logLevel.WARN, label: 'WARN', log: { timestamp: '', message: 'rebalancing' } })
  assert.deepEqual(lines.map((l) => l.level), ['debug', 'error', 'error', 'warn'])
})
