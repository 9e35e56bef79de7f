/**
 * Records that waited beside the embedded log while another process held it
 * (adapters/event-log/embedded/pending-records.ts) are moved in by the next opener: every record of
 * every file no running process still writes, as written, once; nothing else, and nothing lost.
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync, appendFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { startTimeOf } from '../../../adapters/local-disk/directory-lock.ts'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/embedded-event-log.ts'
import { movePendingRecords, pendingDirOf, PendingRecordsWriter } from '../../../adapters/event-log/embedded/pending-records.ts'
import { readToEnd } from '../../../replay/dead-letters/read-to-end.ts'
import { warningLogger } from '../../support/warning-logger.ts'

const root = mkdtempSync(join(tmpdir(), 'kfs-pending-records-'))
after(() => rmSync(root, { recursive: true, force: true }))
let n = 0
const freshLogDir = () => join(root, `log-${n++}`)

async function moveAndRead(logDir: string, logger = warningLogger()): Promise<{ moved: number; values: string[] }> {
  const log = new EmbeddedEventLog({ dir: logDir })
  try {
    const moved = await movePendingRecords(logDir, log, logger)
    const records = (await readToEnd(log, ['letters'], { groupPrefix: 'check' })).get('letters')!
    return { moved, values: records.map((r) => Buffer.from(r.value!).toString()) }
  } finally {
    await log.close()
  }
}

/** A file as a writer of process `pid` (started at `start`) left it. */
function fileOf(logDir: string, pid: number, start: string, values: readonly string[], tail = ''): string {
  const dir = pendingDirOf(logDir)
  mkdirSync(dir, { recursive: true })
  const path = join(dir, `${pid}-${start}-1.jsonl`)
  const lines = values.map((v) =>
    JSON.stringify({ topic: 'letters', key: null, value: Buffer.from(v).toString('base64'), headers: { h: v }, timestampMs: 5 }),
  )
  writeFileSync(path, lines.map((l) => `${l}\n`).join('') + tail)
  return path
}

const deadPid = () => spawnSync(process.execPath, ['-e', '']).pid!

