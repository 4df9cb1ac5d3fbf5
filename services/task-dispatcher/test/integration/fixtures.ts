// Fixtures of the dispatcher's integration tests: the real 2022 run list as
// RunEvents, dispatchers (in-process or child processes), and the real
// job-executor and condition-uploader built in-process from their app.ts,
// with a tap that records the requests the dispatcher sends them.
import { spawn, type ChildProcess } from 'node:child_process'
import { createHash, randomUUID } from 'node:crypto'
import { chmodSync, createWriteStream, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { create } from '@bufbuild/protobuf'
import { timestampFromDate } from '@bufbuild/protobuf/wkt'
import { z } from 'zod'
import {
  ControlService, RunEventSchema, RunSchema, topicName, topics,
  type ConditionRequest, type JobRequest, type Run, type RunEvent, type Topic
} from '@autocal/contracts'
import { baseShape, connectionEnv, createGrpcClient, createKafka, createLogger, kafkaShape, loadConfig, redisShape, startConsumer, startProducer, type Producer } from '@autocal/runtime'
import { restProbe } from '../../../../test/helpers/kafka-progress.ts'
import { Config as ExecutorConfig } from '../../../job-executor/src/config.ts'
import { startJobExecutor } from '../../../job-executor/src/app.ts'
import { Config as UploaderConfig } from '../../../condition-uploader/src/config.ts'
import { startUploader } from '../../../condition-uploader/src/app.ts'
import { Config as DispatcherConfig } from '../../src/config.ts'
import { startTaskDispatcher, type TaskDispatcher } from '../../src/app.ts'

export const repo = resolve(import.meta.dirname, '../../../..')
export const realdata = process.env.AUTOCAL_REALDATA_DIR ?? new URL('../../../../../shared/realdata', import.meta.url).pathname
export const workflowsDir = join(repo, 'deploy/workflows')

const TestConfig = z.object({ ...baseShape, ...kafkaShape, ...redisShape })
export type TestConfig = z.infer<typeof TestConfig>

export function testConfig (): TestConfig {
  const id = `t-td-${randomUUID().slice(0, 8)}`
  return loadConfig(TestConfig, {
    ...connectionEnv(), // the servers and credentials of this test run
    AUTOCAL_KAFKA_TOPIC_PREFIX: id,
    AUTOCAL_REDIS_KEY_PREFIX: `${id}:`,
    AUTOCAL_KAFKA_RETRY_BASE_MS: '100',
    AUTOCAL_KAFKA_SESSION_TIMEOUT_MS: '6000',
    AUTOCAL_DATA_DIR: mkdtempSync(join(tmpdir(), 'autocal-td-')),
    AUTOCAL_LOG_LEVEL: 'warn'
  })
}

export const silentLogger = createLogger({ service: 'test', level: 'warn' })

/**
 * The real condition-uploader (built in-process with its app.ts) on the test
 * run's servers and prefixes; it takes payloads only from the dispatcher's job
 * directory (<AUTOCAL_DATA_DIR>/jobs), where the jobs write them.
 */
/** The condition-uploader's keys for this test run: its own data directory (CondDB SQLite), payloads from the dispatcher's jobs directory. */
function uploaderEnv (config: TestConfig): Record<string, string> {
  return {
    ...connectionEnv(), // the test run's servers and credentials (secure under test/run.sh)
    AUTOCAL_KAFKA_TOPIC_PREFIX: config.AUTOCAL_KAFKA_TOPIC_PREFIX,
    AUTOCAL_REDIS_KEY_PREFIX: config.AUTOCAL_REDIS_KEY_PREFIX,
    AUTOCAL_KAFKA_RETRY_BASE_MS: '100',
    AUTOCAL_KAFKA_SESSION_TIMEOUT_MS: '6000',
    AUTOCAL_DATA_DIR: mkdtempSync(join(tmpdir(), 'autocal-uploader-')),
    AUTOCAL_OUTPUT_ROOT: join(config.AUTOCAL_DATA_DIR, 'jobs'),
    AUTOCAL_HTTP_PORT: '0',
    AUTOCAL_READ_PUBLIC: 'true',
    AUTOCAL_LOG_LEVEL: 'warn'
  }
}

// the tests' one wait (deadline 60 s unless given)
export { until } from '../../../../test/helpers/until.ts'

// ---- the real run list ----------------------------------------------------

function csvRows (text: string): string[][] {
  const rows: string[][] = []
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue
    const cells: string[] = []
    let cur = ''
    let quoted = false
    for (const ch of line) {
      if (ch === '"') quoted = !quoted
      else if (ch === ',' && !quoted) { cells.push(cur); cur = '' } else cur += ch
    }
    cells.push(cur)
    rows.push(cells)
  }
  return rows
}

