/** `kfs produce`: publish events to a source's topic, Avro-encoded with the registry's schema id. */
import { FeatureStoreError } from '../../core/errors.ts'
import type { SourceDef } from '../../features/types.ts'
import type { DefinitionSet } from '../../registry/index.ts'
import { GENERATED_TOPICS, generateEvents } from '../../examples/generate-events.ts'
import type { Encoder } from '../../schemas/encoder.ts'
import { jsonRowMismatch, parseDebeziumLine } from '../../schemas/debezium-json.ts'
import { invalidUtf8JoinKey, invalidUtf8KeyDetail } from '../../schemas/decoder.ts'
import { changeOf } from '../../operators/changes/change.ts'
import { entityKeyOf, invalidEventTimeDetail } from '../../operators/task/event-fields.ts'
import { createRuntime } from '../runtime.ts'
import { numberOption, stringOption, UsageError, type Command } from './command.ts'
import { FEATURES_HELP, FEATURES_OPTION, loadFeatures, openRegistry } from './definitions.ts'
import { checkEventFile, eventJsonText, holdsLossyNumber, readEventFile, withRoundedNumbers } from './event-file.ts'
import { createSourceTopic } from '../../engine/source-topics.ts'
import { requireDeclaredPartitions } from '../../engine/source-partitions.ts'

const BATCH = 1_000

