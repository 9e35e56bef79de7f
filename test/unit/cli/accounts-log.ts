/** What `kfs ingest` appended to the accounts topic of an embedded data directory, for the CLI tests. */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/index.ts'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import type { ChangeEnvelope } from '../../../features/change-envelope.ts'
import type { SourceDef } from '../../../features/types.ts'
import { scanTopic } from '../../../ingest/scan-topic.ts'
import { createDecoder } from '../../../schemas/decoder.ts'
import { accountsSource } from '../ingest/fixtures.ts'

/** The source's (default accounts) envelopes, per partition in offset order, concatenated (images copied out of the decoder's objects). */
export async function loggedEnvelopes(dataDir: string, source: Pick<SourceDef, 'topic' | 'schema'> = accountsSource()): Promise<{ key: string; envelope: ChangeEnvelope }[]> {
  const log = new EmbeddedEventLog({ dir: join(dataDir, 'log') })
  try {
    const decoder = createDecoder({ registry: new EmbeddedSchemaRegistry({ dir: join(dataDir, 'schemas') }), readerSchema: source.schema })
    const out: { key: string; partition: number; offset: number; envelope: ChangeEnvelope }[] = []
    // No topic yet (a refused snapshot never creates it): nothing logged.
    if ((await log.endOffsets(source.topic).catch(() => [])).every((end) => end === '0')) return []
    await scanTopic(
      log,
      source.topic,
      async (records) => {
        for (const r of records) {
          const d = await decoder.decode(r.value)
          assert.ok(d.ok)
          out.push({ key: Buffer.from(r.key!).toString('utf8'), partition: r.partition, offset: Number(r.offset), envelope: d.event as unknown as ChangeEnvelope })
        }
      },
      { groupPrefix: 'test' },
    )
    out.sort((a, b) => a.partition - b.partition || a.offset - b.offset)
    return out.map(({ key, envelope }) => ({ key, envelope: { ...envelope, before: envelope.before && { ...envelope.before }, after: envelope.after && { ...envelope.after } } }))
  } finally {
    await log.close()
  }
}
