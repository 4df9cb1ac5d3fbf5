// The Helm chart: lints, renders every service as a Deployment + Service with
// the probes, ports and environment the services expect, and its values
// schema rejects bad values.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { parseAllDocuments } from 'yaml'

const chart = new URL('../../helm/autocal', import.meta.url).pathname
const helm = process.env.AUTOCAL_HELM ?? 'helm'

function run (args: string[]): { status: number | null, stdout: string, stderr: string } {
  const r = spawnSync(helm, args, { encoding: 'utf8' })
  if (r.error !== undefined) throw new Error(`cannot run ${helm}: ${r.error.message} (test/run.sh installs it)`)
  return r
}

function render (...set: string[]): Array<Record<string, any>> {
  const r = run(['template', 'cal', chart, ...set.flatMap(s => ['--set', s])])
  assert.equal(r.status, 0, r.stderr)
  return parseAllDocuments(r.stdout).map(d => d.toJSON()).filter(Boolean)
}

test('the chart passes helm lint', () => {
  const r = run(['lint', chart])
  assert.equal(r.status, 0, r.stdout + r.stderr)
})

test('each of the five services renders as a Deployment and a Service with probes and ports', () => {
  const docs = render('workflows.ecal\\.yaml=subsystem: ECAL')
  const deployments = docs.filter(d => d.kind === 'Deployment')
  const services = docs.filter(d => d.kind === 'Service')
  const names = ['run-watcher', 'task-dispatcher', 'job-executor', 'condition-uploader', 'metrics']
  assert.deepEqual(deployments.map(d => d.metadata.name).sort(), names.map(n => `cal-autocal-${n}`).sort())
  assert.deepEqual(services.map(d => d.metadata.name).sort(), names.map(n => `cal-autocal-${n}`).sort())
  for (const d of deployments) {
    const c = d.spec.template.spec.containers[0]
    assert.deepEqual(c.command, ['node', 'src/index.ts'])
    assert.equal(c.readinessProbe.httpGet.path, '/readyz')
    assert.equal(c.livenessProbe.httpGet.path, '/healthz')
    const env = Object.fromEntries(c.env.filter((e: any) => 'value' in e).map((e: any) => [e.name, e.value]))
    assert.equal(env.AUTOCAL_KAFKA_BROKERS, 'autocal-kafka-bootstrap:9092')
    assert.equal(env.AUTOCAL_HTTP_HOST, '0.0.0.0')
    assert.ok(d.spec.template.spec.terminationGracePeriodSeconds >= 20, 'grace period covers the service shutdown')
    assert.equal(d.spec.template.spec.securityContext.runAsUser, undefined, 'OKD assigns the UID')
  }
  const dispatcher = deployments.find(d => d.metadata.name === 'cal-autocal-task-dispatcher')
  assert.equal(dispatcher?.spec.replicas, 2)
  const dispatcherEnv = dispatcher?.spec.template.spec.containers[0].env
  assert.ok(dispatcherEnv.some((e: any) => e.name === 'AUTOCAL_GRPC_PORT' && e.value === '50051'))
  const workflows = docs.find(d => d.kind === 'ConfigMap')
  assert.equal(workflows?.data['ecal.yaml'].trim(), 'subsystem: ECAL')
})

test('the values schema rejects a malformed broker list and an unknown service', () => {
  const bad = run(['template', 'cal', chart, '--set', 'kafka.brokers=no-port'])
  assert.notEqual(bad.status, 0)
  assert.match(bad.stderr, /kafka.brokers|brokers/)
  const unknown = run(['template', 'cal', chart, '--set', 'services.scheduler.enabled=true'])
  assert.notEqual(unknown.status, 0)
  assert.match(unknown.stderr, /scheduler|additional/i)
})

test('the OKD Route is rendered only when enabled', () => {
  assert.equal(render().filter(d => d.kind === 'Route').length, 0)
  const route = render('route.enabled=true', 'route.host=autocal.example.cern.ch').find(d => d.kind === 'Route')
  assert.equal(route?.spec.host, 'autocal.example.cern.ch')
  assert.equal(route?.spec.to.name, 'cal-autocal-metrics')
})