void describe('event log > embedded > records waiting for the log', () => {
  void test('written, finished and moved once, as written (key, value, headers, timestamp)', async () => {
    const logDir = freshLogDir()
    const writer = new PendingRecordsWriter(logDir)
    writer.append('letters', [{ key: 'k1', value: Buffer.from('a'), headers: { 'kfs-reason': 'late' } }], 1_000)
    writer.append(
      'letters',
      [
        { key: null, value: null },
        { key: 'k3', value: Buffer.from('c'), timestampMs: 7 },
      ],
      2_000,
    )
    assert.equal(writer.count, 3)
    assert.equal((await moveAndRead(logDir)).moved, 0, 'its writer (this process) may still append: left alone')
    writer.finish()
    assert.throws(() => writer.append('letters', [{ key: null, value: Buffer.from('late') }], 3_000), /after finish/)
    const log = new EmbeddedEventLog({ dir: logDir })
    try {
      assert.equal(await movePendingRecords(logDir, log, warningLogger()), 3)
      const got = (await readToEnd(log, ['letters'], { groupPrefix: 'check' })).get('letters')!
      assert.deepEqual(
        got.map((r) => [
          r.key === null ? null : Buffer.from(r.key).toString(),
          r.value === null ? null : Buffer.from(r.value).toString(),
          r.headers,
          r.timestampMs,
        ]),
        [
          ['k1', 'a', { 'kfs-reason': 'late' }, 1_000],
          [null, null, {}, 2_000],
          ['k3', 'c', {}, 7],
        ],
      )
      assert.equal(await movePendingRecords(logDir, log, warningLogger()), 0, 'moved once')
    } finally {
      await log.close()
    }
    assert.deepEqual(readdirSync(pendingDirOf(logDir)), [])
  })

  void test('which files move: by their writer and their contents', async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 120000)'], { stdio: 'ignore' })
    await new Promise((resolve) => child.once('spawn', resolve))
    try {
      const cases: { what: string; file: (logDir: string) => void; moved: string[]; left: RegExp[]; warned: boolean }[] = [
        {
          what: 'a dead writer (killed before finishing)',
          file: (d) => fileOf(d, deadPid(), '1', ['a', 'b']),
          moved: ['a', 'b'],
          left: [],
          warned: false,
        },
        {
          what: 'a dead writer without a start time',
          file: (d) => fileOf(d, deadPid(), '', ['a']),
          moved: ['a'],
          left: [],
          warned: false,
        },
        {
          what: 'a running writer',
          file: (d) => fileOf(d, child.pid!, startTimeOf(child.pid!), ['a']),
          moved: [],
          left: [/^\d+-\d+-1\.jsonl$/],
          warned: false,
        },
        {
          what: 'a pid reused by another process (another start time)',
          file: (d) => fileOf(d, child.pid!, '1', ['a']),
          moved: ['a'],
          left: [],
          warned: false,
        },
        {
          what: 'a running writer that finished',
          file: (d) => {
            const path = fileOf(d, child.pid!, startTimeOf(child.pid!), ['a'])
            renameSync(path, path.replace(/\.jsonl$/, '.ready.jsonl'))
          },
          moved: ['a'],
          left: [],
          warned: false,
        },
        {
          what: 'a last line its writer died appending',
          file: (d) => fileOf(d, deadPid(), '1', ['a'], '{"topic":"letters","ke'),
          moved: ['a'],
          left: [],
          warned: false,
        },
        {
          what: 'a line that is not JSON',
          file: (d) => fileOf(d, deadPid(), '1', ['a'], 'garbage\n'),
          moved: [],
          left: [/\.jsonl\.damaged$/],
          warned: true,
        },
        {
          what: 'a line of another shape',
          file: (d) =>
            fileOf(d, deadPid(), '1', ['a'], '{"topic":"letters","key":5,"value":null,"headers":{},"timestampMs":1}\n'),
          moved: [],
          left: [/\.jsonl\.damaged$/],
          warned: true,
        },
        {
          what: 'a header that is no string',
          file: (d) =>
            fileOf(d, deadPid(), '1', ['a'], '{"topic":"letters","key":null,"value":null,"headers":{"h":1},"timestampMs":1}\n'),
          moved: [],
          left: [/\.jsonl\.damaged$/],
          warned: true,
        },
        {
          what: 'a file of another name',
          file: (d) => {
            mkdirSync(pendingDirOf(d), { recursive: true })
            appendFileSync(join(pendingDirOf(d), 'notes.txt'), 'x')
          },
          moved: [],
          left: [/^notes\.txt$/],
          warned: false,
        },
      ]
      for (const c of cases) {
        const logDir = freshLogDir()
        c.file(logDir)
        const logger = warningLogger()
        const { moved, values } = await moveAndRead(logDir, logger)
        assert.deepEqual(values, c.moved, c.what)
        assert.equal(moved, c.moved.length, c.what)
        const left = readdirSync(pendingDirOf(logDir))
        assert.equal(left.length, c.left.length, `${c.what}: ${left.join()}`)
        c.left.forEach((pattern, i) => assert.match(left[i]!, pattern, c.what))
        assert.equal(logger.warnings.length > 0, c.warned, c.what)
      }
    } finally {
      child.kill()
    }
  })

  void test('a log another process holds: nothing moves, every file is kept for the next open', async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 120000)'], { stdio: 'ignore' })
    await new Promise((resolve) => child.once('spawn', resolve))
    const logDir = freshLogDir()
    try {
      mkdirSync(logDir, { recursive: true })
      writeFileSync(join(logDir, 'LOCK'), `${child.pid} ${startTimeOf(child.pid!)}`)
      const path = fileOf(logDir, deadPid(), '1', ['a'])
      const log = new EmbeddedEventLog({ dir: logDir })
      assert.equal(await movePendingRecords(logDir, log, warningLogger()), 0)
      await log.close()
      assert.ok(existsSync(path))
    } finally {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill()
      await exited
    }
    assert.deepEqual((await moveAndRead(logDir)).values, ['a'], 'moved by the next open')
  })

  void test('a directory without waiting records is never created, and nothing opens the log', async () => {
    const logDir = freshLogDir()
    const log = new EmbeddedEventLog({ dir: logDir })
    assert.equal(await movePendingRecords(logDir, log, warningLogger()), 0)
    await log.close()
    assert.equal(existsSync(pendingDirOf(logDir)), false)
    assert.equal(existsSync(join(logDir, 'LOCK')), false, 'the log was not opened')
  })
})
