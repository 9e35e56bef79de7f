/**
 * `kfs serve --log-topic` (and KFS_SERVE_LOG_TOPIC) name the topic served-feature records are
 * written to. Before, any topic name was taken, kfs's own included: the dead-letter topic (the
 * records would be listed and re-driven as dead letters), the re-drive markers beside it, a re-key
 * stage's internal topic (its views would read them as re-keyed events). Each is now refused, as a
 * usage error for the flag and a config error for the variable, naming the topic and what it is;
 * so is the topic of a source the registry holds with another schema.
 *
 * The internal topics are derived as the engine and the re-drive name them — the re-key topics
 * from the example features' own views — so the table grows with them.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { systemClock } from '../../../core/clock.ts'
import { ConfigError } from '../../../core/errors.ts'
import { planRekeys } from '../../../engine/plan-sources.ts'
import * as examples from '../../../examples/features.ts'
import { commands } from '../../../main/commands/index.ts'
import { createProcessContext } from '../../../main/commands/context.ts'
import { runCli } from '../../../main/commands/router.ts'
import { serveLogOptions, servedLogSource } from '../../../main/commands/serve.ts'
import { UsageError } from '../../../main/commands/usage-error.ts'
import { loadConfig } from '../../../main/config.ts'
import { DEAD_LETTER_TOPIC } from '../../../main/internal-topics.ts'
import { rowGroupsTopic } from '../../../engine/rekey-row-index.ts'
import { markerTopicOf } from '../../../replay/dead-letters/redrive.ts'
import { collectDefinitions, createRegistry, type DefinitionSet } from '../../../registry/index.ts'
import { servedLog } from '../../../serving/served-log/index.ts'

const exampleSet = collectDefinitions(examples)
const rekeyTopics = planRekeys(exampleSet.views).map((plan) => plan.topic)

/** [topic, what the refusal must say it is]. */
const INTERNAL: readonly (readonly [string, RegExp])[] = [
  [DEAD_LETTER_TOPIC, /kfs's dead-letter topic/],
  [markerTopicOf(DEAD_LETTER_TOPIC), /where kfs dead-letters redrive marks the letters it re-drove/],
  ...rekeyTopics.map((topic) => [topic, /a re-key stage's internal topic/] as const),
  // The row index of a change source's re-key stage (engine/rekey-row-index.ts).
  [rowGroupsTopic('kfs.orders.by-user'), /a re-key stage's row index/],
]

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

void describe("serving > served log > kfs's own topics are refused as the log topic", () => {
  void test('the table holds every kind of internal topic, re-key topics of the example features included', () => {
    assert.ok(rekeyTopics.length > 0, 'the example features re-key at least one view (item_clicks)')
    assert.ok(rekeyTopics.includes('kfs.clicks.by-item'), rekeyTopics.join(', '))
  })

  for (const [topic, role] of INTERNAL) {
    void test(`--log-topic ${topic}: a usage error naming it and what it is`, () => {
      assert.throws(
        () => serveLogOptions(topic, undefined, undefined),
        (err: unknown) =>
          err instanceof UsageError &&
          new RegExp(`^--log-topic: ${escape(topic)} is `).test(err.message) &&
          role.test(err.message),
      )
    })

    void test(`KFS_SERVE_LOG_TOPIC=${topic}: a config error naming the variable and what the topic is`, () => {
      assert.throws(
        () => loadConfig({ KFS_SERVE_LOG_TOPIC: topic }),
        (err: unknown) =>
          err instanceof ConfigError &&
          err.message.startsWith(`KFS_SERVE_LOG_TOPIC="${topic}"`) &&
          role.test(err.message) &&
          err.context?.variable === 'KFS_SERVE_LOG_TOPIC',
      )
    })
  }

  void test('topics of the log its own are taken as before: the default, and names that only look alike', () => {
    for (const topic of ['kfs.served-features', 'served', 'kfs.dead-letters-audit', 'kfs.clicks.by-item.log', 'clicks.by-item', 'clicks.by-item.row-groups']) {
      assert.equal(serveLogOptions(topic, undefined, undefined)?.topic, topic)
      assert.equal(loadConfig({ KFS_SERVE_LOG_TOPIC: topic }).serveLog?.topic, topic)
    }
  })

  void test('through the CLI: exit 2 before anything is opened, the topic named on stderr', async () => {
    let stdout = ''
    let stderr = ''
    const sink = (append: (t: string) => void) =>
      ({ write: (t: string) => (append(t), true) }) as unknown as NodeJS.WritableStream
    // A features module that does not exist: were the topic not refused first, serve would fail
    // on it (another message) instead of starting a server.
    const dataDir = mkdtempSync(join(tmpdir(), 'kfs-serve-log-topic-'))
    try {
      const env = { PATH: process.env.PATH, KFS_DATA_DIR: dataDir, KFS_LOG_LEVEL: 'silent', KFS_FEATURES: '/no/such/features.ts' }
      const code = await runCli(['serve', '--log-topic', DEAD_LETTER_TOPIC], commands, (json) =>
        createProcessContext({ json, env, cwd: dataDir, stdout: sink((t) => (stdout += t)), stderr: sink((t) => (stderr += t)) }),
      )
      assert.equal(code, 2, stderr)
      assert.match(stderr, /^kfs serve: --log-topic: kfs\.dead-letters is kfs's dead-letter topic/)
      assert.equal(stdout, '')
    } finally {
      rmSync(dataDir, { recursive: true, force: true })
    }
  })
})

void describe('serving > served log > a topic the registry gives to another source is refused', () => {
  const none: DefinitionSet = { entities: [], sources: [], views: [], services: [], requestFeatures: [] }

  void test("a source published with another schema on that topic: refused, naming the source; the log's own source: taken", async () => {
    const registry = createRegistry({ store: new MemoryObjectStore(), clock: systemClock })
    await registry.apply(exampleSet)
    await registry.apply(collectDefinitions(servedLog({ topic: 'kfs.served-features' })))
    const notes: string[] = []
    assert.ok(exampleSet.sources.length >= 2, 'the example features declare sources (clicks, purchases)')
    for (const published of exampleSet.sources) {
      await assert.rejects(
        servedLogSource(none, registry, published.topic, (line) => void notes.push(line)),
        (err: unknown) =>
          err instanceof UsageError &&
          err.message.includes(
            `${published.topic} is the topic of source ${published.name} in the registry, which reads it with another schema`,
          ),
      )
    }
    const own = await servedLogSource(none, registry, 'kfs.served-features', (line) => void notes.push(line))
    assert.equal(own.topic, 'kfs.served-features')
    assert.equal(notes.length, 1, 'only the note that the features module does not declare the log')
  })
})
