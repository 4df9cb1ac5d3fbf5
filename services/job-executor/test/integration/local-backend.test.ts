// The local backend with real processes, on real Kafka and Redis.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { spawn } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { once } from 'node:events'
import { create, toBinary } from '@bufbuild/protobuf'
import { JobPhase, JobRequestSchema, topicName, topics } from '@autocal/contracts'
import { connectRedis, createKafka, loadConfig } from '@autocal/runtime'
import { Config } from '../../src/config.ts'
import { startJobExecutor } from '../../src/app.ts'
import { createJobStore, type JobEntry } from '../../src/adapters/job-store.ts'
import { startProcess } from '../../src/adapters/local-process.ts'
import { outdirOf, asReader, quietLogger, scratchDir, startBench, testEnv, until } from '../helpers/harness.ts'
import { handledEverything } from '../../../../test/helpers/kafka-progress.ts'

const py = (code: string): string[] => ['python3', '-c', code]

function alive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch { return false }
}

test('a job that writes its declared outputs is done, with sizes and sha256, and its environment', async () => {
  const env = testEnv()
  const logger = quietLogger()
  await using bench = await startBench(env, logger)
  await using executor = await startJobExecutor(loadConfig(Config, env), logger)
  await bench.request('ok-1', py(`
import json, os
open('calib.db', 'wb').write(b'payload-bytes')
open('env.txt', 'w').write(os.environ['AUTOCAL_RUNS'] + ' ' + os.environ['AUTOCAL_CAMPAIGN'] + ' ' + os.environ['AUTOCAL_JOB'])
json.dump({'outputs': [{'path': 'calib.db', 'label': 'condition'}, 'env.txt']}, open('outputs.json', 'w'))
print('hello from the job')`))
  await until('done', () => bench.final('ok-1') !== undefined)
  const done = bench.final('ok-1')!
  assert.equal(done.phase, JobPhase.DONE, done.reason)
  assert.equal(done.exitCode, 0)
  assert.deepEqual(done.outputs.map(o => [o.label, o.sizeBytes, o.sha256]), [
    ['condition', 13n, createHash('sha256').update('payload-bytes').digest('hex')],
    ['', 15n, createHash('sha256').update('355100 prompt 0').digest('hex')]
  ])
  assert.ok(done.outputs[0]!.path.endsWith('/out/ok-1/calib.db'))
  assert.deepEqual(bench.statuses.filter(s => s.jobId === 'ok-1').map(s => s.phase), [JobPhase.QUEUED, JobPhase.RUNNING, JobPhase.DONE])
  assert.equal(done.backend, 'local')
  assert.match(done.backendId, /^\d+$/)
  const log = await fetch(done.logUrl.replace(/^http:\/\/[^/]+/, `http://127.0.0.1:${executor.port}`), asReader)
  assert.equal(log.status, 200)
  assert.match(await log.text(), /hello from the job/)
})

test('a non-zero exit fails with the exit code, and a missing declared output fails with its path', async () => {
  const env = testEnv()
  const logger = quietLogger()
  await using bench = await startBench(env, logger)
  await using _executor = await startJobExecutor(loadConfig(Config, env), logger)
  await bench.request('exit-3', py('import sys; sys.exit(3)'))
  await bench.request('missing', py("import json; json.dump({'outputs': ['nothing.db']}, open('outputs.json', 'w'))"))
  await until('both finished', () => bench.final('exit-3') !== undefined && bench.final('missing') !== undefined)
  const failed = bench.final('exit-3')!
  assert.equal(failed.phase, JobPhase.FAILED)
  assert.equal(failed.exitCode, 3)
  assert.equal(failed.reason, 'exit code 3')
  const missing = bench.final('missing')!
  assert.equal(missing.phase, JobPhase.FAILED)
  assert.match(missing.reason, /^declared output missing: .*\/out\/missing\/nothing\.db$/)
  assert.equal(missing.retryable, false)
})

