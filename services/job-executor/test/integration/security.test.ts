// Jobs and requests as an attacker would write them, through the whole
// executor on the real Kafka and Redis: a job cannot read the executor's
// secrets or write outside its output directory, cannot report another
// directory's files as its outputs, a request cannot name a directory or an
// image outside the executor's limits, and job logs are read only with a token.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'
import { Writable } from 'node:stream'
import { create } from '@bufbuild/protobuf'
import { JobPhase, JobRequestSchema, topics, type DeadLetter } from '@autocal/contracts'
import { createLogger, loadConfig, startConsumer } from '@autocal/runtime'
import { Config } from '../../src/config.ts'
import { startJobExecutor } from '../../src/app.ts'
import { asReader, outdirOf, quietLogger, readToken, scratchDir, startBench, testEnv, until } from '../helpers/harness.ts'

const py = (code: string): string[] => ['python3', '-c', code]
const asRoot = process.getuid?.() === 0
const jobVariables = ['AUTOCAL_CAMPAIGN', 'AUTOCAL_SUBSYSTEM', 'AUTOCAL_WORKFLOW', 'AUTOCAL_TASK', 'AUTOCAL_BLOCK', 'AUTOCAL_ATTEMPT', 'AUTOCAL_RUNS', 'AUTOCAL_JOB', 'AUTOCAL_NJOBS', 'AUTOCAL_INPUTS', 'AUTOCAL_OUTDIR', 'AUTOCAL_JOB_ID', 'AUTOCAL_TRY', 'AUTOCAL_EXIT_FILE', 'AUTOCAL_PID_FILE']

test('a job sees no secret of the executor, cannot read its /proc environ, and cannot write the CondDB, the data directory or the executor\'s state', {
  skip: asRoot ? false : 'jobs run as another user only when the executor runs as root (CI runs the tests as root)'
}, async () => {
  const secret = `agent-token-${randomUUID()}`
  const env = testEnv({ AUTOCAL_AGENT_TOKENS: `agent-a=${secret}`, AUTOCAL_AGENT_INSECURE: 'true', AUTOCAL_GRPC_PORT: '0' })
  const logger = quietLogger()
  await using bench = await startBench(env, logger)
  const dataDir = env.AUTOCAL_DATA_DIR!
  const conddb = join(dataDir, 'conddb.sqlite')
  writeFileSync(conddb, 'the CondDB') // as the uploader leaves it: root's, 0644
  const main = new URL('../../src/index.ts', import.meta.url).pathname
  const executor = spawn(process.execPath, [main], { env: { ...process.env, ...env, AUTOCAL_LOG_LEVEL: 'warn' }, stdio: 'ignore' })
  try {
    await bench.request('probe', py(`
import json, os
r = {'env': dict(os.environ), 'uid': os.getuid()}
def attempt(name, f):
    try:
        f()
        r[name] = 'done'
    except Exception as e:
        r[name] = type(e).__name__
attempt('environ', lambda: open('/proc/${executor.pid}/environ', 'rb').read())
attempt('conddb', lambda: open(${JSON.stringify(conddb)}, 'a').write('forged'))
attempt('datadir', lambda: open(${JSON.stringify(join(dataDir, 'planted'))}, 'w').write('x'))
attempt('state', lambda: open(${JSON.stringify(join(dataDir, 'run', 'jobs', 'forged.exit'))}, 'w').write('0'))
attempt('sibling', lambda: os.mkdir(${JSON.stringify(join(dataDir, 'jobs', 'out', 'other-job'))}))
json.dump(r, open('probe.json', 'w'))
json.dump({'outputs': ['probe.json']}, open('outputs.json', 'w'))`))
    await until('probe done', () => bench.final('probe') !== undefined)
    assert.equal(bench.final('probe')!.phase, JobPhase.DONE, bench.final('probe')!.reason)
    const probe = JSON.parse(readFileSync(join(outdirOf(env, 'probe'), 'probe.json'), 'utf8')) as Record<string, unknown> & { env: Record<string, string> }
    assert.equal(probe.uid, 65534, 'the job runs as nobody')
    const autocalKeys = Object.keys(probe.env).filter(k => k.startsWith('AUTOCAL_'))
    assert.deepEqual(autocalKeys.filter(k => !jobVariables.includes(k)), [], 'only the job variables of the contract')
    assert.ok(!JSON.stringify(probe.env).includes(secret), 'the agent token is nowhere in the job\'s environment')
    assert.deepEqual({ environ: probe.environ, conddb: probe.conddb, datadir: probe.datadir, state: probe.state, sibling: probe.sibling },
      { environ: 'PermissionError', conddb: 'PermissionError', datadir: 'PermissionError', state: 'PermissionError', sibling: 'PermissionError' })
    assert.equal(readFileSync(conddb, 'utf8'), 'the CondDB')
    assert.equal(existsSync(join(dataDir, 'planted')), false)
  } finally {
    executor.kill('SIGTERM')
    await once(executor, 'exit')
  }
})

