// The embedded autocal system: the five services as separate processes on the
// local Kafka and Redis, with the example workflows, the local job backend,
// the SQLite CondDB and a run source (the real 2022 run list when
// ../shared/realdata is there, otherwise the built-in run generator).
//
// `bash deploy/run.sh` runs this file; the end-to-end tests and benchmarks
// import startSystem() to run the same system under their own topic prefix.
// Only Node built-ins are used here, so the file runs from anywhere.
import { spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs'
import { once } from 'node:events'
import { basename, dirname, join, resolve } from 'node:path'
import { writeGeneratedRealdata } from './run-generator.ts'

export const repoRoot = resolve(new URL('../..', import.meta.url).pathname)

/**
 * Node options every service runs with, here, in the image and in the chart
 * (`nodeOptions`): a young generation of at most 4 MiB per semi-space. V8's
 * default (up to 16 MiB or more on this machine) kept 100–150 MiB of heap
 * reserved after a burst; measured with `pnpm bench` (10 workflows × 1,000
 * runs, 60 s): peak RSS of the dispatcher 450 → 312 MiB, of the executor
 * 401 → 222 MiB, with the same tasks done and CPU (README "Benchmarks").
 */
export const serviceNodeOptions = '--max-semi-space-size=4'

/** The services' NODE_OPTIONS: `serviceNodeOptions`, then whatever the environment, the system's and the service's own env add (a later flag wins in Node). */
export function nodeOptionsOf (...added: Array<string | undefined>): string {
  return [serviceNodeOptions, ...added].filter(o => o !== undefined && o.trim() !== '').join(' ')
}

export const serviceNames = ['run-watcher', 'task-dispatcher', 'job-executor', 'condition-uploader', 'metrics'] as const
export type ServiceName = typeof serviceNames[number]

export interface Ports {
  runWatcher: number
  dispatcher: number
  dispatcherGrpc: number
  executor: number
  executorGrpc: number
  uploader: number
  metrics: number
}

export function portsFrom (base: number): Ports {
  return {
    runWatcher: base + 1,
    dispatcher: base + 2,
    executor: base + 3,
    uploader: base + 4,
    metrics: base + 5,
    // the default deployment keeps the services' own gRPC defaults
    dispatcherGrpc: base === 8080 ? 50051 : base + 51,
    executorGrpc: base === 8080 ? 50052 : base + 52
  }
}

/** The example workflows, loaded when AUTOCAL_WORKFLOWS_DIR is not set. */
export const exampleWorkflowsDir = join(repoRoot, 'deploy', 'workflows')

/**
 * The run command's workflow directory: AUTOCAL_WORKFLOWS_DIR when set
 * (a relative path is taken from `cwd`, the directory the command was
 * started in: pnpm's INIT_CWD, run.sh resolves it before changing to the
 * repository), else the example workflows. Throws an Error naming the
 * variable and the path when it is not a directory holding at least one
 * `.yaml`/`.yml` file, so that a mistyped path fails the start instead of
 * starting a dispatcher with the examples (or none).
 */
export function workflowsDirOf (env: Record<string, string | undefined>, cwd: string): string {
  const given = env.AUTOCAL_WORKFLOWS_DIR
  if (given === undefined || given.trim() === '') return exampleWorkflowsDir
  const dir = resolve(cwd, given)
  let entries: string[]
  try {
    if (!statSync(dir).isDirectory()) throw new Error(`AUTOCAL_WORKFLOWS_DIR=${given}: ${dir} is not a directory`)
    entries = readdirSync(dir)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === undefined) throw err
    throw new Error(`AUTOCAL_WORKFLOWS_DIR=${given}: cannot read ${dir} (${(err as NodeJS.ErrnoException).code ?? ''})`, { cause: err })
  }
  if (!entries.some(f => /\.ya?ml$/.test(f))) throw new Error(`AUTOCAL_WORKFLOWS_DIR=${given}: ${dir} holds no workflow file (*.yaml, *.yml)`)
  return dir
}

