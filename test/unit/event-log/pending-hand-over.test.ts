/**
 * A process that never owns the embedded log (`kfs serve`'s served-feature log) hands its records
 * over while it runs (adapters/event-log/embedded/pending-hand-over.ts): it finishes its file on a
 * bounded interval, at a bounded size and when it closes, and the log's owner moves finished files
 * (and those of writers that died) in on a timer of its own — every record once, in order, none
 * lost, a damaged file reported.
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, mock, test } from 'node:test'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/embedded-event-log.ts'
import { HandOverWriter, movePendingPeriodically } from '../../../adapters/event-log/embedded/pending-hand-over.ts'
import { movePendingRecords, pendingDirOf } from '../../../adapters/event-log/embedded/pending-records.ts'
import { startTimeOf } from '../../../adapters/local-disk/directory-lock.ts'
import { FeatureStoreError } from '../../../core/errors.ts'
import type { ProduceRecord } from '../../../ports/event-log.ts'
import { readToEnd } from '../../../replay/dead-letters/read-to-end.ts'
import { warningLogger } from '../../support/warning-logger.ts'

const root = mkdtempSync(join(tmpdir(), 'kfs-pending-hand-over-'))
after(() => rmSync(root, { recursive: true, force: true }))
let n = 0
const freshLogDir = () => join(root, `log-${n++}`)

const records = (...values: string[]): ProduceRecord[] => values.map((v) => ({ key: `k-${v}`, value: Buffer.from(v) }))
const files = (logDir: string) => (existsSync(pendingDirOf(logDir)) ? readdirSync(pendingDirOf(logDir)).sort() : [])
const ready = (logDir: string) => files(logDir).filter((f) => f.endsWith('.ready.jsonl'))
const open = (logDir: string) => files(logDir).filter((f) => /^\d+-\d*-\d+\.jsonl$/.test(f))
const noErrors = (err: unknown) => assert.fail(`unexpected hand-over error: ${String(err)}`)

/** The topic's values, in offset order per partition, read by a throw-away group. */
async function topicValues(log: EmbeddedEventLog, topic = 'served'): Promise<string[]> {
  return ((await readToEnd(log, [topic], { groupPrefix: 'check' })).get(topic) ?? []).map((r) => Buffer.from(r.value!).toString())
}