test('a timeout kills the whole process group and leaves no orphan', async () => {
  const env = testEnv()
  const logger = quietLogger()
  await using bench = await startBench(env, logger)
  await using _executor = await startJobExecutor(loadConfig(Config, env), logger)
  const pids = join(scratchDir(env), 'pids.txt')
  // the job starts a grandchild that would outlive it, then sleeps past its timeout
  await bench.request('slow', py(`
import subprocess, time, os
child = subprocess.Popen(['sleep', '300'])
open(${JSON.stringify(pids)}, 'w').write(f'{os.getpid()} {child.pid}')
time.sleep(300)`), { timeoutS: 2 })
  await until('failed', () => bench.final('slow') !== undefined, 30_000)
  const failed = bench.final('slow')!
  assert.equal(failed.phase, JobPhase.FAILED)
  assert.equal(failed.reason, 'timeout after 2 s (process group killed)')
  assert.equal(failed.retryable, true)
  const [jobPid, grandchild] = readFileSync(pids, 'utf8').split(' ').map(Number)
  assert.equal(alive(jobPid!), false, 'the job process is gone')
  assert.equal(alive(grandchild!), false, 'its child is gone too')
})

test('a cancel stops a running job; a redelivered request runs the job only once', async () => {
  const env = testEnv()
  const logger = quietLogger()
  await using bench = await startBench(env, logger)
  await using _executor = await startJobExecutor(loadConfig(Config, env), logger)
  const counter = join(scratchDir(env), 'runs.txt')
  await bench.request('long', py('import time; time.sleep(300)'))
  await until('running', () => bench.statuses.some(s => s.jobId === 'long' && s.phase === JobPhase.RUNNING))
  await bench.cancel('long', 'operator alice: wrong calibration')
  await until('cancelled', () => bench.final('long') !== undefined)
  assert.equal(bench.final('long')!.reason, 'cancelled: operator alice: wrong calibration')
  assert.equal(bench.final('long')!.retryable, false)

  const argv = py(`open(${JSON.stringify(counter)}, 'a').write('ran\\n')`)
  await bench.request('twice', argv)
  await bench.request('twice', argv)
  await until('done', () => bench.final('twice') !== undefined)
  await bench.request('twice', argv) // after it finished, too
  // the executor's group committed past the third request: it was handled, so a second run would have started
  const admin = createKafka(loadConfig(Config, env), logger, 'test-progress').admin()
  await admin.connect()
  try {
    await until('the executor handled every request', () => handledEverything(admin, `${env.AUTOCAL_KAFKA_TOPIC_PREFIX}.job-executor`, topicName(topics.jobRequests, env.AUTOCAL_KAFKA_TOPIC_PREFIX)))
  } finally {
    await admin.disconnect()
  }
  assert.equal(readFileSync(counter, 'utf8'), 'ran\n')
  assert.equal(bench.statuses.filter(s => s.jobId === 'twice' && s.phase === JobPhase.DONE).length, 1)
})

test('SIGKILL of the executor mid-job, then a restart: the job is re-attached, finishes once and is reported', async () => {
  const env = testEnv({ AUTOCAL_INSTANCE_ID: 'exec-killed' })
  const logger = quietLogger()
  await using bench = await startBench(env, logger)
  const counter = join(scratchDir(env), 'runs.txt')
  const gate = join(env.AUTOCAL_DATA_DIR!, 'gate')
  const main = new URL('../../src/index.ts', import.meta.url).pathname
  const start = (instance: string) => spawn(process.execPath, [main], { env: { ...process.env, ...env, AUTOCAL_INSTANCE_ID: instance, AUTOCAL_LOG_LEVEL: 'warn' }, stdio: 'ignore' })
  const first = start('exec-a')
  // the job runs until the test opens its gate
  await bench.request('survivor', py(`
import os, time, json
open(${JSON.stringify(counter)}, 'a').write('ran\\n')
while not os.path.exists(${JSON.stringify(gate)}): time.sleep(0.05)
open('result.txt', 'w').write('ok')
json.dump({'outputs': ['result.txt']}, open('outputs.json', 'w'))`))
  await until('running', () => bench.statuses.some(s => s.jobId === 'survivor' && s.phase === JobPhase.RUNNING), 60_000)
  first.kill('SIGKILL')
  await once(first, 'exit')
  writeFileSync(gate, '') // the job ends while no executor runs
  const second = start('exec-b')
  try {
    await until('reported', () => bench.final('survivor') !== undefined, 60_000)
    const done = bench.final('survivor')!
    assert.equal(done.phase, JobPhase.DONE, done.reason)
    assert.equal(done.executor, 'exec-b')
    assert.equal(done.outputs.length, 1)
    assert.equal(readFileSync(counter, 'utf8'), 'ran\n', 'run exactly once')
    assert.ok(existsSync(join(outdirOf(env, 'survivor'), 'result.txt')))
  } finally {
    second.kill('SIGTERM')
    await once(second, 'exit')
  }
})