export const produceCommand: Command = {
  name: 'produce',
  summary: 'Publish events to a topic (NDJSON/JSON file, or the built-in generator)',
  usage:
    'kfs produce (--topic <topic> --file <events.ndjson|events.json> | --generate <count> [--seed <n>] [--start <iso-time>]) [--json]',
  help: `
A changelog source's file holds Debezium changes (op, before, after, ts_ms/source.ts_ms): each is
checked against the row schema and sent keyed by its primary key, as JSON or as the change
envelope in Avro, whichever the source's format is.

Encodes each event with its source's Avro schema (registered under <topic>-value in the schema
registry; Confluent wire format) and publishes it keyed by the source's entity, so it lands on the
partition Kafka's own partitioner would pick. Works on Kafka and on the embedded log alike. A topic
whose partition count is not the one its source declares is refused before anything is sent (exit 1).

A --file is checked in full before the first event is sent: every line is parsed and encoded
against the schema, and must carry the entity's join keys, each a key the engine takes (not empty,
no control character, no lone surrogate, at most 512 bytes of UTF-8). If any event is bad, nothing is sent:
the command exits 2 and lists the first bad lines and how many there are, so a fixed file can be
sent again without duplicates. A file with no events exits 1. (A failure while sending — the
broker going away — can still leave part of the file sent; kfs does not de-duplicate a re-run.)

Options:
${FEATURES_HELP}
  --topic <topic>        topic to publish to (one of the module's sources)
  --file <path>          newline-delimited JSON (one event per line) or a JSON array
  --generate <count>     generate a realistic clicks + purchases stream instead (example sources)
  --seed <n>             generator seed, a whole number (default 42)
  --start <iso-time>     generator start time (default 2026-11-01T00:00:00Z)
  --json                 print a JSON summary

Examples:
  kfs produce --generate 20000
  kfs produce --topic purchases --file purchases.ndjson
`,
  options: {
    ...FEATURES_OPTION,
    topic: { type: 'string', kind: 'name' },
    file: { type: 'string', kind: 'input-file' },
    generate: { type: 'string', kind: 'count' },
    seed: { type: 'string', kind: 'whole' },
    start: { type: 'string', kind: 'iso-time' },
  },
  async run(args, ctx) {
    const file = stringOption(args, 'file')
    const count = numberOption(args, 'generate')
    const topicArg = stringOption(args, 'topic')
    if ((file === undefined) === (count === undefined)) throw new UsageError('give exactly one of --file or --generate')
    if (file !== undefined && topicArg === undefined) throw new UsageError('--file needs --topic')
    if (file === undefined && topicArg !== undefined)
      throw new UsageError('--topic goes with --file (--generate writes the example topics)')
    if (file !== undefined && (args.values.seed !== undefined || args.values.start !== undefined))
      throw new UsageError('--seed and --start go with --generate')
    const runtime = await createRuntime(ctx.config())
    try {
      const { registry } = await openRegistry(ctx)
      const { set } = await loadFeatures(args, ctx, registry)
      const sourceOf = (topic: string): SourceDef => {
        const s = set.sources.find((source) => source.topic === topic)
        if (!s)
          throw new UsageError(
            `no source reads topic ${topic}; sources: ${set.sources.map((source) => source.topic).join(', ') || '(none)'}`,
          )
        return s
      }
      const log = await runtime.eventLog()
      // Before anything is sent or registered: a topic with another partition count than its source
      // declares would take keys where their entities' state is not (engine/source-partitions.ts).
      await requireDeclaredPartitions(log, topicArg === undefined ? GENERATED_TOPICS.map(sourceOf) : [sourceOf(topicArg)])
      const encoders = new Map<string, Promise<Encoder>>()
      const encoderOf = (source: SourceDef): Promise<Encoder> => {
        let encoder = encoders.get(source.topic)
        if (!encoder) encoders.set(source.topic, (encoder = runtime.encoderFor(source)))
        return encoder
      }
      const pending = new Map<string, { key: string | null; value: Uint8Array }[]>()
      const counts: Record<string, number> = {}
      const flush = async (topic: string): Promise<void> => {
        const batch = pending.get(topic)
        if (!batch?.length) return
        await createSourceTopic(log, sourceOf(topic))
        await log.produce(topic, batch)
        pending.set(topic, [])
      }
      const send = async (source: SourceDef, event: Record<string, unknown>): Promise<void> => {
        const message = encodeEvent(set, source, await encoderOf(source), event)
        if (typeof message === 'string')
          throw new FeatureStoreError('BAD_REQUEST', `an event of ${source.topic} cannot be sent: ${message}`)
        const batch = pending.get(source.topic) ?? []
        batch.push(message)
        pending.set(source.topic, batch)
        counts[source.topic] = (counts[source.topic] ?? 0) + 1
        if (batch.length >= BATCH) await flush(source.topic)
      }

      if (count !== undefined) {
        const startMs = numberOption(args, 'start')
        for (const g of generateEvents({
          count,
          seed: numberOption(args, 'seed') ?? 42,
          ...(startMs === undefined ? {} : { startMs }),
        }))
          await send(sourceOf(g.topic), g.event)
      } else {
        const source = sourceOf(topicArg!)
        const encoder = await encoderOf(source)
        // First pass: the whole file, nothing sent; second pass: send. Streaming twice keeps memory
        // flat for large files, and a bad line 1,500 no longer leaves lines 1–1,000 already sent.
        const check = await checkEventFile(file!, (event) => {
          const encoded = encodeEvent(set, source, encoder, event)
          return typeof encoded === 'string' ? encoded : undefined
        })
        if (check.badCount > 0) {
          const more = check.badCount - check.bad.length
          throw new UsageError(
            `${file}: ${check.badCount} bad event${check.badCount === 1 ? '' : 's'} (of ${check.events + check.badCount}); nothing was sent\n` +
              check.bad.map((b) => `  ${b.where}: ${b.error}`).join('\n') +
              (more > 0 ? `\n  … and ${more} more` : ''),
          )
        }
        if (check.events === 0) throw new FeatureStoreError('BAD_REQUEST', `${file} holds no events: nothing to send`)
        for await (const item of readEventFile(file!)) {
          // The file passed the check a moment ago; a bad event now means it changed under us.
          if ('error' in item)
            throw new FeatureStoreError('BAD_REQUEST', `${file} changed while it was being sent (${item.where}: ${item.error})`)
          await send(source, item.event)
        }
      }
      for (const topic of pending.keys()) await flush(topic)
      ctx.out(
        ctx.json
          ? `${JSON.stringify({ produced: counts })}\n`
          : `produced ${Object.entries(counts)
              .map(([t, n]) => `${n} to ${t}`)
              .join(', ')}\n`,
      )
      return 0
    } finally {
      await runtime.close()
    }
  },
}

