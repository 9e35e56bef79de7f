/**
 * The command table. To add a command: write main/commands/<name>.ts exporting a `Command`
 * (see ./command.ts) and add one line below. Order here is the order in `kfs --help`.
 */
import { applyCommand } from './apply.ts'
import { codegenCommand } from './codegen.ts'
import { compactCommand } from './compact.ts'
import type { Command } from './command.ts'
import { deadLettersCommand } from './dead-letters.ts'
import { groupsCommand } from './groups.ts'
import { ingestCommand } from './ingest.ts'
import { registryCommand } from './registry.ts'
import { produceCommand } from './produce.ts'
import { replayCommand } from './replay.ts'
import { runCommand } from './run.ts'
import { serveCommand } from './serve.ts'
import { skewReportCommand } from './skew-report.ts'
import { tablesCommand } from './tables.ts'
import { verifyParityCommand } from './verify-parity.ts'
import { trainingSetCommand } from './training-set.ts'

export const commands: readonly Command[] = [
  applyCommand,
  registryCommand,
  produceCommand,
  ingestCommand,
  runCommand,
  serveCommand,
  replayCommand,
  verifyParityCommand,
  trainingSetCommand,
  skewReportCommand,
  codegenCommand,
  deadLettersCommand,
  compactCommand,
  tablesCommand,
  groupsCommand,
]