test('the log endpoint gives the last lines with tail, and follows a running job until it ends', async () => {
  const env = testEnv()
  const logger = quietLogger()
  await using bench = await startBench(env, logger)
  await using executor = await startJobExecutor(loadConfig(Config, env), logger)
  const gate = join(env.AUTOCAL_DATA_DIR!, 'gate')
  await bench.request('chatty', py(`
import os, time
for i in range(5): print('line', i, flush=True)
while not os.path.exists(${JSON.stringify(gate)}): time.sleep(0.05)
print('the end', flush=True)`))
  const url = `http://127.0.0.1:${executor.port}/jobs/chatty/log`
  await until('five lines', async () => (await (await fetch(url, asReader)).text()).includes('line 4'))
  assert.equal(await (await fetch(`${url}?tail=2`, asReader)).text(), 'line 3\nline 4\n')
  const followed = fetch(`${url}?follow=1`, asReader).then(async r => await r.text())
  writeFileSync(gate, '')
  assert.equal(await followed, 'line 0\nline 1\nline 2\nline 3\nline 4\nthe end\n')
  assert.equal((await fetch(`http://127.0.0.1:${executor.port}/jobs/nothing/log`, asReader)).status, 404)
  assert.equal((await fetch(`${url}?tail=-1`, asReader)).status, 400)
  await until('done', () => bench.final('chatty') !== undefined)
})

test('back-pressure: requests beyond the queue limit wait in Kafka and all run, none dead-lettered', async () => {
  const env = testEnv({ AUTOCAL_EXECUTOR_SLOTS: '1', AUTOCAL_EXECUTOR_MAX_QUEUED: '1', AUTOCAL_KAFKA_RETRY_BASE_MS: '50', AUTOCAL_KAFKA_MAX_ATTEMPTS: '2' })
  const logger = quietLogger()
  await using bench = await startBench(env, logger)
  await using _executor = await startJobExecutor(loadConfig(Config, env), logger)
  const jobs = ['bp-0', 'bp-1', 'bp-2', 'bp-3', 'bp-4', 'bp-5']
  for (const id of jobs) await bench.request(id, py('import time; time.sleep(0.3)'))
  await until('all six done', () => jobs.every(id => bench.final(id)?.phase === JobPhase.DONE), 30_000)
  // accepted (reported queued) and not yet done: one running and one waiting
  // at most (+1 for statuses of different partitions read a moment apart);
  // without back-pressure all six are accepted at once
  let outstanding = 0
  let most = 0
  for (const s of bench.statuses) {
    if (s.phase === JobPhase.QUEUED) most = Math.max(most, ++outstanding)
    if (s.phase === JobPhase.DONE) outstanding--
  }
  assert.ok(most <= 3, `at most 3 jobs accepted and unfinished at once, saw ${most}: ${bench.statuses.map(s => `${s.jobId}:${s.phase}`).join(' ')}`)
  assert.deepEqual(jobs.map(id => bench.statuses.filter(s => s.jobId === id && s.phase === JobPhase.RUNNING).length), [1, 1, 1, 1, 1, 1], 'each ran once')
})

