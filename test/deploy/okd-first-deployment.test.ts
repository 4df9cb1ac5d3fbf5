// The README's "First deployment on OKD", run as written: its bash block in
// bash, with `oc` and `podman` as stand-ins (labelled: there is no cluster or
// registry here) that record their arguments and answer `oc whoami`/`oc get
// route` as OKD does, and `helm install` run as `helm template` with the
// same arguments. Then: the image built is the image the pods run, every
// Secret the pods mount or read is made by a command of the block (or by
// Strimzi for the chart's KafkaUsers), every rendered object passes the
// offline schema check, and the workflow directory, laid out as the pods see
// it, loads in the dispatcher with every {workflowDir} path present.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { parseAllDocuments } from 'yaml'
import { loadWorkflows } from '../../services/task-dispatcher/src/adapters/workflow-files.ts'
import { schemaLocation, writeKubeSchemas } from './kube-schemas.ts'

const repo = new URL('../..', import.meta.url).pathname
const helm = process.env.AUTOCAL_HELM ?? 'helm'
const kubeconform = process.env.AUTOCAL_KUBECONFORM ?? 'kubeconform'
const realdata = process.env.AUTOCAL_REALDATA_DIR ?? join(repo, '../shared/realdata')

/** The fenced bash blocks of the README section under `heading`, up to the next heading. */
function sectionBlocks (heading: string): string[] {
  const readme = readFileSync(join(repo, 'README.md'), 'utf8')
  const start = readme.indexOf(`\n${heading}\n`)
  assert.ok(start >= 0, `README has the section ${heading}`)
  const rest = readme.slice(start + heading.length + 2)
  const section = rest.slice(0, rest.search(/\n#{2,3} /))
  return [...section.matchAll(/```bash\n([\s\S]*?)```/g)].map(m => m[1]!)
}

interface Call { tool: string, args: string[] }
let work = ''
let calls: Call[] = []
let manifests = ''
let docs: Array<Record<string, any>> = []

// Stand-ins for the cluster tools. `oc get route default-route -n
// openshift-image-registry -o jsonpath={.spec.host}` prints the registry's
// default route host, `oc whoami [-t]` the user or a token (OKD's answers);
// everything else is recorded and succeeds. `helm install` becomes `helm
// template` (same chart, values and flags), its output kept.
const prelude = (log: string, out: string): string => `
set -euo pipefail
record () { node -e 'process.stdout.write(JSON.stringify({ tool: process.argv[1], args: process.argv.slice(2) }) + "\\n")' "$@" >> ${JSON.stringify(log)}; }
oc () {
  record oc "$@"
  case "$1 \${2:-}" in
    "get route") echo default-route-openshift-image-registry.apps.okd.example.cern.ch ;;
    "whoami -t") echo sha256~stand-in-token ;;
    "whoami ") echo developer ;;
  esac
}
podman () { record podman "$@"; }
helm () {
  if [ "$1" = install ]; then shift; command ${JSON.stringify(helm)} template "$@" > ${JSON.stringify(out)}; else command ${JSON.stringify(helm)} "$@"; fi
}
`

before(() => {
  work = mkdtempSync(join(tmpdir(), 'autocal-okd-'))
  const blocks = sectionBlocks('### First deployment on OKD')
  assert.equal(blocks.length, 1, 'one bash block')
  const log = join(work, 'calls.jsonl')
  const out = join(work, 'manifests.yaml')
  writeFileSync(log, '')
  const r = spawnSync('bash', ['-c', prelude(log, out) + blocks[0]!], {
    cwd: repo,
    timeout: 120_000,
    encoding: 'utf8',
    env: { ...process.env, AUTOCAL_REALDATA_DIR: realdata, OMS_CLIENT_SECRET: 'oms', DROPBOX_PASSWORD: 'dropbox', MATTERMOST_WEBHOOK_URL: 'https://mattermost.example/hooks/x' }
  })
  assert.equal(r.status, 0, `the README block fails in bash: ${r.stderr}`)
  calls = readFileSync(log, 'utf8').trim().split('\n').map(l => JSON.parse(l) as Call)
  manifests = readFileSync(out, 'utf8')
  docs = parseAllDocuments(manifests).map(d => d.toJSON()).filter(Boolean)
})
after(() => { rmSync(work, { recursive: true, force: true }) })

function flag (args: string[], name: string): string | undefined {
  const i = args.indexOf(name)
  return i >= 0 ? args[i + 1] : args.find(a => a.startsWith(`${name}=`))?.slice(name.length + 1)
}

test('the project, the image built from deploy/Containerfile and pushed, and the image the pods run are the same', () => {
  const project = calls.find(c => c.tool === 'oc' && c.args[0] === 'new-project')?.args[1]
  assert.equal(project, 'autocal')
  const build = calls.find(c => c.tool === 'podman' && c.args[0] === 'build')
  assert.ok(build !== undefined)
  assert.equal(flag(build.args, '-f'), 'deploy/Containerfile')
  assert.equal(build.args.at(-1), '.', 'built from the repository root')
  // every path the Containerfile copies exists in the repository
  for (const line of readFileSync(join(repo, 'deploy/Containerfile'), 'utf8').split('\n').filter(l => /^COPY (?!--from)/.test(l))) {
    for (const src of line.split(/\s+/).slice(1, -1)) assert.ok(existsSync(join(repo, src)), `Containerfile: ${src}`)
  }
  const tag = flag(build.args, '-t')!
  const login = calls.find(c => c.tool === 'podman' && c.args[0] === 'login')
  assert.equal(login?.args.at(-1), tag.split('/')[0], 'logged in to the registry pushed to')
  assert.deepEqual(calls.find(c => c.tool === 'podman' && c.args[0] === 'push')?.args, ['push', tag])
  const [, namespace, nameTag] = tag.split('/')
  assert.equal(namespace, project, 'the image stream lives in the project')
  const images = new Set(docs.filter(d => d.kind === 'Deployment').map(d => d.spec.template.spec.containers[0].image))
  assert.deepEqual([...images], [`image-registry.openshift-image-registry.svc:5000/${namespace}/${nameTag}`])
  for (const d of docs) assert.ok(d.metadata.namespace === undefined || d.metadata.namespace === project)
})

test('every Secret the pods mount or read is made by the block, with the keys the pods use, or by Strimzi', () => {
  const made = new Map<string, Set<string>>()
  for (const c of calls.filter(c => c.tool === 'oc' && c.args[0] === 'create' && c.args[1] === 'secret')) {
    const keys = new Set<string>()
    if (c.args[2] === 'tls') { keys.add('tls.crt'); keys.add('tls.key') }   // `oc create secret tls` stores tls.crt and tls.key
    for (const a of c.args) {
      const m = /^--from-(?:literal|file)=([^=]+)=/.exec(a)
      if (m !== null) keys.add(m[1]!)
    }
    made.set(c.args[3]!, keys)
  }
  // Strimzi's Secrets: one per KafkaUser (key password) and the cluster CA (key ca.crt)
  const strimzi = new Map<string, Set<string>>(docs.filter(d => d.kind === 'KafkaUser').map(u => [u.metadata.name, new Set(['password'])]))
  strimzi.set('autocal-kafka-cluster-ca-cert', new Set(['ca.crt']))
  const rendered = new Set(docs.filter(d => d.kind === 'Secret').map(d => d.metadata.name))
  for (const d of docs.filter(d => d.kind === 'Deployment')) {
    const pod = d.spec.template.spec
    const needed: Array<[string, string[]]> = [
      ...pod.volumes.filter((v: any) => v.secret !== undefined).map((v: any): [string, string[]] => [v.secret.secretName, (v.secret.items ?? []).map((i: any) => i.key)]),
      ...(pod.containers[0].envFrom ?? []).map((e: any): [string, string[]] => [e.secretRef.name, []])
    ]
    for (const [name, keys] of needed) {
      if (rendered.has(name)) continue
      const have = made.get(name) ?? strimzi.get(name)
      assert.ok(have !== undefined, `${d.metadata.name} needs the Secret ${name}, which nothing makes`)
      for (const k of keys) assert.ok(have.has(k), `${name} has no key ${k}`)
      // a TLS Secret's files are the ones the service is told to read (agents' endpoint, the control API)
      const tlsEnv: Record<string, [string, string]> = { 'autocal-agent-tls': ['AUTOCAL_AGENT_TLS_CERT_FILE', 'AUTOCAL_AGENT_TLS_KEY_FILE'], 'autocal-control-tls': ['AUTOCAL_CONTROL_TLS_CERT_FILE', 'AUTOCAL_CONTROL_TLS_KEY_FILE'] }
      const files = tlsEnv[name]
      if (files !== undefined) {
        const env = Object.fromEntries(pod.containers[0].env.filter((e: any) => 'value' in e).map((e: any) => [e.name, e.value]))
        assert.ok([...have].every(k => files.some(f => String(env[f] ?? '').endsWith(`/${k}`))), `${name}: ${files.join(' and ')} name its files`)
      }
    }
  }
  for (const [name, keys] of made) {
    if (name.startsWith('autocal-') && !name.endsWith('-ca') && !name.endsWith('-tls')) {
      for (const k of keys) assert.match(k, /^AUTOCAL_[A-Z0-9_]+$/, `${name}: environment keys only`)
    }
  }
})

test('every rendered object of the first deployment passes the offline Kubernetes/OpenShift schema check', () => {
  const openapi = process.env.AUTOCAL_KUBE_OPENAPI ?? join(spawnSync('go', ['env', 'GOMODCACHE'], { encoding: 'utf8' }).stdout.trim(), 'k8s.io/kubernetes@v1.34.1/api/openapi-spec/swagger.json')
  const schemas = join(work, 'schemas')
  writeKubeSchemas(openapi, schemas)
  const r = spawnSync(kubeconform, ['-strict', '-summary', '-skip', 'KafkaUser', '-schema-location', schemaLocation(schemas), '-'], { input: manifests, encoding: 'utf8' })
  assert.equal(r.status, 0, r.stdout + r.stderr)
  const kinds = new Set(docs.map(d => d.kind))
  for (const kind of ['PersistentVolumeClaim', 'Role', 'RoleBinding', 'Route', 'KafkaUser', 'PodDisruptionBudget']) assert.ok(kinds.has(kind), kind)
  const routes = docs.filter(d => d.kind === 'Route').map(d => `${d.spec.host} ${d.spec.tls.termination}`).sort()
  assert.deepEqual(routes, ['autocal-agents.apps.okd.example.cern.ch passthrough', 'autocal.apps.okd.example.cern.ch edge'])
})

test('the workflow directory, laid out as the pods mount it, loads in the dispatcher; every {workflowDir} path of its tasks is there, in the executor too', () => {
  const configMap = docs.find(d => d.kind === 'ConfigMap' && d.metadata.name.endsWith('-workflows'))
  const deployments = new Map(docs.filter(d => d.kind === 'Deployment').map(d => [d.metadata.labels['app.kubernetes.io/component'], d]))
  const dispatcher = deployments.get('task-dispatcher')!.spec.template.spec
  const env = Object.fromEntries(dispatcher.containers[0].env.filter((e: any) => 'value' in e).map((e: any) => [e.name, e.value]))
  const workflowDir = env.AUTOCAL_WORKFLOWS_DIR as string
  for (const name of ['task-dispatcher', 'job-executor']) {
    const pod = deployments.get(name)!.spec.template.spec
    const mount = pod.containers[0].volumeMounts.find((m: any) => m.mountPath === workflowDir)
    assert.ok(mount !== undefined, `${name} mounts ${workflowDir}`)
    assert.equal(pod.volumes.find((v: any) => v.name === mount.name)?.configMap.name, configMap?.metadata.name)
  }
  // materialize the ConfigMap volume as the kubelet does: each item's key at its path, under a stand-in root
  const root = join(work, 'pod')
  const items = dispatcher.volumes.find((v: any) => v.name === 'workflows').configMap.items as Array<{ key: string, path: string }>
  for (const item of items) {
    const file = join(root, workflowDir, item.path)
    mkdirSync(dirname(file), { recursive: true })
    assert.ok(item.key in configMap?.data, `ConfigMap key ${item.key}`)
    writeFileSync(file, configMap?.data[item.key])
  }
  const rooted = (p: string): string => p.startsWith('/') ? join(root, p) : p
  const loaded = loadWorkflows(join(root, workflowDir), { AUTOCAL_REALDATA_DIR: rooted(env.AUTOCAL_REALDATA_DIR) })
  assert.deepEqual(loaded.errors, [])
  assert.deepEqual(loaded.workflows.map(w => `${w.subsystem}/${w.workflow}`), ['ECAL/timing'])
  assert.equal(loaded.golden.size, 1, 'the golden JSON was read')
  const paths = loaded.workflows.flatMap(w => w.tasks.flatMap(t => (t.run ?? []).filter((a: string) => a.includes('{workflowDir}'))))
  assert.ok(paths.length >= 2)
  for (const p of paths) assert.ok(existsSync(join(root, p.replace('{workflowDir}', workflowDir))), `${p} exists in the pods`)
  assert.equal(readFileSync(join(root, workflowDir, 'scripts/process_block.py'), 'utf8'), readFileSync(join(repo, 'deploy/workflows/scripts/process_block.py'), 'utf8'))
})
