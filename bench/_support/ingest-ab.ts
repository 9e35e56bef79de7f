/**
 * Same-process A/B of two versions of `kfs ingest` (docs/performance.md, Table ingest): each
 * round a bare Parquet scan of the benchmark's snapshot (./ingest-workload.ts), then one ingest
 * into a fresh embedded log with each version's modules, the version going first alternating, so
 * both see the same machine load and a warm process. Prints each round (wall, the caller's
 * thread's CPU, and of it the read phase's and the append phase's) and the medians; every ingest
 * must append every row.
 *
 *   git archive <rev> | tar -x -C /tmp/ab-base   (the whole tree; and /tmp/ab-new)
 *   ln -s "$PWD/node_modules" /tmp/ab-base/node_modules   (and /tmp/ab-new: the adapters import their packages)
 *   KFS_AB_BASE=/tmp/ab-base KFS_AB_NEW=/tmp/ab-new [KFS_AB_ROUNDS=10] [KFS_AB_ROWS=1000000] \
 *     flock /tmp/kfs-bench.lock node --import tsx bench/_support/ingest-ab.ts
 *
 * The package.json ("type": "module") matters: without it tsx compiles the trees as CommonJS.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { createParquetCodec } from '../../adapters/offline/parquet/parquet-codec.ts'
import { accountRowSchema, accountSource, writeAccountSnapshot } from './ingest-workload.ts'

const ROUNDS = Number(process.env.KFS_AB_ROUNDS ?? 10)
const ROWS = Number(process.env.KFS_AB_ROWS ?? 1_000_000)

/** One version's ingest into a fresh log under `dir`: wall and CPU (ms), read and append parts. */
type Ingest = (dir: string) => Promise<{ wallMs: number; cpuMs: number; readCpuMs: number; appendCpuMs: number }>

async function versionAt(tree: string | undefined, snapshotDir: string): Promise<Ingest> {
  if (tree === undefined) throw new Error('set KFS_AB_BASE and KFS_AB_NEW to two extracted source trees')
  const load = async (path: string): Promise<Record<string, unknown>> =>
    (await import(pathToFileURL(`${tree}/${path}`).href)) as Record<string, unknown>
  const { EmbeddedEventLog } = (await load('adapters/event-log/embedded/index.ts')) as any
  const { createParquetCodec: codecOf } = (await load('adapters/offline/parquet/parquet-codec.ts')) as any
  const { EmbeddedSchemaRegistry } = (await load('adapters/schema-registry/embedded/embedded-schema-registry.ts')) as any
  const { createFileTableReader } = (await load('adapters/tables/file-table-reader.ts')) as any
  const { ingestSnapshot } = (await load('ingest/ingest-snapshot.ts')) as any
  const { declaredTableColumns } = (await load('ingest/row-columns.ts')) as any
  const { createDecoder } = (await load('schemas/decoder.ts')) as any
  const { createEncoder } = (await load('schemas/encoder.ts')) as any
  return async (dir) => {
    const log = new EmbeddedEventLog({ dir: join(dir, 'log') })
    const registry = new EmbeddedSchemaRegistry({ dir: join(dir, 'schemas') })
    const deps = {
      log,
      reader: createFileTableReader({ parquet: codecOf(), columns: declaredTableColumns(accountRowSchema), cwd: snapshotDir }),
      encoder: await createEncoder({ registry, subject: 'accounts-value', schema: accountSource.schema }),
      decoder: createDecoder({ registry, readerSchema: accountSource.schema }),
    }
    const cpu0 = process.threadCpuUsage()
    let cpuRead = cpu0
    const t0 = performance.now()
    const result = (await ingestSnapshot(deps, {
      source: accountSource,
      onProgress: (p: { phase: string }) => {
        if (p.phase === 'read') cpuRead = process.threadCpuUsage()
      },
    })) as { appended: number }
    const wallMs = performance.now() - t0
    const ms = (u: NodeJS.CpuUsage): number => (u.user + u.system) / 1000
    const cpuMs = ms(process.threadCpuUsage(cpu0))
    const readCpuMs = ms(cpuRead) - ms(cpu0)
    await log.close()
    if (result.appended !== ROWS) throw new Error(`${tree}: appended ${result.appended} of ${ROWS} rows`)
    return { wallMs, cpuMs, readCpuMs, appendCpuMs: cpuMs - readCpuMs }
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

const dir = mkdtempSync(join(tmpdir(), 'kfs-ingest-ab-'))
try {
  const codec = createParquetCodec()
  const file = join(dir, 'accounts.parquet')
  await writeAccountSnapshot(codec, ROWS, file)
  const bytes = await readFile(file)
  for await (const _ of codec.readBatches(bytes)) break
  const versions = [await versionAt(process.env.KFS_AB_BASE, dir), await versionAt(process.env.KFS_AB_NEW, dir)]
  const names = ['base', 'new']
  const runs: { wallMs: number; cpuMs: number; readCpuMs: number; appendCpuMs: number; scanMs: number }[][] = [[], []]
  let n = 0
  for (let round = 0; round < ROUNDS; round++) {
    const t = performance.now()
    for await (const _ of codec.readBatches(bytes));
    const scanMs = performance.now() - t
    const line = [`round ${round + 1} scan ${scanMs.toFixed(0)}`]
    for (const v of round % 2 === 0 ? [0, 1] : [1, 0]) {
      const into = join(dir, `ingest-${n++}`)
      const r = await versions[v]!(into)
      rmSync(into, { recursive: true, force: true })
      runs[v]!.push({ ...r, scanMs })
      line.push(
        `${names[v]} wall ${r.wallMs.toFixed(0)} cpu ${r.cpuMs.toFixed(0)} (read ${r.readCpuMs.toFixed(0)}, append ${r.appendCpuMs.toFixed(0)})`,
      )
    }
    console.log(line.join(' | '))
  }
  for (const v of [0, 1]) {
    const r = runs[v]!
    const m = (f: (x: (typeof r)[number]) => number): string => median(r.map(f)).toFixed(0)
    console.log(
      `${names[v]} medians: wall ${m((x) => x.wallMs)} cpu ${m((x) => x.cpuMs)} read ${m((x) => x.readCpuMs)} append ${m((x) => x.appendCpuMs)} ratio ${median(r.map((x) => x.scanMs / x.wallMs)).toFixed(3)}`,
    )
  }
  console.log(
    `AB ingest rounds=${ROUNDS} rows=${ROWS} wall_new_over_base=${(median(runs[1]!.map((x) => x.wallMs)) / median(runs[0]!.map((x) => x.wallMs))).toFixed(3)} cpu_new_over_base=${(median(runs[1]!.map((x) => x.cpuMs)) / median(runs[0]!.map((x) => x.cpuMs))).toFixed(3)}`,
  )
} finally {
  rmSync(dir, { recursive: true, force: true })
}
