/** The real stack's endpoints, from the env the stack script writes; a missing one fails loudly. */
export const STACK_VARIABLES = ['KFS_KAFKA_BROKERS', 'KFS_SCHEMA_REGISTRY_URL', 'KFS_REDIS_URL', 'KFS_S3_ENDPOINT', 'KFS_S3_BUCKET'] as const

export function stackEnv(): Record<string, string> {
  const missing = STACK_VARIABLES.filter((v) => !process.env[v])
  if (missing.length > 0) {
    throw new Error(`integration tests need the local stack: run \`npm run stack:up && . .kfs/stack/env.sh\` (missing ${missing.join(', ')})`)
  }
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) if (k.startsWith('KFS_') && v !== undefined) out[k] = v
  return out
}

export function newRunId(): string {
  return `r${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`
}
