/** `kfs produce`: publish events to a source's topic, Avro-encoded with the registry's schema id. */
import { createReadStream } from 'node:fs'
import { createInterface } from 'node:readline'
import { resolve } from 'node:path'
import { encodeEntityKey } from '../../core/entity-key.ts'
import type { SourceDef } from '../../operators/define/types.ts'
import { generateEvents } from '../../examples/generate-events.ts'
import { createRuntime } from '../runtime.ts'
import { stringOption, UsageError, type Command } from './command.ts'
import { FEATURES_HELP, FEATURES_OPTION, loadFeatures, openRegistry } from './definitions.ts'

export const produceCommand: Command = {
  name: 'produce',
  summary: 'Publish events to a topic (NDJSON/JSON file, or the built-in generator)',
  usage: 'kfs produce (--topic <topic> --file <events.ndjson|events.json> | --generate <count> [--seed <n>]) [--json]',
  help: `
Encodes each event with its source's Avro schema (registered under <topic>-value in the schema
registry; Confluent wire format) and publishes it keyed by the source's entity, so it lands on the
partition Kafka's own partitioner would pick. Invalid events are reported with their line number
and nothing after the first bad event is sent. Works on Kafka and on the embedded log alike.

Options:
${FEATURES_HELP}
  --topic <topic>        topic to publish to (one of the module's sources)
  --file <path>          newline-delimited JSON (one event per line) or a JSON array
  --generate <count>     generate a realistic clicks + purchases stream instead (example sources)
  --seed <n>             generator seed (default 42)
  --start <iso-time>     generator start time (default 2026-11-01T00:00:00Z)
  --json                 print a JSON summary

Examples:
  kfs produce --generate 20000
  kfs produce --topic purchases --file purchases.ndjson
`,
  options: { ...FEATURES_OPTION, topic: { type: 'string' }, file: { type: 'string' }, generate: { type: 'string' }, seed: { type: 'string' }, start: { type: 'string' } },
  async run(args, ctx) {
    const file = stringOption(args, 'file')
    const generate = stringOption(args, 'generate')
    const topicArg = stringOption(args, 'topic')
    if ((file === undefined) === (generate === undefined)) throw new UsageError('give exactly one of --file or --generate')
    if (file !== undefined && topicArg === undefined) throw new UsageError('--file needs --topic')
    const runtime = await createRuntime(ctx.config())
    try {
      const { registry } = await openRegistry(ctx)
      const { set } = await loadFeatures(args, ctx, registry)
      const sources = new Map(set.sources.map((s) => [s.topic, s]))
      const sourceOf = (topic: string): SourceDef => {
        const s = sources.get(topic)
        if (!s) throw new UsageError(`no source reads topic ${topic}; sources: ${[...sources.keys()].join(', ')}`)
        return s
      }
      const log = await runtime.eventLog()
      const pending = new Map<string, { key: string | null; value: Uint8Array }[]>()
      const counts: Record<string, number> = {}
      const encoders = new Map<string, Awaited<ReturnType<typeof runtime.encoderFor>>>()
      const flush = async (topic: string) => {
        const batch = pending.get(topic)
        if (!batch?.length) return
        await log.createTopic(topic, sourceOf(topic).partitions)
        await log.produce(topic, batch)
        pending.set(topic, [])
      }
      const add = async (topic: string, event: Record<string, unknown>, where: string) => {
        const source = sourceOf(topic)
        let encoder = encoders.get(topic)
        if (!encoder) encoders.set(topic, (encoder = await runtime.encoderFor(source)))
        let value: Uint8Array
        try {
          value = encoder.encode(event)
        } catch (err: unknown) {
          throw new UsageError(`${where}: ${err instanceof Error ? err.message : String(err)}`)
        }
        const keyedBy = set.entities.find((e) => e.name === source.keyedBy)
        const key = keyedBy ? encodeEntityKey(keyedBy.joinKeys.map((k) => String(event[k] ?? ''))) : null
        const batch = pending.get(topic) ?? []
        batch.push({ key, value })
        pending.set(topic, batch)
        counts[topic] = (counts[topic] ?? 0) + 1
        if (batch.length >= 1_000) await flush(topic)
      }
      if (generate !== undefined) {
        const count = Number(generate)
        if (!Number.isSafeInteger(count) || count <= 0) throw new UsageError('--generate takes a positive whole number')
        const startIso = stringOption(args, 'start')
        const startMs = startIso === undefined ? undefined : Date.parse(startIso)
        if (startMs !== undefined && Number.isNaN(startMs)) throw new UsageError(`--start: '${startIso}' is not an ISO-8601 time`)
        for (const g of generateEvents({ count, seed: Number(stringOption(args, 'seed') ?? 42), ...(startMs === undefined ? {} : { startMs }) })) {
          await add(g.topic, g.event, `generated event ${g.topic}`)
        }
      } else {
        const path = resolve(ctx.cwd, file!)
        for await (const { event, where } of readEvents(path)) await add(topicArg!, event, where)
      }
      for (const topic of pending.keys()) await flush(topic)
      ctx.out(ctx.json ? `${JSON.stringify({ produced: counts })}\n` : `produced ${Object.entries(counts).map(([t, n]) => `${n} to ${t}`).join(', ') || 'nothing'}\n`)
      return 0
    } finally {
      await runtime.close()
    }
  },
}

async function* readEvents(path: string): AsyncGenerator<{ event: Record<string, unknown>; where: string }> {
  const lines = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity })
  let n = 0
  let arrayText: string | undefined
  for await (const line of lines) {
    n++
    if (arrayText !== undefined || (n === 1 && line.trimStart().startsWith('['))) {
      arrayText = (arrayText ?? '') + line + '\n'
      continue
    }
    if (line.trim() === '') continue
    let parsed: unknown
    try {
      parsed = JSON.parse(line)
    } catch {
      throw new UsageError(`${path}:${n}: not valid JSON`)
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new UsageError(`${path}:${n}: an event must be a JSON object`)
    yield { event: parsed as Record<string, unknown>, where: `${path}:${n}` }
  }
  if (arrayText !== undefined) {
    let parsed: unknown
    try {
      parsed = JSON.parse(arrayText)
    } catch {
      throw new UsageError(`${path}: not a valid JSON array`)
    }
    if (!Array.isArray(parsed)) throw new UsageError(`${path}: expected a JSON array of events`)
    for (let i = 0; i < parsed.length; i++) yield { event: parsed[i] as Record<string, unknown>, where: `${path}[${i}]` }
  }
}
