// The Helm chart: lints, renders every service as a Deployment + Service with
// the probes, ports and environment the services expect, and its values
// schema rejects bad values. Least privilege (issue 12): a default-deny
// NetworkPolicy and one per service, a ServiceAccount per service without an
// API token (but the executor's with the kubernetes backend, bound to a Role
// on Jobs and Pods), one Secret per service, Kafka SASL_SSL and Redis AUTH/TLS
// with each service's own credentials as files.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { parseAllDocuments } from 'yaml'
import kafkajs from 'kafkajs'
import { aclEntries } from '../../packages/runtime/scripts/kafka-acls.ts'
import { serviceNodeOptions } from '../../deploy/local/system.ts'

const chart = new URL('../../helm/autocal', import.meta.url).pathname
const helm = process.env.AUTOCAL_HELM ?? 'helm'

function run (args: string[]): { status: number | null, stdout: string, stderr: string } {
  const r = spawnSync(helm, args, { encoding: 'utf8' })
  if (r.error !== undefined) throw new Error(`cannot run ${helm}: ${r.error.message} (test/run.sh installs it)`)
  return r
}

function render (...set: string[]): Array<Record<string, any>> {
  return renderWith([], ...set)
}

function renderWith (files: string[], ...set: string[]): Array<Record<string, any>> {
  const r = run(['template', 'cal', chart, '--namespace', 'autocal', ...files.flatMap(f => ['-f', f]), ...set.flatMap(s => ['--set', s])])
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
    assert.equal(env.NODE_OPTIONS, serviceNodeOptions, 'the chart runs the services with the heap setting of the local runs')
    assert.ok(d.spec.template.spec.terminationGracePeriodSeconds >= 20, 'grace period covers the service shutdown')
    assert.equal(d.spec.template.spec.securityContext.runAsUser, undefined, 'OKD assigns the UID')
  }
  assert.match(readFileSync(new URL('../../deploy/Containerfile', import.meta.url), 'utf8'), new RegExp(`^ENV NODE_OPTIONS=${serviceNodeOptions}$`, 'm'), 'the image runs the services with the same heap setting')
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

const names = ['run-watcher', 'task-dispatcher', 'job-executor', 'condition-uploader', 'metrics']
const ports: Record<string, number[]> = {
  'run-watcher': [8081], 'task-dispatcher': [8082, 50051], 'job-executor': [8083, 50052], 'condition-uploader': [8084], metrics: [8085]
}
const production = new URL('../../helm/autocal/values-production.yaml', import.meta.url).pathname

function byKind (docs: Array<Record<string, any>>, kind: string): Map<string, Record<string, any>> {
  return new Map(docs.filter(d => d.kind === kind).map(d => [d.metadata.name as string, d]))
}

test('a default-deny NetworkPolicy covers the release; each service may receive only on its own ports and send only to Kafka, Redis, DNS and tracing', () => {
  const policies = byKind(render(), 'NetworkPolicy')
  const deny = policies.get('cal-autocal-default-deny')
  assert.deepEqual(deny?.spec.podSelector, { matchLabels: { 'app.kubernetes.io/instance': 'cal' } })
  assert.deepEqual(deny?.spec.policyTypes, ['Ingress', 'Egress'])
  assert.equal(deny?.spec.ingress, undefined)
  assert.equal(deny?.spec.egress, undefined)
  for (const name of names) {
    const policy = policies.get(`cal-autocal-${name}`)
    assert.ok(policy !== undefined, `NetworkPolicy of ${name}`)
    assert.deepEqual(policy.spec.podSelector.matchLabels, { 'app.kubernetes.io/instance': 'cal', 'app.kubernetes.io/component': name })
    assert.deepEqual(policy.spec.policyTypes, ['Ingress', 'Egress'])
    const ingressPorts = policy.spec.ingress.flatMap((r: any) => r.ports.map((p: any) => p.port))
    assert.deepEqual(ingressPorts.sort((a: number, b: number) => a - b), ports[name], `${name} is reachable on its own ports only`)
    for (const rule of policy.spec.egress) assert.ok(Array.isArray(rule.ports) && rule.ports.length > 0, `${name}: no egress rule without ports`)
    const egressPorts = new Set(policy.spec.egress.flatMap((r: any) => r.ports.map((p: any) => p.port)))
    assert.deepEqual([...egressPorts].sort((a: any, b: any) => a - b), [53, 4318, 5353, 6379, 9092, 9093], `${name} egress`)
  }
  assert.equal(byKind(render('networkPolicy.enabled=false'), 'NetworkPolicy').size, 0)
})

