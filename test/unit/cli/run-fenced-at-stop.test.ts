/**
 * `kfs run --until-caught-up` whose final checkpoint is fenced at the stop, every attempt (the real
 * command, a child process, embedded defaults; test/support/other-owner-hook.ts publishes before
 * each of its publishes). It used to drop the fenced partition and exit 0, the records after the
 * winner's position in no table: an audit reading the tables then saw them lost. Now it exits 1
 * with one line naming the partition and where the next run resumes; that next run (no other owner)
 * publishes exactly what a clean run does.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { LocalObjectStore } from '../../../adapters/object-store/index.ts'
import { readFeatureRowsByEntity } from '../../../adapters/offline/iceberg/feature-rows.ts'
import { runKfs } from '../../support/kfs-process.ts'
import { assertSameRows, expectedRowsByEntity, generatePurchases, type ProducedRecord } from '../../support/scenario.ts'

const ROOT = fileURLToPath(new URL('../../..', import.meta.url))
const RUN = 'fencestop'
process.env.KFS_TEST_RUN = RUN
process.env.KFS_TEST_PARTITIONS = '1'
const { purchases, userPurchases } = await import('../../fixtures/features/run-scoped.ts')

const dataDir = mkdtempSync(join(tmpdir(), 'kfs-run-fenced-at-stop-'))
after(() => rmSync(dataDir, { recursive: true, force: true }))
const env = {
  KFS_DATA_DIR: dataDir,
  KFS_FEATURES: join(ROOT, 'test/fixtures/features/run-scoped.ts'),
  KFS_TEST_RUN: RUN,
  KFS_TEST_PARTITIONS: '1',
  // Only the stop checkpoints.
  KFS_CHECKPOINT_INTERVAL_MS: '1h',
  KFS_LOG_LEVEL: 'warn',
}
const HOOK = join(ROOT, 'test/support/other-owner-hook.ts')

const events = generatePurchases({ count: 300, users: 20, seed: 5 })
const FIRST = 120

function writeEvents(name: string, from: number, to: number): string {
  const path = join(dataDir, name)
  writeFileSync(
    path,
    events
      .slice(from, to)
      .map((e) => JSON.stringify(e))
      .join('\n') + '\n',
  )
  return path
}

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
    const produced: ProducedRecord[] = events.map((event, i) => ({ partition: 0, offset: String(i), event }))
    const expected = expectedRowsByEntity([userPurchases], purchases, produced).get(userPurchases.name)!
    assertSameRows(
      await readFeatureRowsByEntity(new LocalObjectStore(join(dataDir, 'objects')), userPurchases),
      expected,
      'offline rows after the next run',
    )
  },
)
