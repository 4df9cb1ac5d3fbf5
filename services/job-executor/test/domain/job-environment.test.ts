import { test } from 'node:test'
import assert from 'node:assert/strict'
import { create } from '@bufbuild/protobuf'
import { JobRequestSchema } from '@autocal/contracts'
import { passedEnvProblem } from '@autocal/contracts'
import { baseEnvironment, defaultPassedEnv, jobEnvironment } from '../../src/domain/job-environment.ts'

const executorEnv = {
  PATH: '/usr/bin:/bin',
  HOME: '/root',
  LANG: 'C.UTF-8',
  AUTOCAL_REDIS_URL: 'redis://:s3cret@redis:6379',
  AUTOCAL_AGENT_TOKENS: 'agent-a=agent-token-1',
  KUBE_TOKEN: 'kube-secret',
  AWS_SECRET_ACCESS_KEY: 'aws-secret'
}

test('a job gets the allow-listed basics of the executor\'s environment and nothing else of it', () => {
  assert.deepEqual(baseEnvironment(defaultPassedEnv, executorEnv), { PATH: '/usr/bin:/bin', HOME: '/root', LANG: 'C.UTF-8' })
  // even a list that names secrets does not pass them (the config refuses such a list at start)
  assert.deepEqual(baseEnvironment(['PATH', 'AUTOCAL_REDIS_URL', 'KUBE_TOKEN'], executorEnv), { PATH: '/usr/bin:/bin' })
})

test('names that may not be passed to jobs', () => {
  const cases: Array<[string, RegExp | undefined]> = [
    ['PATH', undefined], ['PYTHONPATH', undefined], ['LC_ALL', undefined], ['X509_CERT_DIR', undefined],
    ['AUTOCAL_REDIS_URL', /AUTOCAL_\* configuration is never passed/],
    ['AUTOCAL_LOG_LEVEL', /never passed/],
    ['GITHUB_TOKEN', /looks like a secret/], ['DB_PASSWORD', /looks like a secret/], ['API_KEY', /looks like a secret/],
    ['MY_SECRET', /looks like a secret/], ['bad-name', /not a variable name/]
  ]
  for (const [name, problem] of cases) {
    const got = passedEnvProblem(name)
    if (problem === undefined) assert.equal(got, undefined, name)
    else assert.match(got ?? '', problem, name)
  }
})

test('the job variables come last: a request cannot override them', () => {
  const request = create(JobRequestSchema, {
    jobId: 'prompt/run-1/t/1/0',
    try: 2,
    jobIndex: 3,
    provenance: { subsystem: 'ECAL', campaign: 'prompt', workflow: 'w', blockId: 'run-1', task: 't', taskAttempt: 1, inputRuns: [1, 2] },
    action: { case: 'start', value: { argv: ['x'], env: { MY_OPTION: '1', AUTOCAL_OUTDIR: '/etc' }, njobs: 4, inputs: ['/a', '/b'] } }
  })
  const env = jobEnvironment(request, '/data/jobs/x', { PATH: '/bin' })
  assert.equal(env.PATH, '/bin')
  assert.equal(env.MY_OPTION, '1')
  assert.equal(env.AUTOCAL_OUTDIR, '/data/jobs/x')
  assert.equal(env.AUTOCAL_RUNS, '1,2')
  assert.equal(env.AUTOCAL_TRY, '2')
  assert.equal(env.AUTOCAL_INPUTS, '/a,/b')
})

test('a job gets the variables it asks for by name only when the executor allows and has them', () => {
  const ask = (passEnv: string[]) => create(JobRequestSchema, { jobId: 'prompt/run-1/t/1/0', try: 1, action: { case: 'start', value: { argv: ['true'], passEnv, env: { MINE: '1' } } } })
  const extra = { allowed: ['X509_USER_PROXY', 'CMSSW_BASE'], values: { X509_USER_PROXY: '/tmp/x509up_u1000' } }
  const env = jobEnvironment(ask(['X509_USER_PROXY']), '/data/jobs/o', { PATH: '/bin' }, extra)
  assert.equal(env.X509_USER_PROXY, '/tmp/x509up_u1000')
  assert.equal(env.MINE, '1')
  assert.equal(env.PATH, '/bin')
  assert.equal(jobEnvironment(ask([]), '/data/jobs/o', {}, extra).X509_USER_PROXY, undefined, 'not asked for, not passed')
  assert.throws(() => jobEnvironment(ask(['HOME']), '/data/jobs/o', {}, extra), { message: 'the job asks for environment variable HOME, which this executor does not pass (AUTOCAL_EXECUTOR_JOB_EXTRA_ENV: X509_USER_PROXY, CMSSW_BASE)' })
  assert.throws(() => jobEnvironment(ask(['CMSSW_BASE']), '/data/jobs/o', {}, extra), { message: 'the job asks for environment variable CMSSW_BASE, which is allowed but not set on this executor' })
  assert.throws(() => jobEnvironment(ask(['X509_USER_PROXY']), '/data/jobs/o', {}), /does not pass \(AUTOCAL_EXECUTOR_JOB_EXTRA_ENV: empty\)/)
})
