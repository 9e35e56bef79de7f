/**
 * Every adapter that keeps files on a local disk fsyncs a directory after a create, rename or link
 * that a later step relies on, and before it returns: the file's bytes fsynced, then the rename
 * (or link), then the directory, then the caller goes on (acknowledges an append, publishes a
 * checkpoint record, commits a table). Once per file, never once per record. Before, no directory
 * was ever fsynced: a machine crash could lose a rolled segment whose appends were acknowledged, a
 * checkpoint record the tables were committed against, a renamed state file, or a schema id the
 * log's records name (the embedded registry did not even fsync its files).
 *
 * The file-system calls are watched through node:fs itself (mocked methods, the ESM bindings
 * synced), so the adapters run unchanged on a real temporary directory.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import { syncBuiltinESMExports } from 'node:module'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { after, before, describe, mock, test } from 'node:test'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/embedded-event-log.ts'
import { writeJsonAtomic } from '../../../adapters/event-log/embedded/durable-file.ts'
import { LocalObjectStore } from '../../../adapters/object-store/local/local-object-store.ts'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'

let root = ''
const steps: string[] = []
const name = (p: fs.PathLike): string => relative(root, String(p)) || '.'

before(() => {
  root = fs.mkdtempSync(join(tmpdir(), 'kfs-dir-fsync-'))
  const fdPath = new Map<number, string>()
  const { openSync, fsyncSync, renameSync } = fs
  const { open, rename, link } = fsp
  mock.method(fs, 'openSync', (p: fs.PathLike, flags?: fs.OpenMode, mode?: fs.Mode) => {
    const fd = openSync(p, flags ?? 'r', mode)
    fdPath.set(fd, String(p))
    return fd
  })
  mock.method(fs, 'fsyncSync', (fd: number) => {
    steps.push(`fsync ${name(fdPath.get(fd) ?? '?')}`)
    fsyncSync(fd)
  })
  mock.method(fs, 'renameSync', (a: fs.PathLike, b: fs.PathLike) => {
    steps.push(`rename ${name(a)} ${name(b)}`)
    renameSync(a, b)
  })
  mock.method(fsp, 'open', async (p: fs.PathLike, flags?: string) => {
    const handle = await open(p, flags)
    const sync = handle.sync.bind(handle)
    handle.sync = async () => {
      steps.push(`fsync ${name(p)}`)
      await sync()
    }
    return handle
  })
  mock.method(fsp, 'rename', async (a: fs.PathLike, b: fs.PathLike) => {
    steps.push(`rename ${name(a)} ${name(b)}`)
    await rename(a, b)
  })
  mock.method(fsp, 'link', async (a: fs.PathLike, b: fs.PathLike) => {
    steps.push(`link ${name(a)} ${name(b)}`)
    await link(a, b)
  })
  syncBuiltinESMExports()
})

after(() => {
  mock.restoreAll()
  syncBuiltinESMExports()
  fs.rmSync(root, { recursive: true, force: true })
})

/** The steps `fn` takes. */
async function stepsOf(fn: () => unknown): Promise<string[]> {
  const from = steps.length
  await fn()
  return steps.slice(from)
}

/** `expected` occur in `seen` in this order (other steps may come between). */
function assertInOrder(seen: readonly string[], expected: readonly (string | RegExp)[], what: string): void {
  let at = 0
  for (const e of expected) {
    const i = seen.findIndex((s, j) => j >= at && (typeof e === 'string' ? s === e : e.test(s)))
    assert.ok(i >= 0, `${what}: expected ${String(e)} after step ${at} in ${JSON.stringify(seen)}`)
    at = i + 1
  }
}

const dirSyncs = (seen: readonly string[], dir: string) => seen.filter((s) => s === `fsync ${dir}`).length