test('every service has its own ServiceAccount without an API token; the executor gets one, and a namespaced Role on Jobs and Pods, only with the kubernetes backend', () => {
  const docs = render()
  const accounts = byKind(docs, 'ServiceAccount')
  for (const d of byKind(docs, 'Deployment').values()) {
    const name = d.metadata.labels['app.kubernetes.io/component'] as string
    assert.equal(d.spec.template.spec.serviceAccountName, `cal-autocal-${name}`)
    assert.equal(d.spec.template.spec.automountServiceAccountToken, false, name)
    assert.equal(accounts.get(`cal-autocal-${name}`)?.automountServiceAccountToken, false, name)
  }
  assert.equal(accounts.size, 5)
  assert.equal(docs.filter(d => /Role/.test(d.kind)).length, 0, 'no RBAC without the kubernetes backend')

  const kube = render('services.jobExecutor.kubernetes.enabled=true')
  const deployments = byKind(kube, 'Deployment')
  for (const [name, d] of deployments) {
    assert.equal(d.spec.template.spec.automountServiceAccountToken, name === 'cal-autocal-job-executor', name)
  }
  const executorEnv = deployments.get('cal-autocal-job-executor')?.spec.template.spec.containers[0].env
  assert.ok(executorEnv.some((e: any) => e.name === 'AUTOCAL_KUBE_NAMESPACE' && e.value === 'autocal'))
  assert.equal(kube.filter(d => d.kind === 'ClusterRole' || d.kind === 'ClusterRoleBinding').length, 0, 'namespaced only')
  const role = byKind(kube, 'Role').get('cal-autocal-job-executor')
  const granted = role?.spec === undefined ? role?.rules : role.spec.rules
  assert.deepEqual(granted.map((r: any) => `${r.apiGroups[0]}/${r.resources[0]}`).sort(), ['/pods', '/pods/log', 'batch/jobs', 'batch/jobs/status'])
  for (const rule of granted) assert.ok(!rule.verbs.includes('*') && !rule.resources.includes('*') && !rule.resources.includes('secrets'))
  const binding = byKind(kube, 'RoleBinding').get('cal-autocal-job-executor')
  assert.deepEqual(binding?.subjects, [{ kind: 'ServiceAccount', name: 'cal-autocal-job-executor', namespace: 'autocal' }])
  assert.equal(binding?.roleRef.kind, 'Role')
  const policy = byKind(kube, 'NetworkPolicy').get('cal-autocal-job-executor')
  assert.ok(policy?.spec.egress.some((r: any) => r.ports.some((p: any) => p.port === 6443)), 'the executor may reach the API server')
})

