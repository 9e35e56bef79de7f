/**
 * The Kafka adapter drops exactly kafkajs's negative-timeout warning (tulios/kafkajs#1751) and
 * prints every other process warning as Node does — checked in a child process, whose stderr is
 * what a user of `kfs run` would see.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { TS_NODE_ARGS } from '../../support/node-ts.ts'

const FILTER = fileURLToPath(new URL('../../../adapters/event-log/kafka/negative-timeout-warning.ts', import.meta.url))

const script = `
import { quietKafkajsNegativeTimeouts } from ${JSON.stringify(FILTER)}
quietKafkajsNegativeTimeouts()
quietKafkajsNegativeTimeouts() // twice: still one printer
const fromKafkajs = new Error('-1796244380817 is a negative number.')
fromKafkajs.name = 'TimeoutNegativeWarning'
fromKafkajs.stack = 'TimeoutNegativeWarning: -1796244380817 is a negative number.\\n    at RequestQueue.scheduleCheckPendingRequests (/app/node_modules/kafkajs/src/network/requestQueue/index.js:317:37)'
process.emitWarning(fromKafkajs)
setTimeout(() => {}, -5) // a negative timeout of kfs's own: printed
process.emitWarning('an ordinary warning')
`

void describe('adapters > kafka > negative-timeout warning filter', () => {
  void test("drops kafkajs's TimeoutNegativeWarning only; other warnings, and negative timeouts elsewhere, print once", () => {
    const r = spawnSync(process.execPath, [...TS_NODE_ARGS, '--input-type=module', '-e', script], { encoding: 'utf8' })
    assert.equal(r.status, 0, r.stderr)
    assert.doesNotMatch(r.stderr, /-1796244380817/)
    assert.equal(r.stderr.match(/Warning: an ordinary warning/g)?.length, 1, r.stderr)
    assert.equal(r.stderr.match(/TimeoutNegativeWarning: -5 is a negative number/g)?.length ?? 0, Number(process.versions.node.split('.')[0]) >= 22 ? 1 : 0, r.stderr)
  })
})
