// `pnpm bench`: autocal's figures on the real local broker, printed as a
// table and written to test/bench/RESULTS.md. Not part of the tests.
//
//   1. the ceiling: raw kafkajs produce → consume of messages of the sizes
//      autocal's own messages have, on the same broker, in the same run;
//   2. end-to-end throughput: tasks completed per second through all five
//      services (a no-op job `true` per task), for 1, 10 and 50 workflows and
//      1,000 and 10,000 runs, each within a time budget (what it completed in
//      the budget is reported with the rate), and the ratio to the ceiling;
//   3. latency: run ended → job requested and run ended → condition uploaded,
//      p50/p95/p99, at low load (runs arriving about one a second) and at
//      high load (all runs at once);
//   4. peak RSS of each service.
//
// It connects as the tests do: the connection keys of the environment
// (AUTOCAL_KAFKA_*, AUTOCAL_REDIS_*), or else the local servers' client.env
// (secure servers: SASL_SSL Kafka, TLS + ACL Redis), or else plain 127.0.0.1.
//
// Options (env): BENCH_BUDGET_S (default 120: the 10,000-run goal is every job request within 2 min), BENCH_ONLY=ceiling|throughput|latency,
// BENCH_CASES=1x1000,10x1000 (throughput cases as workflows x runs; default all six),
// BENCH_PROFILE=task-dispatcher (writes a CPU profile of that service),
// BENCH_LATENCY_ROWS=shipped,low,high (which latency rows; default all three).
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'
import { create, fromBinary, toBinary } from '@bufbuild/protobuf'
import { timestampFromDate } from '@bufbuild/protobuf/wkt'
import { existsSync } from 'node:fs'
import { z } from 'zod'
import { ConditionEventSchema, JobRequestSchema, JobState, RunEventSchema, TaskEventSchema, TaskState, BlockKind, JobStatusSchema, JobPhase, Outcome, topicName, topics } from '@autocal/contracts'
import { createKafka, createLogger, kafkaShape, loadConfig, waitForTopics } from '@autocal/runtime'
import type { EachBatchPayload, Kafka } from 'kafkajs'
import { repoRoot, startSystem, type ServiceName, type System } from '../../deploy/local/system.ts'
import { writeGeneratedRealdata } from '../../deploy/local/run-generator.ts'
import { measureCeiling, type CeilingResult } from './kafka-ceiling.ts'

// the local servers' connection (client.env of secure servers) unless the environment names one
const clientEnv = join(process.env.AUTOCAL_STATE_DIR ?? join(repoRoot, '.autocal'), 'client.env')
if (process.env.AUTOCAL_KAFKA_BROKERS === undefined && existsSync(clientEnv)) process.loadEnvFile(clientEnv)
const kafkaConfig = loadConfig(z.object(kafkaShape), process.env)
const benchKafka = (): Kafka => createKafka(kafkaConfig, createLogger({ service: 'bench', level: 'error' }), 'autocal-bench')
const budgetS = Number(process.env.BENCH_BUDGET_S ?? 120)
const only = process.env.BENCH_ONLY

