/**
 * The served-feature log's transport on the embedded defaults (main/runtime.ts): serve writes its
 * records beside the log, never taking the log's LOCK, and keeps the served log's failure
 * behaviour — a batch that cannot be written is dropped and counted (`send_failed`) with a
 * warning, serving goes on, and the next batch that can be written is; nothing accepted is lost.
 */
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { pendingDirOf } from '../../../adapters/event-log/embedded/pending-records.ts'
import type { Logger } from '../../../core/logger.ts'
import { loadConfig } from '../../../main/config.ts'
import { createRuntime } from '../../../main/runtime.ts'
import { ServedLog, type ServedRecord } from '../../../serving/served-log/index.ts'

const dirs: string[] = []
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })))
const fresh = () => {
  const d = mkdtempSync(join(tmpdir(), 'kfs-served-log-transport-'))
  dirs.push(d)
  return d
}

const record = (i: number): ServedRecord => ({
  requestId: `req-${i}`,
  servedAtMs: 1_700_000_000_000 + i,
  viewName: 'user_purchases',
  viewVersion: 1,
  entityKey: `u${i}`,
  status: 'PRESENT',
  asOfMs: 1_699_999_999_000,
  features: ['n'],
  values: [i],
})

function warningsLogger(): { logger: Logger; warnings: string[] } {
  const warnings: string[] = []
  const noop = () => {}
  const logger = {
    fatal: noop,
    error: noop,
    info: noop,
    debug: noop,
    trace: noop,
    warn: (_fields: unknown, msg?: string) => void warnings.push(msg ?? ''),
    child: () => logger,
  } as unknown as Logger
  return { logger, warnings }
}

/** Request ids in the files beside the log (the stub encoder writes the record's JSON). */
function waiting(logDir: string): { ready: number; open: number; ids: string[] } {
  const dir = pendingDirOf(logDir)
  const names = existsSync(dir) ? readdirSync(dir) : []
  const ids = names.flatMap((n) =>
    readFileSync(join(dir, n), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map(
        (l) =>
          (JSON.parse(Buffer.from((JSON.parse(l) as { value: string }).value, 'base64').toString()) as { request_id: string })
            .request_id,
      ),
  )
  return {
    ready: names.filter((n) => n.endsWith('.ready.jsonl')).length,
    open: names.filter((n) => /^\d+-\d*-\d+\.jsonl$/.test(n)).length,
    ids,
  }
}

void describe('serving > served-feature log > on the embedded log', () => {
  const cases: {
    what: string
    /** Breaks the directory before the first batch; the undo, before the second. */
    breakIt?: (dataDir: string) => () => void
    firstSent: number
    firstDropped: number
  }[] = [
    { what: 'a writable data directory', firstSent: 3, firstDropped: 0 },
    {
      what: 'the pending directory is a file',
      breakIt: (d) => {
        writeFileSync(pendingDirOf(join(d, 'log')), 'not a directory')
        return () => rmSync(pendingDirOf(join(d, 'log')))
      },
      firstSent: 0,
      firstDropped: 3,
    },
  ]
  for (const c of cases) {
    void test(`${c.what}: accepted records wait beside the log, failed ones are counted, the log is never taken`, async () => {
      const dataDir = fresh()
      const logDir = join(dataDir, 'log')
      const { logger, warnings } = warningsLogger()
      const runtime = await createRuntime(loadConfig({ KFS_DATA_DIR: dataDir, KFS_LOG_LEVEL: 'silent' }), { logger })
      const log = new ServedLog(
        runtime.servedLogTransport('kfs.served-features', 3),
        // The served log's encoding is not under test: the record's JSON, to read back.
        async () => (event) => Buffer.from(JSON.stringify(event)),
        { sampleRate: 1, logger, warnIntervalMs: 0 },
      )
      try {
        const undo = c.breakIt?.(dataDir)
        log.record([record(1), record(2), record(3)])
        await log.flush()
        assert.equal(log.stats().sent, c.firstSent, c.what)
        assert.equal(log.stats().dropped.send_failed, c.firstDropped, c.what)
        assert.equal(
          warnings.some((w) => /served-log records dropped/.test(w)),
          c.firstDropped > 0,
          c.what,
        )
        undo?.()
        log.record([record(4)])
        await log.flush()
        assert.equal(log.stats().sent, c.firstSent + 1, `${c.what}: the next batch is written`)
        await log.close()
        const left = waiting(logDir)
        assert.deepEqual(left.ids.sort(), [...(c.firstSent > 0 ? ['req-1', 'req-2', 'req-3'] : []), 'req-4'], c.what)
        assert.deepEqual([left.ready, left.open], [1, 0], `${c.what}: closing hands the file over`)
        assert.equal(existsSync(join(logDir, 'LOCK')), false, `${c.what}: serve never took the log`)
      } finally {
        await log.close()
        await runtime.close()
      }
    })
  }
})
