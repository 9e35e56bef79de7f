/**
 * The alert rules and the dashboard that docker-compose.yml loads (ops/): the rules pass
 * Prometheus's own rule checker twice over (scripts/prometheus-rules: rulefmt, the code `promtool
 * check rules` runs, with the checker shown to refuse a broken file; and the real promtool from
 * scripts/prometheus/ensure-promtool.sh: `check rules`, `check config`, and `test rules` on
 * ops/prometheus/alerts.test.yml, shown to fail when an alert changes), the dashboard passes Grafana's dashboard
 * schema (scripts/grafana-dashboard: the Grafana Foundation SDK's strict decode and validation),
 * the rules cover what issue #18 asks to alert on, and
 * every metric the rules and the dashboard query is one kfs registers today — so renaming a metric
 * fails here until ops/ follows.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'
import { promtool } from '../support/promtool.ts'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const read = (path: string): string => readFileSync(join(root, path), 'utf8')
const RULES = 'ops/prometheus/alerts.yml'
const RULE_TESTS = 'ops/prometheus/alerts.test.yml'
const DASHBOARD = 'ops/grafana/dashboards/kfs.json'

interface Rule {
  alert?: string
  expr: string
  for?: string
  labels?: Record<string, string>
  annotations?: Record<string, string>
}
const groups = (parse(read(RULES)) as { groups: { name: string; rules: Rule[] }[] }).groups
const rules = groups.flatMap((g) => g.rules)
const dashboard = JSON.parse(read(DASHBOARD)) as { panels: { title: string; targets: { expr: string }[] }[] }

/** Runs one of the Go checkers in scripts/ (compiled on first use from the Go module proxy). */
function goCheck(checker: 'prometheus-rules' | 'grafana-dashboard', file: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('go', ['run', '.', join(root, file)], { cwd: join(root, 'scripts', checker), encoding: 'utf8', timeout: 600_000 })
  if (r.error !== undefined) assert.fail(`scripts/${checker} needs Go (go run): ${r.error.message}`)
  return r
}
const checkRules = (file: string) => goCheck('prometheus-rules', file)

/** Metric names kfs registers: the string literals main/metrics-server.ts and serving/metrics.ts name. */
function registeredMetrics(): Set<string> {
  const names = new Set<string>()
  for (const file of ['main/metrics-server.ts', 'serving/metrics.ts']) {
    for (const m of read(file).matchAll(/'(kfs_[a-z0-9_]+)'/g)) names.add(m[1]!)
  }
  return names
}