test('each service reads only its own Secret; there is no Secret shared by every pod', () => {
  const plain = byKind(render(), 'Deployment')
  for (const d of plain.values()) assert.equal(d.spec.template.spec.containers[0].envFrom, undefined, 'no Secret without one configured')
  const docs = render('services.taskDispatcher.secretEnv.AUTOCAL_CONTROL_TOKENS=dispatcher-only', 'services.metrics.secretEnv.AUTOCAL_MATTERMOST_WEBHOOK_URL=https://mm/hook',
    'services.runWatcher.existingSecret=ops-run-watcher')
  const secrets = byKind(docs, 'Secret')
  assert.deepEqual([...secrets.keys()].sort(), ['cal-autocal-metrics', 'cal-autocal-task-dispatcher'])
  assert.deepEqual(Object.keys(secrets.get('cal-autocal-task-dispatcher')?.stringData), ['AUTOCAL_CONTROL_TOKENS'])
  assert.deepEqual(Object.keys(secrets.get('cal-autocal-metrics')?.stringData), ['AUTOCAL_MATTERMOST_WEBHOOK_URL'])
  const refs = new Map([...byKind(docs, 'Deployment')].map(([name, d]) => [name, (d.spec.template.spec.containers[0].envFrom ?? []).map((e: any) => e.secretRef.name)]))
  assert.deepEqual(Object.fromEntries(refs), {
    'cal-autocal-run-watcher': ['ops-run-watcher'],
    'cal-autocal-task-dispatcher': ['cal-autocal-task-dispatcher'],
    'cal-autocal-job-executor': [],
    'cal-autocal-condition-uploader': [],
    'cal-autocal-metrics': ['cal-autocal-metrics']
  })
  const shared = run(['template', 'cal', chart, '--set', 'existingSecret=autocal-secrets'])
  assert.notEqual(shared.status, 0)
  assert.match(shared.stderr, /existingSecret/)
})

