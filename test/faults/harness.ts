// The fault suite's harness: the system of the e2e test (the five services as
// processes on real Kafka and Redis, the example workflows, the local job
// backend, the SQLite CondDB) replaying a range of the real 2022 run list,
// servers of a scenario's own when the scenario stops or wipes them, and the
// figures every scenario prints and asserts:
//
// - tasks expected / done / lost: expected from the run list, the
//   certification JSON and what the example workflows select (computed with
//   Python's csv and json, independently of the services' code), done = the
//   latest TaskEvent of each key on the tasks topic (the log of record);
// - job starts per (task, attempt, job, try): counted where the job program
//   itself starts. A probe `sitecustomize.py` on the job's PYTHONPATH (the
//   executor passes PYTHONPATH through to jobs) appends one line per start of
//   a python3 job program to a ledger file: a test probe, labelled as such;
//   it sees real process starts, not the executor's own account of them;
// - IOVs per (tag, since): the CondDB read with Python's sqlite3;
// - DLQ entries: the dead-letter topic's size;
// - time to recover: per fault, until every service answers /readyz 200 again;
//   and the drain, from the end of the fault schedule to every expected task done.
import assert from 'node:assert/strict'
import { execFile, spawnSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { appendFileSync, chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { fromBinary } from '@bufbuild/protobuf'
import { TaskEventSchema, TaskState, topicName, topics } from '@autocal/contracts'
import { z } from 'zod'
import { connectionEnv, connectionKeys, createKafka, createLogger, kafkaShape, loadConfig } from '@autocal/runtime'
import { freePort } from '../helpers/free-port.ts'
import { findRealdata, repoRoot, serviceNames, startSystem, type ServiceName, type System } from '../../deploy/local/system.ts'

const run = promisify(execFile)
const servers = join(repoRoot, 'deploy/local/servers.sh')
const quiet = createLogger({ service: 'faults', level: 'fatal' })

export { serviceNames, type ServiceName, type System }

/** Bound of one scenario (FAULTS_TIMEOUT_MS) and of its drain after the faults (FAULTS_DRAIN_MS); the soak raises both. */
export const scenarioTimeoutMs = Number(process.env.FAULTS_TIMEOUT_MS ?? 20 * 60_000)
export const drainTimeoutMs = Number(process.env.FAULTS_DRAIN_MS ?? 4 * 60_000)

export interface OwnServers extends AsyncDisposable {
  redisUrl: string
  /** Set when the scenario has a broker of its own. */
  brokers?: string
  /** Connection keys that point the system at these servers (the others stay the test run's). */
  connection: Record<string, string>
  start: (which: 'redis' | 'kafka') => Promise<void>
  stop: (which: 'redis' | 'kafka') => Promise<void>
}

/**
 * A Redis (and, with `kafka`, a broker) of the scenario's own: own ports and
 * state directory, through deploy/local/servers.sh. Never the shared ones.
 */
/** The security keys of one server kind emptied (empty = unset): the scenario's own servers are plaintext without AUTH. */
const plain = (kind: 'KAFKA' | 'REDIS'): Record<string, string> =>
  Object.fromEntries(connectionKeys.filter(k => k.startsWith(`AUTOCAL_${kind}_`) && !/_(BROKERS|URL)$/.test(k)).map(k => [k, '']))

export async function startOwnServers (options: { kafka?: boolean } = {}): Promise<OwnServers> {
  const state = mkdtempSync(join(tmpdir(), 'autocal-faults-servers-'))
  const redisPort = await freePort()
  const kafkaPort = await freePort()
  const controllerPort = await freePort()
  // plaintext whatever the suite's shared servers are (test/run.sh exports AUTOCAL_SECURE=1 for those)
  const env = { ...process.env, AUTOCAL_SECURE: '0', AUTOCAL_STATE_DIR: state, AUTOCAL_REDIS_PORT: String(redisPort), AUTOCAL_KAFKA_PORT: String(kafkaPort), AUTOCAL_KAFKA_CONTROLLER_PORT: String(controllerPort) }
  const start = async (which: 'redis' | 'kafka'): Promise<void> => { await run('bash', [servers, 'start', which], { env, timeout: 180_000 }) }
  const stop = async (which: 'redis' | 'kafka'): Promise<void> => { await run('bash', [servers, 'stop', which], { env, timeout: 120_000 }) }
  await start('redis')
  if (options.kafka === true) await start('kafka')
  const own: OwnServers = {
    redisUrl: `redis://127.0.0.1:${redisPort}`,
    connection: {
      AUTOCAL_REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      ...plain('REDIS'),
      ...(options.kafka === true ? { AUTOCAL_KAFKA_BROKERS: `127.0.0.1:${kafkaPort}`, ...plain('KAFKA') } : {})
    },
    start,
    stop,
    [Symbol.asyncDispose]: async () => {
      if (options.kafka === true) await stop('kafka').catch(() => undefined)
      await stop('redis').catch(() => undefined)
      rmSync(state, { recursive: true, force: true })
    }
  }
  if (options.kafka === true) own.brokers = `127.0.0.1:${kafkaPort}`
  return own
}

// ---- what the example workflows should do with a range of runs -------------

export interface Expected {
  runs: number
  /** Task keys without the campaign (block/task) that must end done. */
  tasks: string[]
  /** IOVs the CondDB must hold, as "tag@since". */
  iovs: string[]
}

/**
 * The tasks and IOVs the example workflows must produce for the runs in
 * [first, last], computed with Python from the run list and the certification
 * JSON, as the e2e test does (ecal-timing, ecal-pedestals, pps-timing per run; egm-photon-scale on the timing
 * runs; the shadow campaign of ecal-timing-dev.yaml: one validation IOV per timing run;
 * ecal-phisym sums per run gathered per fill (every fill but the last closed by a later one) into a payload; ecal-pi0
 * per 200 /pb bucket of certified runs, closed early at the end of an era).
 */
export function expectations (realdata: string, first: number, last: number): Expected {
  const py = `
import csv, json, sys
first, last = int(sys.argv[2]), int(sys.argv[3])
rows = [r for r in csv.DictReader(open(sys.argv[1] + '/Runs2022-hltmode.csv')) if r['run_number'] != 'run_number']
rows = sorted((r for r in rows if first <= int(r['run_number']) <= last), key=lambda r: int(r['run_number']))
golden = json.load(open(sys.argv[1] + '/Cert_Collisions2022_355100_362760_Golden.json'))
lumi = lambda r: float(r['recorded_lumi'] or 0)
dur = lambda r: int(r['duration'] or 0)
col = [r for r in rows if r['l1_hlt_mode_stripped'].split('/')[0].lower() == 'collisions2022']
run = lambda r: int(r['run_number'])
tasks, iovs = [], []
for r in col:
  if dur(r) >= 600 and lumi(r) >= 1 and r['run_number'] in golden:
    tasks += ['run-%d/timing-reco' % run(r), 'run-%d/timing-calib' % run(r), 'run-%d/photon-scale' % run(r)]; iovs.append('EcalTimeCalibConstants_v01_prompt@%d' % run(r))
    iovs.append('EcalTimeCalibConstants_v02_dev_validation@%d' % run(r))
  if dur(r) >= 300:
    tasks.append('run-%d/pedestals' % run(r)); iovs.append('EcalPedestals_pcl@%d' % run(r))
  if lumi(r) >= 1 and r['run_number'] in golden:
    tasks.append('run-%d/pps-timing-calib' % run(r)); iovs.append('PPSDiamondTimingCalibration_pcl@%d' % run(r))
fills = []
for r in col:
  if lumi(r) >= 0.1 and int(r['fill_number']) not in fills: fills.append(int(r['fill_number']))
phisym_runs = [r for r in col if lumi(r) >= 0.1]
tasks += ['run-%d/phisym-sums' % run(r) for r in phisym_runs]
tasks += ['fill-%d/%s' % (f, t) for f in fills[:-1] for t in ('phisym', 'phisym-ic')]
iovs += ['EcalIntercalibConstants_phisym_v01_offline@%d' % min(run(r) for r in phisym_runs if int(r['fill_number']) == f) for f in fills[:-1]]
# a bucket closes at 200 /pb, or with what it has when a certified run of another era comes (closeAtEraEnd)
first_run, acc, era = None, 0.0, None
for r in (r for r in col if r['run_number'] in golden):
  if first_run is not None and r['era'] != era:
    iovs.append('EcalIntercalibConstants_pi0_v01_offline@%d' % first_run); first_run, acc = None, 0.0
  if first_run is None: first_run, era = run(r), r['era']
  acc += lumi(r)
  if acc >= 200: iovs.append('EcalIntercalibConstants_pi0_v01_offline@%d' % first_run); first_run, acc = None, 0.0
print(json.dumps({'runs': len(rows), 'tasks': tasks, 'iovs': iovs}))`
  const out = spawnSync('python3', ['-c', py, realdata, String(first), String(last)], { encoding: 'utf8' })
  assert.equal(out.status, 0, out.stderr)
  return JSON.parse(out.stdout) as Expected
}

// ---- the system under faults -------------------------------------------------

export interface FaultSystem extends AsyncDisposable {
  system: System
  prefix: string
  dataDir: string
  brokers: string
  redisUrl: string
  /** The connection keys the services got. */
  connection: Record<string, string>
  expected: Expected
  ledger: string
  /** Services that exited on their own and were started again by the harness's supervisor. */
  supervisorRestarts: string[]
  /** SIGKILLs (or signals) a service and starts it again; resolves with the ms until it was ready. */
  restart: (name: ServiceName, signal?: NodeJS.Signals) => Promise<number>
  /** Ms until every service answers /readyz 200 (polling), or throws after timeoutMs. */
  untilAllReady: (timeoutMs: number) => Promise<number>
  log: (line: string) => void
}

export interface FaultSystemOptions {
  name: string
  first: number
  last: number
  /** Connection keys over the test run's own (connectionEnv): e.g. OwnServers.connection. */
  connection?: Record<string, string>
  env?: Record<string, string>
  serviceEnv?: Partial<Record<ServiceName, Record<string, string>>>
}

/** The job-start probe: a sitecustomize.py that appends "<campaign>/<block>/<task> <attempt> <job> <try> <pid>" per start. */
function writeProbe (dir: string, ledger: string): void {
  mkdirSync(dir, { recursive: true })
  // jobs run as an unprivileged user (the executor's AUTOCAL_JOB_USER, nobody under root): the ledger exists
  // before any job and anyone may append to it, or the probe fails in every job and counts no start
  writeFileSync(ledger, '')
  chmodSync(ledger, 0o666)
  writeFileSync(join(dir, 'sitecustomize.py'), `# autocal fault suite: test probe (not part of autocal). Counts starts of job programs.
import os
if os.environ.get('AUTOCAL_JOB_ID'):
    e = os.environ
    line = '%s/%s/%s %s %s %s %d\\n' % (e.get('AUTOCAL_CAMPAIGN'), e.get('AUTOCAL_BLOCK'), e.get('AUTOCAL_TASK'), e.get('AUTOCAL_ATTEMPT'), e.get('AUTOCAL_JOB'), e.get('AUTOCAL_TRY'), os.getpid())
    fd = os.open(${JSON.stringify(ledger)}, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(fd, line.encode())
    os.close(fd)
`)
  // jobs run as an unprivileged user when the executor is root: the ledger must be theirs to append to
  writeFileSync(ledger, '')
  chmodSync(ledger, 0o666)
}

export async function startFaultSystem (o: FaultSystemOptions): Promise<FaultSystem> {
  const realdata = findRealdata()
  assert.ok(realdata !== undefined, '../shared/realdata (or AUTOCAL_REALDATA_DIR) is needed for the fault suite')
  const expected = expectations(realdata, o.first, o.last)
  const prefix = `faults-${o.name}-${randomUUID().slice(0, 6)}`
  const dataDir = mkdtempSync(join(tmpdir(), `autocal-faults-${o.name}-`))
  const probe = join(dataDir, 'probe')
  const ledger = join(dataDir, 'job-starts.txt')
  writeProbe(probe, ledger)
  // the test run's servers and credentials (secure under test/run.sh), or the scenario's own
  const connection = { ...connectionEnv(), ...o.connection }
  const brokers = connection.AUTOCAL_KAFKA_BROKERS ?? '127.0.0.1:9092'
  const redisUrl = connection.AUTOCAL_REDIS_URL ?? 'redis://127.0.0.1:6390'
  const basePort = 20_000 + Math.floor(Math.random() * 400) * 100
  const started = Date.now()
  // progress lines go to the test's output and, with FAULTS_LOG_FILE, to a file (node --test shows output at the end)
  const log = (line: string): void => {
    const text = `[faults ${o.name} +${((Date.now() - started) / 1000).toFixed(1)}s] ${line}`
    console.log(text)
    if (process.env.FAULTS_LOG_FILE !== undefined) appendFileSync(process.env.FAULTS_LOG_FILE, text + '\n')
  }
  const system = await startSystem({
    prefix,
    dataDir,
    basePort,
    readyTimeoutMs: 120_000,
    env: {
      AUTOCAL_REALDATA_DIR: realdata,
      AUTOCAL_LOG_LEVEL: 'info',
      ...connection,
      AUTOCAL_RUN_SETTLE_MS: '2000',
      // a killed member's partitions move on after this (the broker's minimum is 6 s)
      AUTOCAL_KAFKA_SESSION_TIMEOUT_MS: '10000',
      AUTOCAL_SHUTDOWN_GRACE_MS: '8000',
      ...o.env
    },
    serviceEnv: {
      ...o.serviceEnv,
      'run-watcher': {
        AUTOCAL_REPLAY_FILE: join(realdata, 'Runs2022-hltmode.csv'),
        AUTOCAL_REPLAY_SCALE: '0',
        AUTOCAL_REPLAY_FROM_RUN: String(o.first),
        AUTOCAL_REPLAY_TO_RUN: String(o.last),
        // no Tier-0 FCSR from the replay: the expected IOVs are every block's (the FCSR's effect is the e2e test's subject)
        AUTOCAL_REPLAY_FCSR_DELAY_HOURS: 'none',
        ...o.serviceEnv?.['run-watcher']
      },
      'job-executor': { AUTOCAL_EXECUTOR_SLOTS: '4', PYTHONPATH: probe, ...o.serviceEnv?.['job-executor'] }
    }
  })
  log(`system up: ${expected.runs} runs ${o.first}–${o.last}, ${expected.tasks.length} tasks and ${expected.iovs.length} IOVs expected; prefix ${prefix}, data ${dataDir}`)

  // The supervisor a deployment has (a Kubernetes Deployment restarts a pod
  // whose process exits): a service that exits on its own — e.g. a consumer
  // kafkajs will not restart after a broker outage fails the process, which
  // exits 1 — is started again. A service the scenario stops or kills is not
  // (stopService takes it out of the system first).
  const supervisorRestarts: string[] = []
  let closing = false
  function supervise (name: ServiceName): void {
    const s = system.services.get(name)
    if (s === undefined) return
    const exited = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (closing || system.services.get(name)?.process !== s.process) return
      supervisorRestarts.push(`${name} (exit ${code ?? signal})`)
      log(`${name} exited on its own (${code ?? signal}); the supervisor starts it again (its log: ${s.logFile})`)
      system.start(name).then(() => { supervise(name) }, (err: unknown) => { log(`${name} could not be started again: ${(err as Error).message}`) })
    }
    // one that died between being ready and being supervised is restarted too (its 'exit' event is past)
    if (s.process.exitCode !== null || s.process.signalCode !== null) exited(s.process.exitCode, s.process.signalCode)
    else s.process.once('exit', exited)
  }
  for (const name of serviceNames) supervise(name)

  // the services not ready at the last look, with their /readyz answer
  let unready: string[] = []
  async function readyAll (): Promise<boolean> {
    const answers = await Promise.all(serviceNames.map(async name => {
      const s = system.services.get(name)
      if (s === undefined) return `${name}: not running`
      return await fetch(`${s.httpUrl}/readyz`, { signal: AbortSignal.timeout(3000) })
        .then(async r => r.status === 200 ? undefined : `${name}: ${r.status} ${(await r.text()).slice(0, 300)}`, (err: unknown) => `${name}: ${(err as Error).message}`)
    }))
    unready = answers.filter(a => a !== undefined)
    return unready.length === 0
  }

  return {
    system,
    prefix,
    dataDir,
    brokers,
    redisUrl,
    connection,
    expected,
    ledger,
    log,
    supervisorRestarts,
    restart: async (name, signal = 'SIGKILL') => {
      await system.stopService(name, signal)
      const t0 = Date.now()
      await system.start(name)
      supervise(name)
      return Date.now() - t0
    },
    untilAllReady: async timeoutMs => {
      const t0 = Date.now()
      while (!(await readyAll())) {
        if (Date.now() - t0 > timeoutMs) throw new Error(`services not all ready after ${timeoutMs} ms: ${unready.join('; ')}`)
        await new Promise(resolve => setTimeout(resolve, 500))
      }
      return Date.now() - t0
    },
    [Symbol.asyncDispose]: async () => {
      closing = true
      const codes = await system.stop()
      log(`system stopped: ${Object.entries(codes).map(([n, c]) => `${n}=${c}`).join(' ')}`)
      if (process.env.FAULTS_KEEP_DATA !== '1') rmSync(dataDir, { recursive: true, force: true })
    }
  }
}

// ---- the figures ----------------------------------------------------------------

/** Every message of a topic up to its current end (a group of its own, deleted afterwards). */
async function readTopic (connection: Record<string, string>, prefix: string, topic: string): Promise<Array<Buffer | null>> {
  const kafka = createKafka(loadConfig(z.object(kafkaShape), { ...connection, AUTOCAL_KAFKA_TOPIC_PREFIX: prefix }), quiet, 'autocal-faults')
  const admin = kafka.admin()
  await admin.connect()
  const values: Array<Buffer | null> = []
  const groupId = `${prefix}.faults-reader-${randomUUID().slice(0, 6)}`
  try {
    const ends = new Map((await admin.fetchTopicOffsets(topic)).filter(o => BigInt(o.high) > BigInt(o.low)).map(o => [o.partition, BigInt(o.high)]))
    if (ends.size === 0) return []
    const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 200, sessionTimeout: 10_000, maxBytes: 64 << 20 })
    await consumer.connect()
    try {
      await consumer.subscribe({ topics: [topic], fromBeginning: true })
      await new Promise<void>((resolve, reject) => {
        consumer.run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            const end = ends.get(batch.partition)
            if (end === undefined) return
            for (const m of batch.messages) if (BigInt(m.offset) < end) values.push(m.value)
            if (BigInt(batch.lastOffset()) + 1n >= end) ends.delete(batch.partition)
            if (ends.size === 0) resolve()
          }
        }).catch(reject)
      })
    } finally {
      await consumer.disconnect()
    }
    await admin.deleteGroups([groupId]).catch(() => undefined)
  } finally {
    await admin.disconnect()
  }
  return values
}

