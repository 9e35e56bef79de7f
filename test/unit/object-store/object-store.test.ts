import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { LocalObjectStore, STALE_TEMP_MS } from '../../../adapters/object-store/local/local-object-store.ts'
import { MemoryObjectStore } from '../../../adapters/object-store/memory/memory-object-store.ts'
import { runObjectStoreContract } from '../../contracts/object-store.ts'

const dirs: string[] = []

runObjectStoreContract('memory', async () => new MemoryObjectStore())

runObjectStoreContract(
  'local',
  async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'kfs-os-'))
    dirs.push(dir)
    return new LocalObjectStore(dir)
  },
  async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true })
  },
)

void test('local putIfAbsent leaves no temp files behind, won or lost', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'kfs-os-'))
  try {
    const store = new LocalObjectStore(dir)
    await Promise.all(Array.from({ length: 6 }, (_, i) => store.putIfAbsent('m/v1', new Uint8Array([i]))))
    assert.deepEqual(await readdir(path.join(dir, '.kfs-tmp')), [])
    assert.equal(store.rootUri, `file://${dir}`)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

void test('local store: temp files a killed put left behind are removed by the next put once stale, fresh ones are kept', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'kfs-os-'))
  try {
    const tmp = path.join(dir, '.kfs-tmp')
    await mkdir(tmp, { recursive: true })
    const old = (Date.now() - STALE_TEMP_MS - 60_000) / 1000
    const recent = (Date.now() - STALE_TEMP_MS + 60_000) / 1000
    await writeFile(path.join(tmp, 'killed-put.tmp'), 'half a parquet file')
    await utimes(path.join(tmp, 'killed-put.tmp'), old, old)
    await writeFile(path.join(tmp, 'running-put.tmp'), 'being written by another process')
    await utimes(path.join(tmp, 'running-put.tmp'), recent, recent)
    const store = new LocalObjectStore(dir)
    await store.put('a/b', new Uint8Array([1]))
    assert.deepEqual(await readdir(tmp), ['running-put.tmp'])
    assert.deepEqual([...((await store.get('a/b')) ?? [])], [1])
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

void test('memory listWithTimes stamps each write with the injected clock, a rewrite anew', async () => {
  let now = 1_000
  const store = new MemoryObjectStore('memory://t', { nowMs: () => now })
  await store.put('a/x', new Uint8Array(2))
  now = 5_000
  assert.equal(await store.putIfAbsent('a/y', new Uint8Array(3)), true)
  assert.deepEqual(await store.listWithTimes('a/'), [
    { key: 'a/x', lastModifiedMs: 1_000, size: 2 },
    { key: 'a/y', lastModifiedMs: 5_000, size: 3 },
  ])
  now = 9_000
  await store.put('a/x', new Uint8Array(4))
  assert.deepEqual((await store.listWithTimes('a/x'))[0], { key: 'a/x', lastModifiedMs: 9_000, size: 4 })
})

void test('local listWithTimes reports a file’s mtime', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'kfs-os-'))
  try {
    const store = new LocalObjectStore(dir)
    await store.put('t/old.bin', new Uint8Array(7))
    const old = new Date('2020-01-02T03:04:05Z')
    await utimes(path.join(dir, 't', 'old.bin'), old, old)
    assert.deepEqual(await store.listWithTimes('t/'), [{ key: 't/old.bin', lastModifiedMs: old.getTime(), size: 7 }])
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
