/**
 * `kfs produce --file` on lines the audit corpus sends: bytes that are not UTF-8 and events nested
 * deeper than the checks recurse. Each is a bad line named with its number (exit 2, nothing
 * sent), like any other bad line — not a value decoded to U+FFFD and sent (exit 0), and not an
 * "unexpected error" stack trace (exit 1). Plain events and changelogs in both formats; and the
 * byte-level line reader splits lines as readline did, across read chunks too.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/index.ts'
import { scanTopic } from '../../../ingest/scan-topic.ts'
import { ordersAvro, ordersJson } from '../../fixtures/features/change-poison.ts'
import { runKfsInProcess } from '../../support/in-process-cli.ts'

const dir = mkdtempSync(join(tmpdir(), 'kfs-audit-produce-'))
after(() => rmSync(dir, { recursive: true, force: true }))

const TS = 1_793_491_200_000
const TARGETS = [
  { what: 'plain events', topic: 'purchases', features: [] as string[], line: (key: string, extra = '') => `{"user_id":"${key}","item_id":"i1","amount":1,"currency":"EUR","ts":${TS}${extra}}` },
  ...[ordersJson, ordersAvro].map((source) => ({
    what: `a changelog in ${source.changes!.format}`,
    topic: source.topic,
    features: ['--features', 'test/fixtures/features/change-poison.ts'],
    line: (key: string, extra = '') => `{"op":"c","before":null,"after":{"order_id":"${key}"},"ts_ms":1000${extra}}`,
  })),
]

const deep = (open: string, close: string, n: number): string => open.repeat(n) + close.repeat(n)

let runs = 0
async function produce(target: (typeof TARGETS)[number], bytes: Buffer): Promise<{ code: number; stdout: string; stderr: string; sent: number }> {
  const file = join(dir, `f${runs}.ndjson`)
  const dataDir = join(dir, `d${runs++}`)
  writeFileSync(file, bytes)
  const r = await runKfsInProcess(['produce', '--topic', target.topic, '--file', file, ...target.features], dataDir)
  const log = new EmbeddedEventLog({ dir: join(dataDir, 'log') })
  let sent = 0
  try {
    if (await log.endOffsets(target.topic).then(() => true, () => false))
      await scanTopic(log, target.topic, (records) => void (sent += records.length), { groupPrefix: 'test' })
  } finally {
    await log.close()
  }
  return { ...r, sent }
}

for (const target of TARGETS) {
  void describe(`kfs produce --file, ${target.what}: lines that are not UTF-8 or nest too deeply`, () => {
    const good = (i: number): Buffer => Buffer.from(`${target.line(`k${i}`)}\n`)
    const BAD: readonly (readonly [string, Buffer, string])[] = [
      ['a Latin-1 key (café)', Buffer.from(`${target.line('caf\xe9')}\n`, 'latin1'), 'not UTF-8 text'],
      ['a lone continuation byte', Buffer.concat([Buffer.from(target.line('a')), Buffer.from([0x80]), Buffer.from('\n')]), 'not UTF-8 text'],
      ['an overlong encoding', Buffer.concat([Buffer.from(target.line('a').slice(0, -1)), Buffer.from([0xc0, 0xaf]), Buffer.from('}\n')]), 'not UTF-8 text'],
      ['100,000 nested arrays', Buffer.from(`${target.line('a', `,"x":${deep('[', ']', 100_000)}`)}\n`), 'nested too deeply to check'],
      ['100,000 nested objects', Buffer.from(`${target.line('a', `,"x":${deep('{"a":', '}', 100_000).replace(/:}/, ':1}')}`)}\n`), 'nested too deeply to check'],
    ]
    for (const [what, bad, reason] of BAD) {
      void it(`${what} on line 3: exit 2 naming the line, nothing sent, no stack trace`, async () => {
        const r = await produce(target, Buffer.concat([good(1), good(2), bad, good(4)]))
        assert.equal(r.code, 2, r.stderr)
        assert.match(r.stderr, new RegExp(`1 bad event \\(of 4\\); nothing was sent\\n  line 3: ${reason}\\n`))
        assert.doesNotMatch(r.stderr, /unexpected error|\n\s+at /)
        assert.equal(r.sent, 0)
      })
    }

    void it('a UTF-8 byte-order mark is not part of line 1 (it used to make line 1 "not valid JSON")', async () => {
      const r = await produce(target, Buffer.from(`\uFEFF${target.line('a')}\n${target.line('b')}\n`))
      assert.equal(r.code, 0, r.stderr)
      assert.equal(r.sent, 2)
    })

    void it('UTF-8 keys, CRLF, a lone CR and blank lines are read as before; every event is sent', async () => {
      const lines = [target.line('café'), target.line('b'), target.line('c'), '', target.line('d')]
      const r = await produce(target, Buffer.from(`${lines[0]}\r\n${lines[1]}\r${lines[2]}\n${lines[3]}\n${lines[4]}`))
      assert.equal(r.code, 0, r.stderr)
      assert.equal(r.sent, 4)
    })
  })
}

void describe('kfs produce --file: lines across read chunks (64 KiB)', () => {
  const target = TARGETS[0]!
  // A first line (JSON whitespace as padding) whose break, or whose é, straddles the first chunk's end.
  const CHUNK = 64 * 1024
  const ending = (at: number): string => `{${' '.repeat(at - Buffer.byteLength(target.line('a')))}${target.line('a').slice(1)}`
  const eAt = (at: number): string => `{${' '.repeat(at - target.line('xé').indexOf('é'))}${target.line('xé').slice(1)}`
  const cases: readonly (readonly [string, Buffer])[] = [
    ['a CRLF split between chunks', Buffer.from(`${ending(CHUNK - 1)}\r\n${target.line('b')}\n`)],
    ['a CR ending the chunk, the next line after it', Buffer.from(`${ending(CHUNK - 1)}\r${target.line('b')}\n`)],
    ['an LF ending the chunk', Buffer.from(`${ending(CHUNK - 1)}\n${target.line('b')}`)],
    ['a two-byte character split between chunks', Buffer.from(`${eAt(CHUNK - 1)}\n${target.line('b')}\n`)],
  ]
  void it('the lines are built as meant', () => {
    assert.equal(Buffer.from(cases[0]![1]).indexOf('\r\n'), CHUNK - 1)
    assert.equal(Buffer.from(cases[3]![1]).indexOf(Buffer.from('é')), CHUNK - 1)
  })
  for (const [what, bytes] of cases) {
    void it(`${what}: both events sent`, async () => {
      const r = await produce(target, bytes)
      assert.equal(r.code, 0, r.stderr)
      assert.equal(r.sent, 2)
    })
  }
})
