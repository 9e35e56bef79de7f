/**
 * `kfs produce --file` and JSON literals a double cannot carry (schemas/json-number-literals.ts):
 * a fraction JSON would round to an integer, or a finite literal beyond a double's range. Where the
 * field is an integer (or the literal would become ±Infinity) the event is refused naming the
 * field and literal, and nothing of the file is sent; where it is floating the event is taken, as
 * any rounded literal is. A changelog source in JSON gets the literal as the file wrote it, so the
 * engine's decoder judges what the file said (it used to be re-serialised from the rounded double).
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/index.ts'
import { scanTopic } from '../../../ingest/scan-topic.ts'
import { createChangeJsonDecoder } from '../../../schemas/change-json-decoder.ts'
import { ordersJson } from '../../fixtures/features/change-poison.ts'
import { runKfsInProcess } from '../../support/in-process-cli.ts'

const dir = mkdtempSync(join(tmpdir(), 'kfs-cli-produce-lossy-'))
after(() => rmSync(dir, { recursive: true, force: true }))

const TS = 1_793_491_200_000
/** A purchases event (examples/features.ts: `ts` a long, `amount` a double) with raw literals. */
const purchaseLine = (i: number, amount: string, ts = String(TS + i)) =>
  `{"user_id":"u${i}","item_id":"i1","amount":${amount},"currency":"EUR","ts":${ts}}`

function file(name: string, lines: readonly string[]): string {
  const path = join(dir, name)
  writeFileSync(path, `${lines.join('\n')}\n`)
  return path
}

async function topicValues(dataDir: string, topic: string): Promise<Uint8Array[]> {
  const log = new EmbeddedEventLog({ dir: join(dataDir, 'log') })
  try {
    if (
      !(await log.endOffsets(topic).then(
        () => true,
        () => false,
      ))
    )
      return []
    const values: Uint8Array[] = []
    await scanTopic(log, topic, (records) => void records.forEach((r) => values.push(r.value ?? new Uint8Array())), {
      groupPrefix: 'test',
    })
    return values
  } finally {
    await log.close()
  }
}

void describe('kfs produce --file refuses JSON literals a double would silently change', () => {
  void it('plain events: a fraction in a long field and a literal beyond a double are refused, nothing sent; a long fraction in a double field is taken', async () => {
    const dataDir = join(dir, 'plain')
    const bad = file('bad.ndjson', [
      purchaseLine(0, '10.5'),
      purchaseLine(1, '3', `${TS}.0000000001`), // a long: JSON would give TS
      purchaseLine(2, '1e400'), // a double: JSON would give Infinity
      purchaseLine(3, '2.00000000000000001'), // a double: rounds to 2, as any literal rounds
    ])
    const refused = await runKfsInProcess(['produce', '--topic', 'purchases', '--file', bad], dataDir)
    assert.equal(refused.code, 2, refused.stderr)
    assert.match(refused.stderr, /2 bad events \(of 4\); nothing was sent/)
    assert.match(
      refused.stderr,
      new RegExp(`line 2: event\\.ts is number ${TS}\\.0000000001, a fraction \\(JSON would round it to ${TS}\\), not a long`),
    )
    assert.match(refused.stderr, /line 3: event\.amount is number 1e400, beyond the range of a double/)
    assert.deepEqual(await topicValues(dataDir, 'purchases'), [])

    const good = file('good.ndjson', [purchaseLine(0, '10.5'), purchaseLine(3, '2.00000000000000001')])
    const sent = await runKfsInProcess(['produce', '--topic', 'purchases', '--file', good, '--json'], dataDir)
    assert.equal(sent.code, 0, sent.stderr)
    assert.deepEqual(JSON.parse(sent.stdout), { produced: { purchases: 2 } })
    assert.equal((await topicValues(dataDir, 'purchases')).length, 2)
  })

  void it('the array form is judged the same way', async () => {
    const dataDir = join(dir, 'array')
    const bad = file('bad.json', [`[${purchaseLine(0, '1')},`, `${purchaseLine(1, '1', `${TS}.00000000001`)}]`])
    const refused = await runKfsInProcess(['produce', '--topic', 'purchases', '--file', bad], dataDir)
    assert.equal(refused.code, 2, refused.stderr)
    assert.match(refused.stderr, /item 1: event\.ts is number 1793491200000\.00000000001, a fraction/)
    assert.deepEqual(await topicValues(dataDir, 'purchases'), [])
  })

  void it('a JSON changelog: the literal reaches the row check as written; a floating one is sent as the file wrote it', async () => {
    const dataDir = join(dir, 'changes')
    const change = (amount: string, ts: string) =>
      `{"op":"c","before":null,"after":{"order_id":"o1","amount":${amount}},"ts_ms":${ts}}`
    const bad = file('bad-changes.ndjson', [change('1', '1000'), change('1', '2000.0000000000001')])
    const refused = await runKfsInProcess(
      ['produce', '--features', 'test/fixtures/features/change-poison.ts', '--topic', ordersJson.topic, '--file', bad],
      dataDir,
    )
    assert.equal(refused.code, 2, refused.stderr)
    assert.match(refused.stderr, /line 2: schema_mismatch: ts_ms is number 2000\.0000000000001/)

    const good = file('good-changes.ndjson', [change('1.00000000000000001', '1000')])
    const sent = await runKfsInProcess(
      ['produce', '--features', 'test/fixtures/features/change-poison.ts', '--topic', ordersJson.topic, '--file', good],
      dataDir,
    )
    assert.equal(sent.code, 0, sent.stderr)
    const [value] = await topicValues(dataDir, ordersJson.topic)
    assert.match(Buffer.from(value!).toString('utf8'), /"amount":1\.00000000000000001/, 'the literal as the file wrote it')
    const decoded = await createChangeJsonDecoder({ rowSchema: ordersJson.changes!.rowSchema }).decode(value as Uint8Array)
    assert.ok(decoded.ok)
    assert.equal((decoded.event as { after: { amount: number } }).after.amount, 1)
  })
})
