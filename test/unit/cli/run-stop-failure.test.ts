/**
 * `kfs run` whose final checkpoint fails at the stop (the real command, a child process, embedded
 * defaults): it used to log the failure, print its summary and exit 0 — "clean stop" to an operator
 * and a supervisor — although nothing after the previous checkpoint was published. Now it exits 1
 * with one line naming the partition and saying where the next start resumes, no stack trace, and
 * lets go of what it held (the next `kfs run` opens the same log and online store). That next run
 * resumes from the previous checkpoint and leaves exactly what a clean run leaves.
 *
 * The fault: once the engine runs (its partition restored), the checkpoint folder of the local
 * object store becomes a file, so every write of a checkpoint's operator state fails (ENOTDIR) for
 * longer than the checkpoint's retries; it is put back before the next run. The stop gives the
 * checkpoint up at its deadline (KFS_STOP_TIMEOUT_MS, set short here: the retries' own budget is
 * longer), and its line says so, names the step and that the last published checkpoint stands.
 */
import assert from 'node:assert/strict'
import { renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { runKfs, startKfs } from '../../support/kfs-process.ts'
import { onePartitionRun } from '../../support/one-partition-run.ts'

const { purchases, dataDir, env, events, produced, store, writeEvents, assertCleanRunRows } = await onePartitionRun('stopfail', {
  count: 400,
  seed: 7,
})
const FIRST = 240

/** What stderr says besides the JSON log lines: the command's own lines. */
function ownLines(stderr: string): string[] {
  return stderr.split('\n').filter((line) => line !== '' && !line.startsWith('{'))
}

void test(
  'kfs run: a final checkpoint that fails at the stop exits 1 with one line; the next run resumes and publishes what a clean run does',
  { timeout: 180_000 },
  async () => {
    await runKfs(['apply'], env)
    await runKfs(['produce', '--topic', purchases.topic, '--file', writeEvents('first.ndjson', 0, FIRST)], env)
    await runKfs(['run', '--until-caught-up', '--idle', '300ms'], env)
    await runKfs(['produce', '--topic', purchases.topic, '--file', writeEvents('rest.ndjson', FIRST, events.length)], env)

    const checkpoints = join(dataDir, 'objects', 'checkpoints')
    const run = startKfs(['run', '--json'], { ...env, KFS_STOP_TIMEOUT_MS: '3s' })
    let stderr = ''
    await new Promise<void>((resolve, reject) => {
      run.child.stderr!.on('data', (chunk: Buffer) => {
        stderr += chunk.toString()
        if (stderr.includes('engine running')) resolve()
      })
      run.child.once('exit', (code) => reject(new Error(`kfs run exited (${code}) before it ran: ${stderr}`)))
    })
    renameSync(checkpoints, `${checkpoints}.aside`)
    writeFileSync(checkpoints, 'not a folder')
    run.child.kill('SIGTERM')
    const result = await run.done
    rmSync(checkpoints)
    renameSync(`${checkpoints}.aside`, checkpoints)

    assert.equal(result.code, 1, `exit code (1: a failure, not a usage error)\n${result.stderr}`)
    const lines = ownLines(result.stderr)
    assert.match(lines[0] ?? '', /^engine running/)
    assert.equal(lines.length, 2, `the ready line and one line of failure, nothing else (no stack trace):\n${lines.join('\n')}`)
    assert.match(
      lines[1]!,
      new RegExp(
        `^engine stop failed: the stop's deadline \\(3000 ms\\) passed, so the stop gave up and the last published checkpoint stands: the checkpoint of ${purchases.topic}/0 failed: .*writing (the operator state|an operator-state delta) of ${purchases.topic}/0 was given up .*ENOTDIR.*\\. Nothing is lost: the next start resumes from the last checkpoint that was published`,
      ),
    )
    assert.doesNotMatch(result.stdout, /engine stopped/, 'no summary of a clean stop')
    const error = (JSON.parse(result.stdout) as { error: { code: string; message: string; context?: Record<string, unknown> } })
      .error
    assert.equal(error.code, 'CHECKPOINT_FAILED')
    assert.equal(error.message, lines[1])
    assert.deepEqual(error.context, { partitions: `${purchases.topic}/0`, gaveUp: "the stop's deadline (3000 ms) passed" })

    // The log and the online store were let go: the next run opens them, and resumes where the first run's stop published.
    const next = await runKfs(['run', '--until-caught-up', '--idle', '300ms', '--json'], env)
    const summary = JSON.parse(next.stdout) as { stoppedBy: string; consumed: number }
    assert.equal(summary.stoppedBy, 'caught-up')
    assert.equal(summary.consumed, events.length - FIRST, 'the records after the previous checkpoint, read again, and no others')

    await assertCleanRunRows('offline rows after the failed stop and the next run')
    const offsets: string[] = []
    for await (const row of new IcebergOfflineSink(store).readArchive(purchases.topic, 0))
      if (row.markerWatermarkMs === null) offsets.push(row.offset)
    assert.deepEqual(
      offsets,
      produced.map((p) => p.offset),
      'archive: every offset exactly once, in order',
    )
  },
)