/**
 * The message for one event, or why it cannot be sent: it must fit the source's schema and carry
 * the entity's join keys (an event without one would land under an empty key, read by nobody).
 */
function encodeEvent(
  set: DefinitionSet,
  source: SourceDef,
  encoder: Encoder,
  event: Record<string, unknown>,
): { key: string | null; value: Uint8Array } | string {
  if (source.changes !== undefined) return encodeChange(set, source, encoder, event)
  const entity = set.entities.find((e) => e.name === source.keyedBy)
  const missing = entity?.joinKeys.filter((k) => event[k] === undefined || event[k] === null) ?? []
  if (missing.length > 0) return `missing join key ${missing.join(', ')}`
  // A literal JSON would change (event-file.ts) is refused where the field is an integer — the
  // changelog's rule — and taken as its rounded double where the field is floating.
  if (holdsLossyNumber(event)) {
    const mismatch = jsonRowMismatch(source.schema, event, 'event')
    if (mismatch !== undefined) return mismatch.detail
    event = withRoundedNumbers(event) as Record<string, unknown>
  }
  // The key as the engine will read it (core's key rule): a key it would dead-letter is refused here.
  const key = entity ? entityKeyOf(entity, event) : undefined
  if (key !== undefined && !key.ok) return `${key.reason}: ${key.detail}`
  // So is a time it would dead-letter (outside years 1–9999, a fraction); a missing one is left to it.
  const badTime = invalidEventTimeDetail(source.eventTimeField, event[source.eventTimeField])
  if (badTime !== undefined) return `invalid_event_time: ${badTime}`
  let value: Uint8Array
  try {
    value = encoder.encode(event)
  } catch (err: unknown) {
    return err instanceof Error ? err.message : String(err)
  }
  return { key: key === undefined ? null : key.key, value }
}

/**
 * A Debezium change for a changelog source (docs/design.md §11): checked against the row schema the
 * way the engine will read it, keyed by the row's primary key, and sent as the source's format
 * says — the JSON as given, or the change envelope in Avro (commit time from `source.ts_ms`).
 */
function encodeChange(set: DefinitionSet, source: SourceDef, encoder: Encoder, event: Record<string, unknown>): { key: string | null; value: Uint8Array } | string {
  const changes = source.changes!
  // The literals as the file wrote them, so the row schema's check sees what JSON would round.
  const text = eventJsonText(event)
  const parsed = parseDebeziumLine(text, changes.rowSchema)
  const entity = set.entities.find((e) => e.name === source.keyedBy)
  if (!parsed.ok) {
    // A key column the engine would refuse invalid_key (a lone surrogate: core's reason) is refused as such here.
    const badKey = entity === undefined ? undefined : invalidUtf8JoinKey(parsed, entity.joinKeys, changes.primaryKey)
    return badKey === undefined ? `${parsed.reason}: ${parsed.detail}` : `invalid_key: ${invalidUtf8KeyDetail(parsed, badKey)}`
  }
  if (entity === undefined) return `source ${source.name} is keyed by ${source.keyedBy}, which the module does not define`
  const change = changeOf(parsed.event, entity)
  if (!change.ok) return `${change.reason}: ${change.detail}`
  const badTime = invalidEventTimeDetail(source.eventTimeField, parsed.event[source.eventTimeField])
  if (badTime !== undefined) return `invalid_event_time: ${badTime}`
  if (changes.format === 'json') return { key: change.change.key, value: new TextEncoder().encode(text) }
  try {
    return { key: change.change.key, value: encoder.encode(parsed.event) }
  } catch (err: unknown) {
    return err instanceof Error ? err.message : String(err)
  }
}
