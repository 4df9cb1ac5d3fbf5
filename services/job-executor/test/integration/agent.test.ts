// The agent backend over real gRPC on loopback: executors in this process,
// autocal-agent as real child processes, on the real Kafka and Redis.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { create, type MessageInitShape } from '@bufbuild/protobuf'
import { AgentService, AgentServiceConnectRequestSchema, JobPhase, type AgentServiceConnectResponse } from '@autocal/contracts'
import { createGrpcClient, grpc, loadConfig } from '@autocal/runtime'
import { Config } from '../../src/config.ts'
import { startJobExecutor } from '../../src/app.ts'
import { asReader, outdirOf, quietLogger, scratchDir, startBench, testEnv, until } from '../helpers/harness.ts'

const py = (code: string): string[] => ['python3', '-c', code]
const agentMain = new URL('../../src/agent.ts', import.meta.url).pathname

/** One token per agent id (the executor's AUTOCAL_AGENT_TOKENS). */
const tokens: Record<string, string> = { 'agent-a': 'agent-a-secret', 'agent-b': 'agent-b-secret', 'agent-tls': 'agent-tls-secret', 'agent-lxplus': 'agent-lxplus-secret' }

function agentEnv (extra: Record<string, string> = {}): Record<string, string> {
  return testEnv({ AUTOCAL_AGENT_TOKENS: Object.entries(tokens).map(([id, t]) => `${id}=${t}`).join(','), AUTOCAL_AGENT_INSECURE: 'true', AUTOCAL_GRPC_PORT: '0', AUTOCAL_AGENT_HEARTBEAT_MS: '200', AUTOCAL_AGENT_LOST_AFTER_MS: '1500', ...extra })
}

function startAgent (env: Record<string, string>, grpcPort: number, id: string, token = tokens[id]!, extra: Record<string, string> = { AUTOCAL_AGENT_INSECURE: 'true' }): ChildProcess {
  return spawn(process.execPath, [agentMain], {
    env: { ...process.env, ...extra, AUTOCAL_DATA_DIR: env.AUTOCAL_DATA_DIR!, AUTOCAL_AGENT_EXECUTOR: `127.0.0.1:${grpcPort}`, AUTOCAL_AGENT_TOKEN: token, AUTOCAL_AGENT_ID: id, AUTOCAL_AGENT_SLOTS: '2', AUTOCAL_LOG_LEVEL: process.env.AGENT_LOG_LEVEL ?? 'warn' },
    stdio: process.env.AGENT_LOG_LEVEL === undefined ? 'ignore' : 'inherit'
  })
}

async function stop (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  child.kill('SIGTERM')
  await once(child, 'exit')
}

async function freePort (): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const address = server.address()
  server.close()
  return typeof address === 'object' && address !== null ? address.port : 0
}

test('an agent registers, runs a job with outputs and streams its log to the executor', async t => {
  const env = agentEnv()
  const logger = quietLogger()
  await using bench = await startBench(env, logger)
  await using executor = await startJobExecutor(loadConfig(Config, env), logger)
  const agent = startAgent(env, executor.grpcPort!, 'agent-a')
  t.after(async () => { await stop(agent) })
  await bench.request('remote-1', py(`
import json, os
print('hello from', os.environ['AUTOCAL_AGENT'], flush=True)
open('calib.db', 'w').write('x')
json.dump({'outputs': [{'path': 'calib.db', 'label': 'condition'}]}, open('outputs.json', 'w'))`), { backend: 'agent' })
  await until('done', () => bench.final('remote-1') !== undefined)
  const done = bench.final('remote-1')!
  assert.equal(done.phase, JobPhase.DONE, done.reason)
  assert.equal(done.backend, 'agent')
  assert.match(done.backendId, /^agent-a\/\d+$/)
  assert.equal(done.outputs[0]?.label, 'condition')
  assert.equal(done.outputs[0]?.sizeBytes, 1n)
  assert.deepEqual(bench.statuses.filter(s => s.jobId === 'remote-1').map(s => s.phase), [JobPhase.QUEUED, JobPhase.RUNNING, JobPhase.DONE])
  const log = await fetch(`http://127.0.0.1:${executor.port}/jobs/${encodeURIComponent('remote-1')}/log?try=1`, asReader)
  assert.equal(log.status, 200)
  assert.equal(await log.text(), 'hello from agent-a\n')
  // the job may end before the agent's first heartbeat: wait for it
  await until('heartbeat age reported', async () => /autocal_agent_heartbeat_age_seconds\{agent="agent-a"[^}]*\} [\d.]+/.test(await (await fetch(`http://127.0.0.1:${executor.port}/metrics`)).text()))
})