/** Encoded sizes of typical autocal messages, for the ceiling. */
function messageSizes (): number[] {
  const provenance = { subsystem: 'ECAL', campaign: 'prompt', workflow: 'timing', blockId: 'run-355100', task: 'timing-reco', taskAttempt: 1, inputRuns: [355100] }
  const run = create(RunEventSchema, { run: 355100, contentHash: 'a'.repeat(32), source: 'replay', change: { case: 'ended', value: { run: { run: 355100, fill: 7920, era: 'Run2022C', startTime: timestampFromDate(new Date()), endTime: timestampFromDate(new Date()), recordedLumiPb: 12.5, deliveredLumiPb: 13, runClass: 'collisions2022', global: true, hltKey: '/cdaq/physics/Run2022/2e34/v1.4.1/HLT/V2', durationS: 3600 } } } })
  const job = create(JobRequestSchema, { jobId: 'prompt/run-355100/timing-reco/1/0', try: 1, provenance, action: { case: 'start', value: { argv: ['python3', '/x/process_block.py', '--step', 'timing-reco', '--runs', '355100', '--job', '0', '--njobs', '4', '--out', '/data/jobs/prompt/run-355100/timing-reco/a1/j0'], backend: 'local', outdir: '/data/jobs/prompt/run-355100/timing-reco/a1/j0', njobs: 4, timeoutS: 7200 } } })
  const status = create(JobStatusSchema, { jobId: 'prompt/run-355100/timing-reco/1/0', try: 1, provenance, phase: JobPhase.DONE, exitCode: 0, outputs: [{ path: '/data/jobs/x/timing.root', sizeBytes: 1234n, sha256: 'f'.repeat(64) }], logUrl: 'http://127.0.0.1:8083/jobs/x/log?try=1', backend: 'local', backendId: '12345', executor: 'host-1' })
  const task = create(TaskEventSchema, { subsystem: 'ECAL', campaign: 'prompt', workflow: 'timing', task: 'timing-reco', block: { id: 'run-355100', kind: BlockKind.RUN, runs: [355100], era: 'Run2022C' }, state: TaskState.DONE, attempt: 1, version: 5n, reason: 'all 4 jobs done', jobs: [0, 1, 2, 3].map(index => ({ index, state: JobState.DONE, try: 1 })) })
  const sizes = [toBinary(RunEventSchema, run).length, toBinary(JobRequestSchema, job).length, toBinary(JobStatusSchema, status).length, toBinary(TaskEventSchema, task).length]
  return [Math.min(...sizes), Math.max(...sizes)]
}

function benchWorkflows (dir: string, count: number, withCondition: boolean): void {
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  for (let i = 0; i < count; i++) {
    const lines = [
      'subsystem: BENCH',
      `workflow: noop-${String(i).padStart(2, '0')}`,
      'campaigns: [prompt]',
      'tasks:',
      `  - name: noop-${String(i).padStart(2, '0')}`,
      '    block: run',
      '    run: ["true"]'
    ]
    if (withCondition) {
      lines.push(
        `  - name: payload-${String(i).padStart(2, '0')}`,
        `    needs: [noop-${String(i).padStart(2, '0')}]`,
        `    run: [python3, "${join(repoRoot, 'deploy/workflows/scripts/write_payload.py')}", --object-type, BenchCalib, --tag, Bench_calib, --since, "{run}", --out, "{outdir}/bench.db"]`,
        '    condition: { tag: Bench_v1_offline, record: BenchRcd, sync: offline }')
    }
    writeFileSync(join(dir, `bench-${i}.yaml`), lines.join('\n') + '\n')
  }
}

interface Watch {
  doneTasks: number
  firstDoneAt: number
  lastDoneAt: number
  /** Task events seen (each is one transition the dispatcher published). */
  transitions: number
  /** Job requests (start) seen, and when the last one was published (ms since epoch). */
  jobRequests: number
  lastJobRequestAt: number
  /** Job statuses seen: what the dispatcher has to handle; `spawned` counts RUNNING ones (a process the backend started). */
  jobStatuses: number
  spawned: number
  firstStatusAt: number
  lastStatusAt: number
  runEndedAt: Map<number, number>
  jobRequestedAt: Map<string, number>
  uploadedAt: Map<string, number>
  stop: () => Promise<void>
}

