/**
 * docker-compose.yml must describe the same stack as scripts/stack/ (ports, Kafka settings) and
 * configure kfs with the variables main/config.ts understands. The structural checks always run;
 * when Debian's `docker-compose` is installed its own schema validation runs as well.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'
import { CONFIG_VARIABLES, loadConfig } from '../../main/config.ts'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const read = (path: string): string => readFileSync(join(root, path), 'utf8')

interface Service {
  image?: string
  build?: unknown
  command?: unknown
  environment?: Record<string, string | number | boolean> | string[]
  ports?: Array<string | { published?: string | number; target?: number; host_ip?: string }>
  depends_on?: string[] | Record<string, { condition?: string }>
  healthcheck?: { test?: unknown }
}

const compose = parse(read('docker-compose.yml'), { merge: true }) as { services?: Record<string, Service> }
const services = compose.services ?? {}

function environment(service: Service): Record<string, string> {
  const env = service.environment ?? {}
  if (Array.isArray(env)) {
    return Object.fromEntries(env.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]))
  }
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)]))
}

/** Published ports as { hostIp, host, container }, from the short "ip:host:container" syntax. */
function publishedPorts(service: Service): Array<{ hostIp: string | undefined; host: number; container: number }> {
  return (service.ports ?? []).map((p) => {
    if (typeof p === 'string') {
      const parts = p.split(':')
      const container = Number(parts.at(-1))
      const host = Number(parts.at(-2) ?? container)
      return { hostIp: parts.length === 3 ? parts[0] : undefined, host, container }
    }
    return { hostIp: p.host_ip, host: Number(p.published), container: Number(p.target) }
  })
}

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
const kfsServices = ['engine', 'serving']

void describe('docker-compose.yml', () => {
  void test('has every server of the script stack and both kfs services', () => {
    for (const name of [...serverPorts.map((s) => s.service), ...kfsServices]) {
      assert.ok(services[name], `service ${name} is missing`)
    }
  })

  void test('every long-running service has a healthcheck', () => {
    for (const [name, service] of Object.entries(services)) {
      if (name === 'create-bucket') continue // a one-shot job: others wait for it to complete
      const check = service.healthcheck?.test
      assert.ok(Array.isArray(check) && check.length > 1, `service ${name} has no healthcheck test`)
    }
  })

  void test('host ports match scripts/stack and are bound to 127.0.0.1 only', () => {
    for (const { service, port } of serverPorts) {
      const published = publishedPorts(services[service] ?? {})
      assert.ok(
        published.some((p) => p.host === stackPort(port)),
        `${service} publishes ${JSON.stringify(published)}, but scripts/stack uses ${stackPort(port)}`,
      )
    }
    for (const [name, service] of Object.entries(services)) {
      for (const p of publishedPorts(service))
        assert.equal(p.hostIp, '127.0.0.1', `${name} publishes port ${p.host} beyond loopback`)
    }
  })

  void test('every depends_on target exists', () => {
    for (const [name, service] of Object.entries(services)) {
      const deps = Array.isArray(service.depends_on) ? service.depends_on : Object.keys(service.depends_on ?? {})
      for (const dep of deps) assert.ok(services[dep], `${name} depends on unknown service ${dep}`)
    }
  })

  void test('kfs services use only variables main/config.ts knows, and the config loads', () => {
    const known: ReadonlySet<string> = new Set(CONFIG_VARIABLES)
    for (const name of kfsServices) {
      const env = environment(services[name] ?? {})
      const kfsNames = Object.keys(env).filter((k) => k.startsWith('KFS_'))
      assert.ok(kfsNames.length > 0, `${name} sets no KFS_ variables`)
      for (const k of kfsNames) assert.ok(known.has(k), `${name} sets ${k}, which main/config.ts does not read`)
      const config = loadConfig(env, () => assert.fail('no config file expected'))
      assert.equal(config.eventLog.kind, 'kafka')
      assert.equal(config.schemaRegistry.kind, 'confluent')
      assert.equal(config.onlineStore.kind, 'redis')
      assert.equal(config.objectStore.kind, 's3')
    }
  })

  void test('the script stack exports the same KFS_ names, all known to main/config.ts', () => {
    const exported = [...read('scripts/stack/up.sh').matchAll(/^export (KFS_[A-Z0-9_]+)=/gm)].map((m) => m[1]!)
    assert.ok(exported.length >= 8, `up.sh exports only ${exported.join(', ')}`)
    const known: ReadonlySet<string> = new Set(CONFIG_VARIABLES)
    for (const k of exported) assert.ok(known.has(k), `up.sh exports ${k}, which main/config.ts does not read`)
    for (const name of kfsServices) {
      const env = environment(services[name] ?? {})
      for (const k of exported) assert.ok(k in env, `${name} does not set ${k}, which the script stack exports`)
    }
  })

  void test("Kafka is configured like the script stack's broker", () => {
    const script = read('scripts/stack/up.sh')
    const env = environment(services['kafka'] ?? {})
    const required = [
      'auto.create.topics.enable',
      'offsets.topic.replication.factor',
      'transaction.state.log.replication.factor',
      'transaction.state.log.min.isr',
      'group.initial.rebalance.delay.ms',
    ]
    for (const key of required) {
      const match = new RegExp(`^${key.replaceAll('.', '\\.')}=(\\S+)$`, 'm').exec(script)
      assert.ok(match, `scripts/stack/up.sh does not set ${key}`)
      const envName = `KAFKA_${key.toUpperCase().replaceAll('.', '_')}`
      assert.equal(env[envName], match[1], `${envName} differs from the script stack's ${key}`)
    }
  })

  void test('the kfs image is built from the Dockerfile on node 20 and runs bin/kfs.mjs', () => {
    assert.ok(existsSync(join(root, 'Dockerfile')), 'Dockerfile is missing')
    const dockerfile = read('Dockerfile')
    assert.match(dockerfile, /^FROM node:20\b/m)
    assert.match(dockerfile, /npm ci/)
    assert.match(dockerfile, /ENTRYPOINT \["node", "bin\/kfs\.mjs"\]/)
    for (const [name, command] of [
      ['engine', 'run'],
      ['serving', 'serve'],
    ] as const) {
      const service = services[name] ?? {}
      assert.ok(service.build !== undefined, `${name} is not built from the repo`)
      assert.deepEqual(service.command, [command])
    }
  })

  void test('docker-compose accepts the file, when it is installed', () => {
    const which = spawnSync('sh', ['-c', 'command -v docker-compose'], { encoding: 'utf8' })
    if (which.status !== 0) return // the extra check; the structural ones above always run
    const result = spawnSync('docker-compose', ['-f', 'docker-compose.yml', 'config', '-q'], { cwd: root, encoding: 'utf8' })
    assert.equal(result.status, 0, `docker-compose config failed:\n${result.stderr}`)
  })
})