test('an agent killed mid-job is declared lost, and its job is queued again and finished by another agent', async t => {
  const env = agentEnv()
  const logger = quietLogger()
  await using bench = await startBench(env, logger)
  await using executor = await startJobExecutor(loadConfig(Config, env), logger)
  const pgidFile = join(scratchDir(env), 'pgid-agent-a')
  const a = startAgent(env, executor.grpcPort!, 'agent-a')
  t.after(async () => {
    await stop(a)
    // the process group agent-a left behind (nothing on its host kills it once the agent is gone)
    if (existsSync(pgidFile)) try { process.kill(-Number(readFileSync(pgidFile, 'utf8')), 'SIGKILL') } catch {}
  })
  await bench.request('orphaned', py(`
import os, time, json
if os.environ['AUTOCAL_AGENT'] == 'agent-a':
    open(${JSON.stringify(pgidFile)}, 'w').write(str(os.getpgid(0)))
    time.sleep(300)
open('result.txt', 'w').write(os.environ['AUTOCAL_AGENT'])
json.dump({'outputs': ['result.txt']}, open('outputs.json', 'w'))`), { backend: 'agent', outdir: outdirOf(env, 'orphaned') })
  await until('running on agent-a', () => bench.statuses.some(s => s.jobId === 'orphaned' && s.phase === JobPhase.RUNNING) && existsSync(pgidFile))
  a.kill('SIGKILL')
  await once(a, 'exit')
  const b = startAgent(env, executor.grpcPort!, 'agent-b')
  t.after(async () => { await stop(b) })
  await until('done', () => bench.final('orphaned') !== undefined)
  const done = bench.final('orphaned')!
  assert.equal(done.phase, JobPhase.DONE, done.reason)
  assert.match(done.backendId, /^agent-b\//)
  assert.equal(readFileSync(join(outdirOf(env, 'orphaned'), 'result.txt'), 'utf8'), 'agent-b')
  const metrics = await (await fetch(`http://127.0.0.1:${executor.port}/metrics`)).text()
  assert.match(metrics, /autocal_agent_lost_total\{agent="agent-a"[^}]*\} 1/)
})

test('an agent reconnects to a restarted executor and its running job is re-attached, reported once', async t => {
  const port = await freePort()
  const env = agentEnv({ AUTOCAL_GRPC_PORT: String(port), AUTOCAL_AGENT_LOST_AFTER_MS: '10000' })
  const logger = quietLogger()
  await using bench = await startBench(env, logger)
  const counter = join(scratchDir(env), 'runs.txt')
  const gate = join(env.AUTOCAL_DATA_DIR!, 'gate')
  const first = await startJobExecutor(loadConfig(Config, { ...env, AUTOCAL_INSTANCE_ID: 'exec-1' }), logger)
  const agent = startAgent(env, port, 'agent-a')
  t.after(async () => { await stop(agent) })
  await bench.request('through-restart', py(`
import os, time
open(${JSON.stringify(counter)}, 'a').write('ran\\n')
print('before', flush=True)
while not os.path.exists(${JSON.stringify(gate)}): time.sleep(0.05)
print('after', flush=True)`), { backend: 'agent' })
  await until('running', () => bench.statuses.some(s => s.jobId === 'through-restart' && s.phase === JobPhase.RUNNING))
  await first[Symbol.asyncDispose]()
  await using second = await startJobExecutor(loadConfig(Config, { ...env, AUTOCAL_INSTANCE_ID: 'exec-2' }), logger)
  await until('agent back', async () => /autocal_agent_heartbeat_age_seconds\{agent="agent-a"[^}]*\}/.test(await (await fetch(`http://127.0.0.1:${second.port}/metrics`)).text()))
  writeFileSync(gate, '')
  await until('done', () => bench.final('through-restart') !== undefined)
  const done = bench.final('through-restart')!
  assert.equal(done.phase, JobPhase.DONE, done.reason)
  assert.equal(done.executor, 'exec-2')
  assert.equal(readFileSync(counter, 'utf8'), 'ran\n', 'run exactly once')
  assert.equal(bench.statuses.filter(s => s.jobId === 'through-restart' && s.phase === JobPhase.DONE).length, 1)
  const log = await (await fetch(`http://127.0.0.1:${second.port}/jobs/through-restart/log`, asReader)).text()
  assert.equal(log, 'before\nafter\n')
})

