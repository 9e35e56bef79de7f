/** Routes kafkajs's own log lines into the kfs `Logger` (kafkajs levels map one to one). */
import kafkajs, { type logCreator as LogCreator } from 'kafkajs'
import type { Logger } from '../../core/logger.ts'

const { logLevel } = kafkajs

export function kafkajsLogCreator(logger: Logger): LogCreator {
  return () =>
    ({ namespace, level, log }) => {
      const { message, ...fields } = log
      const entry = { kafkajs: namespace, ...fields }
      // kfs creates topics idempotently: "already exists" is the expected answer, not an error.
      const expected = level === logLevel.ERROR && message.startsWith('Response CreateTopics') && /already exists/i.test(String(fields.error))
      if (expected) logger.debug(entry, message)
      else if (level === logLevel.ERROR) logger.error(entry, message)
      else if (level === logLevel.WARN) logger.warn(entry, message)
      else if (level === logLevel.INFO) logger.info(entry, message)
      else logger.debug(entry, message)
    }
}
