// Job requests for the htcondor and kubernetes backends through the whole
// executor (real Kafka and Redis), against the STAND-INS of the HTCondor tools
// (test/stand-ins/condor) and of the Kubernetes API (test/stand-ins/kube-api.ts).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { dirname, join } from 'node:path'
import { create, toBinary } from '@bufbuild/protobuf'
import { JobPhase, JobRequestSchema, topics } from '@autocal/contracts'
import { connectRedis, loadConfig } from '@autocal/runtime'
import { Config } from '../../src/config.ts'
import { startJobExecutor } from '../../src/app.ts'
import { kubeJobName } from '../../src/domain/kube-job.ts'
import { createJobStore, type JobEntry } from '../../src/adapters/job-store.ts'
import { createCondorBackend } from '../../src/adapters/htcondor.ts'
import { asReader, outdirOf, quietLogger, startBench, testEnv, until } from '../helpers/harness.ts'
import { startKubeStandIn } from '../stand-ins/kube-api.ts'

const py = (code: string): string[] => ['python3', '-c', code]

test('htcondor jobs through the executor: done with outputs and log, refused when unsubmittable, cancelled with condor_rm', async () => {
  const env = testEnv({ AUTOCAL_EXECUTOR_BACKENDS: 'local,htcondor', AUTOCAL_CONDOR_BIN_DIR: new URL('../stand-ins/condor/', import.meta.url).pathname })
  process.env.CONDOR_STANDIN_DIR = join(env.AUTOCAL_DATA_DIR!, 'schedd') // the stand-in's state
  const logger = quietLogger()
  await using bench = await startBench(env, logger)
  await using executor = await startJobExecutor(loadConfig(Config, env), logger)
  // one line: a submit description cannot hold line breaks
  await bench.request('condor-ok', py("import json, os; print('on the batch system', os.environ['AUTOCAL_RUNS']); open('calib.db', 'w').write('abc'); json.dump({'outputs': [{'path': 'calib.db', 'label': 'condition'}]}, open('outputs.json', 'w'))"), { backend: 'htcondor' })
  await bench.request('condor-multiline', py('import sys\nsys.exit(0)'), { backend: 'htcondor' })
  await bench.request('condor-long', py('import time; time.sleep(60)'), { backend: 'htcondor' })
  await until('running', () => bench.statuses.some(s => s.jobId === 'condor-long' && s.phase === JobPhase.RUNNING))
  await bench.cancel('condor-long', 'operator: wrong input')
  await until('both ended', () => bench.final('condor-ok') !== undefined && bench.final('condor-long') !== undefined)
  const done = bench.final('condor-ok')!
  assert.equal(done.phase, JobPhase.DONE, done.reason)
  assert.equal(done.backend, 'htcondor')
  assert.match(done.backendId, /^\d+\.0$/)
  assert.equal(done.outputs[0]?.sizeBytes, 3n)
  assert.deepEqual(bench.statuses.filter(s => s.jobId === 'condor-ok').map(s => s.phase), [JobPhase.QUEUED, JobPhase.RUNNING, JobPhase.DONE])
  const log = await (await fetch(`http://127.0.0.1:${executor.port}/jobs/condor-ok/log`, asReader)).text()
  assert.equal(log, 'on the batch system 355100\n')
  await until('multiline refused', () => bench.final('condor-multiline') !== undefined)
  assert.match(bench.final('condor-multiline')!.reason, /^submission to htcondor failed: cannot write the HTCondor submit description of job condor-multiline: argument 2 "import sys\\nsys.exit\(0\)" holds a line break or NUL/)
  const cancelled = bench.final('condor-long')!
  assert.equal(cancelled.reason, 'cancelled: operator: wrong input')
  assert.equal(cancelled.retryable, false)
})