test('Kafka SASL_SSL and Redis AUTH/TLS: each service connects as its own principal with its password as a file from its own Secret', () => {
  const docs = renderWith([production])
  for (const [deployment, d] of byKind(docs, 'Deployment')) {
    const name = deployment.replace('cal-autocal-', '')
    const pod = d.spec.template.spec
    const c = pod.containers[0]
    const env = Object.fromEntries(c.env.filter((e: any) => 'value' in e).map((e: any) => [e.name, e.value]))
    assert.equal(env.AUTOCAL_KAFKA_SASL_MECHANISM, 'scram-sha-512')
    assert.equal(env.AUTOCAL_KAFKA_TLS, 'true')
    assert.equal(env.AUTOCAL_KAFKA_USERNAME, name)
    assert.equal(env.AUTOCAL_REDIS_USERNAME, name)
    assert.equal(env.AUTOCAL_KAFKA_CREATE_TOPICS, 'true', 'the services create the replicated topics')
    assert.match(env.AUTOCAL_REDIS_URL, /^rediss:\/\//)
    assert.equal(env.AUTOCAL_KAFKA_PASSWORD, undefined, 'no password in the environment')
    assert.equal(env.AUTOCAL_REDIS_PASSWORD, undefined, 'no password in the environment')
    const volumes = Object.fromEntries(pod.volumes.filter((v: any) => v.secret !== undefined).map((v: any) => [v.name, v.secret.secretName]))
    assert.deepEqual(volumes, { 'kafka-ca': 'autocal-kafka-cluster-ca-cert', 'kafka-user': name, 'redis-user': `${name}-redis`, 'redis-ca': 'autocal-redis-ca', ...(name === 'task-dispatcher' ? { 'control-tls': 'autocal-control-tls' } : {}) })
    if (name === 'task-dispatcher') {
      // the control API over TLS from its own kubernetes.io/tls Secret, never plaintext in production
      assert.deepEqual([env.AUTOCAL_CONTROL_TLS_CERT_FILE, env.AUTOCAL_CONTROL_TLS_KEY_FILE, env.AUTOCAL_CONTROL_INSECURE], ['/etc/autocal/control-tls/tls.crt', '/etc/autocal/control-tls/tls.key', undefined])
    }
    const mounts = Object.fromEntries(c.volumeMounts.map((m: any) => [m.name, m.mountPath]))
    assert.ok(env.AUTOCAL_KAFKA_PASSWORD_FILE.startsWith(`${mounts['kafka-user']}/`))
    assert.ok(env.AUTOCAL_REDIS_PASSWORD_FILE.startsWith(`${mounts['redis-user']}/`))
    assert.ok(env.AUTOCAL_KAFKA_TLS_CA_FILE.startsWith(`${mounts['kafka-ca']}/`))
    assert.ok(env.AUTOCAL_REDIS_TLS_CA_FILE.startsWith(`${mounts['redis-ca']}/`))
    assert.deepEqual(c.envFrom, [{ secretRef: { name: `autocal-${name}` } }])
  }
  const lint = run(['lint', chart, '-f', production])
  assert.equal(lint.status, 0, lint.stdout + lint.stderr)
})

test('the values schema refuses a plaintext SASL mechanism and a Redis CA without rediss://', () => {
  const plain = run(['template', 'cal', chart, '--set', 'kafka.sasl.mechanism=plain'])
  assert.notEqual(plain.status, 0)
  assert.match(plain.stderr, /mechanism/)
  const redis = run(['template', 'cal', chart, '--set', 'redis.tls.caSecret=redis-ca'])
  assert.notEqual(redis.status, 0)
  assert.match(redis.stderr, /url/)
})

test('the chart\'s Strimzi KafkaUsers carry exactly the ACL table the local servers apply, for plain and prefixed topics', () => {
  const { AclOperationTypes, AclResourceTypes, ResourcePatternTypes } = kafkajs
  const nameOf = (table: object, value: number): string => (Object.entries(table).find(([, v]) => v === value)?.[0] ?? String(value)).toLowerCase()
  for (const prefix of ['', 'ci-1']) {
    const users = render('kafka.strimzi.users=true', `kafka.topicPrefix=${prefix}`).filter(d => d.kind === 'KafkaUser')
    assert.deepEqual(users.map(u => u.metadata.name).sort(), ['condition-uploader', 'job-executor', 'metrics', 'run-watcher', 'task-dispatcher'])
    const chartAcls = users.flatMap(u => u.spec.authorization.acls.flatMap((a: any) => a.operations.map((op: string) =>
      `User:${u.metadata.name} ${op.toLowerCase()} ${a.resource.type} ${a.resource.name} ${a.resource.patternType === 'prefix' ? 'prefixed' : 'literal'}`)))
    const localAcls = aclEntries(prefix).map(e =>
      `${e.principal} ${nameOf(AclOperationTypes, e.operation)} ${nameOf(AclResourceTypes, e.resourceType)} ${e.resourceName} ${nameOf(ResourcePatternTypes, e.resourcePatternType)}`)
    assert.deepEqual(chartAcls.sort(), localAcls.sort())
    for (const u of users) assert.equal(u.spec.authentication.type, 'scram-sha-512')
    const writers = chartAcls.filter(a => / write topic .*autocal\.(jobs\.requests|conditions\.requests|control)\.v1 /.test(a))
    assert.deepEqual([...new Set(writers.map(a => a.split(' ')[0]))], ['User:task-dispatcher'])
  }
  assert.equal(render().filter(d => d.kind === 'KafkaUser').length, 0)
})

test('a startupProbe on every service covers its configured start time, so liveness does not kill a long rebuild of state', () => {
  const docs = render()
  const expected: Record<string, number> = { 'run-watcher': 120, 'task-dispatcher': 600, 'job-executor': 180, 'condition-uploader': 300, metrics: 600 }
  for (const [deployment, d] of byKind(docs, 'Deployment')) {
    const c = d.spec.template.spec.containers[0]
    const name = deployment.replace('cal-autocal-', '')
    assert.equal(c.startupProbe.httpGet.path, '/healthz')
    assert.ok(c.startupProbe.periodSeconds * c.startupProbe.failureThreshold >= expected[name]!, `${name}: ${c.startupProbe.periodSeconds}s × ${c.startupProbe.failureThreshold}`)
    assert.ok(c.livenessProbe.periodSeconds * (c.livenessProbe.failureThreshold ?? 3) < expected[name]!, `${name}: liveness alone would kill a start of ${expected[name]}s`)
  }
  const longer = byKind(render('services.taskDispatcher.startupSeconds=1800'), 'Deployment').get('cal-autocal-task-dispatcher')
  const probe = longer?.spec.template.spec.containers[0].startupProbe
  assert.equal(probe.periodSeconds * probe.failureThreshold, 1800)
})

test('a PodDisruptionBudget per service selects exactly its pods; HPAs on consumer lag only for the stateless consumers, when enabled', () => {
  const docs = render()
  const pdbs = byKind(docs, 'PodDisruptionBudget')
  assert.equal(pdbs.size, 5)
  for (const [name, d] of byKind(docs, 'Deployment')) {
    assert.deepEqual(pdbs.get(name)?.spec.selector.matchLabels, d.spec.selector.matchLabels)
    assert.equal(pdbs.get(name)?.spec.maxUnavailable, 1)
  }
  assert.equal(byKind(render('podDisruptionBudget.enabled=false'), 'PodDisruptionBudget').size, 0)
  assert.equal(byKind(docs, 'HorizontalPodAutoscaler').size, 0)

  for (const prefix of ['', 'ci-1']) {
    const hpas = byKind(render('services.jobExecutor.autoscaling.enabled=true', 'services.conditionUploader.autoscaling.enabled=true', `kafka.topicPrefix=${prefix}`), 'HorizontalPodAutoscaler')
    assert.deepEqual([...hpas.keys()].sort(), ['cal-autocal-condition-uploader', 'cal-autocal-job-executor'])
    const hpa = hpas.get('cal-autocal-job-executor')
    assert.equal(hpa?.apiVersion, 'autoscaling/v2')
    assert.deepEqual(hpa?.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: 'cal-autocal-job-executor' })
    const metric = hpa?.spec.metrics[0]
    assert.equal(metric.type, 'External')
    assert.equal(metric.external.metric.name, 'autocal_consumer_lag')
    // the consumer's group id: the service name, prefixed like the topics (packages/runtime/src/bus/consumer.ts)
    assert.deepEqual(metric.external.metric.selector.matchLabels, { group: prefix === '' ? 'job-executor' : `${prefix}.job-executor` })
    assert.equal(metric.external.target.type, 'AverageValue')
  }
  const unknown = run(['template', 'cal', chart, '--set', 'services.taskDispatcher.autoscaling.enabled=true'])
  assert.notEqual(unknown.status, 0, 'the dispatcher is not autoscaled on lag')
})