export interface Figures {
  scenario: string
  faults: string[]
  tasksExpected: number
  tasksDone: number
  tasksLost: string[]
  tasksFailed: string[]
  jobStarts: number
  duplicateStarts: Array<{ job: string, starts: number }>
  iovs: number
  iovsExpected: number
  duplicateIovs: Array<{ iov: string, count: number }>
  missingIovs: string[]
  deadLetters: number
  recoverMs: number[]
  drainMs: number
  supervisorRestarts: string[]
}

/** The latest state of every task key of the prompt campaign (block/task → state), from the tasks topic. */
export async function taskStates (fs: FaultSystem): Promise<Map<string, { state: TaskState, reason: string }>> {
  const latest = new Map<string, { version: bigint, state: TaskState, reason: string }>()
  for (const value of await readTopic(fs.connection, fs.prefix, topicName(topics.tasks, fs.prefix))) {
    if (value === null) continue
    const ev = fromBinary(TaskEventSchema, value)
    if (ev.campaign !== 'prompt') continue
    const key = `${ev.block?.id ?? ''}/${ev.task}`
    const cur = latest.get(key)
    if (cur === undefined || ev.version > cur.version) latest.set(key, { version: ev.version, state: ev.state, reason: ev.reason })
  }
  return new Map([...latest].map(([k, v]) => [k, { state: v.state, reason: v.reason }]))
}

