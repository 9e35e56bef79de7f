// Module boundaries are the architecture: this file is where they are enforced.
// Each client library is confined to one folder; operators/ stays pure (no I/O, clock or logger).
import tseslint from 'typescript-eslint'

const confined = [
  { pkg: ['kafkajs'], folder: 'pipeline/kafka' },
  { pkg: ['@kafkajs/confluent-schema-registry'], folder: 'schemas/registry' },
  { pkg: ['ioredis'], folder: 'sinks/redis' },
  { pkg: ['uWebSockets.js'], folder: 'serving/server' },
  { pkg: ['@aws-sdk/*'], folder: 'sinks/object-store/s3' },
  { pkg: ['parquet-wasm', 'parquet-wasm/*', 'apache-arrow'], folder: 'sinks/parquet' },
  { pkg: ['pino'], folder: 'main' },
  { pkg: ['@duckdb/*'], folder: 'training/duckdb' },
]

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
    ignores: ['operators/**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: ioModules.map((name) => ({ name, message: 'operators/ is pure: no I/O' })),
          patterns: [
            { group: ['**/pipeline/**', '**/sinks/**', '**/serving/**', '**/replay/**', '**/main/**', '**/schemas/registry/**'], message: 'operators/ imports only core/' },
            ...restrictedPatternsOutside('operators'),
          ],
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
