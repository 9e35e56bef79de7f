/**
 * Proves that eslint.config.js really enforces the module boundaries: deliberate violations are
 * rejected with the rule that guards them, and clean code in the same folders passes.
 *
 * The probe files do not exist on disk (nothing is written into others' folders); the only change
 * to the repository's config is letting typescript-eslint's project service type-check them.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ESLint } from 'eslint'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const probeFolders = ['operators', 'serving', 'pipeline', 'sinks/redis', 'pipeline/kafka']

const eslint = new ESLint({
  cwd: root,
  overrideConfig: {
    languageOptions: {
      parserOptions: {
        projectService: {
          allowDefaultProject: probeFolders.map((f) => `${f}/*.ts`),
          defaultProject: 'tsconfig.json',
        },
      },
    },
  },
})

async function lint(folder: string, code: string): Promise<Array<{ ruleId: string | null; message: string }>> {
  const [result] = await eslint.lintText(code, { filePath: `${folder}/__lint_probe__.ts` })
  assert.ok(result, 'eslint returned no result')
  return result.messages.map((m) => ({ ruleId: m.ruleId, message: m.message }))
}

async function assertRejected(folder: string, code: string, ruleId: string, mentions: RegExp): Promise<void> {
  const messages = await lint(folder, code)
  const hit = messages.find((m) => m.ruleId === ruleId)
  assert.ok(hit, `expected ${ruleId} in ${folder}/, got ${JSON.stringify(messages)}`)
  assert.match(hit.message, mentions)
}

void describe('lint > module boundaries', () => {
  void test('operators/ may not import ioredis', async () => {
    await assertRejected('operators', "import Redis from 'ioredis'\nexport const r = Redis\n", 'no-restricted-imports', /ioredis/)
  })

  void test('operators/ may not read the clock with Date.now()', async () => {
    await assertRejected('operators', 'export const nowMs = (): number => Date.now()\n', 'no-restricted-syntax', /clock/)
  })

  void test('operators/ may not use Math.random() or node:fs', async () => {
    await assertRejected('operators', 'export const r = (): number => Math.random()\n', 'no-restricted-syntax', /random/)
    await assertRejected(
      'operators',
      "import { readFileSync } from 'node:fs'\nexport const f = readFileSync\n",
      'no-restricted-imports',
      /no I\/O/,
    )
  })

  void test('serving/ may not import kafkajs', async () => {
    await assertRejected(
      'serving',
      "import { Kafka } from 'kafkajs'\nexport const k = Kafka\n",
      'no-restricted-imports',
      /kafkajs/,
    )
  })

  void test('pipeline/ may not import pino', async () => {
    await assertRejected('pipeline', "import pino from 'pino'\nexport const p = pino\n", 'no-restricted-imports', /pino/)
  })

  void test('a clean operator passes', async () => {
    const messages = await lint(
      'operators',
      'export function addMs(accMs: number, valueMs: number): number {\n  return accMs + valueMs\n}\n',
    )
    assert.deepEqual(messages, [])
  })

  void test('each client is allowed in its own folder', async () => {
    assert.deepEqual(await lint('sinks/redis', "import Redis from 'ioredis'\nexport const r = Redis\n"), [])
    assert.deepEqual(await lint('pipeline/kafka', "import { Kafka } from 'kafkajs'\nexport const k = Kafka\n"), [])
  })

  void test('type-aware rules run on the probes too (floating promise)', async () => {
    await assertRejected(
      'operators',
      'export async function f(): Promise<void> {}\nexport function g(): void {\n  f()\n}\n',
      '@typescript-eslint/no-floating-promises',
      /Promises must be awaited/,
    )
  })
})
