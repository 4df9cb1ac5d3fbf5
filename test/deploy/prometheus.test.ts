// The Prometheus alert rules (deploy/prometheus/autocal-alerts.yaml): promtool
// checks them and runs their unit tests (input series → expected alerts,
// autocal-alerts.test.yaml); every metric they use is one a service registers
// (the scan includes the job-executor's autocal_backend_up); the chart renders the same groups
// as a PrometheusRule when prometheusRule.enabled, and nothing otherwise.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse, parseAllDocuments } from 'yaml'

const repo = new URL('../..', import.meta.url).pathname
const rules = join(repo, 'deploy/prometheus/autocal-alerts.yaml')
const ruleTests = join(repo, 'deploy/prometheus/autocal-alerts.test.yaml')
const promtool = process.env.AUTOCAL_PROMTOOL ?? 'promtool'
const helm = process.env.AUTOCAL_HELM ?? 'helm'

/** Metrics the rules may use that no service exports yet (none now: the job-executor exports autocal_backend_up). */
const proposed = new Set<string>()

function run (bin: string, args: string[]): { status: number | null, stdout: string, stderr: string } {
  const r = spawnSync(bin, args, { encoding: 'utf8', cwd: repo })
  if (r.error !== undefined) throw new Error(`cannot run ${bin}: ${r.error.message} (test/run.sh builds it: deploy/local/promtool.sh path)`)
  return r
}

interface Rule { alert: string, expr: string, for?: string, labels?: Record<string, string>, annotations?: Record<string, string> }
const groups = (parse(readFileSync(rules, 'utf8')) as { groups: Array<{ name: string, rules: Rule[] }> }).groups

test('promtool accepts the rule file', () => {
  const r = run(promtool, ['check', 'rules', rules])
  assert.equal(r.status, 0, r.stdout + r.stderr)
  assert.match(r.stdout, /SUCCESS: 8 rules found/)
})

test('the rules fire on their outages and stay quiet otherwise (promtool test rules)', () => {
  const r = run(promtool, ['test', 'rules', ruleTests])
  assert.equal(r.status, 0, r.stdout + r.stderr)
  assert.match(r.stdout, /SUCCESS/)
})

test('every alert of the issue is there, with a severity and an audience', () => {
  const alerts = groups.flatMap(g => g.rules)
  assert.deepEqual(alerts.map(a => a.alert).sort(), [
    'AutocalBackendUnreachable', 'AutocalConsumerLagGrowing', 'AutocalConsumerStalled', 'AutocalDeadLetters',
    'AutocalNoExecutorConsuming', 'AutocalPromptHoldAtRisk', 'AutocalPromptHoldMissed', 'AutocalUploadsRejected'
  ])
  for (const a of alerts) {
    assert.match(a.labels?.severity ?? '', /^(warning|critical)$/, a.alert)
    assert.match(a.labels?.audience ?? '', /^(failures|experts)$/, a.alert)
  }
})

function sourceFiles (dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap(e => {
    const path = join(dir, e.name)
    if (e.isDirectory()) return e.name === 'node_modules' || e.name === 'test' || e.name === 'gen' ? [] : sourceFiles(path)
    return e.name.endsWith('.ts') ? [path] : []
  })
}

test('every metric a rule uses is registered by a service', () => {
  const registered = new Set<string>()
  for (const file of [...sourceFiles(join(repo, 'services')), ...sourceFiles(join(repo, 'packages'))]) {
    for (const m of readFileSync(file, 'utf8').matchAll(/(?:name: |fromCounters\()'(autocal_[a-z_]+)'/g)) registered.add(m[1] as string)
  }
  assert.ok(registered.has('autocal_consumer_stalled_seconds'), 'the scan finds the registrations')
  assert.ok(registered.has('autocal_backend_up'), 'the job-executor registers the backend gauge')
  const used = new Set(groups.flatMap(g => g.rules).flatMap(r => [...r.expr.matchAll(/autocal_[a-z_]+/g)].map(m => m[0])))
  const unknown = [...used].filter(m => !registered.has(m) && !proposed.has(m))
  assert.deepEqual(unknown, [])
  for (const m of proposed) assert.equal(registered.has(m), false, `${m} is exported now: drop it from the proposed list`)
})

function render (...set: string[]): Array<Record<string, any>> {
  const r = run(helm, ['template', 'cal', join(repo, 'helm/autocal'), '--namespace', 'autocal', ...set.flatMap(s => ['--set', s])])
  assert.equal(r.status, 0, r.stderr)
  return parseAllDocuments(r.stdout).map(d => d.toJSON()).filter(Boolean)
}

test('the chart renders the same rule groups as a PrometheusRule when enabled, and none by default', () => {
  assert.equal(render().filter(d => d.kind === 'PrometheusRule').length, 0)
  const [rule, ...more] = render('prometheusRule.enabled=true', 'prometheusRule.labels.release=prometheus').filter(d => d.kind === 'PrometheusRule')
  assert.equal(more.length, 0)
  assert.equal(rule?.apiVersion, 'monitoring.coreos.com/v1')
  assert.equal(rule?.metadata.name, 'cal-autocal-alerts')
  assert.equal(rule?.metadata.labels.release, 'prometheus')
  assert.deepEqual(rule?.spec.groups, groups)
})
