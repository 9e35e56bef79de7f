/**
 * `npm start` clears its folder with `rm -rf`: KFS_DEMO_DIR may name only a new, empty or
 * demo-made folder. Every kind of value: unset, empty or blank (the default, never the working
 * directory), the root, the working directory, a folder of someone's files, a file, a new path,
 * an empty folder, a folder the demo made. Before, `KFS_DEMO_DIR=` resolved to the working
 * directory and `KFS_DEMO_DIR=/` to the root, and the demo deleted either.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { DEFAULT_DEMO_DIR, DEMO_MARKER, demoDir } from '../../main/demo-dir.ts'
import { TS_NODE_ARGS } from '../support/node-ts.ts'

const repo = fileURLToPath(new URL('../../', import.meta.url))
const base = mkdtempSync(join(tmpdir(), 'kfs-demo-dir-'))
after(() => rmSync(base, { recursive: true, force: true }))
const cwd = join(base, 'project')
mkdirSync(cwd)
writeFileSync(join(cwd, 'package.json'), '{}')
const someonesFolder = join(base, 'someones')
mkdirSync(someonesFolder)
writeFileSync(join(someonesFolder, 'thesis.tex'), 'keep me')
const aFile = join(base, 'a-file')
writeFileSync(aFile, 'x')
const empty = join(base, 'empty')
mkdirSync(empty)
const demoMade = join(base, 'demo-made')
mkdirSync(demoMade)
writeFileSync(join(demoMade, DEMO_MARKER), '')
writeFileSync(join(demoMade, 'labels.csv'), '')

void describe('main > demo dir > KFS_DEMO_DIR', () => {
  const usable: readonly [string, string | undefined, string][] = [
    ['unset', undefined, join(cwd, DEFAULT_DEMO_DIR)],
    ['empty', '', join(cwd, DEFAULT_DEMO_DIR)],
    ['blank', '  ', join(cwd, DEFAULT_DEMO_DIR)],
    ['a new path', join(base, 'new'), join(base, 'new')],
    ['an empty folder', empty, empty],
    ['a folder the demo made', demoMade, demoMade],
  ]
  for (const [what, value, dir] of usable) {
    void test(`${what}: ${dir}`, () => {
      assert.deepEqual(demoDir(value === undefined ? {} : { KFS_DEMO_DIR: value }, cwd), { dir })
    })
  }
  const refused: readonly [string, string, RegExp][] = [
    ['the root', '/', /KFS_DEMO_DIR="\/" names \/, a folder holding files the demo did not make/],
    [
      'the working directory',
      '.',
      /KFS_DEMO_DIR="\." names .*project, a folder holding files the demo did not make \(package\.json\)/,
    ],
    ['a folder of files', someonesFolder, /thesis\.tex/],
    ['a file', aFile, /which is not a folder/],
  ]
  for (const [what, value, message] of refused) {
    void test(`${what} is refused, naming the variable`, () => {
      const chosen = demoDir({ KFS_DEMO_DIR: value }, cwd)
      assert.ok('problem' in chosen, `${what}: ${JSON.stringify(chosen)}`)
      assert.match(chosen.problem, message)
      assert.match(chosen.problem, /npm start deletes everything in its folder/)
    })
  }

  void test('npm start on a folder of files: exit 2 naming KFS_DEMO_DIR, every file kept', () => {
    const r = spawnSync(process.execPath, [...TS_NODE_ARGS, join(repo, 'main/start.ts')], {
      cwd: repo,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, KFS_DEMO_DIR: someonesFolder },
      encoding: 'utf8',
    })
    assert.equal(r.status, 2, r.stderr)
    assert.match(r.stderr, /^npm start: KFS_DEMO_DIR=.* names .*someones, a folder holding files the demo did not make/)
    assert.ok(existsSync(join(someonesFolder, 'thesis.tex')))
  })
})