/** Where the real CMS data is, if anywhere: $AUTOCAL_REALDATA_DIR, else ../shared/realdata beside the repository. */
export function findRealdata (): string | undefined {
  const candidates = [process.env.AUTOCAL_REALDATA_DIR, resolve(repoRoot, '../shared/realdata')]
  return candidates.find(d => d !== undefined && d !== '' && existsSync(join(d, 'Runs2022-hltmode.csv')))
}

/**
 * The connection keys that make a service connect as its own principal on
 * the secure local servers (servers.sh --secure): when the environment names
 * the admin's password files (<state>/secure/secrets/kafka-autocal-admin,
 * redis-autocal-admin), the service's own files beside them replace them.
 * The servers' ACLs cover the plain topic names and the autocal: keys, so
 * this applies to the unprefixed system only; a prefixed one (tests) keeps
 * the environment's principal. Returns {} when there is nothing to replace.
 */
export function servicePrincipalEnv (name: ServiceName, env: Record<string, string | undefined>, prefix: string): Record<string, string> {
  if (prefix !== '') return {}
  const out: Record<string, string> = {}
  const own = (file: string | undefined, kind: 'kafka' | 'redis'): string | undefined => {
    if (file === undefined || basename(file) !== `${kind}-autocal-admin`) return undefined
    const candidate = join(dirname(file), `${kind}-${name}`)
    return existsSync(candidate) ? candidate : undefined
  }
  const kafka = own(env.AUTOCAL_KAFKA_PASSWORD_FILE, 'kafka')
  if (kafka !== undefined && env.AUTOCAL_KAFKA_USERNAME !== undefined) Object.assign(out, { AUTOCAL_KAFKA_USERNAME: name, AUTOCAL_KAFKA_PASSWORD_FILE: kafka })
  const redis = own(env.AUTOCAL_REDIS_PASSWORD_FILE, 'redis')
  if (redis !== undefined && env.AUTOCAL_REDIS_USERNAME !== undefined) Object.assign(out, { AUTOCAL_REDIS_USERNAME: name, AUTOCAL_REDIS_PASSWORD_FILE: redis })
  return out
}

export interface SystemOptions {
  /** Topic and Redis key prefix (isolates tests); empty for the plain names. */
  prefix?: string
  /** Shared data directory (job outputs, CondDB, logs). */
  dataDir?: string
  /** HTTP ports are base+1..base+5, gRPC base+51, base+52. Default 8080. */
  basePort?: number
  workflowsDir?: string
  /** Environment for every service (on top of the defaults). */
  env?: Record<string, string>
  /** Environment per service. */
  serviceEnv?: Partial<Record<ServiceName, Record<string, string>>>
  /** Which services to start (all by default). */
  services?: readonly ServiceName[]
  /** Where each service's output goes: a file per service in dataDir/logs by default. */
  logTo?: 'files' | 'inherit'
  readyTimeoutMs?: number
}

export interface RunningService {
  name: ServiceName
  process: ChildProcess
  httpUrl: string
  logFile: string
}

export interface System extends AsyncDisposable {
  services: Map<ServiceName, RunningService>
  ports: Ports
  dataDir: string
  prefix: string
  /** Environment the services got (without per-service additions). */
  env: Record<string, string>
  start: (name: ServiceName) => Promise<RunningService>
  /** SIGTERM one service and wait for its exit code. */
  stopService: (name: ServiceName, signal?: NodeJS.Signals) => Promise<number | null>
  stop: () => Promise<Record<string, number | null>>
}

function httpPortOf (name: ServiceName, ports: Ports): number {
  switch (name) {
    case 'run-watcher': return ports.runWatcher
    case 'task-dispatcher': return ports.dispatcher
    case 'job-executor': return ports.executor
    case 'condition-uploader': return ports.uploader
    case 'metrics': return ports.metrics
  }
}

async function waitReady (service: RunningService, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last = ''
  while (Date.now() < deadline) {
    if (service.process.exitCode !== null) {
      throw new Error(`${service.name} exited with code ${service.process.exitCode} before it was ready; see ${service.logFile}`)
    }
    try {
      const res = await fetch(`${service.httpUrl}/readyz`)
      if (res.status === 200) return
      last = await res.text()
    } catch (err) {
      last = (err as Error).message
    }
    await new Promise(resolve => setTimeout(resolve, 200))
  }
  throw new Error(`${service.name} not ready after ${timeoutMs} ms (last answer: ${last}); see ${service.logFile}`)
}

