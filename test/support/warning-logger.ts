import type { Logger } from '../../core/logger.ts'

/** A logger that keeps the warnings it is given, to be asserted on, and drops everything else. */
export function warningLogger(): Logger & { warnings: unknown[] } {
  const warnings: unknown[] = []
  const logger = {
    warn: (obj: unknown) => warnings.push(obj),
    info: () => {},
    error: () => {},
    debug: () => {},
    child: () => logger,
    warnings,
  }
  return logger as unknown as Logger & { warnings: unknown[] }
}