test('an agent with a bad token is rejected', async () => {
  const env = agentEnv()
  const logger = quietLogger()
  await using executor = await startJobExecutor(loadConfig(Config, env), logger)
  for (const token of ['wrong', undefined]) {
    const client = createGrpcClient(AgentService, `127.0.0.1:${executor.grpcPort}`, token === undefined ? {} : { token })
    const stream = client.connect()
    stream.write(create(AgentServiceConnectRequestSchema, { message: { case: 'register', value: { agentId: 'intruder' } } }))
    const err = await new Promise<grpc.ServiceError>(resolve => stream.on('error', resolve))
    assert.equal(err.code, grpc.status.UNAUTHENTICATED)
    assert.match(err.details, /agent token missing or not accepted/)
    client.close()
  }
})

test('an agent dials the executor over TLS, trusting the executor\'s certificate', async t => {
  const base = agentEnv()
  const cert = join(base.AUTOCAL_DATA_DIR!, 'executor.crt')
  const key = join(base.AUTOCAL_DATA_DIR!, 'executor.key')
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' })
  const env = { ...base, AUTOCAL_AGENT_INSECURE: '', AUTOCAL_AGENT_TLS_CERT_FILE: cert, AUTOCAL_AGENT_TLS_KEY_FILE: key }
  const logger = quietLogger()
  await using bench = await startBench(env, logger)
  await using executor = await startJobExecutor(loadConfig(Config, env), logger)
  const agent = startAgent(env, executor.grpcPort!, 'agent-tls', tokens['agent-tls'], { AUTOCAL_AGENT_TLS_CA_FILE: cert })
  t.after(async () => { await stop(agent) })
  await bench.request('over-tls', py('print("secure")'), { backend: 'agent' })
  await until('done', () => bench.final('over-tls') !== undefined)
  assert.equal(bench.final('over-tls')!.phase, JobPhase.DONE)
  assert.match(bench.final('over-tls')!.backendId, /^agent-tls\//)
})

/** A hand-driven agent on a raw stream: registers, records what the executor sends, sends what the test says. */
function rawAgent (grpcPort: number, id: string, token: string, pool = '') {
  const client = createGrpcClient(AgentService, `127.0.0.1:${grpcPort}`, { token })
  const stream = client.connect()
  const received: AgentServiceConnectResponse[] = []
  const failed = new Promise<grpc.ServiceError>(resolve => stream.on('error', resolve))
  stream.on('data', (m: AgentServiceConnectResponse) => { received.push(m) })
  const send = (message: MessageInitShape<typeof AgentServiceConnectRequestSchema>['message']): void => {
    stream.write(create(AgentServiceConnectRequestSchema, { message } as MessageInitShape<typeof AgentServiceConnectRequestSchema>))
  }
  send({ case: 'register', value: { agentId: id, capabilities: { backends: ['local'], slots: 1, pool } } })
  return { received, failed, send, close: () => { stream.cancel(); client.close() } }
}

test('a token holder cannot register as another agent', async () => {
  const env = agentEnv()
  const logger = quietLogger()
  await using executor = await startJobExecutor(loadConfig(Config, env), logger)
  const forger = rawAgent(executor.grpcPort!, 'agent-b', tokens['agent-a']!)
  const err = await forger.failed
  forger.close()
  assert.equal(err.code, grpc.status.PERMISSION_DENIED)
  assert.equal(err.details, 'the token of agent agent-a cannot register as "agent-b"')
  assert.equal(forger.received.filter(m => m.message.case === 'registered').length, 0)
  assert.match(await (await fetch(`http://127.0.0.1:${executor.port}/metrics`)).text(), /autocal_agent_refused_total\{agent="agent-a",reason="other agent id"[^}]*\} 1/)
})

