/**
 * A model disk for the embedded online store's crash tests: one directory, held in memory, that
 * remembers what a process sees (names and bytes in the page cache) apart from what is durable
 * (bytes a datasync reached, names a directory fsync reached), with the POSIX guarantees and no
 * more. It numbers every step the store takes (create, write, datasync, rename, remove, syncdir)
 * and can crash at any one of them; the disk images after the crash are then:
 * - `restarted()`: the process died, the machine did not — everything it did is seen;
 * - `powerLost(...)`: the machine died — durable names plus any subset of the name changes made
 *   since the last directory fsync (in order), each file's durable bytes plus none, half or all of
 *   the bytes written since its last datasync, or all of them with the first half zero-filled.
 * A crash during a write leaves half of its bytes (a torn write).
 */
import { basename, dirname } from 'node:path'
import type { FollowedFiles, StoreFiles } from '../../../adapters/online-store/embedded/store-files.ts'

interface Inode {
  data: string
  synced: string
}

/** A change of names; a rename is one (rename(2) is atomic: the target names the old file or the new one, never none). */
type NameOp =
  | { kind: 'link'; name: string; inode: Inode }
  | { kind: 'unlink'; name: string; inode: Inode }
  | { kind: 'rename'; from: string; name: string; inode: Inode }

export class Crash extends Error {
  readonly step: string
  constructor(step: string) {
    super(`crashed at: ${step}`)
    this.step = step
  }
}

/** What a power loss keeps of the bytes written since a file's datasync: none, the first half, all, or all with the first half zero-filled (a later page reached the disk first). */
export type Unsynced = 'none' | 'half' | 'all' | 'hole'

export class ModelDisk implements StoreFiles {
  readonly dir: string
  /** Every step taken, in order (the crashed one not included). */
  readonly steps: string[] = []
  #seen = new Map<string, Inode>()
  #durable = new Map<string, Inode>()
  #pending: NameOp[] = []
  #crashAt: number
  #locked = false

  constructor(dir: string, crashAt = Infinity) {
    this.dir = dir
    this.#crashAt = crashAt
  }

  /** Crash at the step numbered `n` (0 = the next one) from now on; Infinity never. */
  crashAfter(n: number): void {
    this.#crashAt = this.steps.length + n
  }

