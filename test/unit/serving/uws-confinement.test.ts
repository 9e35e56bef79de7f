/**
 * Proves the lint rule that keeps the transports' libraries — uWebSockets.js, and ws (the
 * node:http transport's WebSockets) — inside serving/server/: the middleware and the handlers are
 * plain functions of plain values, so they may not import them — not even their types — while the
 * server folder may.
 */
import assert from 'node:assert/strict'
import { dirname, join } from 'node:path'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { ESLint } from 'eslint'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
const folders = ['serving/server', 'serving/middleware', 'serving/handlers', 'serving/served-log', 'serving/openapi', 'main']

const eslint = new ESLint({
  cwd: root,
  overrideConfig: {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: folders.map((f) => `${f}/*.ts`), defaultProject: 'tsconfig.json' },
      },
    },
  },
})

async function restrictedImports(folder: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: `${folder}/__lint_probe__.ts` })
  assert.ok(result, 'eslint returned no result')
  return result.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message)
}

const valueImport = "import uWS from 'uWebSockets.js'\nexport const app = uWS.App\n"
const typeImport = "import type uWS from 'uWebSockets.js'\nexport type Req = uWS.HttpRequest\n"
const wsImport = "import { WebSocketServer } from 'ws'\nexport const Server = WebSocketServer\n"
const wsTypeImport = "import type { WebSocket } from 'ws'\nexport type Socket = WebSocket\n"

void describe('lint > uWebSockets.js and ws stay in serving/server/', () => {
  for (const folder of ['serving/middleware', 'serving/handlers', 'serving/served-log', 'serving/openapi', 'main']) {
    void test(`${folder}/ may not import them, values or types`, async () => {
      for (const code of [valueImport, typeImport, wsImport, wsTypeImport]) {
        const messages = await restrictedImports(folder, code)
        assert.equal(messages.length, 1, `${folder}: ${JSON.stringify(messages)}`)
        assert.match(messages[0]!, /may only be imported in serving\/server\//)
      }
    })
  }

  void test('serving/server/ may', async () => {
    for (const code of [valueImport, typeImport, wsImport, wsTypeImport]) assert.deepEqual(await restrictedImports('serving/server', code), [])
  })
})