test('an agent cannot report results for a job it was not assigned, nor outputs outside the job\'s output directory', async t => {
  const env = agentEnv({ AUTOCAL_AGENT_LOST_AFTER_MS: '30000' })
  const logger = quietLogger()
  await using bench = await startBench(env, logger)
  await using executor = await startJobExecutor(loadConfig(Config, env), logger)
  const a = rawAgent(executor.grpcPort!, 'agent-a', tokens['agent-a']!, 'pool-a')
  const b = rawAgent(executor.grpcPort!, 'agent-b', tokens['agent-b']!, 'pool-b')
  t.after(() => { a.close(); b.close() })
  const assigned = (agent: typeof a, jobId: string) => agent.received.some(m => m.message.case === 'assign' && m.message.value.request?.jobId === jobId)
  await bench.request('for-a', py('print(1)'), { backend: 'agent', pool: 'pool-a' })
  await bench.request('for-b', py('print(1)'), { backend: 'agent', pool: 'pool-b' })
  await until('assigned', () => assigned(a, 'for-a') && assigned(b, 'for-b'))

  // agent-b forges the result of agent-a's job: refused, not published
  b.send({ case: 'jobUpdate', value: { status: { jobId: 'for-a', try: 1, phase: JobPhase.DONE, exitCode: 0, outputs: [{ path: join(outdirOf(env, 'for-a'), 'forged.db'), label: 'condition' }] } } })
  await until('refused', async () => /autocal_agent_refused_total\{agent="agent-b",reason="not assigned"[^}]*\} 1/.test(await (await fetch(`http://127.0.0.1:${executor.port}/metrics`)).text()))
  // then agent-a reports its job: the only result of it (a forged DONE would precede it on the job's partition)
  a.send({ case: 'jobUpdate', value: { status: { jobId: 'for-a', try: 1, phase: JobPhase.DONE, exitCode: 0, backendId: '4242' } } })
  await until('for-a done', () => bench.final('for-a') !== undefined)
  assert.equal(bench.final('for-a')!.backendId, 'agent-a/4242')
  assert.equal(bench.statuses.filter(s => s.jobId === 'for-a' && (s.phase === JobPhase.DONE || s.phase === JobPhase.FAILED)).length, 1)
  assert.deepEqual(bench.final('for-a')!.outputs, [])

  // agent-b reports its own job with another subsystem's payload as output: the job fails
  b.send({ case: 'jobUpdate', value: { status: { jobId: 'for-b', try: 1, phase: JobPhase.DONE, exitCode: 0, outputs: [{ path: '/etc/passwd', label: 'condition' }] } } })
  await until('for-b ended', () => bench.final('for-b') !== undefined)
  const failed = bench.final('for-b')!
  assert.equal(failed.phase, JobPhase.FAILED)
  assert.equal(failed.reason, `output /etc/passwd is outside the job's output directory ${outdirOf(env, 'for-b')}`)
  assert.equal(failed.retryable, false)
  assert.deepEqual(failed.outputs, [])
})

test('half-configured TLS, or none without AUTOCAL_AGENT_INSECURE, is refused at start on the executor and on the agent', async () => {
  const env = testEnv({ AUTOCAL_AGENT_TOKENS: 'agent-a=agent-a-secret' })
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ AUTOCAL_AGENT_TLS_CERT_FILE: '/x/executor.crt' }, /half-configured TLS: set AUTOCAL_AGENT_TLS_CERT_FILE and AUTOCAL_AGENT_TLS_KEY_FILE together\n {2}→ at AUTOCAL_AGENT_TLS_KEY_FILE/],
    [{ AUTOCAL_AGENT_TLS_KEY_FILE: '/x/executor.key' }, /half-configured TLS: set AUTOCAL_AGENT_TLS_CERT_FILE and AUTOCAL_AGENT_TLS_KEY_FILE together\n {2}→ at AUTOCAL_AGENT_TLS_CERT_FILE/],
    [{}, /the agent endpoint needs TLS: set AUTOCAL_AGENT_TLS_CERT_FILE and AUTOCAL_AGENT_TLS_KEY_FILE, or AUTOCAL_AGENT_INSECURE=true/]
  ]
  for (const [extra, message] of cases) {
    assert.throws(() => loadConfig(Config, { ...env, ...extra }), (err: Error) => { assert.match(err.message, message); return true }, JSON.stringify(extra))
  }
  assert.doesNotThrow(() => loadConfig(Config, { ...env, AUTOCAL_AGENT_INSECURE: 'true' }))

  // the agent process itself: exits 1 at start, naming the keys
  const agentCases: Array<[Record<string, string>, RegExp]> = [
    [{ AUTOCAL_AGENT_TLS_CA_FILE: 'system', AUTOCAL_AGENT_TLS_CERT_FILE: '/x/agent.crt' }, /half-configured TLS: set AUTOCAL_AGENT_TLS_CERT_FILE and AUTOCAL_AGENT_TLS_KEY_FILE together\n {2}→ at AUTOCAL_AGENT_TLS_KEY_FILE/],
    [{}, /set AUTOCAL_AGENT_TLS_CA_FILE \(a CA file or `system`\), or AUTOCAL_AGENT_INSECURE=true on a trusted network\n {2}→ at AUTOCAL_AGENT_TLS_CA_FILE/]
  ]
  for (const [extra, message] of agentCases) {
    const child = spawn(process.execPath, [agentMain], { env: { PATH: process.env.PATH, AUTOCAL_DATA_DIR: env.AUTOCAL_DATA_DIR!, AUTOCAL_AGENT_TOKEN: 'agent-a-secret', AUTOCAL_AGENT_ID: 'agent-a', ...extra }, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout!.on('data', (c: Buffer) => { out += c.toString() })
    child.stderr!.on('data', (c: Buffer) => { out += c.toString() })
    const [code] = await once(child, 'exit') as [number | null]
    assert.equal(code, 1, out)
    assert.match(out, message)
  }
})

