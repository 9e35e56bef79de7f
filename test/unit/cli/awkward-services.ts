/**
 * Awkward definitions for `kfs codegen`'s tests (codegen-awkward.test.ts, codegen-answers.test.ts):
 * feature, view, join-key, request-input and service names that are TypeScript reserved words or
 * Object.prototype members, two versions of one view in one service, request inputs and outputs of
 * every type, and a join key a string and an int entity share (in both orders). `generatedModules()`
 * writes each service's module into a temporary folder inside the checkout (so tsc finds node's
 * types), removed after the tests.
 */
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after } from 'node:test'
import { fileURLToPath } from 'node:url'
import { generateServiceClient } from '../../../main/commands/codegen-template.ts'
import type { FeatureServiceDef, RequestFeatureDef, RequestValueType } from '../../../features/types.ts'
import { createFeatureCatalog } from '../../../serving/feature-catalog.ts'
import { entity, feature, view } from '../../contracts/online-store.ts'

const repo = fileURLToPath(new URL('../../../', import.meta.url))

const klass = { ...entity('class', ['default']) }
const numbered = { ...entity('new', ['in', 'default']), keyType: 'int' as const }
const fn1 = view(
  'function',
  [
    feature('class', 'long'),
    feature('delete', 'double'),
    feature('constructor', 'string'),
    feature('tostring', 'long[]'),
    feature('valueof', 'double[]'),
    feature('prototype', 'string[]'),
  ],
  { entity: klass },
)
const fn2 = view('function', [feature('class', 'double'), feature('hasownproperty', 'long')], { entity: klass, version: 2 })
const shared = view('enum', [feature('yield', 'long')], { entity: numbered })

const everyInput: Record<string, RequestValueType> = { if: 'long', else: 'double', for: 'string', while: 'boolean' }
const requestFeature = (name: string, outputType: RequestValueType): RequestFeatureDef => ({
  kind: 'requestFeature',
  name,
  request: everyInput,
  features: ['function@1:class'],
  outputType,
  fn: () => null,
  description: 'a */ in a description',
})
const requestFeatures = [
  requestFeature('return', 'boolean'),
  requestFeature('void', 'long'),
  requestFeature('typeof', 'string'),
  requestFeature('await', 'double'),
]
const service = (name: string, features: FeatureServiceDef['features'], rfs: readonly string[] = []): FeatureServiceDef => ({
  kind: 'featureService',
  name,
  features,
  requestFeatures: rfs,
  owner: '',
  description: '',
  tags: {},
})
const everything: FeatureServiceDef['features'] = [
  'function@1:class',
  'function@1:delete',
  'function@1:constructor',
  'function@1:tostring',
  'function@1:valueof',
  'function@1:prototype',
  'function@2:class',
  'function@2:hasownproperty',
  'enum:yield',
]
export const services = [
  service('class', everything, ['return', 'void', 'typeof', 'await']),
  service('new', ['enum:yield']),
  service('view', ['function:class']),
  service('kfs_error', ['function@1:constructor'], ['return']),
  service('answer_', ['function@1:delete']),
  service('int_first', ['enum:yield', 'function@1:class']),
]
const catalog = createFeatureCatalog({ views: [fn1, fn2, shared], services, requestFeatures })

/** A temporary folder holding `<service>.ts`, the generated module of every service above. */
export function generatedModules(): string {
  mkdirSync(join(repo, '.cache'), { recursive: true })
  const work = mkdtempSync(join(repo, '.cache', 'codegen-awkward-'))
  after(() => rmSync(work, { recursive: true, force: true }))
  for (const s of services) {
    writeFileSync(
      join(work, `${s.name}.ts`),
      generateServiceClient({ service: s.name, plan: catalog.servicePlan(s.name), command: 'test' }),
    )
  }
  return work
}

/** Strict tsc on files of `work`; its diagnostics, one per line. */
export function tsc(work: string, files: readonly string[]): string[] {
  const r = spawnSync(
    process.execPath,
    [
      join(repo, 'node_modules/typescript/bin/tsc'),
      '--noEmit',
      '--strict',
      '--noUncheckedIndexedAccess',
      '--exactOptionalPropertyTypes',
      '--target',
      'ES2022',
      '--module',
      'NodeNext',
      '--moduleResolution',
      'NodeNext',
      '--allowImportingTsExtensions',
      '--types',
      'node',
      '--skipLibCheck',
      ...files,
    ],
    { cwd: work, encoding: 'utf8' },
  )
  return r.stdout.split('\n').filter((l) => /error TS\d+/.test(l))
}
