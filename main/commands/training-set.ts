/** `kfs training-set`: point-in-time training sets (training/create-training-set.ts). */
import { existsSync } from 'node:fs'
import { isAbsolute, resolve } from 'node:path'
import { FeatureStoreError } from '../../core/errors.ts'
import type { RequestFeatureDef } from '../../features/types.ts'
import type { Registry } from '../../registry/index.ts'
import {
  createTrainingSet,
  listTrainingSets,
  planTrainingSet,
  rebuildTrainingSet,
  type TrainingSetResult,
} from '../../training/index.ts'
import { createOfflineStore, trainingAdapters } from '../offline-adapters.ts'
import { flagOption, listOption, stringOption, UsageError, type Command, type CommandContext, type ParsedArgs } from './command.ts'
import { definitionsModule, FEATURES_HELP, loadCheckedDefinitions, openRegistry } from './definitions.ts'
import { parseOptionValue } from './options.ts'
import { refuseOutputOverInputs } from './output-over-input.ts'
import { progressFor } from './progress.ts'
import { openReadSideStore, readSideRetry } from './read-side.ts'

export const trainingSetCommand: Command = {
  name: 'training-set',
  summary: 'Build a point-in-time training set from labels, or rebuild one by id',
  usage:
    'kfs training-set --labels <file> (--service <name> | --feature-refs <refs>) [--as-served] [--features <path>] --out <file.parquet> [--json]\n       kfs training-set --rebuild <id> --out <file.parquet> [--json]',
  help: `
For each label row (entity keys, label time t) every feature takes the latest row of its view with
as_of ≤ t (ties broken by archive order), or null when there is none or it is older than the view's
TTL. Never a value from after t. The output Parquet holds the label columns, one column per stored
feature named <view>__<feature>, and one per request feature (its own name). The file's key-value
metadata kfs.training_set and the registry (registry/training-sets/<id>.json) record the table
snapshots read, so --rebuild <id> writes the same bytes again.

Labels: CSV (with a header) or Parquet. They need a column for each join key of every view used
(user_id, item_id, …; composite keys take one column per part), a label-time column (epoch ms or
ISO-8601; ISO without a zone is UTC), and any request inputs; other columns are carried through.
Views whose backfill is not complete are refused (exit 1), and so is a label file with no rows.
A missing label file, an --out in a folder that does not exist, a --time-column the labels lack,
or a service, view, feature or training-set id the registry does not have exits 2 before anything
is written.

Options:
  --labels <file>        label file (.csv or .parquet)
  --service <name>       the features of a feature service (stored and request features)
  --feature-refs <refs>  comma-separated: view:feature, view@2:feature, request feature names
  --time-column <name>   label-time column (default ts)
  --as-served            join on created_at: what the online store could have served at t
                         (the conditional-write winner among rows created by t; TTL on as_of)
  --rebuild <id>         rebuild a recorded training set from its stored labels and snapshots
  --out <file>           output Parquet file
${FEATURES_HELP}
                         (for request-feature functions)
  -d, --definitions <path>  deprecated spelling of --features <path> (still works, with a warning)
  --json                 print the result as JSON

--features means the definitions module here as in every other command. Until kfs 0.2 a
--features value that is no file or folder is still read as feature references, with a warning
to use --feature-refs.

Examples:
  kfs training-set --labels labels.csv --service fraud_model --out fraud.parquet
  kfs training-set --labels labels.parquet --feature-refs user_clicks:count_1h,item_clicks:count_1d --out recs.parquet
  kfs training-set --labels labels.csv --service fraud_model --as-served --out served.parquet --json
  kfs training-set --rebuild 3f9a0c1d2e4b5a69 --out fraud-again.parquet
`,
  options: {
    labels: { type: 'string', kind: 'input-file' },
    service: { type: 'string', kind: 'name' },
    // In order, repeats kept: a feature named twice is refused (training/plan.ts), not collapsed.
    'feature-refs': { type: 'string', kind: 'ordered-names' },
    // A module path, or (deprecated) feature references: told apart in featureFlags below.
    features: { type: 'string', kind: 'text', short: 'f' },
    'time-column': { type: 'string', kind: 'text' },
    'as-served': { type: 'boolean' },
    rebuild: { type: 'string', kind: 'hex-id' },
    out: { type: 'string', kind: 'output-file' },
    definitions: { type: 'string', kind: 'module-path', short: 'd' },
  },
  async run(args, ctx) {
    const output = stringOption(args, 'out')
    if (output === undefined) throw new UsageError('--out <file.parquet> is required')
    const rebuild = stringOption(args, 'rebuild')
    const labels = stringOption(args, 'labels')
    const service = stringOption(args, 'service')
    const { refs: features, refsFlag, modulePath } = featureFlags(args, ctx)
    const timeColumn = stringOption(args, 'time-column')
    if (
      rebuild !== undefined &&
      (labels !== undefined ||
        service !== undefined ||
        features !== undefined ||
        timeColumn !== undefined ||
        args.values['as-served'] !== undefined)
    ) {
      throw new UsageError('--rebuild takes only --out: labels, features and mode come from the record')
    }
    if (rebuild === undefined) {
      if (labels === undefined) throw new UsageError('--labels <file> is required (or --rebuild <id>)')
      if ((service === undefined) === (features === undefined))
        throw new UsageError('give exactly one of --service <name> or --feature-refs <refs>')
      if (!/\.(csv|parquet)$/i.test(labels)) throw new UsageError(`--labels: ${labels} is neither .csv nor .parquet`)
    }
    const definitionsPath = definitionsModule(modulePath, ctx)
    const reads = [
      ...(labels === undefined ? [] : [{ what: 'the label file (--labels)', path: labels }]),
      { what: 'the definitions module', path: resolve(ctx.cwd, definitionsPath) },
    ]
    refuseOutputOverInputs('--out', output, reads)
    const retry = readSideRetry(ctx)
    const store = await openReadSideStore(ctx, retry)
    const { registry } = await openRegistry(ctx, { readRetry: retry })
    const set = await loadCheckedDefinitions(definitionsPath, ctx, registry)
    const offline = { parquetWorker: ctx.config().parquetWorker }
    const adapters = trainingAdapters(createOfflineStore(store, offline), offline)
    const deps = { store, registry, ...adapters, clock: ctx.clock, requestFeatures: set.requestFeatures }
    const startedMs = ctx.clock.nowMs()
    const progress = progressFor(ctx)
    let result: TrainingSetResult
    if (rebuild !== undefined) {
      if (!(await listTrainingSets(store)).includes(rebuild))
        throw new UsageError(`--rebuild: no training set ${rebuild} in the registry`)
      progress.ticking(`rebuilding training set ${rebuild}…`)
      result = await rebuildTrainingSet({ ...deps, id: rebuild, output }).finally(() => progress.done())
    } else {
      const selection = service ?? features!
      await checkSelection(registry, selection, set.requestFeatures, refsFlag)
      progress.ticking(`building the training set: joining ${labels} with the offline tables…`)
      result = await createTrainingSet({
        ...deps,
        labels: { path: labels! },
        features: selection,
        asServed: flagOption(args, 'as-served'),
        output,
        ...(timeColumn === undefined ? {} : { timeColumn }),
        // Checked on the build's own read of the labels: a CSV is parsed once.
        inspectLabels: (table) => checkLabels(labels!, table, timeColumn ?? 'ts'),
      }).finally(() => progress.done())
    }
    const seconds = (ctx.clock.nowMs() - startedMs) / 1000
    const { record } = result
    // A view that matched no label row: exit 0 as documented, but said on stderr and in --json.
    for (const warning of result.warnings) ctx.err(`kfs training-set: warning: ${warning}\n`)
    if (ctx.json) {
      ctx.out(`${JSON.stringify({ id: result.id, output, rows: result.rows, seconds, record, warnings: result.warnings }, null, 2)}\n`)
    } else {
      const snapshots = record.views
        .map((v) => `  ${v.name} v${v.version}  snapshot ${v.snapshotId ?? '(empty table)'}`)
        .join('\n')
      ctx.out(
        `${rebuild === undefined ? 'Built' : 'Rebuilt'} training set ${result.id}${record.asServed ? ' (as served)' : ''}: ${result.rows} rows × ${record.output.columns.length} columns → ${output} (${seconds.toFixed(1)} s)\n` +
          `Tables read:\n${snapshots}\nRebuild with: kfs training-set --rebuild ${result.id} --out <file>\n`,
      )
    }
    return 0
  },
}

