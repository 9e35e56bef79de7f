// Module boundaries are the architecture: this file is where they are enforced (docs/architecture.md).
// - kfs/layers: a folder imports only the layers below it (scripts/lint/layers.js);
// - import-x/no-cycle: no import cycles anywhere in the product code;
// - each client library is confined to one adapter folder;
// - operators/ stays pure: no I/O, no clock, no randomness.
import tseslint from 'typescript-eslint'
import importX from 'eslint-plugin-import-x'
import kfs from './scripts/lint/layers.js'

const confined = [
  // The batch codecs kafkajs lacks (batch-codecs.ts); @platformatic/kafka brings its own.
  { pkg: ['kafkajs', 'snappy', 'lz4-napi'], folder: 'adapters/event-log/kafka' },
  { pkg: ['@platformatic/kafka'], folder: 'adapters/event-log/platformatic' },
  { pkg: ['@kafkajs/confluent-schema-registry'], folder: 'adapters/schema-registry/confluent' },
  { pkg: ['ioredis', 'cluster-key-slot'], folder: 'adapters/online-store/redis' },
  { pkg: ['uWebSockets.js', 'ws'], folder: 'serving/server' },
  { pkg: ['@aws-sdk/*'], folder: 'adapters/object-store/s3' },
  { pkg: ['parquet-wasm', 'parquet-wasm/*', 'apache-arrow'], folder: 'adapters/offline/parquet' },
  { pkg: ['pino'], folder: 'main' },
  { pkg: ['@duckdb/*'], folder: 'adapters/duckdb' },
  // Reading a definition's function text: what it captures from outside (docs/semantics.md §27),
  // and the text its hash covers, whichever loader ran it (canonical-text.ts).
  { pkg: ['acorn', 'eslint-scope', 'esbuild'], folder: 'features/closure' },
]

/**
 * Files that still break a layer rule while the renovation lands (issue #14); each entry is a
 * debt with an owner, and the list only ever shrinks. Empty: every product file obeys kfs/layers.
 */
const layerDebt = []

const productFolders = ['core', 'features', 'operators', 'ports', 'schemas', 'engine', 'adapters', 'registry', 'serving', 'replay', 'ingest', 'training', 'main']

const ioModules = ['fs', 'fs/promises', 'net', 'http', 'https', 'child_process', 'dgram', 'worker_threads', 'cluster']
  .flatMap((m) => [m, `node:${m}`])

function restrictedPatternsOutside(folder) {
  return confined
    .filter((c) => c.folder !== folder)
    .map((c) => ({ group: c.pkg, message: `${c.pkg.join(', ')} may only be imported in ${c.folder}/` }))
}

export default tseslint.config(
  { ignores: ['node_modules/**', '.cache/**', '.kfs/**', 'test/fixtures/**', 'bin/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'warn',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-imports': ['error', { patterns: restrictedPatternsOutside('') }],
    },
  },
  {
    files: productFolders.map((f) => `${f}/**/*.ts`),
    ignores: layerDebt,
    plugins: { kfs, 'import-x': importX },
    settings: {
      'import-x/extensions': ['.ts', '.mjs', '.js'],
      'import-x/resolver-next': [importX.createNodeResolver({ extensions: ['.ts', '.mjs', '.js'] })],
    },
    rules: {
      'kfs/layers': 'error',
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
    },
  },
  ...confined.map((c) => ({
    files: [`${c.folder}/**/*.ts`],
    rules: { 'no-restricted-imports': ['error', { patterns: restrictedPatternsOutside(c.folder) }] },
  })),
  {
    files: ['test/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts'],
    // Tests and benchmarks talk to the real servers directly to check what adapters did.
    rules: { 'no-restricted-imports': 'off', '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['operators/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: ioModules.map((name) => ({ name, message: 'operators/ is pure: no I/O' })),
          patterns: restrictedPatternsOutside('operators'),
        },
      ],
      'no-restricted-syntax': [
        'error',
        { selector: "CallExpression[callee.object.name='Date'][callee.property.name='now']", message: 'operators/ has no clock: pass time in' },
        { selector: "CallExpression[callee.object.name='Math'][callee.property.name='random']", message: 'operators/ is deterministic: no randomness' },
        { selector: "NewExpression[callee.name='Date']", message: 'operators/ has no clock: pass time in' },
      ],
    },
  },
)
