// The kubernetes backend through @kubernetes/client-node against the local
// STAND-IN of the Kubernetes API (test/stand-ins/kube-api.ts).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createKubeBackend } from '../../src/adapters/kubernetes.ts'
import { startKubeStandIn } from '../stand-ins/kube-api.ts'

const spec = (jobIndex: number, extra: { timeoutS?: number } = {}) => ({
  jobId: `prompt/Run2022C-355100/ecal-timing/1/${jobIndex}`,
  try: 1,
  image: 'registry.cern.ch/autocal/ecal-timing:1.2',
  argv: ['python3', 'timing.py', '--run', '355100'],
  env: { AUTOCAL_RUNS: '355100', AUTOCAL_JOB: String(jobIndex) },
  cpus: 2,
  memoryMb: 4000,
  timeoutS: extra.timeoutS ?? 3600,
  campaign: 'prompt',
  block: 'Run2022C-355100',
  task: 'ecal-timing',
  jobIndex,
  serviceAccount: 'autocal-job',
  runAsUser: 65534
})

test('a Job is created with image, argv, env, resources, deadline and labels; it runs, completes and has logs', async () => {
  await using api = await startKubeStandIn()
  const kube = createKubeBackend({ namespace: 'autocal', server: api.url, token: api.token })
  const name = await kube.submit(spec(0))
  assert.match(name, /^autocal-[0-9a-f]{16}$/)
  const job = api.jobs.get(name)!.job
  const container = job.spec.template.spec.containers[0]
  assert.equal(container.image, 'registry.cern.ch/autocal/ecal-timing:1.2')
  assert.deepEqual([...container.command, ...container.args], ['python3', 'timing.py', '--run', '355100'])
  assert.deepEqual(container.env, [{ name: 'AUTOCAL_RUNS', value: '355100' }, { name: 'AUTOCAL_JOB', value: '0' }])
  assert.deepEqual(container.resources, { requests: { cpu: '2', memory: '4000Mi' }, limits: { memory: '4000Mi' } })
  assert.equal(job.spec.activeDeadlineSeconds, 3600)
  assert.equal(job.spec.template.spec.restartPolicy, 'Never')
  assert.equal(job.metadata.labels['autocal.cern.ch/campaign'], 'prompt')
  assert.equal(job.metadata.labels['autocal.cern.ch/block'], 'Run2022C-355100')
  assert.equal(job.metadata.labels['autocal.cern.ch/task'], 'ecal-timing')
  assert.equal(job.metadata.annotations['autocal.cern.ch/job-id'], 'prompt/Run2022C-355100/ecal-timing/1/0')
  // the pod holds no credentials and no privileges (Pod Security Standard "restricted")
  const pod = job.spec.template.spec
  assert.equal(pod.serviceAccountName, 'autocal-job')
  assert.equal(pod.automountServiceAccountToken, false)
  assert.deepEqual(pod.securityContext, { runAsNonRoot: true, runAsUser: 65534, runAsGroup: 65534, seccompProfile: { type: 'RuntimeDefault' } })
  assert.deepEqual(container.securityContext, { runAsNonRoot: true, allowPrivilegeEscalation: false, privileged: false, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } })
  assert.equal(pod.volumes, undefined, 'no secret or token volume')
  assert.ok(container.env.every((e: { name: string }) => !/TOKEN|PASSWORD|SECRET/.test(e.name)))

  assert.equal((await kube.state(name))?.phase, 'queued')
  api.setJobStatus(name, { active: 1 })
  api.setPods(name, [{ status: { phase: 'Running' } }])
  assert.equal((await kube.state(name))?.phase, 'running')
  api.setJobStatus(name, { succeeded: 1, conditions: [{ type: 'Complete', status: 'True' }] })
  api.setLog(name, 'timing fit converged\n')
  assert.deepEqual(await kube.state(name), { phase: 'done', exitCode: 0, reason: '', retryable: false })
  assert.equal(await kube.logs(name), 'timing fit converged\n')
  assert.equal(await kube.submit(spec(0)), name, 'a redelivered request finds its Job (409 AlreadyExists)')
})

test('an evicted pod and a deadline fail the job as retryable; cancel deletes the Job', async () => {
  await using api = await startKubeStandIn()
  const kube = createKubeBackend({ namespace: 'autocal', server: api.url, token: api.token })
  const evicted = await kube.submit(spec(1))
  api.setJobStatus(evicted, { failed: 1, conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' }] })
  api.setPods(evicted, [{ status: { phase: 'Failed', reason: 'Evicted', message: 'The node was low on resource: memory. Threshold quantity: 100Mi, available: 91Mi.' } }])
  assert.deepEqual(await kube.state(evicted), { phase: 'failed', reason: 'pod evicted: The node was low on resource: memory. Threshold quantity: 100Mi, available: 91Mi.', retryable: true, remove: true })

  const slow = await kube.submit(spec(2, { timeoutS: 60 }))
  api.setJobStatus(slow, { failed: 1, conditions: [{ type: 'Failed', status: 'True', reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline' }] })
  assert.equal((await kube.state(slow))?.reason, 'timeout: Job was active longer than specified deadline')

  const cancelled = await kube.submit(spec(3))
  await kube.cancel(cancelled)
  assert.equal(api.jobs.has(cancelled), false)
  assert.ok(api.requests.some(r => r.method === 'DELETE' && r.path.endsWith(`/jobs/${cancelled}`)))
  assert.equal(await kube.state(cancelled), undefined, 'a deleted Job is unknown')
  await kube.cancel(cancelled) // already gone: fine
})

test('API errors are reported with their HTTP code and message', async () => {
  await using api = await startKubeStandIn()
  const kube = createKubeBackend({ namespace: 'autocal', server: api.url, token: api.token })
  api.failNext('POST', '/apis/batch/v1/namespaces/autocal/jobs', 403, 'Forbidden')
  await assert.rejects(kube.submit(spec(4)), /kubernetes create job autocal-[0-9a-f]+ failed \(HTTP 403\): stand-in injected Forbidden/)
  const name = await kube.submit(spec(4))
  api.failNext('GET', `/apis/batch/v1/namespaces/autocal/jobs/${name}`, 500, 'InternalError')
  await assert.rejects(kube.state(name), /kubernetes read job .* failed \(HTTP 500\)/)
  const wrongToken = createKubeBackend({ namespace: 'autocal', server: api.url, token: 'wrong' })
  await assert.rejects(wrongToken.state(name), /failed \(HTTP 401\)/)
})