export async function startSystem (options: SystemOptions = {}): Promise<System> {
  const prefix = options.prefix ?? ''
  const dataDir = resolve(options.dataDir ?? join(repoRoot, '.autocal', 'data'))
  const ports = portsFrom(options.basePort ?? 8080)
  const workflowsDir = options.workflowsDir ?? exampleWorkflowsDir
  mkdirSync(join(dataDir, 'logs'), { recursive: true })
  const realdata = findRealdata()
  const env: Record<string, string> = {
    AUTOCAL_KAFKA_TOPIC_PREFIX: prefix,
    AUTOCAL_REDIS_KEY_PREFIX: prefix === '' ? 'autocal:' : `${prefix}:`,
    AUTOCAL_DATA_DIR: dataDir,
    AUTOCAL_HTTP_HOST: '127.0.0.1',
    AUTOCAL_WORKFLOWS_DIR: workflowsDir,
    ...(realdata === undefined ? {} : { AUTOCAL_REALDATA_DIR: realdata }),
    // the local system listens on 127.0.0.1 only: its read APIs (dashboard, console, status, conditions, job
    // logs, the control API's reads) are open to this host; a deployment sets AUTOCAL_READ_TOKENS instead
    AUTOCAL_READ_PUBLIC: process.env.AUTOCAL_READ_PUBLIC ?? 'true',
    ...options.env
  }
  const controlTls = (options.env?.AUTOCAL_CONTROL_TLS_CERT_FILE ?? process.env.AUTOCAL_CONTROL_TLS_CERT_FILE) !== undefined
  const perService: Record<ServiceName, Record<string, string>> = {
    'run-watcher': { AUTOCAL_HTTP_PORT: String(ports.runWatcher) },
    'task-dispatcher': {
      AUTOCAL_HTTP_PORT: String(ports.dispatcher),
      AUTOCAL_GRPC_PORT: String(ports.dispatcherGrpc),
      // the control API on 127.0.0.1 in plaintext unless AUTOCAL_CONTROL_TLS_CERT_FILE/_KEY_FILE are given
      ...(controlTls ? {} : { AUTOCAL_CONTROL_INSECURE: 'true' })
    },
    'job-executor': {
      AUTOCAL_HTTP_PORT: String(ports.executor),
      AUTOCAL_GRPC_PORT: String(ports.executorGrpc),
      AUTOCAL_EXECUTOR_PUBLIC_URL: `http://127.0.0.1:${ports.executor}`
    },
    'condition-uploader': { AUTOCAL_HTTP_PORT: String(ports.uploader) },
    metrics: { AUTOCAL_HTTP_PORT: String(ports.metrics) }
  }
  const services = new Map<ServiceName, RunningService>()
  // their own process groups do not die with the launcher: if it exits without stop(), stop them
  process.once('exit', () => { for (const s of services.values()) s.process.kill('SIGTERM') })

  async function start (name: ServiceName): Promise<RunningService> {
    const logFile = join(dataDir, 'logs', `${name}.log`)
    const child = spawn(process.execPath, ['src/index.ts'], {
      cwd: join(repoRoot, 'services', name),
      env: { ...process.env, ...env, ...servicePrincipalEnv(name, { ...process.env, ...env }, prefix), ...perService[name], ...options.serviceEnv?.[name], NODE_OPTIONS: nodeOptionsOf(process.env.NODE_OPTIONS, env.NODE_OPTIONS, options.serviceEnv?.[name]?.NODE_OPTIONS) },
      stdio: options.logTo === 'inherit' ? ['ignore', 'inherit', 'inherit'] : ['ignore', 'pipe', 'pipe'],
      // a process group of its own: a Ctrl-C in the terminal reaches only the
      // launcher, which stops the services one by one (a service that got the
      // terminal's SIGINT and then our SIGTERM would take it as a second signal
      // and exit at once, without its graceful close)
      detached: true
    })
    if (options.logTo !== 'inherit') {
      const out = createWriteStream(logFile, { flags: 'a' })
      child.stdout?.pipe(out)
      child.stderr?.pipe(out)
    }
    const running: RunningService = { name, process: child, httpUrl: `http://127.0.0.1:${httpPortOf(name, ports)}`, logFile }
    services.set(name, running)
    await waitReady(running, options.readyTimeoutMs ?? 60_000)
    return running
  }

  async function stopService (name: ServiceName, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const s = services.get(name)
    if (s === undefined) return null
    services.delete(name)
    if (s.process.exitCode !== null || s.process.signalCode !== null) return s.process.exitCode
    const exited = once(s.process, 'exit')
    s.process.kill(signal)
    const [code] = await exited as [number | null]
    return code
  }

  async function stop (): Promise<Record<string, number | null>> {
    const codes: Record<string, number | null> = {}
    // the run source first, the sinks last
    for (const name of serviceNames) {
      if (services.has(name)) codes[name] = await stopService(name)
    }
    return codes
  }

  try {
    for (const name of options.services ?? serviceNames) await start(name)
  } catch (err) {
    for (const s of services.values()) s.process.kill('SIGKILL')
    throw err
  }
  return { services, ports, dataDir, prefix, env, start, stopService, stop, [Symbol.asyncDispose]: async () => { await stop() } }
}