test('an executor that died between recording "starting" and recording the pid: its heir finds the started job by its pid file and does not start it again', async t => {
  const env = testEnv()
  const logger = quietLogger()
  await using bench = await startBench(env, logger)
  const config = loadConfig(Config, env)
  const counter = join(scratchDir(env), 'runs.txt')
  const gate = join(env.AUTOCAL_DATA_DIR!, 'gate')
  const jobId = 'half-started'
  t.after(() => { writeFileSync(gate, '') }) // the job this test starts itself ends, whatever happens
  const outdir = outdirOf(env, jobId)
  const argv = py(`
import os, time, json
open(${JSON.stringify(counter)}, 'a').write('ran\\n')
while not os.path.exists(${JSON.stringify(gate)}): time.sleep(0.05)
open('result.txt', 'w').write('ok')
json.dump({'outputs': ['result.txt']}, open('outputs.json', 'w'))`)
  const request = create(JobRequestSchema, {
    jobId,
    try: 1,
    provenance: { subsystem: 'ECAL', campaign: 'prompt', workflow: 'test', blockId: 'run-355100', task: 't', taskAttempt: 1, inputRuns: [355100] },
    action: { case: 'start', value: { argv, backend: 'local', outdir } }
  })
  // what the dead executor left behind: its entry in state 'starting' (no pid yet), and the process it spawned
  const entry: JobEntry = {
    key: `${jobId}#1`,
    jobId,
    try: 1,
    owner: 'exec-dead',
    state: 'starting',
    slot: 0,
    request: Buffer.from(toBinary(JobRequestSchema, request)).toString('base64'),
    outdir,
    logFile: join(env.AUTOCAL_DATA_DIR!, 'logs', 'jobs', `${jobId}.1.log`),
    exitFile: join(env.AUTOCAL_DATA_DIR!, 'run', 'jobs', `${jobId}.1.exit`),
    deadlineMs: 0,
    queuedAtMs: Date.now()
  }
  {
    await using redis = await connectRedis({ config, logger })
    assert.equal(await createJobStore(redis, 'exec-dead').claim(entry), true)
  }
  startProcess({ argv, cwd: outdir, env: {}, logFile: entry.logFile, exitFile: entry.exitFile })
  await until('the job is running', () => existsSync(counter))
  await using _heir = await startJobExecutor(config, logger)
  await until('the heir reports it running', () => bench.statuses.some(s => s.jobId === jobId && s.phase === JobPhase.RUNNING))
  writeFileSync(gate, '')
  await until('reported', () => bench.final(jobId) !== undefined)
  const done = bench.final(jobId)!
  assert.equal(done.phase, JobPhase.DONE, done.reason)
  assert.equal(done.outputs.length, 1)
  assert.equal(readFileSync(counter, 'utf8'), 'ran\n', 'started once')
  assert.deepEqual(bench.statuses.filter(s => s.jobId === jobId).map(s => s.phase), [JobPhase.RUNNING, JobPhase.DONE])
})

test('an executor stopped for longer than its heartbeat: one in another pod reports its job lost (never follows a pid of another pod), and the stopped one kills the job when it continues', async t => {
  const env = testEnv({ AUTOCAL_EXECUTOR_RECONCILE_MS: '300' })
  const logger = quietLogger()
  await using bench = await startBench(env, logger)
  const pidFile = join(scratchDir(env), 'pid')
  const main = new URL('../../src/index.ts', import.meta.url).pathname
  const stopped = spawn(process.execPath, [main], { env: { ...process.env, ...env, AUTOCAL_INSTANCE_ID: 'exec-stopped', AUTOCAL_EXECUTOR_HOST: 'pod-a', AUTOCAL_LOG_LEVEL: 'warn' }, stdio: 'ignore' })
  t.after(async () => {
    stopped.kill('SIGCONT')
    stopped.kill('SIGTERM')
    if (stopped.exitCode === null) await once(stopped, 'exit')
  })
  await bench.request('outlives', py(`
import os, time
open(${JSON.stringify(pidFile)}, 'w').write(str(os.getpid()))
time.sleep(120)`))
  await until('running in pod-a', () => bench.statuses.some(s => s.jobId === 'outlives' && s.phase === JobPhase.RUNNING) && existsSync(pidFile) && readFileSync(pidFile, 'utf8') !== '')
  const jobPid = Number(readFileSync(pidFile, 'utf8'))
  stopped.kill('SIGSTOP') // longer than its liveness TTL (4 × 300 ms): it looks dead
  await using _other = await startJobExecutor(loadConfig(Config, { ...env, AUTOCAL_INSTANCE_ID: 'exec-other', AUTOCAL_EXECUTOR_HOST: 'pod-b' }), logger)
  await until('reported lost by pod-b', () => bench.final('outlives') !== undefined)
  const lost = bench.final('outlives')!
  assert.equal(lost.phase, JobPhase.FAILED)
  assert.equal(lost.reason, 'executor lost: its pod pod-a is gone or unreachable; the job\'s process cannot be followed from pod-b')
  assert.equal(lost.retryable, true)
  assert.equal(alive(jobPid), true, 'still running in the stopped executor\'s pod')
  stopped.kill('SIGCONT')
  await until('the continued executor killed the job it no longer owns', () => !alive(jobPid), 30_000)
  assert.equal(bench.statuses.filter(s => s.jobId === 'outlives' && (s.phase === JobPhase.DONE || s.phase === JobPhase.FAILED)).length, 1, 'reported once')
})

