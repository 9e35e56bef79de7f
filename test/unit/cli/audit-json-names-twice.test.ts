/**
 * JSON that names one name twice in an object, through `kfs produce --file`: JSON.parse keeps the
 * last value silently, so `{"user_id":"u1",…,"user_id":"u2"}` was sent as u2's event (exit 0) while
 * the file's writer, or any reader keeping the first, meant u1's. A changelog message and a request
 * body naming a name twice were refused already; an event file's line now is too: exit 2, the
 * line and the name said, nothing sent — in an NDJSON line or the array form, at the top or in a
 * nested object, for an event source and a changelog source in either format. The same lines with
 * each name once are sent, so the refusal is the repeated name's.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/index.ts'
import { runKfsInProcess } from '../../support/in-process-cli.ts'

const dir = mkdtempSync(join(tmpdir(), 'kfs-audit-json-names-twice-'))
after(() => rmSync(dir, { recursive: true, force: true }))

interface Source {
  readonly topic: string
  readonly features: readonly string[]
  /** Events whose text holds `@TWICE@` where `member` (naming `name` again) is put for the case; removed for the clean line. */
  readonly events: readonly { readonly text: string; readonly member: string; readonly name: string }[]
}

const T = Date.UTC(2026, 10, 1)
const order = (extra: string) => `{"order_id":"o1",${extra}"user_id":"u1","amount":1.5,"status":"open"}`
const SOURCES: Record<string, Source> = {
  'an event source': {
    topic: 'clicks',
    features: [],
    events: [
      { text: `{@TWICE@"user_id":"u1","item_id":"i1","category":"c","ts":${T}}`, member: '"user_id":"u2",', name: 'user_id' },
      { text: `{"user_id":"u1","item_id":"i1","category":"c","ts":${T},"extra":{@TWICE@"a":1}}`, member: '"a":2,', name: 'a' },
    ],
  },
  ...Object.fromEntries(
    ['json', 'avro'].map((format) => [
      `a changelog source in ${format}`,
      {
        topic: `poison.orders.${format}`,
        features: ['--features', 'test/fixtures/features/change-poison.ts'],
        events: [
          { text: `{@TWICE@"op":"c","before":null,"after":${order('')},"ts_ms":${T}}`, member: '"op":"d",', name: 'op' },
          {
            text: `{"op":"c","before":null,"after":${order('@TWICE@')},"ts_ms":${T}}`,
            member: '"user_id":"u2",',
            name: 'user_id',
          },
        ],
      },
    ]),
  ),
}

let n = 0
async function produce(source: Source, text: string): Promise<{ code: number; stderr: string; sent: number }> {
  const file = join(dir, `events-${n}.json`)
  const dataDir = join(dir, `data-${n++}`)
  writeFileSync(file, text)
  const r = await runKfsInProcess(['produce', '--topic', source.topic, '--file', file, ...source.features], dataDir)
  const log = new EmbeddedEventLog({ dir: join(dataDir, 'log') })
  try {
    const ends = await log.endOffsets(source.topic).catch(() => ['0'])
    return { code: r.code, stderr: r.stderr, sent: ends.reduce((s, e) => s + Number(e), 0) }
  } finally {
    await log.close()
  }
}

void describe('kfs produce --file: an object naming one name twice', () => {
  for (const [what, source] of Object.entries(SOURCES)) {
    for (const [i, event] of source.events.entries()) {
      const once = event.text.replace('@TWICE@', '')
      const twice = event.text.replace('@TWICE@', event.member)
      const where = i === 0 ? 'at the top' : 'in a nested object'
      void test(`${what}, ${where}: refused in an NDJSON line and in the array form; sent with the name once`, async () => {
        const clean = await produce(source, `${once}\n`)
        assert.equal(clean.code, 0, clean.stderr)
        assert.equal(clean.sent, 1)
        const line = await produce(source, `${once}\n${twice}\n`)
        assert.equal(line.code, 2, line.stderr)
        assert.match(line.stderr, new RegExp(`line 2: the (event|object at \\S+) holds the name "${event.name}" twice`))
        assert.equal(line.sent, 0, 'nothing sent')
        const array = await produce(source, `[${once},\n${twice}]\n`)
        assert.equal(array.code, 2, array.stderr)
        assert.match(array.stderr, new RegExp(`the file: the object at \\S+ holds the name "${event.name}" twice`))
        assert.equal(array.sent, 0, 'nothing sent')
      })
    }
  }
})
