// Fixtures of the dispatcher's integration tests: the real 2022 run list as
// RunEvents, dispatcher child processes, and a stand-in executor (+ uploader,
// unless a test runs the real one) that run the example workflows' real
// scripts and answer over Kafka.
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { createHash, randomUUID } from 'node:crypto'
import { createWriteStream, mkdtempSync, readFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, isAbsolute, resolve } from 'node:path'
import { create } from '@bufbuild/protobuf'
import { timestampFromDate } from '@bufbuild/protobuf/wkt'
import { z } from 'zod'
import {
  ConditionEventSchema, JobPhase, JobStatusSchema, Outcome, RunEventSchema, RunSchema,
  topics, type ConditionRequest, type JobRequest, type Run, type RunEvent
} from '@autocal/contracts'
import { baseShape, connectionEnv, createLogger, kafkaShape, loadConfig, redisShape, startConsumer, startProducer, type Producer } from '@autocal/runtime'

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
export async function startRealUploader (config: TestConfig): Promise<Awaited<ReturnType<typeof startUploader>>> {
  const uploaderConfig = loadConfig(UploaderConfig, {
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
  })
  return await startUploader(uploaderConfig, silentLogger)
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

// ---- stand-in executor and uploader ------------------------------------------

export interface Seen {
  /** Every job request message, redeliveries included. */
  requests: Array<{ message: JobRequest, eventId: string }>
  conditionRequests: ConditionRequest[]
}

function run (argv: string[], env: Record<string, string>): Promise<number> {
  return new Promise(resolve => {
    execFile(argv[0] as string, argv.slice(1), { env: { ...process.env, ...env } }, err => { resolve(err === null ? 0 : typeof err.code === 'number' ? err.code : 1) })
  })
}

/**
 * STAND-IN for the job-executor and the condition-uploader (other services):
 * runs each requested job's argv as a real process (the example workflows'
 * python scripts), reads its outputs.json and answers JobStatus DONE/FAILED;
 * answers each condition request UPLOADED once its SQLite file exists.
 */
export interface StandInOptions {
  /** false = never answer this request (the job stays queued). */
  answer?: (r: JobRequest) => boolean
  /** true = answer FAILED (exit 3) without running the job. */
  fail?: (r: JobRequest) => boolean
  /** The uploader's outcome; default UPLOADED when the payload file exists. */
  outcome?: (r: ConditionRequest) => { outcome: Outcome, reason: string } | undefined
  /** false = only record the condition requests; the real condition-uploader answers them. */
  uploader?: boolean
  /** A promise = run this job only once it resolves (the handler returns at once: other jobs go on meanwhile). */
  hold?: (r: JobRequest) => Promise<void> | undefined
}

export async function startStandIns (config: TestConfig, options: StandInOptions = {}): Promise<Seen & AsyncDisposable & { producer: Producer }> {
  const producer = await startProducer({ config, logger: silentLogger, service: 'test-stand-in' })
  const seen: Seen = { requests: [], conditionRequests: [] }
  const answered = new Set<string>()
  async function runJob (r: JobRequest): Promise<void> {
    if (r.action.case !== 'start') return
    const start = r.action.value
    const runs = r.provenance?.inputRuns ?? []
    const code = options.fail?.(r) === true
      ? 3
      : await run(start.argv, {
        AUTOCAL_CAMPAIGN: r.provenance?.campaign ?? '',
        AUTOCAL_BLOCK: r.provenance?.blockId ?? '',
        AUTOCAL_RUNS: runs.join(','),
        AUTOCAL_JOB: String(r.jobIndex),
        AUTOCAL_NJOBS: String(start.njobs),
        AUTOCAL_INPUTS: start.inputs.join(','),
        AUTOCAL_OUTDIR: start.outdir,
        AUTOCAL_TASK: r.provenance?.task ?? '',
        AUTOCAL_ATTEMPT: String(r.provenance?.taskAttempt ?? 1)
      })
    const manifest = join(start.outdir, 'outputs.json')
    const outputs = code === 0 && existsSync(manifest)
      ? (JSON.parse(readFileSync(manifest, 'utf8')) as { outputs: Array<{ path: string, label?: string }> }).outputs.map(o => {
          const path = isAbsolute(o.path) ? o.path : join(start.outdir, o.path)
          const data = readFileSync(path)
          return { path, sizeBytes: BigInt(data.length), sha256: createHash('sha256').update(data).digest('hex'), label: o.label ?? '' }
        })
      : []
    await producer.publish(topics.jobStatus, create(JobStatusSchema, {
      jobId: r.jobId,
      try: r.try,
      provenance: r.provenance,
      jobIndex: r.jobIndex,
      phase: code === 0 ? JobPhase.DONE : JobPhase.FAILED,
      exitCode: code,
      reason: code === 0 ? '' : `exit ${code}`,
      outputs,
      backend: 'local',
      executor: 'test-stand-in',
      at: timestampFromDate(new Date())
    }), { eventId: `jobs/${r.jobId}/${r.try}/${code === 0 ? 'DONE' : 'FAILED'}` })
  }
  const consumer = await startConsumer({
    config: { ...config, AUTOCAL_KAFKA_PARTITIONS_CONCURRENCY: 6 },
    logger: silentLogger,
    service: 'test-stand-in',
    group: 'stand-in',
    producer,
    handlers: {
      jobRequests: async (r, meta) => {
        seen.requests.push({ message: r, eventId: meta.eventId })
        if (r.action.case !== 'start' || answered.has(meta.eventId) || options.answer?.(r) === false) return
        answered.add(meta.eventId)
        const held = options.hold?.(r)
        if (held !== undefined) {
          void held.then(async () => { await runJob(r) })
          return
        }
        await runJob(r)
      },
      conditionRequests: async r => {
        seen.conditionRequests.push(r)
        if (options.uploader === false) return
        const ok = existsSync(r.payloadFile)
        const decided = options.outcome?.(r) ?? (ok ? { outcome: Outcome.UPLOADED, reason: '' } : { outcome: Outcome.FAILED, reason: `payload ${r.payloadFile} missing` })
        await producer.publish(topics.conditions, create(ConditionEventSchema, {
          requestId: r.requestId,
          outcome: decided.outcome,
          tag: r.destinationTag,
          record: r.record,
          since: r.since ?? 0n,
          reason: decided.reason,
          provenance: r.provenance,
          synchronization: r.synchronization,
          target: 'sqlite:stand-in',
          at: timestampFromDate(new Date())
        }), { eventId: `conditions/${r.requestId}/${decided.outcome}` })
      }
    }
  })
  return {
    ...seen,
    get requests () { return seen.requests },
    get conditionRequests () { return seen.conditionRequests },
    producer,
    [Symbol.asyncDispose]: async () => {
      await consumer[Symbol.asyncDispose]()
      await producer[Symbol.asyncDispose]()
    }
  }
}

/** The distinct start requests as "job_id#try". */
export function startedJobs (seen: Seen): Set<string> {
  return new Set(seen.requests.filter(r => r.message.action.case === 'start').map(r => `${r.message.jobId}#${r.message.try}`))
}
