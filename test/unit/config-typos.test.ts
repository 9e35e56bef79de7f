/**
 * A mistyped `KFS_*` setting in the environment runs on the setting's default without a word
 * (unknown variables there cannot be refused: the tools around kfs set their own). Every
 * one-edit typo of every setting — a character dropped, doubled, replaced, or two swapped — is
 * warned about with the setting it is closest to; no setting, no variable of kfs's other parts and
 * no tooling variable is; and the CLI prints the warning once, on stderr, and runs on.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { createProcessContext } from '../../main/commands/context.ts'
import { editDistance } from '../../main/commands/did-you-mean.ts'
import { commands } from '../../main/commands/index.ts'
import { runCli } from '../../main/commands/router.ts'
import { mistypedVariableWarnings } from '../../main/config-typos.ts'
import { CONFIG_VARIABLES } from '../../main/config-variables.ts'

/** Every name one edit from `name` past its `KFS_` prefix. */
function oneEditTypos(name: string): string[] {
  const out = new Set<string>()
  for (let i = 4; i < name.length; i++) {
    out.add(name.slice(0, i) + name.slice(i + 1))
    out.add(name.slice(0, i) + name[i] + name.slice(i))
    out.add(name.slice(0, i) + (name[i] === 'Q' ? 'Z' : 'Q') + name.slice(i + 1))
    if (i + 1 < name.length) out.add(name.slice(0, i) + name[i + 1] + name[i] + name.slice(i + 2))
  }
  out.delete(name)
  return [...out]
}

const warningFor = (name: string): string | undefined => mistypedVariableWarnings({ [name]: '1' })[0]

void describe('config > mistyped settings in the environment', () => {
  void test('every one-edit typo of every setting is warned about, naming a setting no farther than the one meant', () => {
    let checked = 0
    for (const setting of CONFIG_VARIABLES) {
      for (const typo of oneEditTypos(setting)) {
        if ((CONFIG_VARIABLES as readonly string[]).includes(typo)) continue
        const warning = warningFor(typo)
        assert.ok(warning !== undefined, `${typo} (a typo of ${setting}) is not warned about`)
        const named = /did you mean (KFS_[A-Z0-9_]+)\?$/.exec(warning)?.[1]
        assert.ok(named !== undefined, warning)
        assert.ok(editDistance(typo, named) <= 1, `${typo}: ${warning}`)
        assert.ok(warning.startsWith(`${typo} is not a kfs setting and is ignored`), warning)
        checked++
      }
    }
    assert.ok(checked > 1000, `${checked} typos checked`)
  })

  void test('a setting with a part cut or added names it', () => {
    assert.match(warningFor('KFS_CHECKPOINT_INTERVAL') ?? '', /did you mean KFS_CHECKPOINT_INTERVAL_MS\?$/)
    assert.match(warningFor('KFS_SERVE_LOG_SAMPLE_RATE') ?? '', /did you mean KFS_SERVE_LOG_SAMPLE\?$/)
    assert.match(warningFor('KFS_DATADIR') ?? '', /did you mean KFS_DATA_DIR\?$/)
  })

  void test('no warning for a setting, a variable another part of kfs reads, tooling variables, or other programs', () => {
    const env: Record<string, string> = {
      ...Object.fromEntries(CONFIG_VARIABLES.map((v) => [v, 'x'])),
      KFS_CONFIG_FILE: 'x',
      KFS_DEMO_DIR: 'x',
      KFS_CACHE_DIR: 'x',
      KFS_NODE_MIN: '22',
      KFS_CLI: 'kfs',
      KFS_URL: 'http://127.0.0.1:8080',
      KFS_API_KEY: 'k',
      KFS_TEST_SEED: '1',
      KFS_BENCH_SCALE: '0.1',
      KFS_STACK_KAFKA_PORT: '1',
      KFS_DOCKER_SERVE_PORT: '1',
      KFS_TEST_DATA_DIR: 'x',
      KFS_BENCH_LOG_LEVEL: 'x',
      PATH: '/bin',
      KAFKA_BROKERS: 'x',
    }
    assert.deepEqual(mistypedVariableWarnings(env), [])
  })

  void test('the CLI warns once on stderr and runs on', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'kfs-typos-'))
    after(() => rmSync(dataDir, { recursive: true, force: true }))
    let stdout = ''
    let stderr = ''
    const sink = (append: (t: string) => void) =>
      ({ isTTY: false, write: (t: string) => (append(t), true) }) as unknown as NodeJS.WritableStream
    const env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      KFS_DATA_DIR: dataDir,
      KFS_LOG_LEVEL: 'silent',
      KFS_CHECKPOINT_INTERVAL: '5000',
    }
    const repo = fileURLToPath(new URL('../../', import.meta.url))
    const code = await runCli(['tables', '--json'], commands, (json) =>
      createProcessContext({ json, env, cwd: repo, stdout: sink((t) => (stdout += t)), stderr: sink((t) => (stderr += t)) }),
    )
    assert.equal(code, 0, stderr)
    assert.deepEqual(JSON.parse(stdout), [])
    assert.equal(
      stderr,
      'kfs: warning: KFS_CHECKPOINT_INTERVAL is not a kfs setting and is ignored: did you mean KFS_CHECKPOINT_INTERVAL_MS?\n',
    )
  })
})