void describe('event log > embedded > handing records over while the writer runs', () => {
  void test('a file is finished by age, by size and at close; never before; each finish starts a new file', async () => {
    mock.timers.enable({ apis: ['setTimeout'] })
    try {
      const cases: {
        what: string
        maxBytes: number
        steps: (w: HandOverWriter) => Promise<void>
        ready: number
        open: number
      }[] = [
        {
          what: 'younger than the interval: still open',
          maxBytes: 1 << 20,
          steps: async (w) => {
            await w.append('served', records('a'), 1, 3)
            mock.timers.tick(999)
            await w.append('served', records('b'), 2, 3) // waits for any timed finish under way
          },
          ready: 0,
          open: 1,
        },
        {
          what: 'the interval after its first record: finished, later appends start a new file',
          maxBytes: 1 << 20,
          steps: async (w) => {
            await w.append('served', records('a'), 1, 3)
            mock.timers.tick(600)
            await w.append('served', records('b'), 2, 3) // does not restart the clock
            mock.timers.tick(400)
            await w.append('served', [], 3) // queued behind the timed finish
            await w.append('served', records('c'), 4, 3)
          },
          ready: 1,
          open: 1,
        },
        {
          what: 'at its size: finished at once, whatever its age',
          maxBytes: 1,
          steps: async (w) => {
            await w.append('served', records('a'), 1, 3)
            await w.append('served', records('b'), 2, 3)
          },
          ready: 2,
          open: 0,
        },
        {
          what: 'closed: finished; nothing is left open',
          maxBytes: 1 << 20,
          steps: async (w) => {
            await w.append('served', records('a'), 1, 3)
            await w.close()
            await assert.rejects(w.append('served', records('late'), 2, 3), /after close/)
          },
          ready: 1,
          open: 0,
        },
        {
          what: 'nothing appended: no file at all, at close or by time',
          maxBytes: 1 << 20,
          steps: async (w) => {
            await w.append('served', [], 1)
            mock.timers.tick(5_000)
            await w.finish()
            await w.close()
          },
          ready: 0,
          open: 0,
        },
        {
          what: 'finished many times within one millisecond: a new name each time, none replaced',
          maxBytes: 1 << 20,
          steps: async (w) => {
            for (let i = 0; i < 20; i++) {
              await w.append('served', records(`r${i}`), i, 3)
              await w.finish()
            }
          },
          ready: 20,
          open: 0,
        },
      ]
      for (const c of cases) {
        const logDir = freshLogDir()
        const writer = new HandOverWriter(logDir, { intervalMs: 1_000, maxBytes: c.maxBytes, onError: noErrors })
        await c.steps(writer)
        assert.equal(ready(logDir).length, c.ready, `${c.what}: ${files(logDir).join()}`)
        assert.equal(open(logDir).length, c.open, `${c.what}: ${files(logDir).join()}`)
        assert.equal(files(logDir).length, c.ready + c.open, `${c.what}: nothing else`)
        // Every record appended is in exactly one file, as a whole line.
        const lines = files(logDir).flatMap((f) =>
          readFileSync(join(pendingDirOf(logDir), f), 'utf8')
            .split('\n')
            .filter(Boolean),
        )
        assert.ok(
          lines.every((l) => (JSON.parse(l) as { partitions: number }).partitions === 3),
          c.what,
        )
      }
    } finally {
      mock.timers.reset()
    }
  })

  void test("finished files move in order, once, into a topic created with the writer's partitions; an open file waits", async () => {
    const logDir = freshLogDir()
    const writer = new HandOverWriter(logDir, { intervalMs: 60_000, maxBytes: 1 << 20, onError: noErrors })
    // One key, as a view's records share theirs (its ref): one partition, where order shows.
    const oneKey = (...values: string[]) => values.map((v) => ({ key: 'user_purchases@1', value: Buffer.from(v) }))
    for (let i = 0; i < 5; i++) {
      await writer.append('served', oneKey(`${i}a`, `${i}b`), i, 3)
      await writer.finish()
    }
    await writer.append('served', oneKey('open'), 9, 3)
    const log = new EmbeddedEventLog({ dir: logDir })
    try {
      assert.equal(await movePendingRecords(logDir, log, warningLogger()), 10)
      assert.equal(await log.partitionCount('served'), 3)
      assert.deepEqual(await topicValues(log), ['0a', '0b', '1a', '1b', '2a', '2b', '3a', '3b', '4a', '4b'])
      assert.deepEqual(open(logDir).length, 1, 'the open file of a running writer stays')
      await writer.close()
      assert.equal(await movePendingRecords(logDir, log, warningLogger()), 1)
      assert.deepEqual(
        (await topicValues(log)).filter((v) => v === 'open'),
        ['open'],
      )
      assert.deepEqual(files(logDir), [])
    } finally {
      await log.close()
    }
  })

  void test('appends are refused once the files waiting for the owner reach their bound, and taken again once it moved them in', async () => {
    const logDir = freshLogDir()
    const record = (v: string) => [{ key: 'user_purchases@1', value: Buffer.from(v) }]
    // One record's line, to size the bound in whole records.
    const probeDir = freshLogDir()
    const probe = new HandOverWriter(probeDir, { intervalMs: 60_000, maxBytes: 1 << 20, onError: noErrors })
    await probe.append('served', record('r0'), 0, 1)
    await probe.close()
    const line = files(probeDir).reduce((n, f) => n + readFileSync(join(probe.dir, f)).length, 0)
    const writer = new HandOverWriter(logDir, { intervalMs: 60_000, maxBytes: 1 << 20, onError: noErrors, maxWaitingBytes: 3 * line })
    for (let i = 0; i < 3; i++) {
      await writer.append('served', record(`r${i}`), i, 1)
      await writer.finish()
    }
    // No owner runs: a fourth record would pass the bound, in a finished file or the open one.
    await assert.rejects(writer.append('served', record('r3'), 3, 1), (err: unknown) => err instanceof FeatureStoreError && err.code === 'SINK_UNAVAILABLE' && /wait in .* for the embedded log's owner/.test(err.message))
    assert.equal(files(logDir).length, 3, 'nothing of the refused append written')
    const log = new EmbeddedEventLog({ dir: logDir })
    try {
      assert.equal(await movePendingRecords(logDir, log, warningLogger()), 3)
      await writer.append('served', record('r3'), 3, 1)
      await writer.close()
      assert.equal(await movePendingRecords(logDir, log, warningLogger()), 1)
      assert.deepEqual(await topicValues(log), ['r0', 'r1', 'r2', 'r3'])
    } finally {
      await log.close()
    }
  })

  void test("the owner's timer moves what is handed over while both run, reports a damaged file once, and stops at close", async () => {
    const logDir = freshLogDir()
    const log = new EmbeddedEventLog({ dir: logDir })
    const logger = warningLogger()
    const mover = movePendingPeriodically(logDir, log, logger, 10)
    const until = async (what: string, done: () => Promise<boolean> | boolean) => {
      // Bounded by the test runner's timeout, not by a time of our own: the move has no deadline to meet here.
      while (!(await done())) await new Promise((resolve) => setTimeout(resolve, 10))
      return what
    }
    try {
      const writer = new HandOverWriter(logDir, { intervalMs: 20, maxBytes: 1 << 20, onError: noErrors })
      const cases: { what: string; write: () => Promise<void> | void; expect: string[] }[] = [
        {
          what: 'a file its writer finished by time',
          write: () => writer.append('served', records('t1', 't2'), 1, 3),
          expect: ['t1', 't2'],
        },
        {
          what: 'a file its writer finished by closing',
          write: async () => {
            const w = new HandOverWriter(logDir, { intervalMs: 60_000, maxBytes: 1 << 20, onError: noErrors })
            await w.append('served', records('c1'), 1, 3)
            await w.close()
          },
          expect: ['c1'],
        },
        {
          what: 'the open file of a writer killed mid-file (its torn last line skipped)',
          write: () => {
            mkdirSync(pendingDirOf(logDir), { recursive: true })
            const line = JSON.stringify({
              topic: 'served',
              key: null,
              value: Buffer.from('k1').toString('base64'),
              headers: {},
              timestampMs: 1,
            })
            const dead = spawnSync(process.execPath, ['-e', '']).pid!
            writeFileSync(join(pendingDirOf(logDir), `${dead}-1-1.jsonl`), `${line}\n{"topic":"ser`)
          },
          expect: ['k1'],
        },
      ]
      const seen: string[] = []
      for (const c of cases) {
        await c.write()
        seen.push(...c.expect)
        await until(c.what, async () => (await topicValues(log)).length === seen.length && files(logDir).length === 0)
        assert.deepEqual((await topicValues(log)).sort(), [...seen].sort(), c.what)
      }
      // A damaged file: kept aside and reported, once, while the timer goes on.
      writeFileSync(join(pendingDirOf(logDir), `${spawnSync(process.execPath, ['-e', '']).pid!}-1-2.jsonl`), 'garbage\n')
      await until('damaged', () => files(logDir).some((f) => f.endsWith('.damaged')))
      await writer.append('served', records('after'), 5, 3)
      await until('after the damaged file', async () => (await topicValues(log)).includes('after'))
      assert.equal(logger.warnings.length, 1, 'reported once')
      assert.match(JSON.stringify(logger.warnings[0]), /\.damaged/)
      await mover.close()
      await writer.append('served', records('late'), 6, 3)
      await writer.close()
      assert.equal(ready(logDir).length, 1, 'after close the timer moves nothing')
    } finally {
      await mover.close()
      await log.close()
    }
  })

  void test('the timer moves nothing into a log this process does not own, and never takes it: not while another holds it, nor once that one exits', async () => {
    const logDir = freshLogDir()
    mkdirSync(logDir, { recursive: true })
    const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 120000)'], { stdio: 'ignore' })
    await new Promise((resolve) => holder.once('spawn', resolve))
    writeFileSync(join(logDir, 'LOCK'), `${holder.pid} ${startTimeOf(holder.pid!)}`)
    const writer = new HandOverWriter(logDir, { intervalMs: 60_000, maxBytes: 1 << 20, onError: noErrors })
    await writer.append('served', records('waits'), 1, 3)
    await writer.close()
    // As a `kfs replay` finds it: the log held, its own open refused.
    const log = new EmbeddedEventLog({ dir: logDir })
    await assert.rejects(log.createTopic('letters', 1), /in use by process/)
    const logger = warningLogger()
    const mover = movePendingPeriodically(logDir, log, logger, 5)
    try {
      const exited = new Promise((resolve) => holder.once('exit', resolve))
      holder.kill()
      await exited
      // Some twenty ticks after the holder is gone.
      await new Promise((resolve) => setTimeout(resolve, 100))
      assert.equal(
        readFileSync(join(logDir, 'LOCK'), 'utf8').split(' ')[0],
        String(holder.pid),
        'the LOCK is not taken over by the timer',
      )
      assert.equal(ready(logDir).length, 1, 'the file waits')
      assert.deepEqual(logger.warnings, [])
      // Once this process owns the log (its own first use), the timer moves the file in.
      await log.createTopic('letters', 1)
      while (ready(logDir).length > 0) await new Promise((resolve) => setTimeout(resolve, 10))
      assert.deepEqual(await topicValues(log), ['waits'])
    } finally {
      await mover.close()
      await log.close()
    }
  })

  void test('an owner that dies after moving a file in and before deleting it moves it again: at least once, every copy identical', async () => {
    const logDir = freshLogDir()
    const writer = new HandOverWriter(logDir, { intervalMs: 60_000, maxBytes: 1 << 20, onError: noErrors })
    await writer.append('served', records('x', 'y'), 7, 3)
    await writer.close()
    const log = new EmbeddedEventLog({ dir: logDir })
    try {
      // The owner's produce lands, then the process "dies" before the unlink (the error stands in for it).
      const dying = Object.assign(Object.create(log) as EmbeddedEventLog, {
        createTopic: (t: string, p: number) => log.createTopic(t, p),
        produce: async (t: string, r: readonly ProduceRecord[]) => {
          await log.produce(t, r)
          throw new Error('killed')
        },
      })
      await assert.rejects(movePendingRecords(logDir, dying, warningLogger()), /killed/)
      assert.equal(ready(logDir).length, 1, 'the file is still there')
      assert.equal(await movePendingRecords(logDir, log, warningLogger()), 2)
      const got = (await readToEnd(log, ['served'], { groupPrefix: 'dup' })).get('served')!
      const copies = got.map((r) =>
        JSON.stringify([r.key && Buffer.from(r.key).toString(), Buffer.from(r.value!).toString(), r.timestampMs, r.headers]),
      )
      assert.equal(copies.length, 4)
      assert.equal(new Set(copies).size, 2, 'each record twice, as identical copies')
    } finally {
      await log.close()
    }
  })

  void test('a timed finish that fails is reported, and the next append arms the timer again', async () => {
    mock.timers.enable({ apis: ['setTimeout'] })
    try {
      const logDir = freshLogDir()
      const errors: unknown[] = []
      const writer = new HandOverWriter(logDir, { intervalMs: 1_000, maxBytes: 1 << 20, onError: (err) => errors.push(err) })
      await writer.append('served', records('a'), 1, 3)
      const [name] = open(logDir)
      // Something in the way of the rename: a directory, not empty, by the finished file's name.
      const blocker = join(pendingDirOf(logDir), name!.replace(/\.jsonl$/, '.ready.jsonl'))
      mkdirSync(join(blocker, 'x'), { recursive: true })
      mock.timers.tick(1_000)
      await writer.append('served', [], 2) // after the timed finish
      assert.equal(errors.length, 1, 'reported')
      assert.deepEqual(open(logDir), [name], 'the file stays open, its records in it')
      rmSync(blocker, { recursive: true })
      await writer.append('served', records('b'), 3, 3)
      mock.timers.tick(1_000)
      await writer.append('served', [], 4)
      assert.deepEqual([open(logDir).length, ready(logDir).length], [0, 1], 'finished by time again')
      const log = new EmbeddedEventLog({ dir: logDir })
      try {
        assert.equal(await movePendingRecords(logDir, log, warningLogger()), 2)
      } finally {
        await log.close()
      }
    } finally {
      mock.timers.reset()
    }
  })
})
