/** Builds the CommandContext of a real process: stdout/stderr, config from the environment, stores. */
import { systemClock } from '../../core/clock.ts'
import type { ObjectStore } from '../../ports/object-store.ts'
import { LocalObjectStore } from '../../adapters/object-store/index.ts'
import { loadConfig, type KfsConfig } from '../config.ts'
import { mistypedVariableWarnings } from '../config-typos.ts'
import type { CommandContext } from './command.ts'

export async function openObjectStore(config: KfsConfig): Promise<ObjectStore> {
  const c = config.objectStore
  if (c.kind === 'local') return new LocalObjectStore(c.dir)
  // Loaded on demand so local runs never pay for the AWS SDK.
  const { S3ObjectStore } = await import('../../adapters/object-store/s3/index.ts')
  return new S3ObjectStore({
    bucket: c.bucket,
    prefix: c.prefix,
    region: c.region,
    ...(c.endpoint === undefined ? {} : { endpoint: c.endpoint }),
    ...(c.credentials === undefined ? {} : { credentials: c.credentials }),
  })
}

export function createProcessContext(options: {
  json: boolean
  env: Readonly<Record<string, string | undefined>>
  cwd: string
  stdout: NodeJS.WritableStream
  stderr: NodeJS.WritableStream
}): CommandContext {
  let config: KfsConfig | undefined
  const getConfig = (): KfsConfig => {
    if (config !== undefined) return config
    config = loadConfig(options.env)
    // Once a process, with the configuration: a mistyped setting silently runs on its default.
    for (const warning of mistypedVariableWarnings(options.env)) options.stderr.write(`kfs: warning: ${warning}\n`)
    return config
  }
  return {
    cwd: options.cwd,
    json: options.json,
    interactive: (options.stderr as { isTTY?: boolean }).isTTY === true,
    env: options.env,
    clock: systemClock,
    out: (text) => void options.stdout.write(text),
    err: (text) => void options.stderr.write(text),
    config: getConfig,
    openObjectStore: () => openObjectStore(getConfig()),
  }
}