/**
 * `--feature-refs` names feature references and `-f, --features` the definitions module, as in
 * every other command. The old spellings still work with a warning on stderr: `--features <refs>`
 * (a value that is no file or folder) and `-d, --definitions <path>`.
 */
function featureFlags(args: ParsedArgs, ctx: CommandContext): { refs: readonly string[] | undefined; refsFlag: string; modulePath: string | undefined } {
  const warn = (text: string): void => ctx.err(`kfs training-set: warning: ${text}\n`)
  let refs = listOption(args, 'feature-refs')
  let refsFlag = '--feature-refs'
  let modulePath = stringOption(args, 'definitions')
  if (modulePath !== undefined) warn('-d/--definitions is deprecated: name the definitions module with -f/--features, as in every other command')
  const features = stringOption(args, 'features')
  if (features !== undefined) {
    const path = isAbsolute(features) ? features : resolve(ctx.cwd, features)
    if (existsSync(path)) {
      if (modulePath !== undefined) throw new UsageError('give the definitions module once: --features <path> (--definitions is its old spelling)')
      modulePath = path
    } else {
      if (refs !== undefined) throw new UsageError(`--features: ${path} does not exist (feature references go in --feature-refs, given already)`)
      refs = parseOptionValue('features', 'ordered-names', features, { cwd: ctx.cwd, nowMs: ctx.clock.nowMs() }) as readonly string[]
      refsFlag = '--features'
      warn('--features <refs> is deprecated: name feature references with --feature-refs (--features names the definitions module, as in every other command)')
    }
  }
  return { refs, refsFlag, modulePath }
}

/** The service or feature references must name what the registry has: otherwise a usage error. */
async function checkSelection(
  registry: Registry,
  selection: string | readonly string[],
  requestFeatures: readonly RequestFeatureDef[],
  refsFlag: string,
): Promise<void> {
  try {
    await planTrainingSet(registry, typeof selection === 'string' ? { service: selection } : { refs: selection }, requestFeatures)
  } catch (err: unknown) {
    // Unknown, repeated or colliding features are the invocation's mistake.
    if (err instanceof FeatureStoreError && (err.code === 'NOT_FOUND' || err.code === 'BAD_REQUEST'))
      throw new UsageError(`${typeof selection === 'string' ? '--service' : refsFlag}: ${err.message}`)
    throw err
  }
}

/**
 * The label file must have the label-time column (naming one it lacks is a usage error) and at
 * least one row (none would build an empty set: nothing to do, so a failure, exit 1).
 */
function checkLabels(path: string, table: { readonly columns: readonly string[]; readonly rowCount: number }, timeColumn: string): void {
  const names = table.columns
  if (!names.includes(timeColumn))
    throw new UsageError(`--time-column: ${path} has no column ${timeColumn} (columns: ${names.join(', ')})`)
  if (table.rowCount === 0) throw new FeatureStoreError('BAD_REQUEST', `${path} has no label rows: nothing to build`)
}
