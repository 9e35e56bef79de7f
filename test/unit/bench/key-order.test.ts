import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { describe, test } from 'node:test'
import { TS_NODE_ARGS } from '../../support/node-ts.ts'

/**
 * bench/_support/key-order-ab.ts backs a claim of docs/performance.md (the operators' rows per key
 * do not depend on how other keys' events interleave, given each event's watermark). Its check
 * mode must hold on the whole input and must catch the inexact chunked grouping.
 */
function check(chunk?: number): { status: number | null; line: string } {
  const env = { ...process.env, KFS_BENCH_SCALE: '0.002', KFS_KEY_ORDER_CHECK: '1' }
  if (chunk !== undefined) Object.assign(env, { KFS_KEY_ORDER_CHUNK: String(chunk) })
  const run = spawnSync(process.execPath, [...TS_NODE_ARGS, 'bench/_support/key-order-ab.ts'], { env, encoding: 'utf8' })
  assert.equal(run.stderr.includes('Error'), false, run.stderr)
  return { status: run.status, line: run.stdout.trim() }
}

function field(line: string, key: string): number {
  const match = new RegExp(`\\b${key}=(\\d+)`).exec(line)
  assert.ok(match, `${key} missing in ${line}`)
  return Number(match[1])
}

void describe('the key-order experiment of the operators (bench/_support/key-order-ab.ts)', () => {
  void test('grouped by key over the whole input, every key emits the rows arrival order gives it', () => {
    const { status, line } = check()
    assert.equal(status, 0, line)
    assert.ok(field(line, 'keys') > 100, line)
    assert.equal(field(line, 'keys_differing'), 0, line)
    assert.equal(field(line, 'rows_grouped'), field(line, 'rows_arrival'), line)
  })

  void test('grouped only within chunks, keys holding earlier state differ, and the check fails', () => {
    const { status, line } = check(2_000)
    assert.equal(status, 1, line)
    assert.ok(field(line, 'keys_differing') > 0, line)
  })
})