/** Runs of runs2022_oms_enriched.csv in [first, last], as Run records (global runs; stable beams from the BRIL normtag). */
export function realRuns (first: number, last: number): Run[] {
  const [header, ...rows] = csvRows(readFileSync(join(realdata, 'runs2022_oms_enriched.csv'), 'utf8'))
  const col = (name: string): number => (header as string[]).indexOf(name)
  const utc = (s: string): Date => new Date(s.replace(' ', 'T') + 'Z')
  return rows.filter(r => r[0] !== 'run_number' && Number(r[0]) >= first && Number(r[0]) <= last).map(r => {
    const get = (name: string): string => r[col(name)] ?? ''
    return create(RunSchema, {
      run: Number(get('run_number')),
      fill: Number(get('fill_number')),
      era: get('era'),
      startTime: timestampFromDate(utc(get('start_time'))),
      endTime: timestampFromDate(utc(get('end_time'))),
      durationS: Number(get('duration_s')),
      deliveredLumiPb: Number(get('delivered_lumi_pb') || 0),
      recordedLumiPb: Number(get('recorded_lumi_pb') || 0),
      runClass: get('run_class'),
      global: true,
      stableBeam: Number(get('stable_beam_ls_count') || 0) > 0,
      hltKey: get('hlt_key')
    })
  }).sort((a, b) => a.run - b.run)
}

export function goldenRuns (): Set<number> {
  return new Set(Object.keys(JSON.parse(readFileSync(join(realdata, 'Cert_Collisions2022_355100_362760_Golden.json'), 'utf8')) as object).map(Number))
}

/** The run-watcher's events for ended runs plus the Tier-0 facts the example gates wait on, with deterministic event ids. */
export function runEvents (runs: Run[]): Array<{ message: RunEvent, options: { eventId: string } }> {
  const out: Array<{ message: RunEvent, options: { eventId: string } }> = []
  for (const run of runs) {
    const hash = createHash('sha256').update(JSON.stringify({ run: run.run, fill: run.fill, lumi: run.recordedLumiPb })).digest('hex')
    out.push({ message: create(RunEventSchema, { run: run.run, contentHash: hash, source: 'replay', change: { case: 'ended', value: { run } } }), options: { eventId: `runs/${run.run}/ended/${hash}` } })
    for (const stream of ['Express', 'ALCAPHISYM']) {
      out.push({ message: create(RunEventSchema, { run: run.run, contentHash: stream, source: 't0', change: { case: 'streamDone', value: { stream, done: true } } }), options: { eventId: `runs/${run.run}/stream_done/${stream}` } })
    }
  }
  return out
}

// ---- dispatcher processes ---------------------------------------------------

export interface DispatcherProcess {
  proc: ChildProcess
  grpcPort: number
  log: string
  exited: Promise<number | null>
}

/** The environment of a test dispatcher: the test run's prefixes and fast ticks, then the test's own keys. */
function dispatcherEnv (config: TestConfig, env: Record<string, string>): Record<string, string> {
  return {
    AUTOCAL_KAFKA_TOPIC_PREFIX: config.AUTOCAL_KAFKA_TOPIC_PREFIX,
    AUTOCAL_REDIS_KEY_PREFIX: config.AUTOCAL_REDIS_KEY_PREFIX,
    AUTOCAL_DATA_DIR: config.AUTOCAL_DATA_DIR,
    AUTOCAL_KAFKA_SESSION_TIMEOUT_MS: '6000',
    AUTOCAL_HTTP_PORT: '0',
    AUTOCAL_GRPC_PORT: '0',
    AUTOCAL_LOG_LEVEL: 'info',
    AUTOCAL_RUN_SETTLE_MS: '3000',
    AUTOCAL_DISPATCH_TICK_MS: '300',
    AUTOCAL_DISPATCH_LEASE_MS: '3000',
    AUTOCAL_WORKFLOWS_DIR: workflowsDir,
    AUTOCAL_SHUTDOWN_GRACE_MS: '8000',
    // the control API on loopback in plaintext, unless the test gives it TLS
    ...(env.AUTOCAL_CONTROL_TLS_CERT_FILE === undefined ? { AUTOCAL_CONTROL_INSECURE: 'true' } : {}),
    ...env
  }
}

/**
 * A dispatcher replica built in-process by its app.ts (no child process), on
 * the test run's servers and prefixes; `env` adds or overrides keys.
 */
