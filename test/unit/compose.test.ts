/**
 * docker-compose.yml must come up as documented (issue #18) without a Docker engine to try it:
 * compose-go — the loader Docker Compose itself uses (scripts/compose) — validates it against the
 * compose-spec schema and its own consistency checks, and resolves it (every profile, variables at
 * their defaults); the tests below read that resolved project. They check that it describes the
 * same stack as scripts/stack/, configures kfs with variables main/config.ts understands and the
 * README documents, runs only commands the README documents, publishes the definitions before the
 * engine and the feature server start, restarts them, and wires Prometheus (alert rules checked by
 * Prometheus's own checker, ./ops-rules.test.ts) and Grafana to files that exist.
 */
import { before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'
import { commands } from '../../main/commands/index.ts'
import { CONFIG_VARIABLES, loadConfig } from '../../main/config.ts'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const read = (path: string): string => readFileSync(join(root, path), 'utf8')

/** A service as compose-go resolves it (`docker compose config --format json`). */
interface Service {
  image?: string
  build?: { context: string; dockerfile: string }
  command?: string[] | null
  environment?: Record<string, string | null>
  ports?: { host_ip?: string; published?: string; target: number }[]
  depends_on?: Record<string, { condition: string }>
  healthcheck?: { test?: string[] }
  restart?: string
  profiles?: string[]
  volumes?: { type: string; source: string; target: string; read_only?: boolean }[]
}

/** Runs the compose-go checker; the first run compiles it (Go, modules from the Go module proxy). */
function composeCheck(args: readonly string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('go', ['run', '.', ...args], { cwd: join(root, 'scripts/compose'), encoding: 'utf8', timeout: 600_000, maxBuffer: 64 << 20 })
  if (r.error !== undefined) assert.fail(`scripts/compose needs Go (go run): ${r.error.message}`)
  return r
}

let services: Record<string, Service> = {}
before(() => {
  const r = composeCheck(['-f', '../../docker-compose.yml', '-json'])
  assert.equal(r.status, 0, `compose-go refuses docker-compose.yml:\n${r.stderr}`)
  services = (JSON.parse(r.stdout) as { services: Record<string, Service> }).services
})

const environment = (service: Service): Record<string, string> =>
  Object.fromEntries(Object.entries(service.environment ?? {}).map(([k, v]) => [k, v ?? '']))

/** The default port of each server in scripts/stack/common.sh, e.g. KAFKA_PORT -> 19092. */
function stackPort(name: string): number {
  const match = new RegExp(`^${name}="\\$\\{KFS_STACK_${name}:-(\\d+)\\}"$`, 'm').exec(read('scripts/stack/common.sh'))
  assert.ok(match, `scripts/stack/common.sh defines no default for ${name}`)
  return Number(match[1])
}

const serverPorts = [
  { service: 'kafka', port: 'KAFKA_PORT' },
  { service: 'registry', port: 'REGISTRY_PORT' },
  { service: 'redis', port: 'REDIS_PORT' },
  { service: 'minio', port: 'S3_PORT' },
]
/** Services built from this repository: they run `kfs <command>`. */
const kfsServices = (): [string, Service][] => Object.entries(services).filter(([, s]) => s.build !== undefined)
const ONE_SHOT = ['create-bucket', 'init', 'demo-events']

/** The README's "## CLI" table: `kfs <command> …` per row. */
function readmeCommands(): Set<string> {
  const readme = read('README.md')
  const start = readme.indexOf('\n## CLI\n')
  const section = readme.slice(start, readme.indexOf('\n## ', start + 1))
  return new Set([...section.matchAll(/^\| `kfs ([a-z-]+)/gm)].map((m) => m[1]!))
}

void describe('docker-compose.yml', () => {
  void test('compose-go rejects a broken file (the checker checks)', () => {
    const r = composeCheck(['-f', '../../test/fixtures/compose/broken.yml'])
    assert.equal(r.status, 1)
    assert.match(r.stderr, /depends on undefined service "nowhere"/)
  })

  void test('has every server of the script stack, the kfs services, Prometheus and Grafana', () => {
    for (const name of [...serverPorts.map((s) => s.service), 'init', 'demo-events', 'engine', 'serving', 'prometheus', 'grafana']) {
      assert.ok(services[name], `service ${name} is missing`)
    }
  })

  void test('every long-running service has a healthcheck and a restart policy; one-shot jobs do not restart', () => {
    for (const [name, service] of Object.entries(services)) {
      if (ONE_SHOT.includes(name)) {
        assert.equal(service.restart, 'no', `${name} runs once`)
        continue
      }
      const check = service.healthcheck?.test
      assert.ok(Array.isArray(check) && check.length > 1, `service ${name} has no healthcheck test`)
    }
    for (const name of ['engine', 'serving', 'prometheus', 'grafana']) {
      assert.ok(['always', 'unless-stopped', 'on-failure'].includes(services[name]?.restart ?? ''), `${name} is not restarted (${services[name]?.restart})`)
    }
  })

  void test('init applies the definitions; the engine and serving start only after it succeeded; demo events under a profile', () => {
    assert.deepEqual(services['init']?.command, ['apply'])
    for (const name of ['engine', 'serving', 'demo-events']) {
      assert.equal(services[name]?.depends_on?.['init']?.condition, 'service_completed_successfully', `${name} waits for init`)
    }
    assert.deepEqual(services['demo-events']?.profiles, ['demo'])
    assert.equal(services['demo-events']?.command?.slice(0, 2).join(' '), 'produce --generate')
    for (const [name, service] of Object.entries(services)) {
      if (name !== 'demo-events') assert.equal(service.profiles, undefined, `${name} runs without a profile`)
    }
  })

  void test("each kfs service's command is a command of the router and of the README's table, with options it accepts", () => {
    const documented = readmeCommands()
    const built = kfsServices()
    assert.ok(built.length >= 4, `kfs services: ${built.map(([n]) => n).join(', ')}`)
    for (const [name, service] of built) {
      const [commandName, ...args] = service.command ?? []
      assert.ok(commandName !== undefined, `${name} has a command`)
      const command = commands.find((c) => c.name === commandName)
      assert.ok(command, `${name} runs kfs ${commandName}, which the router does not have`)
      assert.ok(documented.has(commandName), `${name} runs kfs ${commandName}, which README's CLI table does not document`)
      for (const arg of args.filter((a) => a.startsWith('--'))) {
        const option = arg.slice(2).split('=')[0]!
        assert.ok(command.options?.[option] !== undefined, `${name}: kfs ${commandName} has no option ${arg}`)
      }
      assert.equal(service.build?.dockerfile, 'Dockerfile')
    }
  })

  void test('host ports match scripts/stack and the README, and are bound to 127.0.0.1 only', () => {
    for (const { service, port } of serverPorts) {
      const published = (services[service]?.ports ?? []).map((p) => Number(p.published))
      assert.ok(published.includes(stackPort(port)), `${service} publishes ${JSON.stringify(published)}, but scripts/stack uses ${stackPort(port)}`)
    }
    for (const [name, service] of Object.entries(services)) {
      for (const p of service.ports ?? []) assert.equal(p.host_ip, '127.0.0.1', `${name} publishes port ${p.published} beyond loopback`)
    }
    const readme = read('README.md')
    for (const [name, port] of [['serving', 8080], ['engine', 9464], ['prometheus', 9090], ['grafana', 3000]] as const) {
      assert.deepEqual(services[name]?.ports?.map((p) => Number(p.published)), [port], `${name}'s host port`)
      assert.match(readme, new RegExp(`on ${port}\\b`), `README names ${name}'s port ${port}`)
    }
  })

  void test('kfs services use only variables main/config.ts knows, the config loads, and the README documents each', () => {
    const known: ReadonlySet<string> = new Set(CONFIG_VARIABLES)
    const readme = read('README.md')
    for (const [name, service] of kfsServices()) {
      const env = environment(service)
      const kfsNames = Object.keys(env).filter((k) => k.startsWith('KFS_'))
      assert.ok(kfsNames.length > 0, `${name} sets no KFS_ variables`)
      for (const k of kfsNames) {
        assert.ok(known.has(k), `${name} sets ${k}, which main/config.ts does not read`)
        assert.ok(readme.includes(`\`${k}\``), `${name} sets ${k}, which README.md does not document`)
      }
      const config = loadConfig(env, () => assert.fail('no config file expected'))
      assert.equal(config.eventLog.kind, 'kafka')
      assert.equal(config.schemaRegistry.kind, 'confluent')
      assert.equal(config.onlineStore.kind, 'redis')
      assert.equal(config.objectStore.kind, 's3')
    }
  })

  void test("every ${VARIABLE} the file reads is in the README's table with its default", () => {
    const text = read('docker-compose.yml')
    const used = [...text.matchAll(/\$\{([A-Z0-9_]+)(?::?-([^}]*))?\}/g)].map((m) => ({ name: m[1]!, fallback: m[2] }))
    assert.ok(used.length >= 5, `variables: ${used.map((u) => u.name).join(', ')}`)
    const readme = read('README.md')
    for (const { name, fallback } of used) {
      const row = readme.split('\n').find((line) => line.startsWith(`| \`${name}\` |`))
      assert.ok(row, `README.md has no row for ${name}`)
      assert.ok(fallback !== undefined, `${name} has a default in docker-compose.yml`)
      assert.ok(row.includes(fallback), `README's row for ${name} gives the default ${fallback}: ${row}`)
    }
  })

  void test('the script stack exports the same KFS_ names, all known to main/config.ts', () => {
    const exported = [...read('scripts/stack/up.sh').matchAll(/^export (KFS_[A-Z0-9_]+)=/gm)].map((m) => m[1]!)
    assert.ok(exported.length >= 8, `up.sh exports only ${exported.join(', ')}`)
    const known: ReadonlySet<string> = new Set(CONFIG_VARIABLES)
    for (const k of exported) assert.ok(known.has(k), `up.sh exports ${k}, which main/config.ts does not read`)
    for (const [name, service] of kfsServices()) {
      const env = environment(service)
      for (const k of exported) assert.ok(k in env, `${name} does not set ${k}, which the script stack exports`)
    }
  })

  void test("Kafka is configured like the script stack's broker", () => {
    const script = read('scripts/stack/up.sh')
    const env = environment(services['kafka'] ?? {})
    for (const key of ['auto.create.topics.enable', 'offsets.topic.replication.factor', 'transaction.state.log.replication.factor', 'transaction.state.log.min.isr', 'group.initial.rebalance.delay.ms']) {
      const match = new RegExp(`^${key.replaceAll('.', '\\.')}=(\\S+)$`, 'm').exec(script)
      assert.ok(match, `scripts/stack/up.sh does not set ${key}`)
      const envName = `KAFKA_${key.toUpperCase().replaceAll('.', '_')}`
      assert.equal(env[envName], match[1], `${envName} differs from the script stack's ${key}`)
    }
  })

  void test('the kfs image runs bin/kfs.mjs on the Node the tests run on (24 LTS), on a glibc current uWS builds load on', () => {
    const dockerfile = read('Dockerfile')
    const pinned = /^NODE_VERSION=(\d+)\./m.exec(read('scripts/node/ensure-node.sh'))
    assert.ok(pinned, 'scripts/node/ensure-node.sh pins NODE_VERSION')
    assert.equal(pinned[1], '24')
    // trixie = Debian 13, glibc 2.41 (uWS builds for Node 22+ need 2.38); bookworm has 2.36.
    assert.match(dockerfile, new RegExp(`^FROM node:${pinned[1]}-trixie(-slim)?\\b`, 'm'))
    assert.match(dockerfile, /npm ci/)
    assert.match(dockerfile, /ENTRYPOINT \["node", "bin\/kfs\.mjs"\]/)
    assert.deepEqual(services['engine']?.command, ['run'])
    assert.deepEqual(services['serving']?.command, ['serve'])
  })

  void test('Prometheus scrapes the engine and serving where they listen, and loads the alert rules', () => {
    const mounts = (name: string) => services[name]?.volumes ?? []
    for (const name of ['prometheus', 'grafana']) {
      for (const v of mounts(name)) {
        assert.equal(v.type, 'bind')
        assert.ok(existsSync(v.source), `${name} mounts ${v.source}, which does not exist`)
        assert.equal(relative(root, v.source).startsWith('ops/'), true, `${name} mounts ${v.source} from ops/`)
        assert.equal(v.read_only, true, `${name} mounts ${v.target} read-only`)
      }
    }
    const mountOf = (name: string, target: string): string => {
      const v = mounts(name).find((m) => target.startsWith(`${m.target}/`))
      assert.ok(v, `${name} mounts nothing at ${target}`)
      return join(v.source, target.slice(v.target.length + 1))
    }
    const configArg = services['prometheus']?.command?.find((a) => a.startsWith('--config.file='))
    assert.ok(configArg, 'prometheus is given --config.file')
    const config = parse(readFileSync(mountOf('prometheus', configArg.slice('--config.file='.length)), 'utf8')) as {
      rule_files: string[]
      scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[]
    }
    const configFile = mountOf('prometheus', configArg.slice('--config.file='.length))
    // Prometheus reads rule files relative to its configuration file.
    for (const rules of config.rule_files) assert.ok(existsSync(join(dirname(configFile), rules)), `rule file ${rules} is beside the configuration`)
    const targets = Object.fromEntries(config.scrape_configs.map((c) => [c.job_name, c.static_configs.flatMap((s) => s.targets)]))
    const engine = environment(services['engine']!)
    const serving = environment(services['serving']!)
    assert.deepEqual(targets['kfs-engine'], [`engine:${engine.KFS_METRICS_PORT}`])
    assert.deepEqual(targets['kfs-serving'], [`serving:${serving.KFS_SERVE_PORT}`])
    assert.equal(engine.KFS_SERVE_HOST, '0.0.0.0', "the engine's metrics port must be reachable from Prometheus")
    assert.equal(serving.KFS_SERVE_HOST, '0.0.0.0')
  })

  void test('Grafana is provisioned with the Prometheus data source and the dashboard', () => {
    const datasources = parse(read('ops/grafana/provisioning/datasources/prometheus.yml')) as { datasources: { uid: string; type: string; url: string }[] }
    const prometheus = datasources.datasources.find((d) => d.type === 'prometheus')
    assert.ok(prometheus)
    assert.equal(prometheus.url, `http://prometheus:${services['prometheus']?.ports?.[0]?.target}`)
    const providers = parse(read('ops/grafana/provisioning/dashboards/kfs.yml')) as { providers: { options: { path: string } }[] }
    const dashboardsMount = services['grafana']?.volumes?.find((v) => v.target === providers.providers[0]!.options.path)
    assert.ok(dashboardsMount, 'the dashboard provider reads a mounted folder')
    const dashboard = JSON.parse(read('ops/grafana/dashboards/kfs.json')) as { uid: string; panels: { datasource: { uid: string }; targets: { expr: string }[] }[] }
    assert.ok(dashboard.panels.length >= 6)
    for (const panel of dashboard.panels) assert.equal(panel.datasource.uid, prometheus.uid, 'every panel reads the provisioned data source')
    assert.equal(environment(services['grafana']!).GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH, `${dashboardsMount.target}/kfs.json`)
  })
})