/** "tag@since" of every IOV in the CondDB, with repeats (Python's sqlite3: an independent reader). */
function conddbIovs (file: string): string[] {
  if (!existsSync(file)) return []
  const py = `
import sqlite3, json, sys
db = sqlite3.connect(sys.argv[1])
print(json.dumps(['%s@%d' % (t, s) for t, s in db.execute('SELECT TAG_NAME, SINCE FROM IOV ORDER BY TAG_NAME, SINCE')]))`
  const res = spawnSync('python3', ['-c', py, file], { encoding: 'utf8' })
  assert.equal(res.status, 0, res.stderr)
  return JSON.parse(res.stdout) as string[]
}

function counts (items: string[]): Map<string, number> {
  const m = new Map<string, number>()
  for (const i of items) m.set(i, (m.get(i) ?? 0) + 1)
  return m
}

/**
 * Waits until every expected task is done and every expected IOV written (or the deadline), then gathers the
 * figures. (The IOVs too: the π⁰ buckets' tasks are not among the expected tasks, and with more work on the
 * machine their last uploads came after the expected tasks were done: CI, 2026-11-30.)
 */
export async function settle (fs: FaultSystem, scenario: string, faults: string[], recoverMs: number[], timeoutMs: number): Promise<Figures> {
  const t0 = Date.now()
  const expected = new Set(fs.expected.tasks)
  let states = await taskStates(fs)
  let lastLog = 0
  while (true) {
    const done = [...expected].filter(k => states.get(k)?.state === TaskState.DONE).length
    const written = done === expected.size ? new Set(conddbIovs(join(fs.dataDir, 'conddb.sqlite'))) : new Set<string>()
    if ((done === expected.size && fs.expected.iovs.every(i => written.has(i))) || Date.now() - t0 > timeoutMs) break
    if (Date.now() - lastLog > 15_000) {
      fs.log(`draining: ${done}/${expected.size} expected tasks done`)
      lastLog = Date.now()
    }
    await new Promise(resolve => setTimeout(resolve, 3000))
    states = await taskStates(fs)
  }
  const drainMs = Date.now() - t0
  // what was still on its way when the tasks were done shows now
  await new Promise(resolve => setTimeout(resolve, 3000))
  states = await taskStates(fs)
  const starts = existsSync(fs.ledger) ? readFileSync(fs.ledger, 'utf8').split('\n').filter(l => l !== '').map(l => l.split(' ').slice(0, 4).join(' ')) : []
  const iovs = conddbIovs(join(fs.dataDir, 'conddb.sqlite'))
  const iovCounts = counts(iovs)
  const dlq = await readTopic(fs.connection, fs.prefix, topicName(topics.dlq, fs.prefix))
  return {
    scenario,
    faults,
    tasksExpected: expected.size,
    tasksDone: [...expected].filter(k => states.get(k)?.state === TaskState.DONE).length,
    tasksLost: [...expected].filter(k => states.get(k)?.state !== TaskState.DONE),
    tasksFailed: [...states].filter(([, s]) => s.state === TaskState.FAILED).map(([k, s]) => `${k}: ${s.reason}`),
    jobStarts: starts.length,
    duplicateStarts: [...counts(starts)].filter(([, n]) => n > 1).map(([job, n]) => ({ job, starts: n })),
    iovs: iovs.length,
    iovsExpected: fs.expected.iovs.length,
    duplicateIovs: [...iovCounts].filter(([, n]) => n > 1).map(([iov, count]) => ({ iov, count })),
    missingIovs: fs.expected.iovs.filter(i => !iovCounts.has(i)),
    deadLetters: dlq.length,
    recoverMs,
    drainMs,
    supervisorRestarts: [...fs.supervisorRestarts]
  }
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`

/** Prints the figures of a scenario as a block of lines. */
export function printFigures (f: Figures, log: (line: string) => void): void {
  const sorted = [...f.recoverMs].sort((a, b) => a - b)
  log([
    `figures of scenario "${f.scenario}"`,
    `  faults              ${f.faults.length}: ${f.faults.join(', ')}`,
    `  tasks               expected ${f.tasksExpected}, done ${f.tasksDone}, lost ${f.tasksLost.length}${f.tasksLost.length > 0 ? ` (${f.tasksLost.slice(0, 5).join(', ')}${f.tasksLost.length > 5 ? ', …' : ''})` : ''}, failed ${f.tasksFailed.length}`,
    `  job starts          ${f.jobStarts} per (task, attempt, job, try); duplicates ${f.duplicateStarts.length}${f.duplicateStarts.length > 0 ? ` (${f.duplicateStarts.slice(0, 5).map(d => `${d.job} ×${d.starts}`).join(', ')})` : ''}`,
    `  IOVs                ${f.iovs} per (tag, since), expected ${f.iovsExpected}; duplicates ${f.duplicateIovs.length}${f.duplicateIovs.length > 0 ? ` (${f.duplicateIovs.slice(0, 5).map(d => `${d.iov} ×${d.count}`).join(', ')})` : ''}; missing ${f.missingIovs.length}${f.missingIovs.length > 0 ? ` (${f.missingIovs.slice(0, 5).join(', ')})` : ''}`,
    `  DLQ entries         ${f.deadLetters}`,
    `  supervisor restarts ${f.supervisorRestarts.length}${f.supervisorRestarts.length > 0 ? ` (${f.supervisorRestarts.join(', ')})` : ''}`,
    `  time to recover     ${sorted.length === 0 ? '-' : `median ${seconds(sorted[Math.floor(sorted.length / 2)] ?? 0)}, max ${seconds(sorted.at(-1) ?? 0)} (until every service is ready again)`}; drain after the last fault ${seconds(f.drainMs)}`
  ].join('\n'))
}

/** The suite's promise: nothing lost, nothing started twice, no IOV twice, nothing dead-lettered. */
/**
 * The promise every scenario asserts. A service that exited on its own (the
 * supervisor restarted it) fails the scenario unless `restartsAllowed`: only
 * a broker outage may make a consumer fail for good (it then exits 1 and is
 * restarted, as designed); anywhere else such an exit is a crash.
 */
export function assertFigures (f: Figures, options: { restartsAllowed?: boolean } = {}): void {
  if (options.restartsAllowed !== true) assert.deepEqual(f.supervisorRestarts, [], 'no service exited on its own (a crash)')
  assert.deepEqual(f.tasksLost, [], 'no task lost')
  assert.ok(f.jobStarts > 0, 'the job-start probe counted starts (one that counts none would hide every duplicate)')
  assert.deepEqual(f.duplicateStarts, [], 'no job started twice')
  assert.deepEqual(f.duplicateIovs, [], 'no IOV written twice')
  assert.equal(f.deadLetters, 0, 'no dead letter')
  assert.deepEqual(f.missingIovs, [], 'every expected IOV written')
  assert.deepEqual(f.tasksFailed, [], 'no task failed')
}
