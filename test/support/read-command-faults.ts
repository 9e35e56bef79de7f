/**
 * The read-side commands (verify-parity, skew-report, training-set, compact, dead-letters, tables,
 * registry, and serve while it runs) run through the real CLI (runCli, the real commands) over one
 * small kfs (read-command-baseline.ts) with every call of its object store and schema registry
 * numbered and faultable by kind (call-faults.ts KindFault); compact's writes too (WRITE_STEPS). The store is a memory store (as S3 is, not a local
 * disk: a training set copies its data files through the store's reads) copied fresh for each run.
 */
import assert from 'node:assert/strict'
import { cp, mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { silentLogger } from '../../core/logger.ts'
import { MemoryObjectStore } from '../../adapters/object-store/index.ts'
import { EmbeddedSchemaRegistry } from '../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { commands } from '../../main/commands/index.ts'
import type { CommandContext } from '../../main/commands/command.ts'
import { runCli } from '../../main/commands/router.ts'
import { loadConfig } from '../../main/config.ts'
import { COMMAND_READ_ATTEMPTS } from '../../main/read-retry.ts'
import { createRuntime } from '../../main/runtime.ts'
import type { ObjectStore } from '../../ports/object-store.ts'
import type { ReadBaseline } from './read-command-baseline.ts'
import { CallFaults, isRead, type CallOperation, type KindFault, type RecordedCall } from './call-faults.ts'
import { fastRetryClock } from './checkpoint-fault-scenario.ts'

const repo = fileURLToPath(new URL('../../', import.meta.url))

/** The read steps of one Iceberg table read whole: its metadata, manifests and data files. */
export function tableReadSteps(table: 'feature table' | 'archive'): string[] {
  return ['version hint', 'table metadata', 'manifest list', 'manifest', 'data file'].map((step) => `${table}: ${step}`)
}

/** The registry's reads every command with a features module makes. */
export const REGISTRY_STEPS = ['registry: an object', 'registry: a listing'] as const
export const FEATURES = ['--features', 'examples/with-new-view.ts']

/**
 * What a test does while a long-running command (`kfs serve --json`) runs: called once the command
 * printed its first line on stdout (the ready document) with that line, a way to arm a fault from
 * then on and what it printed on stderr so far; the command is stopped (its ctx.listenForStop)
 * once it settles.
 */
export type WhileRunning = (ready: string, running: { armFromNow(fault: KindFault): void; stderr(): string }) => Promise<unknown>

export interface CommandRun {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
  readonly calls: readonly RecordedCall[]
  readonly injected: number
  /** The object store as the command left it. */
  readonly storage: ObjectStore
  /** What `whileRunning` returned; undefined when it was not given or the command never got ready. */
  readonly live?: unknown
}

/**
 * `kfs <args>` over a fresh copy of the baseline, every call of its object store and schema
 * registry through one CallFaults (`fault` armed, or none: the clean run); retries sleep no time.
 * `dataDir`: where to run (a copy of the baseline's dir the caller made), else a fresh one.
 * `whileRunning`: for a command that runs until stopped (WhileRunning).
 */
export async function runReadCommand(
  baseline: ReadBaseline,
  args: readonly string[],
  fault?: KindFault,
  dataDir?: string,
  whileRunning?: WhileRunning,
): Promise<CommandRun> {
  const dir = dataDir ?? (await copyOfBaselineDir(baseline))
  const storage = new MemoryObjectStore()
  for (const [key, body] of baseline.objects) await storage.put(key, body)
  const faults = new CallFaults(fault)
  const store = faults.store(storage)
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, KFS_DATA_DIR: dir, KFS_LOG_LEVEL: 'silent' }
  const config = loadConfig(env)
  let stdout = ''
  let stderr = ''
  let stop!: (signal: string) => void
  const stopped = new Promise<string>((resolve) => (stop = resolve))
  let running: Promise<{ live: unknown } | { failed: unknown }> | undefined
  const out = (t: string): void => {
    stdout += t
    if (whileRunning === undefined || running !== undefined || !isReadyLine(stdout)) return
    const control = { armFromNow: (f: KindFault) => faults.armFromNow(f), stderr: () => stderr }
    running = whileRunning(stdout.slice(0, stdout.indexOf('\n')), control)
      .then(
        (live) => ({ live }),
        (failed: unknown) => ({ failed }),
      )
      .finally(() => stop('the test'))
  }
  try {
    const code = await runCli(args, commands, (json): CommandContext => ({
      cwd: repo,
      json,
      interactive: false,
      env,
      clock: fastRetryClock,
      out,
      listenForStop: () => ({ received: stopped, dispose: () => {} }),
      err: (t) => void (stderr += t),
      config: () => config,
      openObjectStore: async () => store,
      openRuntime: (options) =>
        createRuntime(config, {
          ...options,
          logger: silentLogger,
          ports: { store, schemas: faults.schemas(new EmbeddedSchemaRegistry({ dir: join(dir, 'schemas') })) },
        }),
    }))
    const settled = await running
    if (settled !== undefined && 'failed' in settled) throw settled.failed
    return { code, stdout, stderr, calls: faults.calls, injected: faults.injected, storage, live: settled?.live }
  } finally {
    if (dataDir === undefined) await rm(dir, { recursive: true, force: true })
  }
}

