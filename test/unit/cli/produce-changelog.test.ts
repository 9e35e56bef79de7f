/**
 * `kfs produce --file` for a changelog source (docs/design.md §11) on embedded defaults, in both
 * formats: a good file is sent whole, each change keyed by its row's primary key and decoded by the
 * engine's decoder to the change it says; a file with one bad line sends nothing (exit 2, the line
 * named); Debezium's JSON-converter `{schema, payload}` wrapper is accepted.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/index.ts'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import type { SourceDef } from '../../../features/types.ts'
import { scanTopic } from '../../../ingest/scan-topic.ts'
import { createChangeJsonDecoder } from '../../../schemas/change-json-decoder.ts'
import { createDecoder } from '../../../schemas/decoder.ts'
import { ordersAvro, ordersJson } from '../../fixtures/features/change-poison.ts'
import { runKfsInProcess } from '../../support/in-process-cli.ts'

const dir = mkdtempSync(join(tmpdir(), 'kfs-cli-produce-changelog-'))
after(() => rmSync(dir, { recursive: true, force: true }))
const FEATURES = ['--features', 'test/fixtures/features/change-poison.ts']

const row = (order_id: string, amount: number, status = 'open') => ({ order_id, user_id: `u-${order_id}`, amount, status })
const GOOD = [
  { op: 'c', before: null, after: row('o1', 10), ts_ms: 1_003, source: { ts_ms: 1_000 } },
  { op: 'c', before: null, after: row('o2', 20), ts_ms: 2_003, source: { ts_ms: 2_000 } },
  { op: 'u', before: row('o1', 10), after: row('o1', 11, 'shipped'), ts_ms: 3_003, source: { ts_ms: 3_000 } },
  // The JSON converter's wrapper (schemas.enable=true): the change is the payload.
  { schema: { type: 'struct', name: 'orders.Envelope' }, payload: { op: 'd', before: row('o2', 20), after: null, ts_ms: 4_003, source: { ts_ms: 4_000 } } },
]
/** What each good line is, decoded: op, key, commit time (source.ts_ms), after amount. */
const EXPECTED = [
  ['c', 'o1', 1_000, 10],
  ['c', 'o2', 2_000, 20],
  ['u', 'o1', 3_000, 11],
  ['d', 'o2', 4_000, null],
]

function ndjson(name: string, lines: readonly unknown[]): string {
  const path = join(dir, name)
  writeFileSync(path, lines.map((l) => JSON.stringify(l)).join('\n') + '\n')
  return path
}

/** The topic's records: key and the decoded change, in offset order (one partition). */
async function sent(dataDir: string, source: SourceDef): Promise<(string | number | null)[][]> {
  const log = new EmbeddedEventLog({ dir: join(dataDir, 'log') })
  try {
    const decoder =
      source.changes!.format === 'json'
        ? createChangeJsonDecoder({ rowSchema: source.changes!.rowSchema })
        : createDecoder({ registry: new EmbeddedSchemaRegistry({ dir: join(dataDir, 'schemas') }), readerSchema: source.schema })
    const out: { offset: number; line: (string | number | null)[] }[] = []
    // A file refused whole never creates the topic.
    const exists = await log.endOffsets(source.topic).then(() => true, () => false)
    if (exists) {
      await scanTopic(
        log,
        source.topic,
        async (records) => {
          for (const r of records) {
            const d = await decoder.decode(r.value)
            assert.ok(d.ok, JSON.stringify(d))
            const e = d.event as { op: string; before: { order_id: string } | null; after: { order_id: string; amount: number } | null; ts_ms: number }
            const key = Buffer.from(r.key!).toString('utf8')
            assert.equal(key, (e.after ?? e.before)!.order_id, 'keyed by the primary key')
            out.push({ offset: Number(r.offset), line: [e.op, key, Number(e.ts_ms), e.after?.amount ?? null] })
          }
        },
        { groupPrefix: 'test' },
      )
    }
    return out.sort((a, b) => a.offset - b.offset).map((x) => x.line)
  } finally {
    await log.close()
  }
}

for (const source of [ordersJson, ordersAvro]) {
  void describe(`kfs produce --file, changelog source in ${source.changes!.format}`, () => {
    void it('sends every change of a good file, keyed by its primary key (the {schema, payload} wrapper accepted)', async () => {
      const dataDir = join(dir, `good-${source.name}`)
      const r = await runKfsInProcess(['produce', ...FEATURES, '--topic', source.topic, '--file', ndjson(`good-${source.name}.ndjson`, GOOD), '--json'], dataDir)
      assert.equal(r.code, 0, r.stderr)
      assert.deepEqual(JSON.parse(r.stdout), { produced: { [source.topic]: GOOD.length } })
      assert.deepEqual(await sent(dataDir, source), EXPECTED)
    })

    void it('sends a double written -0 as -0 (JSON.stringify would write 0)', async () => {
      const dataDir = join(dir, `zero-${source.name}`)
      const path = join(dir, `zero-${source.name}.ndjson`)
      writeFileSync(path, `${JSON.stringify(GOOD[0])}\n{"op":"u","before":${JSON.stringify(row('o1', 10))},"after":{"order_id":"o1","user_id":"u-o1","amount":-0,"status":"open"},"ts_ms":2000}\n`)
      const r = await runKfsInProcess(['produce', ...FEATURES, '--topic', source.topic, '--file', path], dataDir)
      assert.equal(r.code, 0, r.stderr)
      const amounts = (await sent(dataDir, source)).map((line) => line[3])
      assert.equal(amounts.length, 2)
      assert.ok(Object.is(amounts[1], -0), `amount ${String(amounts[1])}`)
    })

    void it('sends nothing from a file with one bad line: exit 2, the line and the problem named', async () => {
      const dataDir = join(dir, `bad-${source.name}`)
      const bad = [...GOOD.slice(0, 2), { op: 'c', before: null, after: { ...row('o3', 1), amount: 'twelve' }, ts_ms: 5_000 }, GOOD[2]]
      const r = await runKfsInProcess(['produce', ...FEATURES, '--topic', source.topic, '--file', ndjson(`bad-${source.name}.ndjson`, bad)], dataDir)
      assert.equal(r.code, 2, r.stderr)
      assert.match(r.stderr, /1 bad event \(of 4\); nothing was sent/)
      assert.match(r.stderr, /line 3: schema_mismatch: after\.amount is/)
      assert.deepEqual(await sent(dataDir, source), [])
    })

    void it('refuses changes the engine would refuse: an unknown op, a delete without a before image, a create with one', async () => {
      const dataDir = join(dir, `ops-${source.name}`)
      const bad = [
        GOOD[0],
        { op: 't', before: null, after: null, ts_ms: 5_000 },
        { op: 'd', before: null, after: null, ts_ms: 6_000 },
        { op: 'c', before: row('o1', 10), after: row('o1', 12), ts_ms: 7_000 },
      ]
      const r = await runKfsInProcess(['produce', ...FEATURES, '--topic', source.topic, '--file', ndjson(`ops-${source.name}.ndjson`, bad)], dataDir)
      assert.equal(r.code, 2, r.stderr)
      assert.match(r.stderr, /line 2: unknown_op: op 't' is not one of c, r, u, d/)
      assert.match(r.stderr, /line 3: unknown_op: op 'd' without a before image/)
      assert.match(r.stderr, /line 4: unknown_op: op 'c' with a before image/)
      assert.deepEqual(await sent(dataDir, source), [])
    })
  })
}
