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
