/**
 * `kfs serve --log-topic` while its log topic changes under it (docs/semantics.md §21): the topic
 * deleted and created again with another partition count than its source declares after serve
 * started. Serve goes on serving features, and once its next check (every 30 s by its clock, behind
 * the sends) has seen the change, no batch reaches the topic: each is counted as dropped
 * (`send_failed`, kfs_serving_served_log_records_total). Before, serve checked the topic only at
 * start and logged on into whatever it became. Embedded log, in-process CLI, a clock the test moves.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/index.ts'
import type { Clock } from '../../../core/clock.ts'
import { runKfsInProcess } from '../../support/in-process-cli.ts'

const root = mkdtempSync(join(tmpdir(), 'kfs-served-log-changed-'))
after(() => rmSync(root, { recursive: true, force: true }))
const TOPIC = 'kfs.served-features'
const FEATURES = 'examples/features.ts'

async function topicWith(logDir: string, count: number): Promise<void> {
  rmSync(join(logDir, 'topics', TOPIC), { recursive: true, force: true })
  const log = new EmbeddedEventLog({ dir: logDir, fsync: 'never' })
  try {
    await log.createTopic(TOPIC, count)
  } finally {
    await log.close()
  }
}

/** The served log's records by outcome, from the server's metrics. */
async function outcomes(base: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${base}/metrics`)).text()
  const out: Record<string, number> = {}
  for (const m of text.matchAll(/^kfs_serving_served_log_records_total\{outcome="(\w+)"\} (\d+)$/gm)) out[m[1]!] = Number(m[2])
  return out
}

/** Polls the metrics until `done` holds of them (each poll after the served log's flush interval). */
async function until(base: string, done: (o: Record<string, number>) => boolean, what: string): Promise<Record<string, number>> {
  for (let i = 0; i < 100; i++) {
    const o = await outcomes(base)
    if (done(o)) return o
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  assert.fail(`${what}: ${JSON.stringify(await outcomes(base))}`)
}

void test('kfs serve --log-topic: a log topic created again with another count while serving gets no more batches once checked; features still served', async () => {
  const dataDir = join(root, 'data')
  const logDir = join(dataDir, 'log')
  const applied = await runKfsInProcess(['apply', '--features', FEATURES], dataDir)
  assert.equal(applied.code, 0, applied.stderr)
  await topicWith(logDir, 3)

  let offsetMs = 0
  const clock: Clock = { nowMs: () => Date.now() + offsetMs, sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)) }
  let stop!: (signal: string) => void
  const received = new Promise<string>((resolve) => (stop = resolve))
  let stderr = ''
  let listening!: (base: string) => void
  const ready = new Promise<string>((resolve) => (listening = resolve))
  const serving = runKfsInProcess(
    ['serve', '--features', FEATURES, '--port', '0', '--log-topic', TOPIC, '--log-sample', '1'],
    dataDir,
    {
      clock,
      listenForStop: () => ({ received, dispose: () => undefined }),
      err: (text) => {
        stderr += text
        const m = /serving \d+ views on (http:\/\/\S+) /.exec(stderr)
        if (m) listening(m[1]!)
      },
    },
  )
  const base = await Promise.race([ready, serving.then((r) => assert.fail(`serve ended: ${r.code} ${stderr}`))])
  try {
    const lookup = async (): Promise<void> => {
      const res = await fetch(`${base}/v1/features/user_purchases/u1`)
      assert.equal(res.status, 200, await res.text())
    }
    await lookup()
    await until(base, (o) => (o.sent ?? 0) >= 1, 'the first lookup logged')

    await topicWith(logDir, 4)
    offsetMs += 30_000
    // The send after the interval starts the check and goes on with what was known…
    await lookup()
    await until(base, (o) => (o.sent ?? 0) >= 2, 'the lookup that starts the check logged')
    // …and from the next one on, no batch reaches the changed topic.
    await lookup()
    const after = await until(base, (o) => (o.send_failed ?? 0) >= 1, 'a lookup after the check refused')
    assert.equal(after.sent, 2)
    await lookup() // features are still served
  } finally {
    stop('SIGTERM')
    const r = await serving
    assert.equal(r.code, 0, stderr)
  }
})
