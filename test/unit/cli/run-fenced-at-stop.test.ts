/**
 * `kfs run --until-caught-up` whose final checkpoint is fenced at the stop, every attempt (the real
 * command, a child process, embedded defaults; test/support/other-owner-hook.ts publishes before
 * each of its publishes). It used to drop the fenced partition and exit 0, the records after the
 * winner's position in no table: an audit reading the tables then saw them lost. Now it exits 1
 * with one line naming the partition and where the next run resumes; that next run (no other owner)
 * publishes exactly what a clean run does.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { runKfs } from '../../support/kfs-process.ts'
import { onePartitionRun, ROOT } from '../../support/one-partition-run.ts'

const { purchases, env, events, writeEvents, assertCleanRunRows } = await onePartitionRun('fencestop', { count: 300, seed: 5 })
const HOOK = join(ROOT, 'test/support/other-owner-hook.ts')
const FIRST = 120

void test(
  'kfs run --until-caught-up: a checkpoint fenced at the stop on every attempt exits 1 naming the partition; the next run completes the tables',
  { timeout: 180_000 },
  async () => {
    await runKfs(['apply'], env)
    await runKfs(['produce', '--topic', purchases.topic, '--file', writeEvents('first.ndjson', 0, FIRST)], env)
    await runKfs(['run', '--until-caught-up', '--idle', '300ms'], env)
    await runKfs(['produce', '--topic', purchases.topic, '--file', writeEvents('rest.ndjson', FIRST, events.length)], env)

    const fenced = await runKfs(['run', '--until-caught-up', '--idle', '300ms'], {
      ...env,
      NODE_OPTIONS: `--import ${HOOK}`,
    }).then(
      () => undefined,
      (err: unknown) => String(err),
    )
    assert.ok(fenced !== undefined, 'the fenced run did not exit 0')
    assert.match(fenced, /exited 1:/, 'exit 1: a failure, not a usage error')
    assert.match(
      fenced,
      new RegExp(
        `engine stop failed: checkpoint fenced at stop: another owner published first for ${purchases.topic}/0 \\(3 times in a row\\); the next run resumes ${purchases.topic}/0 from offset ${FIRST}\\b`,
      ),
    )

    const next = await runKfs(['run', '--until-caught-up', '--idle', '300ms', '--json'], env)
    assert.equal(
      (JSON.parse(next.stdout) as { consumed: number }).consumed,
      events.length - FIRST,
      'the next run read the fenced records again',
    )
    await assertCleanRunRows('offline rows after the next run')
  },
)
