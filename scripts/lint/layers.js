// The house's layers as an ESLint rule: a module may import only from the folders its own folder
// lists below. Relative imports are resolved against the importing file, so `../../ports/x.ts`
// and `../ports/x.ts` are judged alike; package imports are left to `no-restricted-imports`.
import { dirname, relative, resolve, sep } from 'node:path'

/** Lowest first. A folder may import itself and the folders listed for it, nothing else. */
export const LAYERS = {
  core: [],
  features: ['core'],
  operators: ['core', 'features'],
  ports: ['core', 'features'],
  schemas: ['core', 'features', 'ports'],
  engine: ['core', 'features', 'operators', 'ports', 'schemas'],
  // Adapters implement ports; `adapters/<family>` may also use its own family (Iceberg writes Parquet).
  adapters: ['core', 'features', 'ports', 'schemas'],
  registry: ['core', 'features', 'operators', 'ports'],
  serving: ['core', 'features', 'operators', 'ports', 'schemas', 'registry'],
  replay: ['core', 'features', 'operators', 'ports', 'schemas', 'engine', 'registry'],
  // Table snapshots and changelog files appended to a source's log (kfs ingest).
  ingest: ['core', 'features', 'operators', 'ports', 'schemas', 'engine', 'registry'],
  training: ['core', 'features', 'operators', 'ports', 'schemas', 'registry', 'serving'],
  // The composition root wires adapters into everything else.
  main: ['core', 'features', 'operators', 'ports', 'schemas', 'engine', 'adapters', 'registry', 'serving', 'replay', 'ingest', 'training', 'examples'],
}

/**
 * Narrow exceptions: a folder may also import these sub-folders of a layer it may not import,
 * and nothing else of that layer. The DSL (features/) validates definitions against each
 * aggregation's own contract, which lives beside its kernel (operators/aggregators/contract.ts);
 * operators/aggregators imports only core/ and features/ types, so no cycle can form.
 */
export const EXCEPTIONS = {
  features: ['operators/aggregators'],
  // Every adapter that keeps files on a local disk makes their names durable the same way
  // (adapters/local-disk/sync-dir.ts: directory fsyncs) and, where it has one writer, owns its
  // directory the same way (directory-lock.ts); that folder holds no client and no port.
  adapters: ['adapters/local-disk'],
}

/** `adapters/<family>` for adapters, the top folder otherwise; undefined outside the layered folders. */
function unitOf(repoPath) {
  const [top, family] = repoPath.split(sep)
  if (!(top in LAYERS)) return undefined
  return top === 'adapters' && family !== undefined && !family.endsWith('.ts') ? `adapters/${family}` : top
}

const layerOf = (unit) => unit.split('/')[0]

function allowed(fromUnit, toUnit, target) {
  if (fromUnit === toUnit) return true
  const narrow = EXCEPTIONS[layerOf(fromUnit)] ?? []
  if (narrow.some((folder) => target.split(sep).join('/').startsWith(`${folder}/`))) return true
  const from = layerOf(fromUnit)
  const to = layerOf(toUnit)
  if (from === 'adapters' && to === 'adapters') return false // another family: go through a port
  return from === to || LAYERS[from].includes(to)
}

export const layersRule = {
  meta: {
    type: 'problem',
    docs: { description: 'imports follow the layers of the house (scripts/lint/layers.js)' },
    schema: [],
    messages: {
      upward: "{{from}}/ may not import {{to}}/: {{from}}/ imports only {{allowed}} (see docs/architecture.md)",
    },
  },
  create(context) {
    const root = context.cwd
    const file = relative(root, context.filename)
    const fromUnit = unitOf(file)
    if (fromUnit === undefined) return {}
    function check(node) {
      const spec = node.source?.value
      if (typeof spec !== 'string' || !spec.startsWith('.')) return
      const target = relative(root, resolve(dirname(context.filename), spec))
      const toUnit = unitOf(target)
      if (toUnit === undefined || allowed(fromUnit, toUnit, target)) return
      const from = layerOf(fromUnit)
      const list = [...LAYERS[from], ...(EXCEPTIONS[from] ?? []), ...(from === 'adapters' ? [`${fromUnit} (own family)`] : [])]
      context.report({
        node: node.source,
        messageId: 'upward',
        data: { from: fromUnit, to: toUnit, allowed: list.length ? list.join(', ') : 'no other folder' },
      })
    }
    return {
      ImportDeclaration: check,
      ExportNamedDeclaration: check,
      ExportAllDeclaration: check,
      ImportExpression: check,
    }
  },
}

export default { rules: { layers: layersRule } }
