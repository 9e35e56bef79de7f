/**
 * Child process of the freshness and push benches: produces purchases at a steady rate (open loop,
 * a batch every 10 ms sized to stay on schedule) so the producer never competes with the engine's
 * event loop, and writes what it sent — key, event time, wall time handed to Kafka — to a file.
 *
 * Event time is the wall clock at send, made strictly increasing per key, so every event emits a
 * row whose as_of is its own time and the parent can tell when that row (or a later one of the
 * same key, which subsumes it) became visible.
 *
 * With a group id as last argument it also runs a bare kafkajs consumer of the topic and logs
 * when each record arrives: the produce → consume floor, on an event loop the engine does not block.
 *
 * Usage: steady-producer.ts <brokers> <registryUrl> <topic> <rate/s> <seconds> <users> <outFile> [listenGroup]
 */
import { writeFileSync } from 'node:fs'
import { readAvroSchema } from '../../schemas/avro/read-schema.ts'
import { createEncoder } from '../../schemas/encoder.ts'
import { ConfluentSchemaRegistry } from '../../adapters/schema-registry/confluent/confluent-schema-registry.ts'
import { prng } from '../../test/support/scenario.ts'
import { openBenchEventLog } from './event-log.ts'
import { progress } from './report.ts'
import { rawListen } from './raw-kafka.ts'
import { newSeenLog, recordSeen, wallMs, type SentLog } from './visibility.ts'

const [brokers, registryUrl, topic, rateText, secondsText, usersText, outFile, listenGroup] = process.argv.slice(2)
if (!outFile) throw new Error('usage: steady-producer.ts <brokers> <registryUrl> <topic> <rate> <seconds> <users> <outFile>')
const rate = Number(rateText)
const seconds = Number(secondsText)
const users = Number(usersText)

const log = await openBenchEventLog(brokers!.split(','), 'kfs-bench-producer')
const registry = new ConfluentSchemaRegistry({ url: registryUrl! })
const schema = readAvroSchema(new URL('../../schemas/avro/purchases.avsc', import.meta.url))
const encoder = await createEncoder({ registry, subject: `${topic}-value`, schema })
// The first send also connects the producer; the parent's warm-up window leaves it out.
await log.partitionCount(topic!)

const arrived = newSeenLog()
const stopListening = listenGroup ? await rawListen(brokers!.split(','), topic!, listenGroup, (key) => recordSeen(arrived, key, 0)) : undefined

const rand = prng(3)
const lastTs = new Map<string, number>()
const sent: SentLog = { keys: [], ts: [], sentAtMs: [] }
const started = wallMs()
const total = Math.round(rate * seconds)
let nextReport = started + 5_000
while (sent.keys.length < total) {
  const now = wallMs()
  const due = Math.min(total, Math.floor(((now - started) / 1000) * rate)) - sent.keys.length
  if (due > 0) {
    const batch = []
    const at = wallMs()
    for (let i = 0; i < due; i++) {
      const user = `u${Math.floor(rand() * users)}`
      const ts = Math.max(Math.floor(at), (lastTs.get(user) ?? 0) + 1)
      lastTs.set(user, ts)
      sent.keys.push(user)
      sent.ts.push(ts)
      sent.sentAtMs.push(at)
      batch.push({ key: user, value: encoder.encode({ user_id: user, item_id: `i${Math.floor(rand() * 500)}`, amount: Math.round(rand() * 20_000) / 100, currency: 'EUR', ts }) })
    }
    await log.produce(topic!, batch)
  }
  if (now >= nextReport) {
    nextReport += 5_000
    progress(`producer: ${sent.keys.length}/${total} sent`)
  }
  await new Promise((r) => setTimeout(r, 10))
}
if (stopListening) {
  const deadline = wallMs() + 15_000
  while (arrived.keys.length < sent.keys.length && wallMs() < deadline) await new Promise((r) => setTimeout(r, 20))
  await stopListening()
}
writeFileSync(outFile, JSON.stringify({ sent, arrived }))
await log.close()
progress(`producer: ${sent.keys.length} events in ${((wallMs() - started) / 1000).toFixed(1)} s`)