test('the executor\'s log links point at a URL its config accepts: its in-cluster Service by default, or services.jobExecutor.publicUrl', async () => {
  const { Config } = await import('../../services/job-executor/src/config.ts')
  const envOf = (docs: Array<Record<string, any>>): Record<string, string> => Object.fromEntries(byKind(docs, 'Deployment').get('cal-autocal-job-executor')?.spec.template.spec.containers[0].env
    .filter((e: any) => 'value' in e).map((e: any) => [e.name, e.value]))
  const env = envOf(render())
  assert.equal(env.AUTOCAL_EXECUTOR_PUBLIC_URL, 'http://cal-autocal-job-executor.autocal.svc:8083')
  assert.equal(Config.parse(env).AUTOCAL_EXECUTOR_PUBLIC_URL, 'http://cal-autocal-job-executor.autocal.svc:8083')
  const service = byKind(render(), 'Service').get('cal-autocal-job-executor')
  assert.ok(service?.spec.ports.some((p: any) => p.port === 8083), 'the Service serves that port')
  assert.equal(envOf(render('services.jobExecutor.publicUrl=https://autocal-logs.example.cern.ch')).AUTOCAL_EXECUTOR_PUBLIC_URL, 'https://autocal-logs.example.cern.ch')
  assert.notEqual(run(['template', 'cal', chart, '--set', 'services.jobExecutor.publicUrl=logs.example']).status, 0)
})