export async function startDispatcher (config: TestConfig, env: Record<string, string> = {}): Promise<TaskDispatcher> {
  const dispatcherConfig = loadConfig(DispatcherConfig, { ...connectionEnv(), ...dispatcherEnv(config, { AUTOCAL_LOG_LEVEL: 'warn', ...env }) })
  return await startTaskDispatcher(dispatcherConfig, process.env.DEBUG_TD === '1' ? createLogger({ service: 'task-dispatcher', level: 'debug' }) : silentLogger, { ...process.env, ...env })
}

export async function spawnDispatcher (config: TestConfig, env: Record<string, string> = {}): Promise<DispatcherProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'autocal-td-log-'))
  const log = join(dir, 'dispatcher.log')
  const out = createWriteStream(log)
  const proc = spawn(process.execPath, [join(repo, 'services/task-dispatcher/src/index.ts')], {
    env: { ...process.env, ...dispatcherEnv(config, env) },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const exited = new Promise<number | null>(resolve => proc.once('exit', code => { resolve(code) }))
  let buffered = ''
  const started = new Promise<number>((resolve, reject) => {
    proc.stdout?.on('data', (chunk: Buffer) => {
      out.write(chunk)
      buffered += chunk.toString('utf8')
      const m = /"grpc":(\d+),"msg":"task-dispatcher started"/.exec(buffered)
      if (m !== null) resolve(Number(m[1]))
      if (buffered.length > 1e6) buffered = buffered.slice(-1e5)
    })
    proc.stderr?.on('data', (chunk: Buffer) => out.write(chunk))
    void exited.then(code => { reject(new Error(`dispatcher exited with ${String(code)} before it started; log ${log}`)) })
  })
  const grpcPort = await started
  return { proc, grpcPort, log, exited }
}

export async function stopDispatcher (d: DispatcherProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (d.proc.exitCode !== null || d.proc.signalCode !== null) return
  d.proc.kill(signal)
  await d.exited
}

// ---- the real job-executor and condition-uploader, and a tap on their requests ---------

export interface Seen {
  /** Every job request message, redeliveries included (as the tap received them). */
  requests: Array<{ message: JobRequest, eventId: string }>
  conditionRequests: ConditionRequest[]
}

export interface Backends extends Seen, AsyncDisposable {
  producer: Producer
  /** The uploader's HTTP API (IOVs, FCSR, history). */
  uploaderUrl: string
  /**
   * True when every consumer of this test run has handled every message its
   * topics hold now (the dispatcher, the executor, the uploader and the tap),
   * and no topic grew since the previous call: a positive fact that the
   * system is at rest, for asserting that nothing more happens. Call it
   * through until(), which calls it repeatedly.
   */
  atRest: () => Promise<boolean>
}

/**
 * The real job-executor (local backend only; jobs run as real processes,
 * as "nobody" when the tests run as root) and the real condition-uploader
 * (CondDB SQLite in its own temp directory), built in-process with their
 * app.ts on the test run's servers, topic prefix and Redis prefix; plus a
 * tap (consumer group "tap") that records every job and condition request
 * the dispatcher sends. The executor's jobs directory is the dispatcher's
 * <AUTOCAL_DATA_DIR>/jobs, where it puts each job's outdir; the uploader
 * takes payloads only from there. `env.executor` / `env.uploader` add or
 * override keys of either service.
 */
export async function startBackends (config: TestConfig, env: { executor?: Record<string, string>, uploader?: Record<string, string> } = {}): Promise<Backends> {
  const stack = new AsyncDisposableStack()
  try {
    const jobsDir = join(config.AUTOCAL_DATA_DIR, 'jobs')
    mkdirSync(jobsDir, { recursive: true })
    chmodSync(config.AUTOCAL_DATA_DIR, 0o711) // jobs run as "nobody" under root: the path to their outdirs must be searchable
    const executorConfig = loadConfig(ExecutorConfig, {
      ...connectionEnv(),
      AUTOCAL_KAFKA_TOPIC_PREFIX: config.AUTOCAL_KAFKA_TOPIC_PREFIX,
      AUTOCAL_REDIS_KEY_PREFIX: config.AUTOCAL_REDIS_KEY_PREFIX,
      AUTOCAL_KAFKA_RETRY_BASE_MS: '100',
      AUTOCAL_KAFKA_SESSION_TIMEOUT_MS: '6000',
      AUTOCAL_DATA_DIR: mkdtempSync(join(tmpdir(), 'autocal-executor-')),
      AUTOCAL_EXECUTOR_JOBS_DIR: jobsDir,
      AUTOCAL_EXECUTOR_BACKENDS: 'local',
      AUTOCAL_EXECUTOR_SLOTS: '6',
      AUTOCAL_EXECUTOR_RECONCILE_MS: '300',
      AUTOCAL_EXECUTOR_KILL_GRACE_MS: '1000',
      AUTOCAL_INSTANCE_ID: `executor-${randomUUID().slice(0, 6)}`,
      AUTOCAL_HTTP_PORT: '0',
      AUTOCAL_GRPC_PORT: '0',
      AUTOCAL_READ_PUBLIC: 'true',
      AUTOCAL_LOG_LEVEL: 'warn',
      ...env.executor
    })
    stack.use(await startJobExecutor(executorConfig, silentLogger))
    const uploader = stack.use(await startUploader(loadConfig(UploaderConfig, { ...uploaderEnv(config), ...env.uploader }), silentLogger))
    const producer = stack.use(await startProducer({ config, logger: silentLogger, service: 'test-tap' }))
    const seen: Seen = { requests: [], conditionRequests: [] }
    stack.use(await startConsumer({
      config,
      logger: silentLogger,
      service: 'test-tap',
      group: 'tap',
      producer,
      handlers: {
        jobRequests: async (r, meta) => { seen.requests.push({ message: r, eventId: meta.eventId }) },
        conditionRequests: async r => { seen.conditionRequests.push(r) }
      }
    }))
    const admin = createKafka(config, silentLogger, 'test-progress').admin()
    await admin.connect()
    stack.defer(async () => { await admin.disconnect() })
    const prefix = config.AUTOCAL_KAFKA_TOPIC_PREFIX
    const consumers: Array<[string, Array<Topic<any>>]> = [
      ['task-dispatcher', [topics.runs, topics.jobStatus, topics.conditions, topics.control]],
      ['job-executor', [topics.jobRequests]],
      ['condition-uploader', [topics.conditionRequests]],
      ['tap', [topics.jobRequests, topics.conditionRequests]]
    ]
    const atRest = restProbe(admin, consumers.map(([group, ts]) => ({ group: `${prefix}.${group}`, topics: ts.map(t => topicName(t, prefix)) })))
    const moved = stack.move()
    return {
      get requests () { return seen.requests },
      get conditionRequests () { return seen.conditionRequests },
      producer,
      uploaderUrl: uploader.url,
      atRest,
      [Symbol.asyncDispose]: async () => { await moved.disposeAsync() }
    }
  } catch (err) {
    await stack.disposeAsync()
    throw err
  }
}

/** The distinct start requests as "job_id#try". */
export function startedJobs (seen: Seen): Set<string> {
  return new Set(seen.requests.filter(r => r.message.action.case === 'start').map(r => `${r.message.jobId}#${r.message.try}`))
}

/**
 * The real executor and uploader, a dispatcher process on one workflow file (`yaml`, saved as `<name>.yaml`; `env`
 * adds dispatcher keys), a control client as an admin and a runs producer, on a topic and key prefix of their own;
 * disposed (client, dispatcher, backends) at the end of the test. `cell(task, run)` is the prompt campaign's status
 * cell of that task and run.
 */
export async function startWorkflowSystem (name: string, yaml: string, env: Record<string, string> = {}) {
  const stack = new AsyncDisposableStack()
  try {
    const config = testConfig()
    const dir = mkdtempSync(join(tmpdir(), 'autocal-wf-'))
    writeFileSync(join(dir, `${name}.yaml`), yaml)
    const backends = stack.use(await startBackends(config))
    const dispatcher = await spawnDispatcher(config, { AUTOCAL_WORKFLOWS_DIR: dir, AUTOCAL_CONTROL_TOKENS: JSON.stringify({ 'admin-token-1': { principal: 'ops', subsystems: '*' } }), ...env })
    stack.defer(async () => { await stopDispatcher(dispatcher) })
    const client = createGrpcClient(ControlService, `127.0.0.1:${dispatcher.grpcPort}`, { token: 'admin-token-1' })
    stack.defer(() => { client.close() })
    const producer = stack.use(await startProducer({ config, logger: silentLogger, service: 'test-run-watcher' }))
    const moved = stack.move()
    const cell = async (task: string, run: number) => (await client.getStatus({ selector: { campaign: 'prompt', tasks: [task], runs: [run] } })).cells[0]
    return { config, dispatcher, backends, client, producer, cell, [Symbol.asyncDispose]: async () => { await moved.disposeAsync() } }
  } catch (err) {
    // a dispatcher that did not start: what did start is stopped, so the test fails instead of hanging
    await stack.disposeAsync()
    throw err
  }
}
