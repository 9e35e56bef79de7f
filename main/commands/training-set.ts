import { isAbsolute, resolve } from 'node:path'
import { loadDefinitions } from '../../registry/index.ts'
import { createTrainingSet, rebuildTrainingSet, type TrainingSetResult } from '../../training/index.ts'
import { stringOption, UsageError, type Command } from './command.ts'
import { openRegistry } from './definitions.ts'

export const trainingSetCommand: Command = {
  name: 'training-set',
  summary: 'Build a point-in-time training set from labels, or rebuild one by id',
  usage: 'kfs training-set --labels <file> (--service <name> | --features <refs>) [--as-served] --out <file.parquet> [--json]\n       kfs training-set --rebuild <id> --out <file.parquet> [--json]',
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
Views whose backfill is not complete are refused.

Options:
  --labels <file>        label file (.csv or .parquet)
  --service <name>       the features of a feature service (stored and request features)
  --features <refs>      comma-separated: view:feature, view@2:feature, request feature names
  --time-column <name>   label-time column (default ts)
  --as-served            join on created_at: what the online store could have served at t
                         (the conditional-write winner among rows created by t; TTL on as_of)
  --rebuild <id>         rebuild a recorded training set from its stored labels and snapshots
  --out <file>           output Parquet file
  -d, --definitions <path>  definitions module, for request-feature functions
                         (default KFS_FEATURES or examples/features.ts)
  --json                 print the result as JSON

Examples:
  kfs training-set --labels labels.csv --service fraud_model --out fraud.parquet
  kfs training-set --labels labels.parquet --features user_clicks:count_1h,item_clicks:count_1d --out recs.parquet
  kfs training-set --labels labels.csv --service fraud_model --as-served --out served.parquet --json
  kfs training-set --rebuild 3f9a0c1d2e4b5a69 --out fraud-again.parquet
`,
  options: {
    labels: { type: 'string' },
    service: { type: 'string' },
    features: { type: 'string' },
    'time-column': { type: 'string' },
    'as-served': { type: 'boolean' },
    rebuild: { type: 'string' },
    out: { type: 'string' },
    definitions: { type: 'string', short: 'd' },
  },
  async run(args, ctx) {
    const out = stringOption(args, 'out')
    if (out === undefined) throw new UsageError('--out <file.parquet> is required')
    const output = isAbsolute(out) ? out : resolve(ctx.cwd, out)
    const rebuild = stringOption(args, 'rebuild')
    const labels = stringOption(args, 'labels')
    const service = stringOption(args, 'service')
    const features = stringOption(args, 'features')
    if (rebuild !== undefined && (labels !== undefined || service !== undefined || features !== undefined || args.values['as-served'] !== undefined)) {
      throw new UsageError('--rebuild takes only --out: labels, features and mode come from the record')
    }
    if (rebuild === undefined) {
      if (labels === undefined) throw new UsageError('--labels <file> is required (or --rebuild <id>)')
      if ((service === undefined) === (features === undefined)) throw new UsageError('give exactly one of --service <name> or --features <refs>')
    }
    const store = await ctx.openObjectStore()
    const { registry } = await openRegistry(ctx)
    const definitionsPath = stringOption(args, 'definitions') ?? ctx.config().featuresModule
    const set = await loadDefinitions(definitionsPath, { cwd: ctx.cwd, known: await registry.known() })
    const deps = { store, registry, clock: ctx.clock, requestFeatures: set.requestFeatures }
    const startedMs = ctx.clock.nowMs()
    let result: TrainingSetResult
    if (rebuild !== undefined) {
      result = await rebuildTrainingSet({ ...deps, id: rebuild, output })
    } else {
      const timeColumn = stringOption(args, 'time-column')
      result = await createTrainingSet({
        ...deps,
        labels: { path: isAbsolute(labels!) ? labels! : resolve(ctx.cwd, labels!) },
        features: service ?? features!.split(',').map((f) => f.trim()).filter((f) => f.length > 0),
        asServed: args.values['as-served'] === true,
        output,
        ...(timeColumn === undefined ? {} : { timeColumn }),
      })
    }
    const seconds = (ctx.clock.nowMs() - startedMs) / 1000
    const { record } = result
    if (ctx.json) {
      ctx.out(`${JSON.stringify({ id: result.id, output, rows: result.rows, seconds, record }, null, 2)}\n`)
    } else {
      const snapshots = record.views.map((v) => `  ${v.name} v${v.version}  snapshot ${v.snapshotId ?? '(empty table)'}`).join('\n')
      ctx.out(
        `${rebuild === undefined ? 'Built' : 'Rebuilt'} training set ${result.id}${record.asServed ? ' (as served)' : ''}: ${result.rows} rows × ${record.output.columns.length} columns → ${output} (${seconds.toFixed(1)} s)\n` +
          `Tables read:\n${snapshots}\nRebuild with: kfs training-set --rebuild ${result.id} --out <file>\n`,
      )
    }
    return 0
  },
}