test('gRPC from outside: a NodePort/LoadBalancer Service per gRPC service, or a TLS passthrough Route to the executor that serves TLS itself', () => {
  const external = byKind(render('grpcExternal.type=NodePort', 'grpcExternal.nodePorts.jobExecutor=30052'), 'Service')
  const dispatcher = external.get('cal-autocal-task-dispatcher-grpc')
  const executor = external.get('cal-autocal-job-executor-grpc')
  assert.equal(dispatcher?.spec.type, 'NodePort')
  assert.deepEqual(dispatcher?.spec.ports.map((p: any) => [p.port, p.targetPort]), [[50051, 'grpc']])
  assert.deepEqual(executor?.spec.ports.map((p: any) => [p.port, p.nodePort]), [[50052, 30052]])
  assert.deepEqual(executor?.spec.selector, { 'app.kubernetes.io/instance': 'cal', 'app.kubernetes.io/component': 'job-executor' })
  assert.equal(external.size, 7, 'only the two gRPC services get one')
  assert.equal([...byKind(render(), 'Service').keys()].filter(n => n.endsWith('-grpc')).length, 0)
  assert.equal(byKind(render('grpcExternal.type=LoadBalancer'), 'Service').get('cal-autocal-task-dispatcher-grpc')?.spec.type, 'LoadBalancer')

  const docs = render('route.agents.enabled=true', 'route.agents.host=agents.apps.okd.example.cern.ch', 'services.jobExecutor.agentTls.secret=autocal-agent-tls')
  const route = byKind(docs, 'Route').get('cal-autocal-job-executor-grpc')
  assert.equal(route?.spec.tls.termination, 'passthrough')
  assert.equal(route?.spec.host, 'agents.apps.okd.example.cern.ch')
  assert.equal(route?.spec.port.targetPort, 'grpc')
  const pod = byKind(docs, 'Deployment').get('cal-autocal-job-executor')?.spec.template.spec
  const env = Object.fromEntries(pod.containers[0].env.filter((e: any) => 'value' in e).map((e: any) => [e.name, e.value]))
  const mount = pod.containers[0].volumeMounts.find((m: any) => m.name === 'agent-tls')
  assert.equal(pod.volumes.find((v: any) => v.name === 'agent-tls')?.secret.secretName, 'autocal-agent-tls')
  assert.equal(env.AUTOCAL_AGENT_TLS_CERT_FILE, `${mount.mountPath}/tls.crt`)
  assert.equal(env.AUTOCAL_AGENT_TLS_KEY_FILE, `${mount.mountPath}/tls.key`)
  const plaintext = run(['template', 'cal', chart, '--set', 'route.agents.enabled=true', '--set', 'route.agents.host=a.example.cern.ch'])
  assert.notEqual(plaintext.status, 0)
  assert.match(plaintext.stderr, /agentTls/)
})

test('the production values make every service create replicated topics: 3 replicas, min.insync.replicas 2, rebuild topics kept forever; the defaults leave it to the broker', async () => {
  const { topicPolicy, topicCreations, rebuildTopics } = await import('@autocal/runtime')
  const { allTopics } = await import('@autocal/contracts')
  // the keys as a service's configuration reads them (the executor's Config holds the runtime's kafkaShape)
  const { Config } = await import('../../services/job-executor/src/config.ts')
  const policies = (docs: Array<Record<string, any>>): Array<ReturnType<typeof topicPolicy>> => [...byKind(docs, 'Deployment').values()].map(d => {
    const env = Object.fromEntries(d.spec.template.spec.containers[0].env.filter((e: any) => 'value' in e && e.name.startsWith('AUTOCAL_KAFKA_')).map((e: any) => [e.name, e.value]))
    return topicPolicy(Config.parse(env))
  })
  const production = policies(renderWith([new URL('../../helm/autocal/values-production.yaml', import.meta.url).pathname]))
  assert.equal(production.length, 5)
  for (const policy of production) {
    assert.deepEqual(policy, { replicationFactor: 3, minInsyncReplicas: 2, rebuildRetentionMs: -1 })
    for (const request of topicCreations(allTopics, '', policy)) {
      const configs = Object.fromEntries((request.configEntries ?? []).map(e => [e.name, e.value]))
      assert.equal(request.replicationFactor, 3)
      assert.equal(configs['min.insync.replicas'], '2')
      if (rebuildTopics.some(t => t.name === request.topic)) assert.equal(configs['retention.ms'], '-1', request.topic)
    }
  }
  for (const policy of policies(render())) assert.deepEqual(policy, { replicationFactor: undefined, minInsyncReplicas: undefined, rebuildRetentionMs: undefined })
  const impossible = run(['template', 'cal', chart, '--set', 'kafka.topics.replicationFactor=2', '--set', 'kafka.topics.minInsyncReplicas=3'])
  assert.notEqual(impossible.status, 0)
  assert.match(impossible.stderr, /minInsyncReplicas \(3\) is above kafka.topics.replicationFactor \(2\)/)
})

