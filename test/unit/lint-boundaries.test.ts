/**
 * Proves that eslint.config.js really enforces the house (docs/architecture.md): every rule —
 * layers, no cycles, client libraries confined to one adapter folder, pure operators — rejects a
 * deliberate violation with its own message, and clean code in the same folders passes.
 *
 * Most probes do not exist on disk; the only change to the repository's config is letting
 * typescript-eslint's project service type-check them. A cycle needs two real files, so that test
 * writes a pair into a scratch folder under engine/ (where the project service finds them) and removes it whatever happens.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ESLint } from 'eslint'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const probeFolders = [
  'core',
  'features',
  'operators',
  'ports',
  'engine',
  'serving',
  'training',
  'replay',
  'main',
  'adapters/online-store/redis',
  'adapters/online-store/embedded',
  'adapters/offline/iceberg',
  'adapters/event-log/kafka',
  'adapters/event-log/platformatic',
]
const cycleFolder = 'engine/__lint_cycle__'
const cyclePair = [`${cycleFolder}/a.ts`, `${cycleFolder}/b.ts`]

const eslint = new ESLint({
  cwd: root,
  overrideConfig: {
    languageOptions: {
      parserOptions: {
        projectService: {
          allowDefaultProject: probeFolders.map((f) => `${f}/*.ts`),
          defaultProject: 'tsconfig.json',
          maximumDefaultProjectFileMatchCount_THIS_WILL_SLOW_DOWN_LINTING: 64,
        },
      },
    },
  },
})

type Message = { ruleId: string | null; message: string }

async function lint(folder: string, code: string): Promise<Message[]> {
  const [result] = await eslint.lintText(code, { filePath: `${folder}/__lint_probe__.ts` })
  assert.ok(result, 'eslint returned no result')
  return result.messages.map((m) => ({ ruleId: m.ruleId, message: m.message }))
}

function assertHit(messages: Message[], ruleId: string, mentions: RegExp, where: string): void {
  const hit = messages.find((m) => m.ruleId === ruleId)
  assert.ok(hit, `expected ${ruleId} in ${where}, got ${JSON.stringify(messages)}`)
  assert.match(hit.message, mentions)
}

async function assertRejected(folder: string, code: string, ruleId: string, mentions: RegExp): Promise<void> {
  assertHit(await lint(folder, code), ruleId, mentions, `${folder}/`)
}

const importing = (spec: string, name: string): string => `import { ${name} } from '${spec}'\nexport const probe = ${name}\n`
const importingType = (spec: string, name: string): string => `import type { ${name} } from '${spec}'\nexport type Probe = ${name}\n`

void describe('lint > layers (kfs/layers)', () => {
  const upward: Array<[string, string, string, RegExp]> = [
    ['engine', '../adapters/event-log/kafka/kafka-event-log.ts', 'KafkaEventLog', /engine\/ may not import adapters\/event-log/],
    ['core', '../engine/live-engine.ts', 'LiveEngine', /core\/ may not import engine\//],
    ['features', '../operators/task/partition-task.ts', 'createPartitionTask', /features\/ may not import operators\//],
    // The narrow exception (features/ → operators/aggregators) opens nothing else of operators/.
    ['features', '../operators/codec/bytes.ts', 'ByteWriter', /features\/ may not import operators\/: features\/ imports only core, operators\/aggregators/],
    ['features', '../operators/index.ts', 'createPartitionTask', /features\/ may not import operators\//],
    ['operators', '../ports/online-semantics.ts', 'statusOf', /operators\/ may not import ports\//],
    ['ports', '../engine/live-engine.ts', 'LiveEngine', /ports\/ may not import engine\//],
    ['serving', '../adapters/online-store/redis/redis-online-store.ts', 'RedisOnlineStore', /serving\/ may not import adapters/],
    ['replay', '../main/runtime.ts', 'openRuntime', /replay\/ may not import main\//],
    ['adapters/offline/iceberg', '../../../engine/live-engine.ts', 'LiveEngine', /adapters\/offline\/ may not import engine\//],
    // Another family is another adapter: reach it through its port.
    ['adapters/online-store/redis', '../../event-log/kafka/kafka-event-log.ts', 'KafkaEventLog', /may not import adapters\/event-log/],
    // The shared local-disk family opens no other: the embedded store still may not reach the embedded log.
    [
      'adapters/online-store/embedded',
      '../../event-log/embedded/durable-file.ts',
      'writeJsonAtomic',
      /may not import adapters\/event-log/,
    ],
  ]
  for (const [folder, spec, name, mentions] of upward) {
    void test(`${folder}/ may not import ${spec.replace(/^(\.\.\/)+/, '')}`, async () => {
      await assertRejected(folder, importing(spec, name), 'kfs/layers', mentions)
    })
  }

  void test('the layers below, and an adapter of the same family, are allowed', async () => {
    assert.deepEqual(await lint('engine', importingType('../ports/event-log.ts', 'EventLog')), [])
    assert.deepEqual(await lint('main', importing('../adapters/event-log/kafka/kafka-event-log.ts', 'KafkaEventLog')), [])
    assert.deepEqual(await lint('adapters/online-store/embedded', importing('../redis/value-codec.ts', 'encodeValue')), [])
    assert.deepEqual(await lint('operators', importingType('../features/types.ts', 'FeatureViewDef')), [])
    // The one narrow exception: the DSL reads the aggregations' contracts.
    assert.deepEqual(await lint('features', importing('../operators/aggregators/catalog.ts', 'AGGREGATIONS')), [])
    // And the one shared adapter family: directory fsyncs for every adapter keeping local files.
    assert.deepEqual(await lint('adapters/online-store/embedded', importing('../../local-disk/sync-dir.ts', 'syncDir')), [])
  })
})

void describe('lint > no import cycles (import-x/no-cycle)', () => {
  void test('two modules importing each other are rejected', async () => {
    const [a, b] = cyclePair.map((f) => join(root, f)) as [string, string]
    try {
      mkdirSync(join(root, cycleFolder), { recursive: true })
      writeFileSync(a, "import { b } from './b.ts'\nexport const a = (): number => b() + 1\n")
      writeFileSync(b, "import { a } from './a.ts'\nexport const b = (): number => a() - 1\n")
      const results = await eslint.lintFiles(cyclePair)
      for (const result of results) {
        const messages = result.messages.map((m) => ({ ruleId: m.ruleId, message: m.message }))
        assertHit(messages, 'import-x/no-cycle', /cycle/i, result.filePath)
      }
      assert.equal(results.length, 2)
    } finally {
      rmSync(join(root, cycleFolder), { recursive: true, force: true })
    }
  })
})

void describe('lint > client libraries and pure operators', () => {
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
    await assertRejected('serving', "import { Kafka } from 'kafkajs'\nexport const k = Kafka\n", 'no-restricted-imports', /adapters\/event-log\/kafka/)
  })

  void test('the two Kafka clients stay in their own adapter folders (kafkajs, @platformatic/kafka)', async () => {
    const platformatic = "import { Producer } from '@platformatic/kafka'\nexport const p = Producer\n"
    await assertRejected('serving', platformatic, 'no-restricted-imports', /adapters\/event-log\/platformatic/)
    await assertRejected('adapters/event-log/kafka', platformatic, 'no-restricted-imports', /adapters\/event-log\/platformatic/)
    await assertRejected('adapters/event-log/platformatic', "import { Kafka } from 'kafkajs'\nexport const k = Kafka\n", 'no-restricted-imports', /adapters\/event-log\/kafka/)
  })

  void test('the batch codec libraries (snappy, lz4-napi) stay in the kafkajs adapter folder, the only one that needs them', async () => {
    const codecs = [
      ["import { uncompressSync } from 'snappy'\nexport const u = uncompressSync\n", /snappy/],
      ["import { decompressFrame } from 'lz4-napi'\nexport const d = decompressFrame\n", /lz4-napi/],
    ] as const
    for (const [code, mentions] of codecs) {
      for (const folder of ['adapters/event-log/platformatic', 'engine', 'serving']) await assertRejected(folder, code, 'no-restricted-imports', mentions)
      assert.deepEqual(await lint('adapters/event-log/kafka', code), [])
    }
  })

  void test('engine/ may not import pino', async () => {
    await assertRejected('engine', "import pino from 'pino'\nexport const p = pino\n", 'no-restricted-imports', /pino/)
  })

  void test('one adapter folder may not import another folder\'s client (iceberg → ioredis)', async () => {
    await assertRejected('adapters/offline/iceberg', "import Redis from 'ioredis'\nexport const r = Redis\n", 'no-restricted-imports', /adapters\/online-store\/redis/)
  })

  void test('a clean operator passes', async () => {
    const messages = await lint(
      'operators',
      'export function addMs(accMs: number, valueMs: number): number {\n  return accMs + valueMs\n}\n',
    )
    assert.deepEqual(messages, [])
  })

  void test('each client is allowed in its own folder', async () => {
    assert.deepEqual(await lint('adapters/online-store/redis', "import Redis from 'ioredis'\nexport const r = Redis\n"), [])
    assert.deepEqual(await lint('adapters/event-log/kafka', "import { Kafka } from 'kafkajs'\nexport const k = Kafka\n"), [])
    assert.deepEqual(await lint('adapters/event-log/platformatic', "import { Producer } from '@platformatic/kafka'\nexport const p = Producer\n"), [])
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
