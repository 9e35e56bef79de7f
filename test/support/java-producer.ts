/**
 * Records published by Kafka's own Java producer (the console producer of the Kafka distribution
 * the stack installed, scripts/stack/install.sh): the reference for what other clients' compressed
 * batches look like on the wire — the snappy, lz4 and zstd framing of the Java client, not of a
 * Node library that might share a bug with the reader under test.
 */
import { spawn } from 'node:child_process'
import { homedir } from 'node:os'
import { join } from 'node:path'

/** Every batch compression Kafka defines (the record batch's attribute bits 0–2). */
export const KAFKA_CODECS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const
export type KafkaCodec = (typeof KAFKA_CODECS)[number]

export interface TextRecord {
  readonly key: string
  readonly value: string
  readonly headers?: Readonly<Record<string, string>>
}

/** Kept in step with scripts/stack/common.sh (KAFKA_VERSION, CACHE_DIR). */
const KAFKA_LIBS = join(process.env.KFS_CACHE_DIR ?? join(homedir(), '.cache', 'kfs'), 'kafka-3.9.2', 'libs')

/**
 * Publishes the records with the Java producer, batches compressed with `codec`; several records a
 * batch (linger), so a batch's compressed records are read back as a whole. Every record also gets
 * the header `codec`. Keys, values and headers must not hold a tab, a comma, a colon or a line
 * break (the console format).
 */
export async function produceWithJava(
  brokers: readonly string[],
  topic: string,
  codec: KafkaCodec,
  records: readonly TextRecord[],
): Promise<void> {
  const lines = records.map((r) => {
    // The console format always has a headers column: a record without headers gets `codec`.
    const headers = Object.entries({ codec, ...r.headers })
      .map(([k, v]) => `${k}:${v}`)
      .join(',')
    return `${headers}\t${r.key}\t${r.value}\n`
  })
  const args = [
    '-Xshare:auto',
    '-XX:TieredStopAtLevel=1',
    '-cp',
    `${KAFKA_LIBS}/*`,
    'kafka.tools.ConsoleProducer',
    '--bootstrap-server',
    brokers.join(','),
    '--topic',
    topic,
    // Not `compression.type`: the console producer's own flag (default none) overrides it.
    '--compression-codec',
    codec,
    '--producer-property',
    'linger.ms=200',
    '--producer-property',
    'batch.size=262144',
    '--property',
    'parse.key=true',
    '--property',
    'parse.headers=true',
    '--property',
    'key.separator=\t',
    '--property',
    'headers.delimiter=\t',
    '--property',
    'headers.separator=,',
    '--property',
    'headers.key.separator=:',
  ]
  const child = spawn('java', args, { stdio: ['pipe', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')))
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', resolve)
  })
  child.stdin.end(lines.join(''))
  const code = await exited
  if (code !== 0)
    throw new Error(`the Java console producer exited ${code} (codec ${codec}, topic ${topic}): ${stderr.slice(-2000)}`)
}