test('redis.sentinels gives every service the Sentinels and the primary\'s name, which its configuration accepts', async () => {
  const { Config } = await import('../../services/job-executor/src/config.ts')
  const docs = render('redis.sentinels=sentinel-0.autocal-redis:26379\\,sentinel-1.autocal-redis:26379', 'redis.sentinelName=autocal')
  for (const d of byKind(docs, 'Deployment').values()) {
    const env = Object.fromEntries(d.spec.template.spec.containers[0].env.filter((e: any) => 'value' in e).map((e: any) => [e.name, e.value]))
    assert.equal(env.AUTOCAL_REDIS_SENTINELS, 'sentinel-0.autocal-redis:26379,sentinel-1.autocal-redis:26379')
    assert.equal(env.AUTOCAL_REDIS_SENTINEL_NAME, 'autocal')
  }
  const env = Object.fromEntries(byKind(docs, 'Deployment').get('cal-autocal-job-executor')?.spec.template.spec.containers[0].env.filter((e: any) => 'value' in e).map((e: any) => [e.name, e.value]))
  assert.equal(Config.parse(env).AUTOCAL_REDIS_SENTINEL_NAME, 'autocal')
  const unnamed = run(['template', 'cal', chart, '--set', 'redis.sentinels=s:26379'])
  assert.notEqual(unnamed.status, 0)
  assert.match(unnamed.stderr, /sentinelName/)
  assert.notEqual(run(['template', 'cal', chart, '--set', 'redis.sentinels=no-port', '--set', 'redis.sentinelName=m']).status, 0)
})

test('the command NOTES.txt prints for adding workflows works as printed, in bash', async () => {
  const { cpSync, mkdtempSync, renameSync, rmSync } = await import('node:fs')
  const { tmpdir } = await import('node:os')
  const { join } = await import('node:path')
  // helm renders NOTES.txt only on install/upgrade against a cluster: render it as an ordinary template of a copy
  const dir = mkdtempSync(join(tmpdir(), 'autocal-notes-'))
  try {
    cpSync(chart, join(dir, 'autocal'), { recursive: true })
    renameSync(join(dir, 'autocal/templates/NOTES.txt'), join(dir, 'autocal/templates/notes.txt'))
    const r = run(['template', 'cal', join(dir, 'autocal'), '--namespace', 'autocal', '--show-only', 'templates/notes.txt', '--debug'])
    const printed = (r.stdout + r.stderr).split('\n')
    const start = printed.findIndex(l => l.trim().startsWith('helm upgrade'))
    assert.ok(start >= 0, 'NOTES prints a helm upgrade command when there are no workflows')
    let command = ''
    for (const line of printed.slice(start)) {
      command += line.trim().replace(/\\$/, '') + ' '
      if (!line.trimEnd().endsWith('\\')) break
    }
    // run it as printed; `helm upgrade … --reuse-values` becomes `helm template` (no cluster here)
    const script = `helm () { shift; args=(); for a in "$@"; do [ "$a" = --reuse-values ] || args+=("$a"); done; command ${helm} template "\${args[@]}"; }\n${command}`
    const out = spawnSync('bash', ['-c', script], { encoding: 'utf8', cwd: new URL('../..', import.meta.url).pathname })
    assert.equal(out.status, 0, out.stderr)
    const workflows = parseAllDocuments(out.stdout).map(d => d.toJSON()).find(d => d?.kind === 'ConfigMap')
    assert.deepEqual(Object.keys(workflows?.data).sort(), ['ecal-timing.yaml', 'scripts__process_block.py'])
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