  #step(label: string, torn?: () => void): void {
    if (this.steps.length === this.#crashAt) {
      torn?.()
      this.#crashAt = Infinity
      throw new Crash(label)
    }
    this.steps.push(label)
  }

  #name(path: string): string {
    if (dirname(path) !== this.dir) throw new Error(`model disk holds ${this.dir} only, asked for ${path}`)
    return basename(path)
  }

  #link(name: string, inode: Inode): void {
    this.#seen.set(name, inode)
    this.#pending.push({ kind: 'link', name, inode })
  }

  #unlink(name: string): void {
    const inode = this.#seen.get(name)
    if (inode === undefined) return
    this.#seen.delete(name)
    this.#pending.push({ kind: 'unlink', name, inode })
  }

  names(): string[] {
    return [...this.#seen.keys()].sort()
  }

  text(name: string): string | undefined {
    return this.#seen.get(name)?.data
  }

  /** Damage from outside the store (a cut, an overwrite, a deletion): `text` replaces the file's bytes, durably; undefined removes it. */
  damage(name: string, text: string | undefined): void {
    const inode = this.#seen.get(name)
    if (text === undefined) {
      this.#seen.delete(name)
      this.#durable.delete(name)
      return
    }
    if (inode === undefined) throw new Error(`model disk has no ${name} to damage`)
    inode.data = text
    inode.synced = text
  }

  /** The disk as a follower reads it (embedded-online-follower.ts): a version is the file's inode and bytes. */
  followed(): FollowedFiles {
    const ids = new Map<Inode, number>()
    const versionOf = (inode: Inode) => `${ids.get(inode) ?? ids.set(inode, ids.size).get(inode)!}:${inode.data}`
    return {
      version: async (path) => {
        const inode = this.#seen.get(this.#name(path))
        return inode === undefined ? undefined : versionOf(inode)
      },
      readVersioned: async (path) => {
        const inode = this.#seen.get(this.#name(path))
        return inode === undefined ? undefined : { text: inode.data, version: versionOf(inode) }
      },
      readFrom: async (path, offset) => {
        const inode = this.#seen.get(this.#name(path))
        if (inode === undefined) return undefined
        const bytes = Buffer.from(inode.data)
        return { text: bytes.length <= offset ? '' : bytes.subarray(offset).toString('utf8'), size: bytes.length }
      },
    }
  }

  /** How many name changes a power loss could keep or lose (2^n images). */
  get pendingNameOps(): number {
    return this.#pending.length
  }

  async read(path: string): Promise<string | undefined> {
    return this.#seen.get(this.#name(path))?.data
  }

  async list(dir: string): Promise<string[]> {
    return dir === this.dir ? this.names() : []
  }

  async write(path: string, text: string, mode: 'replace' | 'append'): Promise<void> {
    const name = this.#name(path)
    let inode = this.#seen.get(name)
    if (inode === undefined) {
      this.#step(`create ${name}`)
      inode = { data: '', synced: '' }
      this.#link(name, inode)
    }
    const file = inode
    const before = mode === 'replace' ? '' : file.data
    this.#step(`write ${name}`, () => (file.data = before + text.slice(0, Math.ceil(text.length / 2))))
    file.data = before + text
    this.#step(`datasync ${name}`)
    file.synced = file.data
  }

  async rename(from: string, to: string): Promise<void> {
    const [a, b] = [this.#name(from), this.#name(to)]
    this.#step(`rename ${a} ${b}`)
    const inode = this.#seen.get(a)
    if (inode === undefined) throw Object.assign(new Error(`ENOENT: ${from}`), { code: 'ENOENT' })
    this.#seen.delete(a)
    this.#seen.set(b, inode)
    this.#pending.push({ kind: 'rename', from: a, name: b, inode })
  }

  async remove(path: string): Promise<void> {
    const name = this.#name(path)
    this.#step(`remove ${name}`)
    this.#unlink(name)
  }

  /** One writer at a time, as on the real disk; a restarted process's disk (the holder died) is free. */
  lock(dir: string): () => void {
    if (dir !== this.dir) throw new Error(`model disk holds ${this.dir} only, asked to lock ${dir}`)
    if (this.#locked) throw new Error(`model disk ${dir} is locked`)
    this.#locked = true
    return () => (this.#locked = false)
  }

  async syncDir(dir: string): Promise<void> {
    if (dir !== this.dir) throw new Error(`model disk holds ${this.dir} only, asked to sync ${dir}`)
    this.#step('syncdir')
    this.#durable = new Map(this.#seen)
    this.#pending = []
  }

  /** The disk a restarted process finds when only the process died. */
  restarted(): ModelDisk {
    const copy = new ModelDisk(this.dir)
    const copies = new Map<Inode, Inode>()
    const of = (i: Inode): Inode => copies.get(i) ?? copies.set(i, { ...i }).get(i)!
    copy.#seen = new Map([...this.#seen].map(([n, i]) => [n, of(i)]))
    copy.#durable = new Map([...this.#durable].map(([n, i]) => [n, of(i)]))
    copy.#pending = this.#pending.map((op) => ({ ...op, inode: of(op.inode) }))
    return copy
  }

  /** The disk after a power loss that kept the name changes whose bit is set in `keptOps` and `unsynced` of each file's unsynced bytes. */
  powerLost(keptOps: number, unsynced: Unsynced): ModelDisk {
    const names = new Map(this.#durable)
    this.#pending.forEach((op, i) => {
      if ((keptOps & (1 << i)) === 0) return
      if (op.kind === 'unlink') {
        if (names.get(op.name) === op.inode) names.delete(op.name)
        return
      }
      if (op.kind === 'rename' && names.get(op.from) === op.inode) names.delete(op.from)
      names.set(op.name, op.inode)
    })
    const copy = new ModelDisk(this.dir)
    const copies = new Map<Inode, Inode>()
    for (const [name, inode] of names) {
      let made = copies.get(inode)
      if (made === undefined) {
        made = { data: survivor(inode, unsynced), synced: '' }
        made.synced = made.data
        copies.set(inode, made)
      }
      copy.#seen.set(name, made)
    }
    copy.#durable = new Map(copy.#seen)
    return copy
  }
}

/** What a power loss leaves of a file: its durable bytes, then none, half or all of the rest (a file replaced since its datasync: of the new bytes). */
function survivor(inode: Inode, unsynced: Unsynced): string {
  const appended = inode.data.startsWith(inode.synced)
  const base = appended ? inode.synced : ''
  const rest = appended ? inode.data.slice(inode.synced.length) : inode.data
  const half = Math.ceil(rest.length / 2)
  if (unsynced === 'none') return inode.synced
  if (unsynced === 'hole') return base + '\0'.repeat(half) + rest.slice(half)
  return base + (unsynced === 'half' ? rest.slice(0, half) : rest)
}