test('outputs outside the job\'s output directory fail the job: an absolute path elsewhere, a symbolic link leading out, a manifest that is a link', async () => {
  const env = testEnv()
  const logger = quietLogger()
  await using bench = await startBench(env, logger)
  await using _executor = await startJobExecutor(loadConfig(Config, env), logger)
  await bench.request('names-passwd', py('import json; json.dump({\'outputs\': [{\'path\': \'/etc/passwd\', \'label\': \'condition\'}]}, open(\'outputs.json\', \'w\'))'))
  await bench.request('climbs-out', py('import json; json.dump({\'outputs\': [\'../names-passwd/outputs.json\']}, open(\'outputs.json\', \'w\'))'))
  await bench.request('links-out', py(`
import json, os
os.symlink('/etc/passwd', 'calib.db')
json.dump({'outputs': [{'path': 'calib.db', 'label': 'condition'}]}, open('outputs.json', 'w'))`))
  await bench.request('manifest-link', py("import os; os.symlink('/etc/passwd', 'outputs.json')"))
  const ids = ['names-passwd', 'climbs-out', 'links-out', 'manifest-link']
  await until('all ended', () => ids.every(id => bench.final(id) !== undefined))
  const reasons = Object.fromEntries(ids.map(id => [id, bench.final(id)!.reason]))
  assert.deepEqual(reasons, {
    'names-passwd': `outputs.json: outputs[0].path "/etc/passwd" is outside the job's output directory ${outdirOf(env, 'names-passwd')}`,
    'climbs-out': `outputs.json: outputs[0].path "../names-passwd/outputs.json" is outside the job's output directory ${outdirOf(env, 'climbs-out')}`,
    'links-out': `outputs.json: output ${join(outdirOf(env, 'links-out'), 'calib.db')} resolves to /etc/passwd, outside the job's output directory ${outdirOf(env, 'links-out')}`,
    'manifest-link': 'outputs.json is a symbolic link; it must be a file in the output directory'
  })
  for (const id of ids) {
    assert.equal(bench.final(id)!.phase, JobPhase.FAILED)
    assert.equal(bench.final(id)!.retryable, false)
    assert.deepEqual(bench.final(id)!.outputs, [])
  }
})

test('a request with a name outside the grammar, an output directory outside the jobs directory or an image not allow-listed goes to the DLQ with the reason, and runs nothing', async () => {
  const env = testEnv({ AUTOCAL_EXECUTOR_BACKENDS: 'local,kubernetes', AUTOCAL_KUBE_SERVER: 'http://127.0.0.1:9', AUTOCAL_KUBE_IMAGES: 'registry.cern.ch/autocal/*' })
  const logger = quietLogger()
  await using bench = await startBench(env, logger)
  const config = loadConfig(Config, env)
  const letters: DeadLetter[] = []
  await using _dlq = await startConsumer({ config, logger, service: 'test', group: `dlq-${randomUUID().slice(0, 6)}`, producer: bench.producer, handlers: { dlq: async letter => { letters.push(letter) } } })
  await using _executor = await startJobExecutor(config, logger)
  const scratch = scratchDir(env) // each job that runs leaves its mark here
  const provenance = { subsystem: 'ECAL', campaign: 'prompt', workflow: 'timing', blockId: 'run-355100', task: 'timing-reco', taskAttempt: 1, inputRuns: [355100] }
  const send = async (jobId: string, p: Partial<typeof provenance>, start: { outdir: string, backend?: string, image?: string }) => {
    await bench.producer.publish(topics.jobRequests, create(JobRequestSchema, {
      jobId,
      try: 1,
      provenance: { ...provenance, ...p },
      action: { case: 'start', value: { argv: ['/usr/bin/touch', join(scratch, jobId)], backend: start.backend ?? 'local', image: start.image ?? '', outdir: start.outdir } }
    }))
  }
  await send('era-traversal', { campaign: '../../../../etc/cron.d' }, { outdir: outdirOf(env, 'era-traversal') })
  await send('outdir-escape', {}, { outdir: '/etc/cron.d' })
  await send('outdir-dotdot', {}, { outdir: join(env.AUTOCAL_DATA_DIR!, 'jobs', '..', '..', 'elsewhere') })
  await send('foreign-image', {}, { outdir: outdirOf(env, 'foreign-image'), backend: 'kubernetes', image: 'docker.io/someone/miner:latest' })
  await until('four dead letters', () => letters.length >= 4)
  const reasons = letters.map(l => l.reason).sort()
  assert.deepEqual(reasons, [
    // refused by the bus's name check before the executor's handler sees it (packages/contracts messageProblem)
    'autocal.jobs.requests.v1.JobRequest: provenance.campaign: campaign "../../../../etc/cron.d" is not a valid name: expected letters, digits, _ . - (at most 100, starting with a letter or digit), e.g. prompt',
    'job foreign-image: image "docker.io/someone/miner:latest" is not in the executor\'s allow-list (AUTOCAL_KUBE_IMAGES)',
    `job outdir-dotdot: outdir ${JSON.stringify(join(env.AUTOCAL_DATA_DIR!, 'jobs', '..', '..', 'elsewhere'))} is not inside the executor's jobs directory ${join(env.AUTOCAL_DATA_DIR!, 'jobs')}`,
    `job outdir-escape: outdir "/etc/cron.d" is not inside the executor's jobs directory ${join(env.AUTOCAL_DATA_DIR!, 'jobs')}`
  ].sort())
  assert.ok(letters.every(l => l.code === 'AUTOCAL_VALIDATION_FAILED' && l.attempts <= 1), 'not retried: a fault of the message')
  // a good request behind them on the same partition runs: the consumer moved on
  await send('good', {}, { outdir: outdirOf(env, 'good') })
  await until('good done', () => bench.final('good') !== undefined)
  assert.equal(bench.final('good')!.phase, JobPhase.DONE)
  assert.equal(bench.statuses.filter(s => s.jobId !== 'good').length, 0, 'nothing else was queued or run')
  assert.deepEqual(readdirSync(scratch), ['good'])
})