// issue 15: an agent on an lxplus-like submit host hands its jobs to that host's HTCondor schedd
// (HTCondor's daemons cannot run here: the condor_* STAND-INS of test/stand-ins/condor, which parse with HTCondor's bindings)
test('an agent with the htcondor backend submits its jobs to the schedd of its host, streams their log, and passes a cancel on as condor_rm', async t => {
  const env = agentEnv()
  const logger = quietLogger()
  await using bench = await startBench(env, logger)
  await using executor = await startJobExecutor(loadConfig(Config, env), logger)
  const agent = startAgent(env, executor.grpcPort!, 'agent-lxplus', tokens['agent-lxplus'], {
    AUTOCAL_AGENT_INSECURE: 'true',
    AUTOCAL_AGENT_BACKEND: 'htcondor',
    AUTOCAL_AGENT_CONDOR_BIN_DIR: new URL('../stand-ins/condor/', import.meta.url).pathname,
    AUTOCAL_AGENT_POLL_MS: '200',
    CONDOR_STANDIN_DIR: join(env.AUTOCAL_DATA_DIR!, 'lxplus-schedd')
  })
  t.after(async () => { await stop(agent) })
  await bench.request('lxplus-1', py("import json, os; print('on lxplus via', os.environ['AUTOCAL_AGENT'], flush=True); open('calib.db', 'w').write('xy'); json.dump({'outputs': [{'path': 'calib.db', 'label': 'condition'}]}, open('outputs.json', 'w'))"), { backend: 'agent' })
  await bench.request('lxplus-long', py('import time; time.sleep(60)'), { backend: 'agent' })
  await until('lxplus-1 done', () => bench.final('lxplus-1') !== undefined)
  const done = bench.final('lxplus-1')!
  assert.equal(done.phase, JobPhase.DONE, done.reason)
  assert.equal(done.backend, 'agent')
  assert.match(done.backendId, /^agent-lxplus\/\d+\.0$/, 'the schedd\'s cluster.proc, not a process id')
  assert.equal(done.outputs[0]?.sizeBytes, 2n)
  assert.deepEqual(bench.statuses.filter(s => s.jobId === 'lxplus-1').map(s => s.phase), [JobPhase.QUEUED, JobPhase.RUNNING, JobPhase.DONE])
  const log = await fetch(`http://127.0.0.1:${executor.port}/jobs/${encodeURIComponent('lxplus-1')}/log?try=1`, asReader)
  assert.equal(await log.text(), 'on lxplus via agent-lxplus\n')
  await until('lxplus-long running', () => bench.statuses.some(s => s.jobId === 'lxplus-long' && s.phase === JobPhase.RUNNING))
  const id = bench.statuses.find(s => s.jobId === 'lxplus-long' && s.phase === JobPhase.RUNNING)!.backendId.split('/')[1]!
  await bench.cancel('lxplus-long', 'operator: wrong input')
  await until('lxplus-long cancelled', () => bench.final('lxplus-long') !== undefined)
  assert.match(bench.final('lxplus-long')!.reason, /^cancelled/)
  // the schedd no longer has it running: condor_rm reached the stand-in's schedd
  await until('removed from the schedd', () => {
    const out = execFileSync(join(new URL('../stand-ins/condor/', import.meta.url).pathname, 'condor_q'), [id, '-json', '-attributes', 'JobStatus'], { env: { ...process.env, CONDOR_STANDIN_DIR: join(env.AUTOCAL_DATA_DIR!, 'lxplus-schedd') }, encoding: 'utf8' }).trim()
    return out === '' || (JSON.parse(out) as Array<{ JobStatus?: number }>)[0]?.JobStatus === 3
  })
})