/** Follows the system's topics: completed tasks, transitions, job requests and statuses, and the times the latencies are measured between. */
async function watchTopics (prefix: string): Promise<Watch> {
  const kafka = benchKafka()
  const consumer = kafka.consumer({ groupId: `${prefix}.bench-watch`, maxWaitTimeInMs: 100 })
  await consumer.connect()
  const watched = [topics.tasks, topics.runs, topics.jobRequests, topics.jobStatus, topics.conditions]
  const names = {
    tasks: topicName(topics.tasks, prefix),
    runs: topicName(topics.runs, prefix),
    jobs: topicName(topics.jobRequests, prefix),
    statuses: topicName(topics.jobStatus, prefix),
    conditions: topicName(topics.conditions, prefix)
  }
  const admin = kafka.admin()
  await admin.connect()
  const existing = new Set(await admin.listTopics())
  const missing = watched.filter(t => !existing.has(topicName(t, prefix)))
  if (missing.length > 0) {
    // kafkajs' own wait for leaders can throw UNKNOWN_TOPIC_OR_PARTITION outside the returned promise (seen right after creation, killing the bench): waitForTopics below waits instead
    await admin.createTopics({ waitForLeaders: false, topics: missing.map(t => ({ topic: topicName(t, prefix), numPartitions: t.settings.partitions, configEntries: Object.entries(t.settings.configs).map(([name, value]) => ({ name, value })) })) }).catch(() => {})
  }
  // a freshly created topic may not be usable at once (UNKNOWN_TOPIC_OR_PARTITION): wait until every partition has a leader
  await waitForTopics(admin, watched.map(t => ({ name: topicName(t, prefix), partitions: t.settings.partitions })), 60_000)
  await admin.disconnect()
  await consumer.subscribe({ topics: Object.values(names), fromBeginning: true })
  const done = new Set<string>()
  const w: Watch = { doneTasks: 0, firstDoneAt: 0, lastDoneAt: 0, transitions: 0, jobRequests: 0, lastJobRequestAt: 0, jobStatuses: 0, spawned: 0, firstStatusAt: 0, lastStatusAt: 0, runEndedAt: new Map(), jobRequestedAt: new Map(), uploadedAt: new Map(), stop: async () => { await consumer.disconnect() } }
  const time = (m: EachBatchPayload['batch']['messages'][number]): number => Date.parse(m.headers?.ce_time?.toString() ?? '') || Number(m.timestamp)
  await consumer.run({
    partitionsConsumedConcurrently: 6,
    eachBatch: async ({ batch }) => {
      for (const m of batch.messages) {
        if (m.value === null) continue
        if (batch.topic === names.tasks) {
          w.transitions++
          const e = fromBinary(TaskEventSchema, m.value)
          const key = `${e.campaign}/${e.block?.id}/${e.task}/${e.attempt}`
          if (e.state === TaskState.DONE && !done.has(key)) {
            done.add(key)
            w.doneTasks++
            const at = time(m)
            if (w.firstDoneAt === 0) w.firstDoneAt = at
            w.lastDoneAt = Math.max(w.lastDoneAt, at)
          }
        } else if (batch.topic === names.runs) {
          const e = fromBinary(RunEventSchema, m.value)
          if (e.change.case === 'ended' && !w.runEndedAt.has(e.run)) w.runEndedAt.set(e.run, time(m))
        } else if (batch.topic === names.jobs) {
          const r = fromBinary(JobRequestSchema, m.value)
          const block = r.provenance?.blockId ?? ''
          if (r.action.case !== 'start') continue
          w.jobRequests++
          const at = time(m)
          w.lastJobRequestAt = Math.max(w.lastJobRequestAt, at)
          if (!w.jobRequestedAt.has(block)) w.jobRequestedAt.set(block, at)
        } else if (batch.topic === names.statuses) {
          const s = fromBinary(JobStatusSchema, m.value)
          w.jobStatuses++
          if (s.phase === JobPhase.RUNNING) w.spawned++
          const at = time(m)
          if (w.firstStatusAt === 0 || at < w.firstStatusAt) w.firstStatusAt = at
          w.lastStatusAt = Math.max(w.lastStatusAt, at)
        } else if (batch.topic === names.conditions) {
          const e = fromBinary(ConditionEventSchema, m.value)
          const run = String(e.provenance?.inputRuns[0] ?? '')
          if (e.outcome === Outcome.UPLOADED && !w.uploadedAt.has(run)) w.uploadedAt.set(run, time(m))
        }
      }
    }
  })
  return w
}

