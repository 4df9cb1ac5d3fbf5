// The chart checked like the API server would check it: every rendered object
// validated by kubeconform against schemas made offline from the Kubernetes
// API's own OpenAPI document (k8s.io/kubernetes v1.34.1, downloaded once by
// test/run.sh into Go's module cache; AUTOCAL_KUBE_OPENAPI names the file)
// and the OpenShift Route schema of test/deploy/schemas/, strict (unknown
// keys fail), for the default and the production values with every optional
// object switched on. Skipped, by name: Strimzi's KafkaUser (Strimzi ships
// its CRDs only inside its Java repository, no Go module to take them from
// here; helm.test.ts compares the KafkaUsers' ACLs with the local ACL table).
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { schemaLocation, writeKubeSchemas } from './kube-schemas.ts'

const repo = new URL('../..', import.meta.url).pathname
const chart = join(repo, 'helm/autocal')
const production = join(chart, 'values-production.yaml')
const helm = process.env.AUTOCAL_HELM ?? 'helm'
const kubeconform = process.env.AUTOCAL_KUBECONFORM ?? 'kubeconform'
/** Kinds without a schema here, each with its reason (see the header). */
export const skippedKinds = { KafkaUser: 'Strimzi CRD: no offline schema (its CRDs live only in the Java repository); ACLs checked by helm.test.ts' }

function openapiDocument (): string {
  const fromEnv = process.env.AUTOCAL_KUBE_OPENAPI
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv
  const gopath = spawnSync('go', ['env', 'GOMODCACHE'], { encoding: 'utf8' }).stdout?.trim() ?? ''
  const cached = join(gopath, 'k8s.io/kubernetes@v1.34.1/api/openapi-spec/swagger.json')
  if (existsSync(cached)) return cached
  throw new Error('no Kubernetes OpenAPI document: run test/run.sh (it downloads k8s.io/kubernetes@v1.34.1 once) or set AUTOCAL_KUBE_OPENAPI')
}

let schemas = ''
before(() => {
  schemas = mkdtempSync(join(tmpdir(), 'autocal-kube-schemas-'))
  writeKubeSchemas(openapiDocument(), schemas)
})
after(() => { rmSync(schemas, { recursive: true, force: true }) })

/** `helm template` of the chart with values files and --set/--set-file/--set-json flags; fails the test when helm does. */
export function template (args: string[]): string {
  const r = spawnSync(helm, ['template', 'cal', chart, '--namespace', 'autocal', ...args], { encoding: 'utf8', cwd: repo })
  if (r.error !== undefined) throw new Error(`cannot run ${helm}: ${r.error.message} (test/run.sh installs it)`)
  assert.equal(r.status, 0, r.stderr)
  return r.stdout
}

interface Result { filename: string, kind: string, name: string, version: string, status: string, msg: string }

/** kubeconform's verdict on each object of `manifests` (strict, offline schemas only, KafkaUser skipped). */
export function validate (manifests: string, dir = schemas): { status: number | null, resources: Result[] } {
  const r = spawnSync(kubeconform, ['-strict', '-output', 'json', '-verbose', '-skip', Object.keys(skippedKinds).join(','),
    '-schema-location', schemaLocation(dir), '-'], { input: manifests, encoding: 'utf8' })
  if (r.error !== undefined) throw new Error(`cannot run ${kubeconform}: ${r.error.message} (test/run.sh installs it)`)
  const out = JSON.parse(r.stdout) as { resources: Result[] }
  return { status: r.status, resources: out.resources }
}

// every optional object of the chart, switched on
const everything = [
  '--set', 'route.enabled=true', '--set', 'route.host=autocal.apps.okd.example.cern.ch',
  '--set', 'services.jobExecutor.kubernetes.enabled=true',
  '--set', 'kafka.strimzi.users=true',
  '--set', 'services.taskDispatcher.secretEnv.AUTOCAL_CONTROL_TOKENS=t',
  '--set-file', 'workflows.ecal-timing\\.yaml=deploy/workflows/ecal-timing.yaml',
  '--set-file', 'workflowFiles.scripts/process_block\\.py=deploy/workflows/scripts/process_block.py',
  '--set', 'services.jobExecutor.autoscaling.enabled=true', '--set', 'services.conditionUploader.autoscaling.enabled=true',
  '--set', 'grpcExternal.type=NodePort', '--set', 'grpcExternal.nodePorts.taskDispatcher=30051',
  '--set', 'route.agents.enabled=true', '--set', 'route.agents.host=agents.apps.okd.example.cern.ch',
  '--set', 'services.jobExecutor.agentTls.secret=autocal-agent-tls'
]

for (const [name, files] of [['default', []], ['production', ['-f', production]]] as const) {
  test(`every object the chart renders with the ${name} values is valid against the Kubernetes 1.34 and OpenShift schemas`, () => {
    const { status, resources } = validate(template([...files, ...everything]))
    const invalid = resources.filter(r => r.status !== 'statusValid' && !(r.status === 'statusSkipped' && r.kind in skippedKinds))
    assert.deepEqual(invalid.map(r => `${r.kind}/${r.name}: ${r.status} ${r.msg}`), [])
    assert.equal(status, 0)
    const kinds = new Set(resources.filter(r => r.status === 'statusValid').map(r => r.kind))
    for (const kind of ['Deployment', 'Service', 'ServiceAccount', 'ConfigMap', 'NetworkPolicy', 'Role', 'RoleBinding', 'Route', 'PodDisruptionBudget', 'HorizontalPodAutoscaler']) {
      assert.ok(kinds.has(kind), `${kind} rendered and checked`)
    }
  })
}

test('the schema check fails on a misspelt key, on a string where an integer must be, and on a kind it has no schema for', () => {
  const misspelt = validate(template(['--set-json', 'services.runWatcher.egress=[{"ports":[{"port":443,"protocl":"TCP"}]}]']))
  assert.notEqual(misspelt.status, 0)
  const bad = misspelt.resources.filter(r => r.status === 'statusInvalid')
  assert.deepEqual(bad.map(r => `${r.kind}/${r.name}`), ['NetworkPolicy/cal-autocal-run-watcher'])
  assert.match(bad[0]!.msg, /'protocl' not allowed/)

  const notAnInt = validate(template(['--set-json', 'services.runWatcher.egress=[{"ports":[{"port":443,"endPort":"all"}]}]']))
  assert.notEqual(notAnInt.status, 0)
  assert.match(notAnInt.resources.find(r => r.status === 'statusInvalid')?.msg ?? '', /endPort': got string, want null or integer/)

  const route = validate(template(['--set', 'route.enabled=true', '--set-json', 'podSecurityContext={"runAsNonRoot":"yes"}']))
  assert.equal(route.resources.filter(r => r.status === 'statusInvalid').length, 5, 'each Deployment: runAsNonRoot must be a boolean')

  const unknown = validate('apiVersion: example.org/v1\nkind: Gadget\nmetadata: { name: g }\n')
  assert.notEqual(unknown.status, 0)
  assert.match(unknown.resources[0]?.msg ?? '', /could not find schema for Gadget/)
})
