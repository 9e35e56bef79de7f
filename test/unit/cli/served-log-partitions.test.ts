/**
 * `kfs serve --log-topic` over a log topic that exists with another partition count than its
 * source declares (docs/semantics.md §10, §21). The served log is an ordinary source: its records
 * are keyed by view, and `kfs run` keeps each view's served_lookups state in the partition they
 * arrive in, so another count splits a view's counts over two partitions, as it splits an
 * entity's state in any source. Before, serve checked nothing: it logged into the topic as it
 * was (and `kfs run` refused the topic only later, with the records already there). Now serve
 * refuses it as every command refuses a source's topic — exit 1, naming the topic, both counts
 * and the way on — before it listens, writing nothing; a topic with the declared count, or none
 * yet, is served as before.
 *
 * Both ways the log's source is found: declared by the features module (servedLog with 4
 * partitions) and not declared (serve's default definition, 3 partitions); each with one fewer
 * and one more partition than that, on the embedded log through the in-process CLI.
 */
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/index.ts'
import { pendingDirOf } from '../../../adapters/event-log/embedded/pending-records.ts'
import type { StopSignal } from '../../../main/commands/stop-signal.ts'
import { runKfsInProcess } from '../../support/in-process-cli.ts'

const root = mkdtempSync(join(tmpdir(), 'kfs-served-log-partitions-'))
after(() => rmSync(root, { recursive: true, force: true }))
const TOPIC = 'kfs.served-features'

/** Serve stops as soon as it listens: a SIGTERM already received. */
const stopAtOnce = (): StopSignal => ({ received: Promise.resolve('SIGTERM'), dispose: () => undefined })

const MODULES = [
  {
    how: 'declared by the features module',
    features: 'test/fixtures/features/served-log-four.ts',
    declared: 4,
    source: 'served_features',
  },
  { how: 'not declared (the default definition)', features: 'examples/features.ts', declared: 3, source: 'served_features' },
] as const

for (const m of MODULES) {
  void describe(`kfs serve --log-topic, the log's source ${m.how}: ${m.declared} partitions`, () => {
    const dataDir = join(root, String(m.declared))
    const logDir = join(dataDir, 'log')
    before(async () => {
      const r = await runKfsInProcess(['apply', '--features', m.features], dataDir)
      assert.equal(r.code, 0, r.stderr)
    })

    /** The log topic made again with `count` partitions (none: absent), as another tool or an earlier serve left it. */
    async function topicWith(count: number | undefined): Promise<void> {
      rmSync(join(logDir, 'topics', TOPIC), { recursive: true, force: true })
      if (count === undefined) return
      const log = new EmbeddedEventLog({ dir: logDir, fsync: 'never' })
      try {
        await log.createTopic(TOPIC, count)
      } finally {
        await log.close()
      }
    }

    const serve = () =>
      runKfsInProcess(['serve', '--features', m.features, '--port', '0', '--log-topic', TOPIC, '--log-sample', '1'], dataDir, {
        listenForStop: stopAtOnce,
      })

    for (const count of [m.declared - 1, m.declared + 1]) {
      void test(`a topic with ${count} partitions: refused before serve listens, exit 1, naming the topic, both counts and the way on; nothing written`, async () => {
        await topicWith(count)
        const files = readdirSync(join(logDir, 'topics', TOPIC)).sort()
        const r = await serve()
        assert.equal(r.code, 1, r.stdout + r.stderr)
        assert.match(
          r.stderr,
          new RegExp(
            `served-feature log: topic ${TOPIC.replace('.', '\\.')} has ${count} partitions, but source ${m.source} declares ${m.declared}: .*` +
              (count < m.declared
                ? `declare partitions: ${count} in source ${m.source}`
                : `recreate the topic with ${m.declared} partitions`) +
              `.*servedLog\\(\\{ topic: '${TOPIC.replace('.', '\\.')}', partitions \\}\\)`,
          ),
        )
        assert.doesNotMatch(r.stderr, /serving \d+ views/, 'refused before it listened')
        assert.equal(existsSync(pendingDirOf(logDir)), false, 'no record handed over')
        assert.deepEqual(readdirSync(join(logDir, 'topics', TOPIC)).sort(), files, 'the topic as it was')
      })
    }

    for (const [what, count] of [
      [`the declared ${m.declared} partitions`, m.declared],
      ['no topic yet', undefined],
    ] as const) {
      void test(`${what}: served (exit 0 once stopped)`, async () => {
        await topicWith(count)
        const r = await serve()
        assert.equal(r.code, 0, r.stderr)
        assert.match(
          r.stderr,
          new RegExp(`serving \\d+ views on .*\\n[^]*served-feature log: 100 % of requests → topic ${TOPIC.replace('.', '\\.')}`),
        )
      })
    }
  })
}
