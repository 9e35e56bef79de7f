/**
 * Loaded into a `kfs` child process (`node --import`): another owner of the engine's group publishes
 * every checkpoint record just before the engine does — the one it restored from, again under the
 * engine's `seq`, with no new files (a dead process's late publish that covers nothing new). Every
 * publish of the engine is fenced, the stop's re-processing attempts included
 * (test/unit/cli/run-fenced-at-stop.test.ts).
 */
import { LocalObjectStore } from '../../adapters/object-store/index.ts'

const CKPT = /^(.*\/)ckpt-\d+\.json$/
const publish = LocalObjectStore.prototype.putIfAbsent

LocalObjectStore.prototype.putIfAbsent = async function (
  this: LocalObjectStore,
  key: string,
  body: Uint8Array,
): Promise<boolean> {
  const dir = CKPT.exec(key)?.[1]
  if (dir !== undefined) {
    const newest = (await this.list(dir)).filter((k) => CKPT.test(k)).at(-1)
    const bytes = newest === undefined ? undefined : await this.get(newest)
    if (bytes !== undefined) {
      const ours = JSON.parse(new TextDecoder().decode(body)) as { seq: number }
      const theirs = JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>
      const record = { ...theirs, seq: ours.seq, staged: [], createdAtMs: Date.now() }
      await publish.call(this, key, new TextEncoder().encode(JSON.stringify(record)))
    }
  }
  return publish.call(this, key, body)
}
