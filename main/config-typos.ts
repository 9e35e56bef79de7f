/**
 * Warnings for `KFS_*` environment variables kfs does not read. An unknown name in the config
 * file is refused (config-source.ts), but the environment is shared with the tools around kfs (the
 * stack scripts, the benches, the Python client), so an unknown variable there cannot be an error.
 * A typo of a setting, though, is silently the default — `KFS_CHECKPOINT_INTERVAL=5000` runs with
 * 10 s checkpoints — so a name close to a setting's is warned about, naming the setting meant.
 */
import { suggestion } from './commands/did-you-mean.ts'
import { CONFIG_VARIABLES } from './config-variables.ts'

/** Variables other parts of kfs read (scripts, `npm start`, the Python client): never typos. */
const OTHER_VARIABLES: ReadonlySet<string> = new Set([
  'KFS_CONFIG_FILE',
  'KFS_DEMO_DIR',
  'KFS_CACHE_DIR',
  'KFS_NODE_MIN',
  'KFS_CLI',
  'KFS_URL',
  'KFS_API_KEY',
])
/** Prefixes of the project's own tooling variables (tests, benches, the dev stack, compose). */
const TOOLING_PREFIXES = ['KFS_TEST_', 'KFS_BENCH_', 'KFS_STACK_', 'KFS_DOCKER_', 'KFS_AB_', 'KFS_PYTEST_', 'KFS_SCHEMATHESIS_']
const KNOWN: ReadonlySet<string> = new Set<string>([...CONFIG_VARIABLES, ...OTHER_VARIABLES])

/**
 * The setting `name` most likely meant: the closest one by did-you-mean's rule (a few edits, or
 * the one setting it starts), or the setting it only adds a part to (`KFS_SERVE_LOG_SAMPLE_RATE`).
 */
function meant(name: string): string | undefined {
  return suggestion(name, CONFIG_VARIABLES) ?? CONFIG_VARIABLES.find((known) => name.startsWith(`${known}_`))
}

/** One warning line (without the program name) per `KFS_*` variable in `env` that looks like a mistyped setting. */
export function mistypedVariableWarnings(env: Readonly<Record<string, string | undefined>>): string[] {
  const warnings: string[] = []
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith('KFS_') || env[name] === undefined || KNOWN.has(name)) continue
    if (TOOLING_PREFIXES.some((p) => name.startsWith(p))) continue
    const setting = meant(name)
    if (setting !== undefined) warnings.push(`${name} is not a kfs setting and is ignored: did you mean ${setting}?`)
  }
  return warnings
}