/** Metric names a PromQL expression reads: kfs's own, the defaults every process exports, and `up`. */
function metricsIn(expr: string): string[] {
  const withoutStrings = expr.replace(/"[^"]*"/g, '""')
  return [...withoutStrings.matchAll(/\b((?:kfs|process|nodejs)_[a-z0-9_]+|up(?=\{))/g)].map((m) => m[1]!)
}

void describe('ops/ alert rules and dashboard', () => {
  void test("the alert rules pass Prometheus's rule checker", () => {
    const r = checkRules(RULES)
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`)
    assert.match(r.stdout, new RegExp(`SUCCESS: ${rules.length} rules found`))
  })

  void test('the checker refuses a broken rule file (it checks)', () => {
    const r = checkRules('test/fixtures/prometheus/broken-rules.yml')
    assert.equal(r.status, 1)
    assert.match(r.stderr, /FAILED/)
  })

  void test("the dashboard passes Grafana's dashboard schema", () => {
    const r = goCheck('grafana-dashboard', DASHBOARD)
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`)
    assert.match(r.stdout, new RegExp(`SUCCESS: ${dashboard.panels.length} panels`))
  })

  void test('the dashboard checker refuses a broken dashboard (it checks)', () => {
    const r = goCheck('grafana-dashboard', 'test/fixtures/grafana/broken-dashboard.json')
    assert.equal(r.status, 1)
    assert.match(r.stderr, /FAILED/)
    assert.match(r.stderr, /refreshEvery/, 'an unknown field is named')
    assert.match(r.stderr, /gridPos/, 'an ill-typed field is named')
  })

  void test('promtool check rules and promtool check config pass', () => {
    const rulesCheck = promtool(['check', 'rules', join(root, RULES)])
    assert.equal(rulesCheck.status, 0, `${rulesCheck.stdout}${rulesCheck.stderr}`)
    assert.match(rulesCheck.stdout, new RegExp(`SUCCESS: ${rules.length} rules found`))
    const configCheck = promtool(['check', 'config', join(root, 'ops/prometheus/prometheus.yml')])
    assert.equal(configCheck.status, 0, `${configCheck.stdout}${configCheck.stderr}`)
  })

  void test('promtool test rules: every alert fires on the series kfs exports, after its wait, and not on healthy ones', () => {
    const tested = new Set([...read(RULE_TESTS).matchAll(/alertname: (\w+)/g)].map((m) => m[1]!))
    assert.deepEqual([...tested].sort(), rules.map((r) => r.alert!).sort(), `${RULE_TESTS} tests every alert`)
    const r = promtool(['test', 'rules', join(root, RULE_TESTS)])
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`)
    assert.match(r.stdout, /SUCCESS/)
  })

  void test('promtool test rules fails when an alert no longer fires as tested (it checks)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kfs-rules-'))
    try {
      // A lag threshold raised past the tested lag: the lag alert's test must now fail.
      writeFileSync(join(dir, 'alerts.yml'), read(RULES).replace('kfs_consumer_lag_records) > 100000', 'kfs_consumer_lag_records) > 1000000'))
      copyFileSync(join(root, RULE_TESTS), join(dir, 'alerts.test.yml'))
      const r = promtool(['test', 'rules', join(dir, 'alerts.test.yml')])
      assert.equal(r.status, 1, `${r.stdout}${r.stderr}`)
      assert.match(r.stdout + r.stderr, /KfsConsumerLagHigh/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  void test('alerts on freshness, dead letters and consumer lag; every alert has a severity, a wait and a summary', () => {
    const reads = (metric: string) => rules.filter((r) => r.alert !== undefined && r.expr.includes(metric)).map((r) => r.alert)
    assert.ok(reads('kfs_view_freshness_sla_breached').length > 0, 'an alert on view freshness against its SLA')
    assert.ok(reads('kfs_dead_letters_total').length > 0, 'an alert on dead letters')
    assert.ok(reads('kfs_consumer_lag').length > 0, 'an alert on consumer lag')
    for (const rule of rules) {
      assert.ok(rule.alert, `only alerts: ${rule.expr}`)
      assert.ok(['page', 'ticket'].includes(rule.labels?.severity ?? ''), `${rule.alert}: severity page or ticket`)
      assert.match(rule.for ?? '', /^\d+[smh]$/, `${rule.alert}: fires only after a wait`)
      assert.ok((rule.annotations?.summary ?? '').length > 0, `${rule.alert}: summary`)
    }
  })

  void test('every metric the rules and the dashboard query is registered by kfs', () => {
    const registered = registeredMetrics()
    assert.ok(registered.size >= 10, `found ${[...registered].join(', ')}`)
    const exprs = [...rules.map((r) => ({ where: `alert ${r.alert}`, expr: r.expr })), ...dashboard.panels.flatMap((p) => p.targets.map((t) => ({ where: `panel "${p.title}"`, expr: t.expr })))]
    for (const { where, expr } of exprs) {
      const metrics = metricsIn(expr)
      assert.ok(metrics.length > 0, `${where} names a metric: ${expr}`)
      for (const metric of metrics) {
        if (!metric.startsWith('kfs_')) continue // `up`, and prom-client's default process and Node.js metrics
        const base = metric.replace(/_(bucket|sum|count)$/, '')
        assert.ok(registered.has(metric) || registered.has(base), `${where} reads ${metric}, which neither main/metrics-server.ts nor serving/metrics.ts registers`)
      }
    }
  })
})