/**
 * Resolves with "<service> exited with code <code|signal>" when the first of
 * `services` has exited, including one that exited before the call (a
 * service that died while the launcher was starting the next ones: its
 * 'exit' event has already been emitted and would never fire again).
 */
export async function firstExit (services: Array<Pick<RunningService, 'name' | 'process'>>): Promise<string> {
  return await new Promise<string>(resolve => {
    const report = (name: string, code: number | null, signal: NodeJS.Signals | null): void => { resolve(`${name} exited with code ${code ?? signal}`) }
    for (const s of services) {
      if (s.process.exitCode !== null || s.process.signalCode !== null) report(s.name, s.process.exitCode, s.process.signalCode)
      else s.process.once('exit', (code, signal) => { report(s.name, code, signal) })
    }
  })
}

/**
 * The run source of the embedded system: the real 2022 run list when
 * ../shared/realdata is there, otherwise a generated list in the same format
 * (with its own golden JSON, for the example workflows' certification filter).
 */
export function runSource (scale: string, generatedRuns: number): { env: Record<string, string>, realdataDir: string, description: string } {
  const realdata = findRealdata()
  if (realdata !== undefined) {
    return {
      env: { AUTOCAL_REPLAY_FILE: join(realdata, 'Runs2022-hltmode.csv'), AUTOCAL_REPLAY_SCALE: scale },
      realdataDir: realdata,
      description: `the real 2022 run list ${join(realdata, 'Runs2022-hltmode.csv')}, replayed ${scale}x faster than it happened, with Tier-0's facts (streams done, the FCSR ${process.env.AUTOCAL_REPLAY_FCSR_DELAY_HOURS ?? '48'} h behind)`
    }
  }
  const dir = join(repoRoot, '.autocal', 'generated')
  const { csv } = writeGeneratedRealdata(dir, { runs: generatedRuns })
  return {
    env: { AUTOCAL_REPLAY_FILE: csv, AUTOCAL_REPLAY_SCALE: scale },
    realdataDir: dir,
    description: `${generatedRuns} runs from the built-in generator (../shared/realdata not found), replayed ${scale}x faster than real time, with Tier-0's facts (streams done, the FCSR ${process.env.AUTOCAL_REPLAY_FCSR_DELAY_HOURS ?? '48'} h behind)`
  }
}

/**
 * The system the run command starts, from its environment: the operator's
 * workflows (AUTOCAL_WORKFLOWS_DIR, relative to `cwd`; a bad directory throws
 * here, before anything starts) or the examples, the run source for the
 * run-watcher, the log level, the dispatcher's settle time and the demo's
 * operator token.
 */
