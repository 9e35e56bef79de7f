import { mkdtemp, rm, readdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { LocalObjectStore } from '../../../adapters/object-store/local/local-object-store.ts'
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
