#!/usr/bin/env node
// Thin launcher: runs the TypeScript CLI through tsx so `npx kfs` works without a build step.
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const result = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'main/cli.ts'), ...process.argv.slice(2)], {
  stdio: 'inherit',
})
process.exit(result.status ?? 1)