void describe('local disk > directory fsync', () => {
  void test('embedded log: a rolled segment is fsynced into its directory before the append returns, once per roll', async () => {
    const dir = join(root, 'log-small')
    const log = new EmbeddedEventLog({ dir, segmentBytes: 1 })
    try {
      await log.createTopic('t', 1)
      const batch = Array.from({ length: 5 }, (_, i) => ({ key: 'k', value: Buffer.from(`v${i}`), partition: 0 }))
      const first = await stepsOf(() => log.produce('t', batch))
      const second = await stepsOf(() => log.produce('t', batch))
      for (const [seen, base] of [
        [first, '00000000000000000000'],
        [second, '00000000000000000005'],
      ] as const) {
        // segmentBytes 1: every batch rolls (the first goes to the segment the open made).
        const segment = `log-small/topics/t/0/${base}.log`
        assertInOrder(seen, [`fsync ${segment}`], 'the batch is fsynced')
        assert.equal(
          dirSyncs(seen, 'log-small/topics/t/0'),
          base === '00000000000000000000' ? 0 : 1,
          `one directory fsync for the roll to ${base}, none per record`,
        )
      }
      assertInOrder(
        second,
        ['fsync log-small/topics/t/0', 'fsync log-small/topics/t/0/00000000000000000005.log'],
        'the new name before the batch is acknowledged',
      )
    } finally {
      await log.close()
    }

    const big = new EmbeddedEventLog({ dir: join(root, 'log-big') })
    try {
      const created = await stepsOf(() => big.createTopic('t', 1))
      // The new partition directory and its first segment reach the disk with the topic.
      assertInOrder(created, [/^fsync log-big\/topics\/t\/0$/], 'the first segment is fsynced into the partition directory')
      assertInOrder(
        created,
        [
          'fsync log-big/topics/t/topic.json.tmp',
          'rename log-big/topics/t/topic.json.tmp log-big/topics/t/topic.json',
          'fsync log-big/topics/t',
        ],
        'topic.json',
      )
      const appends = await stepsOf(async () => {
        for (let i = 0; i < 3; i++) await big.produce('t', [{ key: 'k', value: Buffer.from('v'), partition: 0 }])
      })
      assert.equal(
        appends.filter((s) => !s.endsWith('.log')).length,
        0,
        `appends without a roll fsync only their segment: ${JSON.stringify(appends)}`,
      )
    } finally {
      await big.close()
    }
  })

  void test("embedded log with fsync 'never': no directory fsync either", async () => {
    const log = new EmbeddedEventLog({ dir: join(root, 'log-never'), segmentBytes: 1, fsync: 'never' })
    try {
      const seen = await stepsOf(async () => {
        await log.createTopic('t', 2)
        for (let i = 0; i < 3; i++) await log.produce('t', [{ key: 'k', value: Buffer.from('v'), partition: 1 }])
      })
      assert.ok(seen.length > 0, 'the spy saw the log work')
      assert.deepEqual(
        seen.filter((s) => s.startsWith('fsync ')),
        [],
      )
    } finally {
      await log.close()
    }
  })

  void test('embedded log state files: file fsync, rename, directory fsync; none with fsync off', async () => {
    const dir = join(root, 'state')
    fs.mkdirSync(dir)
    const on = await stepsOf(() => writeJsonAtomic(join(dir, 'offsets.json'), { a: 1 }, true))
    assert.deepEqual(on, ['fsync state/offsets.json.tmp', 'rename state/offsets.json.tmp state/offsets.json', 'fsync state'])
    const off = await stepsOf(() => writeJsonAtomic(join(dir, 'offsets.json'), { a: 2 }, false))
    assert.deepEqual(off, ['rename state/offsets.json.tmp state/offsets.json'])
  })

  void test('local object store: put and putIfAbsent fsync the body, rename or link, then the directory, before they return', async () => {
    const store = new LocalObjectStore(join(root, 'objects'))
    const tmp = /^fsync objects\/\.kfs-tmp\/[0-9a-f-]+\.tmp$/
    const put = await stepsOf(() => store.put('tables/t/data/a.parquet', new Uint8Array([1])))
    // The directories put created are fsynced into their parents (objects/ itself is new here too).
    for (const d of ['.', 'objects', 'objects/tables', 'objects/tables/t'])
      assert.ok(put.includes(`fsync ${d}`), `${d} fsynced for its new entry: ${JSON.stringify(put)}`)
    assertInOrder(
      put,
      [tmp, /^rename objects\/\.kfs-tmp\/.* objects\/tables\/t\/data\/a\.parquet$/, 'fsync objects/tables/t/data'],
      'put',
    )
    assert.equal(put.at(-1), 'fsync objects/tables/t/data', 'the directory fsync is the last step before put returns')

    const again = await stepsOf(() => store.put('tables/t/data/b.parquet', new Uint8Array([2])))
    assert.deepEqual(
      again.filter((s) => !tmp.test(s) && !s.startsWith('rename ')),
      ['fsync objects/tables/t/data'],
      'into an existing directory: one directory fsync per object',
    )

    const record = await stepsOf(() => store.putIfAbsent('checkpoints/g/00000001.json', new Uint8Array([3])))
    assertInOrder(
      record,
      [tmp, /^link objects\/\.kfs-tmp\/.* objects\/checkpoints\/g\/00000001\.json$/, 'fsync objects/checkpoints/g'],
      'putIfAbsent',
    )
    assert.equal(record.at(-1), 'fsync objects/checkpoints/g', 'the record is durable before putIfAbsent returns')
    const lost = await stepsOf(async () =>
      assert.equal(await store.putIfAbsent('checkpoints/g/00000001.json', new Uint8Array([4])), false),
    )
    assert.equal(dirSyncs(lost, 'objects/checkpoints/g'), 0, 'a lost race creates nothing to fsync')
  })

  void test('embedded schema registry: an id and a subject are durable before register returns; a temp file a crash left is no entry', async () => {
    const dir = join(root, 'schemas')
    const registry = new EmbeddedSchemaRegistry({ dir })
    const schema = { type: 'record', name: 'R', fields: [{ name: 'a', type: 'long' }] } as const
    const seen = await stepsOf(() => registry.register('clicks-value', schema))
    assertInOrder(
      seen,
      [
        /^fsync schemas\/ids\/\.tmp-\d+-[0-9a-f]{12}$/,
        /^link schemas\/ids\/\.tmp-\d+-[0-9a-f]{12} schemas\/ids\/1\.json$/,
        'fsync schemas/ids',
        /^fsync schemas\/subjects\/\.tmp-\d+-[0-9a-f]{12}$/,
        /^rename schemas\/subjects\/\.tmp-\d+-[0-9a-f]{12} schemas\/subjects\/clicks-value\.json$/,
        'fsync schemas/subjects',
      ],
      'register',
    )
    assert.equal(seen.at(-1), 'fsync schemas/subjects', 'durable before register returns')
    assert.deepEqual(fs.readdirSync(join(dir, 'ids')), ['1.json'], 'the temp file is gone')
    // A crash mid-write leaves a temp file (named as now, or as before), never a torn entry: the registry still loads.
    fs.writeFileSync(join(dir, 'ids', '2.json.tmp'), '{"id":2,"sch')
    fs.writeFileSync(join(dir, 'ids', '.tmp-1-000000000000'), '{"id":2,"sch')
    fs.writeFileSync(join(dir, 'subjects', 'clicks-value.json.tmp'), '')
    const reopened = new EmbeddedSchemaRegistry({ dir })
    assert.equal((await reopened.latest('clicks-value'))?.id, 1)
    const next = { ...schema, fields: [...schema.fields, { name: 'b', type: 'long', default: 0 }] }
    assert.equal(await reopened.register('clicks-value', next), 2, 'the next id is written beside the temp files a crash left')
    assert.deepEqual(
      fs.readdirSync(join(dir, 'ids')).sort(),
      ['.tmp-1-000000000000', '1.json', '2.json', '2.json.tmp'],
      'only the leftovers beside the entries',
    )
  })
})