test('job logs need a read token (401 logged with the peer), public only when configured; job ids with slashes work URL-encoded', async () => {
  const lines: string[] = []
  const logger = createLogger({ service: 'job-executor', level: 'warn', destination: new Writable({ write (chunk, _e, done) { lines.push(String(chunk)); done() } }) })
  const env = testEnv()
  await using bench = await startBench(env, quietLogger())
  await using executor = await startJobExecutor(loadConfig(Config, env), logger)
  const jobId = 'prompt/run-355100/timing-reco/1/0'
  await bench.request(jobId, py("print('the log of a job with slashes in its id')"), { outdir: join(env.AUTOCAL_DATA_DIR!, 'jobs', 'slashed') })
  await until('done', () => bench.final(jobId) !== undefined)
  const url = `http://127.0.0.1:${executor.port}/jobs/${encodeURIComponent(jobId)}/log`
  assert.equal(bench.final(jobId)!.logUrl.endsWith(`/jobs/${encodeURIComponent(jobId)}/log?try=1`), true)
  const anonymous = await fetch(url)
  assert.equal(anonymous.status, 401)
  assert.equal(anonymous.headers.get('www-authenticate'), 'Bearer')
  assert.doesNotMatch(await anonymous.text(), /the log of/)
  assert.equal((await fetch(url, { headers: { authorization: 'Bearer not-the-token' } })).status, 401)
  assert.equal((await fetch(url, { headers: { authorization: readToken } })).status, 401, 'the token without the Bearer scheme')
  const read = await fetch(url, asReader)
  assert.equal(read.status, 200)
  assert.equal(await read.text(), 'the log of a job with slashes in its id\n')
  const refusals = lines.map(l => JSON.parse(l) as { msg: string, peer?: string, reason?: string, job?: string }).filter(l => l.msg === 'job log request refused')
  assert.deepEqual(refusals.map(r => [r.peer, r.reason, r.job]), [['127.0.0.1', 'missing bearer token', jobId], ['127.0.0.1', 'unknown token', jobId], ['127.0.0.1', 'missing bearer token', jobId]])
  assert.ok(lines.every(l => !l.includes('not-the-token')), 'a presented token is never logged')

  // a deployment that makes logs public
  const publicEnv = { ...env, AUTOCAL_READ_TOKENS: '', AUTOCAL_READ_PUBLIC: 'true', AUTOCAL_INSTANCE_ID: 'exec-public' }
  await using open = await startJobExecutor(loadConfig(Config, publicEnv), quietLogger())
  assert.equal((await fetch(`http://127.0.0.1:${open.port}/jobs/${encodeURIComponent(jobId)}/log`)).status, 200)
})
