/**
 * `kfs codegen` over the whole class of awkward definitions (awkward-services.ts): feature, view,
 * join-key, request-input and service names that are TypeScript reserved words or
 * Object.prototype members, two versions of one view in one service, request inputs and outputs of
 * every type, a join key shared by a string and an int entity — each module type-checks under
 * strict tsc, and a use of every feature, input and view key too.
 */
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { generatedModules, tsc } from './awkward-services.ts'

void describe('kfs codegen: awkward names compile and type what the server takes', () => {
  const work = generatedModules()

  void test('every module type-checks under strict tsc, and a use of every feature, input and view key too', () => {
    writeFileSync(
      join(work, 'use.ts'),
      [
        "import { createClassClient, CLASS_FEATURES, type ClassFeatures, type ClassRequest, type ClassEntity } from './class.ts'",
        "import { createNewClient } from './new.ts'",
        "import { createViewClient } from './view.ts'",
        "import { createKfsErrorClient } from './kfs_error.ts'",
        "import { createAnswerClient } from './answer_.ts'",
        "const request: ClassRequest = { if: 1, else: 2.5, for: 'x', while: true }",
        "const entity: ClassEntity = { default: 'd', in: 7 }",
        "const row = await createClassClient({ url: 'http://x' }).getOnlineFeature(entity, request)",
        'const f: ClassFeatures = row.features',
        "const a: number | null = f['function@1:class']",
        "const b: number | null = f['function@2:class']",
        "const c: string | null = f['function@1:constructor']",
        "const d: readonly number[] | null = f['function@1:tostring']",
        "const e: readonly string[] | null = f['function@1:prototype']",
        'const g: boolean | null = f.return',
        'const h: number | null = f.void',
        'const i: string | null = f.typeof',
        'const j: number | null = f.await',
        "const k: 'PRESENT' | 'MISSING' | 'OUTSIDE_TTL' = row.views['function@1'].status",
        "const l: number | null = row.views['function@2'].as_of",
        'const m = row.views.enum.age_ms',
        "await createNewClient({ url: 'http://x' }).getOnlineFeature({ in: '7', default: 8 })",
        "await createViewClient({ url: 'http://x' }).getOnlineFeature({ default: 'd' })",
        "await createKfsErrorClient({ url: 'http://x' }).getOnlineFeature({ default: 'd' }, request)",
        "await createAnswerClient({ url: 'http://x' }).getOnlineFeature({ default: 'd' })",
        'export { a, b, c, d, e, g, h, i, j, k, l, m, CLASS_FEATURES }',
        '',
      ].join('\n'),
    )
    assert.deepEqual(tsc(work, ['use.ts']), [])
  })

  void test("a join key a string entity shares with an int entity is typed as the string entity's key, whatever the order of the views", () => {
    writeFileSync(
      join(work, 'shared-key.ts'),
      [
        "import type { ClassEntity } from './class.ts'",
        "import type { IntFirstEntity } from './int_first.ts'",
        "const ok: ClassEntity = { default: 'd', in: 7 }",
        'const wrong: ClassEntity = { default: 5, in: 7 }',
        "const okToo: IntFirstEntity = { default: 'd', in: 7 }",
        'const wrongToo: IntFirstEntity = { default: 5, in: 7 }',
        'export { ok, wrong, okToo, wrongToo }',
        '',
      ].join('\n'),
    )
    const errors = tsc(work, ['shared-key.ts'])
    assert.deepEqual(
      errors.map((e) => Number(/^shared-key\.ts\((\d+),/.exec(e)?.[1])),
      [4, 6],
      errors.join('\n'),
    )
  })
})
