/** `kfs codegen`: a typed TypeScript client module for a feature service (./codegen-template.ts). */
import { createFeatureCatalog } from '../../serving/feature-catalog.ts'
import { stringOption, UsageError, type Command } from './command.ts'
import { generateServiceClient } from './codegen-template.ts'
import { FEATURES_HELP, FEATURES_OPTION, loadFeatures, openRegistry } from './definitions.ts'

export const codegenCommand: Command = {
  name: 'codegen',
  summary: 'Print a typed TypeScript client module for a feature service',
  usage: 'kfs codegen --service <name> [--features <path>] [--json]',
  help: `
Prints a TypeScript module (stdout) for one feature service, from the feature definitions: an
interface of its features (view:feature and request feature names → value types, null when the
view has no row), its entity's join keys and request inputs as types, and
create<Service>Client({ url, apiKey }) whose getOnlineFeatures(entities, request) calls
POST /v1/features of kfs serve and returns typed rows. A feature the service does not have is a
compile error in the code that uses it; a server whose service changed since is CLIENT_OUT_OF_DATE
at run time, no answer (or one cut short) UNREACHABLE, a 2xx that is not a feature answer
BAD_RESPONSE. The module imports nothing (it uses the global fetch).

A service the definitions do not have exits 2.

Options:
  --service <name>       the feature service
${FEATURES_HELP}
  --json                 print {"service", "module"} instead of the module

Examples:
  kfs codegen --service fraud_model > fraud-model-client.ts
  kfs codegen --service recommender --features examples/features.ts
`,
  options: { ...FEATURES_OPTION, service: { type: 'string', kind: 'name' } },
  async run(args, ctx) {
    const service = stringOption(args, 'service')
    if (service === undefined) throw new UsageError('--service <name> is required')
    const { registry } = await openRegistry(ctx)
    const { set, path } = await loadFeatures(args, ctx, registry)
    if (!set.services.some((s) => s.name === service)) {
      const known = set.services.map((s) => s.name).join(', ') || 'none'
      throw new UsageError(`--service: no service ${service} in ${path} (services: ${known})`)
    }
    // Serving's own plan: the names, order and types the server answers with (a definition that does not resolve is CONFIG_INVALID, exit 1).
    const plan = createFeatureCatalog({ views: set.views, services: set.services, requestFeatures: set.requestFeatures }).servicePlan(service)
    const module = generateServiceClient({ service, plan, command: `kfs codegen --service ${service}` })
    ctx.out(ctx.json ? `${JSON.stringify({ service, module })}\n` : module)
    return 0
  },
}
