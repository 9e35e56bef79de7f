/**
 * `kfs` entry point (bin/kfs.mjs runs it: Node's own type stripping on Node 24, tsx on older Nodes). Reads the process environment, hands the
 * arguments to the router, and exits with its code: 0 ok, 1 failure, 2 usage.
 */
import { commands } from './commands/index.ts'
import { createProcessContext } from './commands/context.ts'
import { runCli } from './commands/router.ts'
import { dropOutputNobodyReads } from './broken-pipe.ts'
import { exitWhenWritten } from './exit-when-written.ts'

dropOutputNobodyReads()

const code = await runCli(process.argv.slice(2), commands, (json) =>
  createProcessContext({ json, env: process.env, cwd: process.cwd(), stdout: process.stdout, stderr: process.stderr }),
)
await exitWhenWritten(code)