function rss (system: System): Record<string, number> {
  const out: Record<string, number> = {}
  for (const s of system.services.values()) {
    try {
      const status = readFileSync(`/proc/${s.process.pid}/status`, 'utf8')
      out[s.name] = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024
    } catch {
      out[s.name] = 0
    }
  }
  return out
}

/** Each service's V8 heap used and total and its external memory (Buffers), in MiB, from its /metrics (prom-client's default metrics). */
async function memoryUse (system: System): Promise<string[]> {
  const out: string[] = []
  for (const s of system.services.values()) {
    try {
      const text = await (await fetch(`${s.httpUrl}/metrics`)).text()
      const mib = (name: string): string => (Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)`, 'm').exec(text)?.[1] ?? Number.NaN) / 2 ** 20).toFixed(0)
      out.push(`${s.name} ${mib('nodejs_heap_size_used_bytes')} / ${mib('nodejs_heap_size_total_bytes')} / ${mib('nodejs_external_memory_bytes')}`)
    } catch {
      out.push(`${s.name} –`)
    }
  }
  return out
}

/** CPU seconds (user + system) each service has used so far, from /proc. */
function cpuSeconds (system: System): Record<string, number> {
  const out: Record<string, number> = {}
  for (const s of system.services.values()) {
    try {
      const fields = readFileSync(`/proc/${s.process.pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
      out[s.name] = (Number(fields[11]) + Number(fields[12])) / 100
    } catch {
      out[s.name] = 0
    }
  }
  return out
}

interface Run {
  workflows: number
  runs: number
  tasks: number
  completed: number
  seconds: number
  tasksPerSecond: number
  rssMb: Record<string, number>
  /** CPU seconds (user + system) of each service's own process over the case; the jobs' processes are not in it. */
  cpuS: Record<string, number>
  /** The five services' CPU per completed task, in ms: the framework's cost, without the jobs. */
  cpuMsPerTask: number
  /** From the first run ended to the last job request published, in s (NaN when no request was seen). */
  requestsIssuedS: number
  /** Job requests (start) seen. */
  jobRequestsSeen: number
  /** Job statuses on the topic per second, from the first to the last one (what the dispatcher handles). */
  statusesPerSecond: number
  /** Task transitions (task events) per second over the case. */
  transitionsPerSecond: number
  /** Job processes started (RUNNING statuses) per second: the job backend's work, not the framework's. */
  spawnsPerSecond: number
  finished: boolean
}

/** The bench's own settle and tick (a faster grouping than the shipped defaults); `shipped` runs on the services' defaults instead. */
const benchTiming = { AUTOCAL_RUN_SETTLE_MS: '500', AUTOCAL_DISPATCH_TICK_MS: '200' }

async function runSystem (options: { workflows: number, runs: number, withCondition: boolean, scale: number, budgetS: number, shipped?: boolean }): Promise<{ result: Run, watch: Watch, readyAt: number }> {
  const prefix = `bench-${randomUUID().slice(0, 8)}`
  const dir = mkdtempSync(join(tmpdir(), 'autocal-bench-'))
  chmodSync(dir, 0o711) // the executor's job user (nobody, when it runs as root) must reach data/jobs below it
  const workflowsDir = join(dir, 'workflows')
  benchWorkflows(workflowsDir, options.workflows, options.withCondition)
  const { csv } = writeGeneratedRealdata(join(dir, 'runs'), { runs: options.runs, collisionFraction: 1 })
  const watch = await watchTopics(prefix)
  const tasks = options.workflows * options.runs * (options.withCondition ? 2 : 1)
  // the replay starts as soon as the run-watcher is up, before the other services may be ready: the clock starts here
  const started = Date.now()
  const system = await startSystem({
    prefix,
    dataDir: join(dir, 'data'),
    basePort: 30_000 + Math.floor(Math.random() * 90) * 100,
    workflowsDir,
    env: { AUTOCAL_LOG_LEVEL: 'warn', ...(options.shipped === true ? {} : benchTiming) },
    serviceEnv: {
      'run-watcher': { AUTOCAL_REPLAY_FILE: csv, AUTOCAL_REPLAY_SCALE: String(options.scale), AUTOCAL_REPLAY_T0_STREAMS: 'none' },
      'job-executor': { AUTOCAL_EXECUTOR_SLOTS: '8' },
      // BENCH_PROFILE=<service>: a V8 CPU profile of that service, in BENCH_PROFILE_DIR (default /tmp/autocal-profiles)
      ...(process.env.BENCH_PROFILE === undefined ? {} : { [process.env.BENCH_PROFILE as ServiceName]: { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${process.env.BENCH_PROFILE_DIR ?? '/tmp/autocal-profiles'}` } })
    }
  })
  // every service answered /readyz: runs that ended before this waited for a service's start-up, not for its work
  const readyAt = Date.now()
  const deadline = started + options.budgetS * 1000
  let peak: Record<string, number> = rss(system)
  let tick = 0
  while (watch.doneTasks < tasks && Date.now() < deadline) {
    await new Promise(resolve => setTimeout(resolve, 1000))
    peak = rss(system)
    if (++tick % 10 === 0) console.error(`  … ${Math.round((Date.now() - started) / 1000)} s: runs ended ${watch.runEndedAt.size}, blocks requested ${watch.jobRequestedAt.size}, job statuses ${watch.jobStatuses} (processes started ${watch.spawned}), tasks done ${watch.doneTasks}/${tasks}`)
  }
  const seconds = (Date.now() - started) / 1000
  peak = rss(system)
  const cpuS = cpuSeconds(system)
  console.error(`  memory at the end (MiB, heap used / heap total / external incl. buffers): ${(await memoryUse(system)).join(', ')}`)
  console.error(`  CPU seconds in ${Math.round(seconds)} s: ${Object.entries(cpuS).map(([name, cpu]) => `${name} ${cpu.toFixed(1)}`).join(', ')}`)
  await system.stop()
  await watch.stop()
  if (process.env.BENCH_KEEP === undefined) rmSync(dir, { recursive: true, force: true })
  else console.error(`  kept ${dir}`)
  const completed = watch.doneTasks
  const firstEnded = Math.min(...watch.runEndedAt.values())
  const statusSpan = (watch.lastStatusAt - watch.firstStatusAt) / 1000
  // rates run from the first run ended (the services' start-up is not in them) to the last task done
  const span = Math.max(0.001, (watch.lastDoneAt - (Number.isFinite(firstEnded) ? firstEnded : started)) / 1000)
  return {
    watch,
    readyAt,
    result: {
      workflows: options.workflows,
      runs: options.runs,
      tasks,
      completed,
      seconds,
      tasksPerSecond: completed / span,
      rssMb: peak,
      cpuS,
      cpuMsPerTask: Object.values(cpuS).reduce((a, b) => a + b, 0) * 1000 / Math.max(1, completed),
      jobRequestsSeen: watch.jobRequests,
      requestsIssuedS: watch.lastJobRequestAt > 0 && Number.isFinite(firstEnded) ? (watch.lastJobRequestAt - firstEnded) / 1000 : Number.NaN,
      statusesPerSecond: statusSpan > 0 ? watch.jobStatuses / statusSpan : Number.NaN,
      transitionsPerSecond: watch.transitions / span,
      spawnsPerSecond: watch.spawned / span,
      finished: completed >= tasks
    }
  }
}

function percentiles (values: number[]): { p50: number, p95: number, p99: number, max: number, n: number } {
  const v = [...values].sort((a, b) => a - b)
  const at = (q: number): number => v.length === 0 ? Number.NaN : v[Math.min(v.length - 1, Math.floor(q * v.length))]!
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99), max: v.at(-1) ?? Number.NaN, n: v.length }
}

/** Latencies of the runs that ended at or after `fromMs` (ms since epoch; earlier ones waited for the services' start-up). */
function latencies (watch: Watch, fromMs: number): { dispatch: number[], upload: number[] } {
  const dispatch: number[] = []
  const upload: number[] = []
  for (const [run, ended] of watch.runEndedAt) {
    if (ended < fromMs) continue
    const requested = watch.jobRequestedAt.get(`run-${run}`)
    if (requested !== undefined) dispatch.push((requested - ended) / 1000)
    const uploaded = watch.uploadedAt.get(String(run))
    if (uploaded !== undefined) upload.push((uploaded - ended) / 1000)
  }
  return { dispatch, upload }
}

const fmt = (n: number, d = 1): string => Number.isFinite(n) ? n.toFixed(d) : '–'

async function main (): Promise<void> {
  const lines: string[] = []
  const say = (line = ''): void => { console.log(line); lines.push(line) }
  say('# autocal benchmark')
  say()
  say(`Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; Node ${process.version}; Kafka 4.1.1 single node (KRaft) and Redis on 127.0.0.1; ${new Date().toISOString()}.`)
  say()

  let ceiling: CeilingResult[] = []
  if (only === undefined || only === 'ceiling' || only === 'throughput') {
    const sizes = messageSizes()
    ceiling = []
    for (const size of sizes) ceiling.push(await measureCeiling(benchKafka(), size, 50_000))
    say('## Ceiling: raw kafkajs produce → consume (same broker)')
    say()
    say('| message size (bytes) | messages | produce (s) | end to end (s) | messages/s |')
    say('|---:|---:|---:|---:|---:|')
    for (const c of ceiling) say(`| ${c.sizeBytes} | ${c.messages} | ${fmt(c.produceSeconds, 2)} | ${fmt(c.endToEndSeconds, 2)} | ${fmt(c.messagesPerSecond, 0)} |`)
    say()
  }

  const rssRows: Array<[string, Record<string, number>]> = []
  if (only === undefined || only === 'throughput') {
    const best = Math.min(...ceiling.map(c => c.messagesPerSecond))
    say(`## End-to-end throughput (no-op job per task, within ${budgetS} s each)`)
    say()
    say('A task costs about 8 messages (run event, task transitions ×3, job request, job status ×3), so the ratio compares tasks/s × 8 with the ceiling\'s messages/s.')
    say()
    say('Framework = what autocal does (transitions, job requests, statuses handled); backend = the job processes the local backend spawned. CPU per task sums the five services\' own processes (their start-up included), without the jobs.')
    say()
    say('| workflows | runs | tasks | completed | tasks/s | messages/s (≈8/task) | ratio to ceiling | job requests all issued after (s) | statuses/s | transitions/s | backend spawns/s | framework CPU per task (ms) |')
    say('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
    const cases = (process.env.BENCH_CASES ?? '1x1000,10x1000,50x1000,1x10000,10x10000,50x10000').split(',').map(c => c.split('x').map(Number) as [number, number])
    for (const [workflows, runs] of cases) {
      const { result } = await runSystem({ workflows, runs, withCondition: false, scale: 0, budgetS })
      rssRows.push([`${workflows} wf × ${runs} runs`, result.rssMb])
      const issued = result.jobRequestsSeen >= result.tasks ? fmt(result.requestsIssuedS) : `${result.jobRequestsSeen} of ${result.tasks} issued`
      say(`| ${workflows} | ${runs} | ${result.tasks} | ${result.completed}${result.finished ? '' : ` (budget ${budgetS} s)`} | ${fmt(result.tasksPerSecond)} | ${fmt(result.tasksPerSecond * 8, 0)} | ${fmt((result.tasksPerSecond * 8) / best * 100, 1)} % | ${issued} | ${fmt(result.statusesPerSecond, 0)} | ${fmt(result.transitionsPerSecond, 0)} | ${fmt(result.spawnsPerSecond, 0)} | ${fmt(result.cpuMsPerTask, 2)} |`)
    }
    say()
  }

  if (only === undefined || only === 'latency') {
    say('## Latency (1 workflow: a no-op task, then a payload task whose CondDB payload is uploaded)')
    say()
    say(`The services run on their shipped defaults in the first row; the others use the bench's settle ${benchTiming.AUTOCAL_RUN_SETTLE_MS} ms and tick ${benchTiming.AUTOCAL_DISPATCH_TICK_MS} ms. At ≈ 1 run/s only the runs that ended once every service was ready count (n); the first runs of the replay wait for the services' start-up. With n ≥ 100 the p99 is not simply the slowest run (the first one after a start, whose code is not yet compiled), which max shows.`)
    say()
    say('| load | runs | run ended → job requested p50 / p95 / p99 / max (s) | run ended → condition uploaded p50 / p95 / p99 / max (s) |')
    say('|---|---:|---|---|')
    // generated runs are ~2 h apart: 7200x brings about one run a second
    // the shipped defaults (settle, planner tick) at a prompt rate: what an operator gets; then the bench's faster timing
    const rows = new Set((process.env.BENCH_LATENCY_ROWS ?? 'shipped,low,high').split(','))
    for (const [row, load, runs, scale, shipped] of [['shipped', 'prompt rate, shipped defaults (≈1 run/s)', 150, 7200, true], ['low', 'low (≈1 run/s)', 120, 7200, false], ['high', 'high (all at once)', 500, 0, false]] as const) {
      if (!rows.has(row)) continue
      const { watch, result, readyAt } = await runSystem({ workflows: 1, runs, withCondition: true, scale, shipped, budgetS: Math.max(budgetS, 240) })
      rssRows.push([`latency ${load}`, result.rssMb])
      // at ≈ 1 run/s the replay starts with the run-watcher, before the other services are ready: those first runs measure start-up
      const l = latencies(watch, scale === 0 ? 0 : readyAt)
      const d = percentiles(l.dispatch)
      const slowest = [...watch.runEndedAt].filter(([, ended]) => scale === 0 || ended >= readyAt).map(([run, ended]) => [run, ((watch.jobRequestedAt.get(`run-${run}`) ?? Number.NaN) - ended) / 1000] as const).sort((a, b) => b[1] - a[1]).slice(0, 5)
      console.error(`  slowest run ended → job requested: ${slowest.map(([run, s]) => `${run} ${fmt(s, 2)} s`).join(', ')}`)
      const u = percentiles(l.upload)
      say(`| ${load} | ${runs} | ${fmt(d.p50, 2)} / ${fmt(d.p95, 2)} / ${fmt(d.p99, 2)} / ${fmt(d.max, 2)} (n=${d.n}) | ${fmt(u.p50, 2)} / ${fmt(u.p95, 2)} / ${fmt(u.p99, 2)} / ${fmt(u.max, 2)} (n=${u.n}) |`)
    }
    say()
  }

  if (rssRows.length > 0) {
    say('## Peak RSS per service (MiB, VmHWM)')
    say()
    say('| run | run-watcher | task-dispatcher | job-executor | condition-uploader | metrics |')
    say('|---|---:|---:|---:|---:|---:|')
    for (const [name, r] of rssRows) say(`| ${name} | ${fmt(r['run-watcher'] ?? 0, 0)} | ${fmt(r['task-dispatcher'] ?? 0, 0)} | ${fmt(r['job-executor'] ?? 0, 0)} | ${fmt(r['condition-uploader'] ?? 0, 0)} | ${fmt(r.metrics ?? 0, 0)} |`)
    say()
  }
  const file = join(repoRoot, 'test', 'bench', 'RESULTS.md')
  writeFileSync(file, lines.join('\n') + '\n')
  console.log(`written to ${file}`)
  process.exit(0)
}

await main()