/** A first line on stdout that is a JSON document of its own (a ready line; a --json error is printed over many lines). */
function isReadyLine(stdout: string): boolean {
  const end = stdout.indexOf('\n')
  try {
    return end > 0 && typeof JSON.parse(stdout.slice(0, end)) === 'object'
  } catch {
    return false
  }
}

export async function copyOfBaselineDir(baseline: ReadBaseline): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kfs-read-faults-case-'))
  await cp(baseline.dir, dir, { recursive: true })
  return dir
}

/** One kind of read a command makes: the calls of one operation whose key matches. */
export interface ReadStep {
  readonly step: string
  readonly operation: CallOperation
  readonly key: RegExp
  /** How the failure must name it (engine/retried-reads.ts describeObject). */
  readonly named: RegExp
}

const table = (kind: 'features' | 'archive', what: string, name: RegExp, operation: CallOperation, named: string): ReadStep => ({
  step: `${kind === 'features' ? 'feature table' : 'archive'}: ${what}`,
  operation,
  key: new RegExp(`^warehouse/${kind}/[^/]+/${name.source}`),
  named: new RegExp(`${named} warehouse/${kind}/`),
})

const tableSteps = (kind: 'features' | 'archive'): ReadStep[] => [
  table(kind, 'version hint', /metadata\/version-hint\.text$/, 'get', 'the Iceberg version hint'),
  table(kind, 'metadata listing', /metadata\//, 'list', 'the keys under'),
  table(kind, 'table metadata', /metadata\/v\d+\.metadata\.json$/, 'get', 'the Iceberg table metadata'),
  table(kind, 'manifest list', /metadata\/snap-[^/]*\.avro$/, 'get', 'the Iceberg manifest list'),
  table(kind, 'manifest', /metadata\/[^/]*-m\d+\.avro$/, 'get', 'the Iceberg manifest'),
  table(kind, 'data file', /data\/.*\.parquet$/, 'get', 'the Iceberg data file'),
]

/** Every kind of read any of these commands makes, each once. */
export const READ_STEPS: readonly ReadStep[] = [
  { step: 'registry: an object', operation: 'get', key: /^registry\//, named: /the registry object registry\// },
  { step: 'registry: a listing', operation: 'list', key: /^registry\//, named: /the keys under registry\// },
  { step: 'checkpoints: a listing', operation: 'list', key: /^checkpoints\//, named: /the keys under checkpoints\// },
  { step: 'tables: the warehouse listing', operation: 'list', key: /^warehouse\/$/, named: /the keys under warehouse\// },
  ...tableSteps('features'),
  ...tableSteps('archive'),
  {
    step: 'schema registry: a writer schema',
    operation: 'schemas.getById',
    key: /^\d+$/,
    named: /writer schema id \d+ from the schema registry/,
  },
]

/** The steps of READ_STEPS a run made, in READ_STEPS's order; and the reads no step covers. */
export function stepsOf(calls: readonly RecordedCall[]): { made: string[]; uncovered: RecordedCall[] } {
  const reads = calls.filter(isRead)
  const covers = (s: ReadStep, c: RecordedCall) => c.operation === s.operation && s.key.test(c.key)
  return {
    made: READ_STEPS.filter((s) => reads.some((c) => covers(s, c))).map((s) => s.step),
    uncovered: reads.filter((c) => !READ_STEPS.some((s) => covers(s, c))),
  }
}

export type Expectation = 'absorbed' | 'exhausted' | 'refused'

/** Every way a read fails: a passing fault (once; every attempt but the last), one that outlasts the bound, a refusal. */
export const READ_FAULTS: readonly { kind: string; times: number; error: KindFault['error']; expect: Expectation }[] = [
  { kind: 'transient once', times: 1, error: 'transient', expect: 'absorbed' },
  {
    kind: `transient ${COMMAND_READ_ATTEMPTS - 1} times, then ok`,
    times: COMMAND_READ_ATTEMPTS - 1,
    error: 'transient',
    expect: 'absorbed',
  },
  { kind: 'transient for good (outlasts the bound)', times: Infinity, error: 'transient', expect: 'exhausted' },
  { kind: 'refused (access denied)', times: 1, error: 'permanent', expect: 'refused' },
]

/** Every case of `steps` (names of READ_STEPS) × READ_FAULTS: the fault to arm and what it must end as. */
export function readFaultCases(steps: readonly string[]): {
  readonly what: string
  readonly fault: KindFault
  readonly expect: Expectation
  readonly times: number
  readonly named: RegExp
}[] {
  return steps.flatMap((name) => {
    const step = READ_STEPS.find((s) => s.step === name)
    if (step === undefined) throw new Error(`no read step ${name}`)
    return READ_FAULTS.map(({ kind, times, error, expect }) => ({
      what: `${name}, ${kind}`,
      fault: { operation: step.operation, key: step.key, times, error },
      expect,
      times,
      named: step.named,
    }))
  })
}

/**
 * A faulted run ended as `expect` says: within the bound exactly as the clean run (`same` compares
 * what the command printed, normalised by the caller); past it or refused, exit 1 with one line on
 * stderr naming the read — no stack trace, no "unexpected error" — retried to the bound, or (a
 * refusal) asked once.
 */
export function assertFaultedRun(
  got: CommandRun,
  clean: CommandRun,
  fault: { readonly expect: Expectation; readonly times: number; readonly named: RegExp; readonly command: string },
  what: string,
  same: (run: CommandRun) => unknown = (run) => run.stdout,
): void {
  if (fault.expect === 'absorbed') {
    assert.equal(got.injected, fault.times, `${what}: faults injected`)
    assert.equal(got.code, clean.code, `${what}: exit code (stderr: ${got.stderr})`)
    assert.deepEqual(same(got), same(clean), `${what}: output as in the clean run`)
    assert.equal(got.stderr, clean.stderr, `${what}: stderr as in the clean run`)
    return
  }
  assert.equal(got.code, 1, `${what}: exit 1 (stdout: ${got.stdout}; stderr: ${got.stderr})`)
  // Under --json nothing but the one error document: no partial result before it.
  if (got.stdout !== '') {
    const doc = JSON.parse(got.stdout) as { error?: { code?: unknown; message?: unknown } }
    assert.deepEqual(Object.keys(doc), ['error'], `${what}: stdout holds only the error document: ${got.stdout}`)
    assert.match(String(doc.error?.message), fault.named, what)
  }
  const lines = got.stderr.split('\n').filter((l) => l !== '')
  assert.equal(lines.length, 1, `${what}: one line on stderr, got ${JSON.stringify(got.stderr)}`)
  assert.match(lines[0]!, new RegExp(`^kfs ${fault.command}: `), what)
  assert.doesNotMatch(lines[0]!, /unexpected error/, what)
  assert.match(lines[0]!, fault.named, `${what}: the line names what could not be read`)
  if (fault.expect === 'exhausted') {
    assert.match(lines[0]!, new RegExp(`gave up after ${COMMAND_READ_ATTEMPTS} attempts`), what)
    assert.ok(got.injected >= COMMAND_READ_ATTEMPTS, `${what}: retried to the bound (${got.injected})`)
  } else {
    assert.match(lines[0]!, /injected permanent failure/, `${what}: the refusal's own words`)
    assert.equal(got.injected, 1, `${what}: a refusal is not asked again`)
  }
}

/**
 * One kind of write a command makes (`kfs compact`'s: engine/retried-writes.ts), faulted as a read
 * is plus "landed, answer lost". `settles`: how a fault of it can end otherwise than a read's —
 * `found landed` (a create the commit's next attempt finds landed: any lost answer is absorbed,
 * asked once), `best effort` (a write the command does without when it fails: every fault absorbed).
 */
export interface WriteStep {
  readonly step: string
  readonly operation: 'put' | 'putIfAbsent' | 'delete'
  readonly key: RegExp
  readonly named: RegExp
  readonly settles?: 'found landed' | 'best effort'
}

const tableWrite = (what: string, name: RegExp, named: string, extra: Partial<WriteStep> = {}): WriteStep => ({
  step: `feature table: ${what} write`,
  operation: 'put',
  key: new RegExp(`^warehouse/features/[^/]+/${name.source}`),
  named: new RegExp(`could not write ${named} warehouse/features/`),
  ...extra,
})

/** Every kind of write a compaction makes, in the order it makes them. */
export const WRITE_STEPS: readonly WriteStep[] = [
  tableWrite('data file', /data\/.*\.parquet$/, 'the Iceberg data file'),
  tableWrite('new manifest', /metadata\/[^/]*-m0\.avro$/, 'the Iceberg manifest'),
  tableWrite('rewritten manifest', /metadata\/[^/]*-m1\.avro$/, 'the Iceberg manifest'),
  tableWrite('manifest list', /metadata\/snap-[^/]*\.avro$/, 'the Iceberg manifest list'),
  tableWrite('table metadata', /metadata\/v\d+\.metadata\.json$/, 'the Iceberg table metadata', {
    operation: 'putIfAbsent',
    settles: 'found landed',
  }),
  tableWrite('version hint', /metadata\/version-hint\.text$/, 'the Iceberg version hint', { settles: 'best effort' }),
]

/** The steps of WRITE_STEPS a run made, in WRITE_STEPS's order; and the writes no step covers. */
export function writeStepsOf(calls: readonly RecordedCall[]): { made: string[]; uncovered: RecordedCall[] } {
  const writes = calls.filter((c) => c.operation === 'put' || c.operation === 'putIfAbsent' || c.operation === 'delete')
  const covers = (s: WriteStep, c: RecordedCall) => c.operation === s.operation && s.key.test(c.key)
  return {
    made: WRITE_STEPS.filter((s) => writes.some((c) => covers(s, c))).map((s) => s.step),
    uncovered: writes.filter((c) => !WRITE_STEPS.some((s) => covers(s, c))),
  }
}

/**
 * Every case of `steps` (names of WRITE_STEPS) × READ_FAULTS, never landed and (a passing fault
 * only: a refusal writes nothing) landed with its answer lost; `times` is the faults the case
 * injects when it is absorbed.
 */
export function writeFaultCases(steps: readonly string[]): ReturnType<typeof readFaultCases> {
  return steps.flatMap((name) => {
    const step = WRITE_STEPS.find((s) => s.step === name)
    if (step === undefined) throw new Error(`no write step ${name}`)
    return (['before', 'after'] as const).flatMap((when) =>
      READ_FAULTS.filter((f) => when === 'before' || f.error === 'transient').map(({ kind, times, error, expect }) => {
        const landed = when === 'after' && step.settles === 'found landed'
        const absorbed = landed || step.settles === 'best effort'
        return {
          what: `${name}, ${when === 'before' ? 'never landed' : 'landed, answer lost'}, ${kind}`,
          fault: { operation: step.operation, key: step.key, times, error, when },
          expect: absorbed ? 'absorbed' : expect,
          // Asked once when found landed or refused; a best-effort write gives up at the bound, quietly.
          times: landed || error === 'permanent' ? 1 : absorbed ? Math.min(times, COMMAND_READ_ATTEMPTS) : times,
          named: step.named,
        }
      }),
    )
  })
}

/** The files of `dir` whose names start with `prefix` (a training set's partial files). */
export async function filesLike(dir: string, prefix: string): Promise<string[]> {
  return (await readdir(dir)).filter((f) => f.startsWith(prefix))
}

export type { KindFault } from './call-faults.ts'
export { buildReadBaseline, SERVED_TOPIC, type ReadBaseline } from './read-command-baseline.ts'
