/**
 * Issue #18 acceptance on the embedded stack: a producer with a wrong clock gets purchases refused
 * (`future_event_time`: event time hours after the record's timestamp). Once the cause is fixed,
 * `kfs dead-letters redrive` re-drives them; run twice, it re-drives nothing the second time, and
 * after `kfs run` the view counts each refused purchase exactly once (online value read back).
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { encodeEntityKey } from '../../../core/entity-key.ts'
import { purchases, userPurchases } from '../../../examples/features.ts'
import { commands } from '../../../main/commands/index.ts'
import { createProcessContext } from '../../../main/commands/context.ts'
import { runCli } from '../../../main/commands/router.ts'
import { loadConfig } from '../../../main/config.ts'
import { createRuntime } from '../../../main/runtime.ts'

const repo = fileURLToPath(new URL('../../../', import.meta.url))
const dataDir = mkdtempSync(join(tmpdir(), 'kfs-redrive-cli-'))
after(() => rmSync(dataDir, { recursive: true, force: true }))
const env = { PATH: process.env.PATH, HOME: process.env.HOME, KFS_DATA_DIR: dataDir, KFS_LOG_LEVEL: 'silent' }

async function kfs(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = ''
  let stderr = ''
  const sink = (append: (t: string) => void) => ({ write: (t: string) => (append(t), true) }) as unknown as NodeJS.WritableStream
  const code = await runCli(args, commands, (json) =>
    createProcessContext({ json, env, cwd: repo, stdout: sink((t) => (stdout += t)), stderr: sink((t) => (stderr += t)) }),
  )
  return { code, stdout, stderr }
}

async function ok(...args: string[]): Promise<string> {
  const r = await kfs(...args)
  assert.equal(r.code, 0, `kfs ${args.join(' ')}: exit ${r.code}\n${r.stderr}${r.stdout}`)
  return r.stdout
}

/** Lifetime purchase count per user, as serving reads it. */
async function onlineCounts(users: readonly string[]): Promise<(unknown)[]> {
  const runtime = await createRuntime(loadConfig(env))
  try {
    const reads = await (await runtime.onlineStore()).readRows(
      users.map((u) => ({ view: userPurchases, entityKey: encodeEntityKey([u]), features: ['count'] })),
      Date.now(),
    )
    return reads.map((r) => r.values[0] ?? null)
  } finally {
    await runtime.close()
  }
}

void test('dead letters re-driven after a fix are applied exactly once', async () => {
  await ok('apply')
  const base = Date.now() - 30 * 60_000
  const runtime = await createRuntime(loadConfig(env))
  try {
    const log = await runtime.eventLog()
    await log.createTopic(purchases.topic, purchases.partitions)
    const encoder = await runtime.encoderFor(purchases)
    const event = (user: string, ts: number) => ({ user_id: user, item_id: 'i1', amount: 10, currency: 'EUR', ts })
    // u1's purchases are fine; u2's come from a producer whose clock was 3 h behind: refused.
    await log.produce(purchases.topic, [0, 1, 2].map((i) => ({ key: 'u1', value: encoder.encode(event('u1', base + i * 1000)) })))
    await log.produce(
      purchases.topic,
      [0, 1, 2, 3].map((i) => ({ key: 'u2', value: encoder.encode(event('u2', base + 10_000 + i * 1000)), timestampMs: base - 3 * 3_600_000 })),
    )
  } finally {
    await runtime.close()
  }

  await ok('run', '--until-caught-up', '--idle', '300ms')
  assert.deepEqual(await onlineCounts(['u1', 'u2']), [3, null], 'u2 has no row: every purchase of it was refused')

  const listed = JSON.parse(await ok('dead-letters', 'list', '--reason', 'future_event_time', '--json')) as {
    letters: number
    byStatus: Record<string, number>
    list: { status: string; refusedBy: string[]; record: string }[]
  }
  assert.equal(listed.letters, 4)
  assert.deepEqual(listed.byStatus, { redrivable: 4 })
  assert.ok(listed.list.every((l) => l.refusedBy.join() === 'user_purchases' && l.record.startsWith(`${purchases.topic}/`)))

  // The fix is the producer's clock; the copies get the time of the re-drive as their timestamp.
  const dry = await ok('dead-letters', 'redrive', '--reason', 'future_event_time', '--dry-run')
  assert.match(dry, /would re-drive 4 records: purchases 4/)
  const first = JSON.parse(await ok('dead-letters', 'redrive', '--reason', 'future_event_time', '--json')) as { redriven: number }
  assert.equal(first.redriven, 4)
  const second = await kfs('dead-letters', 'redrive', '--reason', 'future_event_time')
  assert.equal(second.code, 1, 'nothing left to re-drive is "nothing to do"')
  assert.match(second.stdout, /nothing to re-drive/)
  assert.match(second.stdout, /4 letters name records re-driven before/)
  const after = JSON.parse(await ok('dead-letters', 'list', '--json')) as { byStatus: Record<string, number> }
  assert.deepEqual(after.byStatus, { redriven: 4 })

  await ok('run', '--until-caught-up', '--idle', '300ms')
  assert.deepEqual(await onlineCounts(['u1', 'u2']), [3, 4], 'each refused purchase counted exactly once')
  const again = await kfs('dead-letters', 'redrive', '--all')
  assert.equal(again.code, 1)
  assert.deepEqual(await onlineCounts(['u1', 'u2']), [3, 4])
})
