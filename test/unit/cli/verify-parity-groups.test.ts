/**
 * `kfs verify-parity --group` compares only what that group wrote: a group that never wrote a
 * view's table fails that view instead of passing on another group's rows (moved out of
 * bad-invocations.test.ts, which is about usage).
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { assertClean, runKfsInProcess as kfs } from '../../support/in-process-cli.ts'

const dirs: string[] = []
function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  dirs.push(dir)
  return dir
}
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

void describe('cli > kfs verify-parity compares only what the named group wrote', () => {
  void test("a group that never wrote a view's table fails that view (exit 1) instead of passing on another group's rows", async () => {
    const dir = tempDir('kfs-bad-groups-')
    for (const args of [
      ['apply'],
      ['produce', '--generate', '1000'],
      ['run', '--group', 'g1', '--views', 'user_purchases', '--until-caught-up', '--idle', '1s'],
      ['run', '--group', 'g2', '--views', 'user_clicks', '--until-caught-up', '--idle', '1s'],
    ]) {
      const r = await kfs(args, dir)
      assert.equal(r.code, 0, `kfs ${args.join(' ')}\n${r.stderr}`)
    }
    assert.equal(
      (await kfs(['verify-parity', '--group', 'g1', '--views', 'user_purchases'], dir)).code,
      0,
      'g1 wrote user_purchases',
    )
    const other = await kfs(['verify-parity', '--group', 'g2', '--views', 'user_purchases'], dir)
    assert.equal(other.code, 1, other.stdout)
    assert.match(other.stderr, /no consistent cut between .* for group g2/)
    assertClean(other, 'verify-parity of a group that did not write the view')
  })
})