export function runCommandOptions (env: Record<string, string | undefined>, cwd: string, source: { env: Record<string, string>, realdataDir: string }): SystemOptions {
  return {
    workflowsDir: workflowsDirOf(env, cwd),
    serviceEnv: {
      'run-watcher': source.env
    },
    env: {
      AUTOCAL_LOG_LEVEL: env.AUTOCAL_LOG_LEVEL ?? 'info',
      AUTOCAL_REALDATA_DIR: source.realdataDir,
      // replayed at 8640x, runs arrive almost back to back: the dispatcher's
      // default 10 s settle would group them only at its limit (100 s); 2 s
      // groups them within 20 s and still in run order
      AUTOCAL_RUN_SETTLE_MS: env.AUTOCAL_RUN_SETTLE_MS ?? '2000',
      // the local demo's one operator token, for every subsystem; a deployment sets its own scoped tokens
      AUTOCAL_CONTROL_TOKENS: env.AUTOCAL_CONTROL_TOKENS ?? JSON.stringify({ 'dev-admin': { principal: 'developer', subsystems: '*' } })
    }
  }
}

async function main (): Promise<void> {
  // the 2022 run list spans about 150 days: at 8640x it replays in about 25 minutes
  const source = runSource(process.env.AUTOCAL_REPLAY_SCALE ?? '8640', Number(process.env.AUTOCAL_GENERATOR_RUNS ?? '500'))
  console.log(`autocal: run source = ${source.description}`)
  const options = runCommandOptions(process.env, process.env.INIT_CWD ?? process.cwd(), source)
  console.log(`autocal: workflows = ${options.workflowsDir ?? exampleWorkflowsDir}`)
  const system = await startSystem(options)
  const { ports } = system
  const tracesLine = process.env.AUTOCAL_TRACES_UI === undefined ? '' : `\n  traces (Jaeger)    ${process.env.AUTOCAL_TRACES_UI}search?service=run-watcher`
  console.log(`
autocal is up: five services on the local Kafka (${process.env.AUTOCAL_KAFKA_BROKERS ?? '127.0.0.1:9092'}${process.env.AUTOCAL_KAFKA_SASL_MECHANISM === undefined ? '' : ', SASL_SSL, one principal per service'}) and Redis (${process.env.AUTOCAL_REDIS_URL ?? 'redis://127.0.0.1:6390'}).

  dashboard          http://127.0.0.1:${ports.metrics}/
  status API         http://127.0.0.1:${ports.metrics}/api/v1/campaigns
  processing matrix  http://127.0.0.1:${ports.metrics}/api/v1/campaigns/prompt/overview
  Prometheus         http://127.0.0.1:${ports.metrics}/metrics   (each service also has /metrics, /healthz, /readyz)
  conditions         http://127.0.0.1:${ports.uploader}/api/v1/tags
  job logs           http://127.0.0.1:${ports.executor}/jobs/<job id>/log
  CLI                AUTOCAL_TOKEN=dev-admin bin/autocal status --campaign prompt${ports.dispatcherGrpc === 50051 ? '' : ` --server 127.0.0.1:${ports.dispatcherGrpc}`}   (bin/autocal finds Node 24 itself; put bin/ on PATH to type autocal)
  service logs       ${join(system.dataDir, 'logs')}/<service>.log
  CondDB             ${join(system.dataDir, 'conddb.sqlite')}${tracesLine}

Ctrl-C stops everything cleanly.`)
  const stopping = new Promise<NodeJS.Signals>(resolve => {
    process.once('SIGINT', () => resolve('SIGINT'))
    process.once('SIGTERM', () => resolve('SIGTERM'))
  })
  const crashed = firstExit([...system.services.values()])
  const why = await Promise.race([stopping, crashed])
  console.log(`\nautocal: stopping (${why})`)
  const codes = await system.stop()
  console.log(`autocal: stopped ${Object.entries(codes).map(([n, c]) => `${n}=${c}`).join(' ')}`)
  process.exitCode = Object.values(codes).every(c => c === 0) && (why === 'SIGINT' || why === 'SIGTERM') ? 0 : 1
}

if (import.meta.url === `file://${process.argv[1]}`) await main()