// issue 15: a workflow's passEnv, through the real executor on real Kafka and Redis
test('a job gets a variable it asks for by name when AUTOCAL_EXECUTOR_JOB_EXTRA_ENV allows it; asking for another fails to start, naming it', async () => {
  const env = testEnv({ AUTOCAL_EXECUTOR_JOB_EXTRA_ENV: 'CALIB_PROXY_FILE' })
  const logger = quietLogger()
  const saved = process.env.CALIB_PROXY_FILE
  process.env.CALIB_PROXY_FILE = '/tmp/x509up_u1000'
  try {
    await using bench = await startBench(env, logger)
    await using _executor = await startJobExecutor(loadConfig(Config, env), logger)
    await bench.request('pass-env', py("import os; open('env.txt', 'w').write(os.environ.get('CALIB_PROXY_FILE', 'unset'))"), { passEnv: ['CALIB_PROXY_FILE'] })
    await bench.request('not-allowed', py('print(1)'), { passEnv: ['LOGNAME'] })
    await until('both finished', () => bench.final('pass-env') !== undefined && bench.final('not-allowed') !== undefined)
    assert.equal(bench.final('pass-env')!.phase, JobPhase.DONE, bench.final('pass-env')!.reason)
    assert.equal(readFileSync(join(outdirOf(env, 'pass-env'), 'env.txt'), 'utf8'), '/tmp/x509up_u1000')
    const refused = bench.final('not-allowed')!
    assert.equal(refused.phase, JobPhase.FAILED)
    assert.equal(refused.reason, 'cannot start: the job asks for environment variable LOGNAME, which this executor does not pass (AUTOCAL_EXECUTOR_JOB_EXTRA_ENV: CALIB_PROXY_FILE)')
  } finally {
    if (saved === undefined) delete process.env.CALIB_PROXY_FILE
    else process.env.CALIB_PROXY_FILE = saved
  }
})

// issue 15: numeric results next to the outputs, through the real executor
test('a job\'s numeric results in its manifest come with its done status', async () => {
  const env = testEnv()
  const logger = quietLogger()
  await using bench = await startBench(env, logger)
  await using _executor = await startJobExecutor(loadConfig(Config, env), logger)
  await bench.request('with-results', py("import json; open('c.db', 'w').write('x'); json.dump({'outputs': ['c.db'], 'results': {'chi2_ndf': 1.07, 'hits': 40210}}, open('outputs.json', 'w'))"))
  await bench.request('bad-results', py("import json; json.dump({'outputs': [], 'results': {'Chi2': 1}}, open('outputs.json', 'w'))"))
  await until('both finished', () => bench.final('with-results') !== undefined && bench.final('bad-results') !== undefined)
  const done = bench.final('with-results')!
  assert.equal(done.phase, JobPhase.DONE, done.reason)
  assert.deepEqual(done.results, { chi2_ndf: 1.07, hits: 40210 })
  const bad = bench.final('bad-results')!
  assert.equal(bad.phase, JobPhase.FAILED)
  assert.match(bad.reason, /outputs\.json: results: result "Chi2" is not a valid name/)
})