test('kubernetes jobs through the executor: a Job is created, followed to completion, and an evicted pod fails retryable', async () => {
  await using api = await startKubeStandIn()
  const env = testEnv({ AUTOCAL_EXECUTOR_BACKENDS: 'kubernetes', AUTOCAL_KUBE_SERVER: api.url, AUTOCAL_KUBE_IMAGES: 'registry.cern.ch/autocal/*', AUTOCAL_KUBE_SERVICE_ACCOUNT: 'ecal-jobs' })
  const tokenFile = join(env.AUTOCAL_DATA_DIR!, 'kube-token')
  writeFileSync(tokenFile, api.token)
  const logger = quietLogger()
  await using bench = await startBench(env, logger)
  await using _executor = await startJobExecutor(loadConfig(Config, { ...env, AUTOCAL_KUBE_TOKEN_FILE: tokenFile }), logger)
  const request = async (jobId: string, image = 'registry.cern.ch/autocal/fit:1') => {
    const { create } = await import('@bufbuild/protobuf')
    const { JobRequestSchema, topics } = await import('@autocal/contracts')
    await bench.producer.publish(topics.jobRequests, create(JobRequestSchema, {
      jobId,
      try: 1,
      provenance: { subsystem: 'ECAL', campaign: 'prompt', workflow: 'timing', blockId: 'run-355100', task: 'ecal-timing', taskAttempt: 1, inputRuns: [355100] },
      action: { case: 'start', value: { argv: ['python3', 'fit.py'], image, backend: 'kubernetes', timeoutS: 600, outdir: outdirOf(env, jobId) } }
    }))
  }
  await request('kube-ok')
  await request('kube-evicted')
  const ok = kubeJobName('kube-ok', 1)
  const evicted = kubeJobName('kube-evicted', 1)
  await until('jobs created', () => api.jobs.has(ok) && api.jobs.has(evicted))
  assert.equal(api.jobs.get(ok)!.job.spec.activeDeadlineSeconds, 600)
  const pod = api.jobs.get(ok)!.job.spec.template.spec
  assert.equal(pod.serviceAccountName, 'ecal-jobs')
  assert.equal(pod.automountServiceAccountToken, false)
  assert.equal(pod.containers[0].securityContext.allowPrivilegeEscalation, false)
  api.setJobStatus(ok, { active: 1 })
  await until('running', () => bench.statuses.some(s => s.jobId === 'kube-ok' && s.phase === JobPhase.RUNNING))
  api.setJobStatus(ok, { succeeded: 1, conditions: [{ type: 'Complete', status: 'True' }] })
  api.setJobStatus(evicted, { failed: 1, conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded' }] })
  api.setPods(evicted, [{ status: { phase: 'Failed', reason: 'Evicted', message: 'The node was low on resource: ephemeral-storage.' } }])
  await until('both ended', () => bench.final('kube-ok') !== undefined && bench.final('kube-evicted') !== undefined)
  assert.equal(bench.final('kube-ok')!.phase, JobPhase.DONE)
  assert.equal(bench.final('kube-ok')!.backendId, ok)
  const failed = bench.final('kube-evicted')!
  assert.equal(failed.reason, 'pod evicted: The node was low on resource: ephemeral-storage.')
  assert.equal(failed.retryable, true)
  assert.equal(api.jobs.has(evicted), false, 'the failed Job was deleted before its failure was reported')
  assert.equal(api.jobs.has(ok), true, 'a completed Job is left to its TTL')
})

test('a Kubernetes job whose image cannot be pulled is reported failed at the next poll with Kubernetes\' reason, and its Job deleted, long before its deadline', async () => {
  await using api = await startKubeStandIn()
  const env = testEnv({ AUTOCAL_EXECUTOR_BACKENDS: 'kubernetes', AUTOCAL_KUBE_SERVER: api.url, AUTOCAL_KUBE_IMAGES: 'registry.cern.ch/autocal/*' })
  const tokenFile = join(env.AUTOCAL_DATA_DIR!, 'kube-token')
  writeFileSync(tokenFile, api.token)
  const logger = quietLogger()
  await using bench = await startBench(env, logger)
  await using _executor = await startJobExecutor(loadConfig(Config, { ...env, AUTOCAL_KUBE_TOKEN_FILE: tokenFile }), logger)
  await bench.producer.publish(topics.jobRequests, create(JobRequestSchema, {
    jobId: 'kube-no-image',
    try: 1,
    provenance: { subsystem: 'ECAL', campaign: 'prompt', workflow: 'timing', blockId: 'run-355100', task: 'ecal-timing', taskAttempt: 1, inputRuns: [355100] },
    action: { case: 'start', value: { argv: ['python3', 'fit.py'], image: 'registry.cern.ch/autocal/fit:404', backend: 'kubernetes', timeoutS: 3600, outdir: outdirOf(env, 'kube-no-image') } }
  }))
  const name = kubeJobName('kube-no-image', 1)
  await until('job created', () => api.jobs.has(name))
  // the pod never starts: its image cannot be pulled (the Job itself stays active, as Kubernetes keeps it)
  api.setJobStatus(name, { active: 1 })
  api.setPods(name, [{ status: { phase: 'Pending', containerStatuses: [{ name: 'job', ready: false, state: { waiting: { reason: 'ErrImagePull', message: 'manifest for registry.cern.ch/autocal/fit:404 not found' } } }] } }])
  const t0 = Date.now()
  await until('reported failed', () => bench.final('kube-no-image') !== undefined, 30_000)
  const failed = bench.final('kube-no-image')!
  assert.equal(failed.phase, JobPhase.FAILED)
  assert.equal(failed.reason, 'cannot start: ErrImagePull: manifest for registry.cern.ch/autocal/fit:404 not found')
  assert.equal(failed.retryable, true)
  assert.ok(Date.now() - t0 < 30_000, 'reported within the first polls, not at the deadline of 3600 s')
  assert.equal(api.jobs.has(name), false, 'the Job that cannot start was deleted before its failure was reported')
})

test('an executor SIGKILLed while an HTCondor job runs: another executor follows the same HTCondor job to its end, nothing submitted twice', async () => {
  const env = testEnv({ AUTOCAL_EXECUTOR_BACKENDS: 'htcondor', AUTOCAL_CONDOR_BIN_DIR: new URL('../stand-ins/condor/', import.meta.url).pathname })
  const schedd = join(env.AUTOCAL_DATA_DIR!, 'schedd')
  process.env.CONDOR_STANDIN_DIR = schedd
  const logger = quietLogger()
  await using bench = await startBench(env, logger)
  const gate = join(env.AUTOCAL_DATA_DIR!, 'gate')
  const main = new URL('../../src/index.ts', import.meta.url).pathname
  const first = spawn(process.execPath, [main], { env: { ...process.env, ...env, AUTOCAL_INSTANCE_ID: 'exec-doomed', AUTOCAL_LOG_LEVEL: 'warn' }, stdio: 'ignore' })
  // waits for the gate, on one line (a submit description cannot hold line breaks)
  await bench.request('condor-survivor', py(`import os, time; [time.sleep(0.05) for _ in iter(lambda: os.path.exists(${JSON.stringify(gate)}), True)]`), { backend: 'htcondor' })
  await until('running', () => bench.statuses.some(s => s.jobId === 'condor-survivor' && s.phase === JobPhase.RUNNING), 60_000)
  first.kill('SIGKILL')
  await once(first, 'exit')
  writeFileSync(gate, '')
  await using _second = await startJobExecutor(loadConfig(Config, { ...env, AUTOCAL_INSTANCE_ID: 'exec-heir' }), logger)
  await until('reported', () => bench.final('condor-survivor') !== undefined, 60_000)
  const done = bench.final('condor-survivor')!
  assert.equal(done.phase, JobPhase.DONE, done.reason)
  assert.equal(done.executor, 'exec-heir')
  assert.equal(done.backendId, '1.0')
  assert.equal(readFileSync(join(schedd, 'next-cluster'), 'utf8'), '2', 'condor_submit ran once')
})

test('a held HTCondor job is removed before its failure is reported, so that no retry runs beside it when the pool releases it', async () => {
  const env = testEnv({ AUTOCAL_EXECUTOR_BACKENDS: 'htcondor', AUTOCAL_CONDOR_BIN_DIR: new URL('../stand-ins/condor/', import.meta.url).pathname })
  const schedd = join(env.AUTOCAL_DATA_DIR!, 'schedd')
  process.env.CONDOR_STANDIN_DIR = schedd
  const logger = quietLogger()
  await using bench = await startBench(env, logger)
  await using _executor = await startJobExecutor(loadConfig(Config, env), logger)
  // over its allowed execute duration, HTCondor holds the job (HoldReasonCode 47); it stays in the queue
  await bench.request('condor-held', py('import time; time.sleep(120)'), { backend: 'htcondor', timeoutS: 1 })
  await until('failed', () => bench.final('condor-held') !== undefined, 60_000)
  const failed = bench.final('condor-held')!
  assert.match(failed.reason, /^held by HTCondor: The job exceeded allowed execute duration of .* \(HoldReasonCode 47\)$/)
  const job = JSON.parse(readFileSync(join(schedd, `${failed.backendId.split('.')[0]}.json`), 'utf8')) as { JobStatus: number, RemoveReason?: string }
  assert.equal(job.JobStatus, 3, 'removed (condor_rm) before the failure was reported')
})

test('the executor\'s heartbeat does not wait behind a slow condor_q: the others never see it dead while it polls', async () => {
  const env = testEnv({ AUTOCAL_EXECUTOR_BACKENDS: 'local,htcondor', AUTOCAL_CONDOR_BIN_DIR: new URL('../stand-ins/condor/', import.meta.url).pathname, AUTOCAL_EXECUTOR_RECONCILE_MS: '300' })
  const schedd = join(env.AUTOCAL_DATA_DIR!, 'schedd')
  process.env.CONDOR_STANDIN_DIR = schedd
  process.env.CONDOR_STANDIN_QUERY_DELAY_S = '3' // ten heartbeat periods, more than twice the liveness TTL (4 × 300 ms)
  const logger = quietLogger()
  try {
    await using bench = await startBench(env, logger)
    const config = loadConfig(Config, env)
    await using executor = await startJobExecutor(config, logger)
    await using redis = await connectRedis({ config, logger })
    const observer = createJobStore(redis, 'observer')
    const queries = join(schedd, 'slow-queries')
    await bench.request('condor-slow-poll', py('import time; time.sleep(30)'), { backend: 'htcondor' })
    await until('a slow condor_q started', () => existsSync(queries) && readFileSync(queries, 'utf8').includes('start'))
    let samples = 0
    let dead = 0
    while (!readFileSync(queries, 'utf8').includes('end')) {
      samples++
      if (!await observer.isAlive(executor.instance)) dead++
      await new Promise(resolve => setTimeout(resolve, 50))
    }
    assert.ok(samples >= 20, `sampled throughout the slow query (${samples} samples)`)
    assert.equal(dead, 0, `the executor looked dead in ${dead} of ${samples} samples while condor_q was slow`)
    await bench.cancel('condor-slow-poll', 'test over')
  } finally {
    delete process.env.CONDOR_STANDIN_QUERY_DELAY_S
  }
})

test('an executor that died between condor_submit and recording the id: its heir finds the submitted job by its attributes and follows it, submitting nothing again', async () => {
  const binDir = new URL('../stand-ins/condor/', import.meta.url).pathname
  const env = testEnv({ AUTOCAL_EXECUTOR_BACKENDS: 'htcondor', AUTOCAL_CONDOR_BIN_DIR: binDir })
  const schedd = join(env.AUTOCAL_DATA_DIR!, 'schedd')
  process.env.CONDOR_STANDIN_DIR = schedd
  const logger = quietLogger()
  await using bench = await startBench(env, logger)
  const config = loadConfig(Config, env)
  const jobId = 'prompt/run-355100/condor-window/1/0'
  const outdir = outdirOf(env, 'condor-window')
  const request = create(JobRequestSchema, {
    jobId,
    try: 1,
    provenance: { subsystem: 'ECAL', campaign: 'prompt', workflow: 'timing', blockId: 'run-355100', task: 'condor-window', taskAttempt: 1, inputRuns: [355100] },
    action: { case: 'start', value: { argv: py("print('submitted once')"), backend: 'htcondor', outdir } }
  })
  // what the dead executor left behind: its claim, marked as submitting, and the job in the schedd
  const logFile = join(env.AUTOCAL_DATA_DIR!, 'logs', 'jobs', 'prompt_run-355100_condor-window_1_0.1.log')
  mkdirSync(dirname(logFile), { recursive: true })
  {
    await using redis = await connectRedis({ config, logger })
    const entry: JobEntry = { key: `${jobId}#1`, jobId, try: 1, owner: 'exec-dead', state: 'queued', backend: 'htcondor', request: Buffer.from(toBinary(JobRequestSchema, request)).toString('base64'), outdir, logFile, exitFile: join(env.AUTOCAL_DATA_DIR!, 'run', 'jobs', 'x.exit'), deadlineMs: 0, queuedAtMs: Date.now(), submittingAtMs: Date.now() }
    assert.equal(await createJobStore(redis, 'exec-dead').claim(entry), true)
  }
  const submitted = await createCondorBackend({ binDir }).submit({ jobId, try: 1, argv: py("print('submitted once')"), env: {}, outdir, stdout: logFile, stderr: logFile, timeoutS: 0, cpus: 0, memoryMb: 0, diskMb: 0 })
  await using _heir = await startJobExecutor(config, logger)
  await until('reported', () => bench.final(jobId) !== undefined, 60_000)
  const done = bench.final(jobId)!
  assert.equal(done.phase, JobPhase.DONE, done.reason)
  assert.equal(done.backendId, submitted)
  assert.equal(readFileSync(join(schedd, 'next-cluster'), 'utf8'), '2', 'condor_submit ran once')
  assert.equal(readFileSync(logFile, 'utf8'), 'submitted once\n')
})
