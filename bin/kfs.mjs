#!/usr/bin/env node
// Thin launcher: runs the TypeScript CLI through tsx so `npx kfs` works without a build step.
// tsx is resolved from this file, not from the working directory: `--import tsx` alone is looked
// up from the cwd, so `kfs` run from any folder outside the checkout failed with Node's
// ERR_MODULE_NOT_FOUND stack trace before kfs started.
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const tsx = import.meta.resolve('tsx')
const result = spawnSync(process.execPath, ['--import', tsx, join(root, 'main/cli.ts'), ...process.argv.slice(2)], {
  stdio: 'inherit',
})
process.exit(result.status ?? 1)
