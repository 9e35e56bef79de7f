/**
 * Same-process A/B of two versions of the embedded log's framing (`encodePackedByPartition`,
 * adapters/event-log/embedded/packed-records.ts; docs/performance.md, Table ingest, session 40):
 * a million records shaped like the ingest bench's envelopes (a 12-byte key and a 47-byte after
 * image per row, in 4 MiB chunks of row images; a constant head and snapshot field), framed in
 * 100,000-record chunks that visit the rows in random order, as the (event time, key) order does.
 * Each chunk is framed by both versions, the first alternating, and each call's thread CPU taken;
 * prints the medians and in how many pairs the new version took less. Noise cancels pair by pair,
 * which the whole ingest's rounds cannot resolve for a change of a few percent of the framing.
 *
 *   KFS_AB_BASE=/tmp/ab-base KFS_AB_NEW=/tmp/ab-new [KFS_AB_ROUNDS=12] \
 *     flock /tmp/kfs-bench.lock node --import tsx bench/_support/framing-ab.ts
 *
 * (Trees as for ./ingest-ab.ts: two source trees with a node_modules link; KFS_AB_BASE equal to
 * KFS_AB_NEW is the null test: about half the pairs either way.)
 */
import { pathToFileURL } from 'node:url'
import type { PackedRecords } from '../../ports/event-log.ts'

type Frame = (
  packed: PackedRecords,
  baseOffsets: readonly number[],
  timestampMs: number,
  spares: Buffer[],
) => ({ room: Buffer } | undefined)[]

const ROWS = 1_000_000
const CHUNK = 100_000
const ROUNDS = Number(process.env.KFS_AB_ROUNDS ?? 12)
const WARM_ROUNDS = 2
const RUNS = 6
const IMAGE_BYTES = 47

async function frameAt(tree: string | undefined): Promise<Frame> {
  if (tree === undefined) throw new Error('set KFS_AB_BASE and KFS_AB_NEW to two extracted source trees')
  const module = (await import(pathToFileURL(`${tree}/adapters/event-log/embedded/packed-records.ts`).href)) as {
    encodePackedByPartition: Frame
  }
  return module.encodePackedByPartition
}

// The row images: each row's key then its image, in chunks; `where` = chunk, key start, image start, end.
const chunks: Buffer[] = []
const where = new Uint32Array(4 * ROWS)
let current = Buffer.allocUnsafe(5 << 20)
let pos = 0
for (let row = 0; row < ROWS; row++) {
  if (pos > 4 << 20) {
    chunks.push(current)
    current = Buffer.allocUnsafe(5 << 20)
    pos = 0
  }
  where[4 * row] = chunks.length
  where[4 * row + 1] = pos
  pos += current.write(`acct-${String(row).padStart(7, '0')}`, pos, 'latin1')
  where[4 * row + 2] = pos
  for (let b = 0; b < IMAGE_BYTES; b++) current[pos++] = (row * 31 + b * 7) & 0xff
  where[4 * row + 3] = pos
}
chunks.push(current)
// A fixed shuffle (xorshift), so every run frames the same order.
const order = new Int32Array(ROWS).map((_, i) => i)
let seed = 0x9e3779b9
for (let i = ROWS - 1; i > 0; i--) {
  seed ^= seed << 13
  seed ^= seed >>> 17
  seed ^= seed << 5
  const j = (seed >>> 0) % (i + 1)
  const t = order[i]!
  order[i] = order[j]!
  order[j] = t
}
const head = Buffer.from([2, 2, 0x63, 0, 2])
const snapshot = Buffer.from('\x02\x200123456789abcdef', 'latin1')
const sources = [head, snapshot, ...chunks]
const FIRST_CHUNK = 2
const runs = new Uint32Array(3 * RUNS * CHUNK)

const versions = [await frameAt(process.env.KFS_AB_BASE), await frameAt(process.env.KFS_AB_NEW)]
const cpuMs = (): number => {
  const u = process.threadCpuUsage()
  return (u.user + u.system) / 1000
}
const spares: Buffer[] = []
const taken: number[][] = [[], []]
for (let round = 0; round < ROUNDS; round++) {
  for (let from = 0; from < ROWS; from += CHUNK) {
    runs.fill(0)
    for (let i = 0; i < CHUNK; i++) {
      const row = order[from + i]!
      const r = 3 * RUNS * i
      const chunk = FIRST_CHUNK + where[4 * row]!
      runs.set([chunk, where[4 * row + 1]!, where[4 * row + 2]!, 0, 0, head.length], r)
      runs.set([chunk, where[4 * row + 2]!, where[4 * row + 3]!, 1, 0, snapshot.length], r + 12)
    }
    const first = (from / CHUNK + round) % 2
    for (const v of [first, 1 - first]) {
      const before = cpuMs()
      const shares = versions[v]!({ count: CHUNK, sources, runsPerRecord: RUNS, runs }, [0, 0, 0, 0], 1_700_000_000_000, spares)
      if (round >= WARM_ROUNDS) taken[v]!.push(cpuMs() - before)
      for (const share of shares) if (share !== undefined) spares.push(share.room)
      while (spares.length > 8) spares.shift()
    }
  }
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!
const ratios = taken[1]!.map((ms, i) => ms / taken[0]![i]!)
console.log(
  `AB framing pairs=${ratios.length} base_ms=${median(taken[0]!).toFixed(1)} new_ms=${median(taken[1]!).toFixed(1)} new_over_base=${median(ratios).toFixed(3)} new_lower=${ratios.filter((r) => r < 1).length}`,
)
