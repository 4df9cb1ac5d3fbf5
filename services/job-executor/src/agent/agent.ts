// The autocal-agent: keeps one stream to the executor (reconnecting with
// backoff), runs the jobs it is assigned with the local backend (process
// groups, exit files, outputs manifest) or, with AUTOCAL_AGENT_BACKEND=htcondor,
// submits them to the HTCondor schedd of its host and polls their state
// (an lxplus-like submit host: nothing there reaches Kafka or Redis), streams their state and log text,
// and sends heartbeats. Its jobs are kept in a state file, so that after a
// reconnect, or a restart of the agent itself, it re-registers the jobs it
// still has: the executor re-attaches them, or tells it to stop them when
// they were given to another agent meanwhile.
import { setTimeout as delay } from 'node:timers/promises'
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { dirname, join } from 'node:path'
import { create, fromBinary, toBinary, type MessageInitShape } from '@bufbuild/protobuf'
import { AgentService, AgentServiceConnectRequestSchema, JobPhase, JobRequestSchema, JobStatusSchema, type AgentServiceConnectResponse, type JobRequest } from '@autocal/contracts'
import { createGrpcClient, grpc, policies, retryDelay, type Logger } from '@autocal/runtime'
import { baseEnvironment, fileSafe, jobEnvironment } from '../domain/job-environment.ts'
import { concludeProcess, groupAlive, killGroup, readExitFile, readOutputs, startProcess } from '../adapters/local-process.ts'
import { createCondorBackend } from '../adapters/htcondor.ts'
import { batchEnd } from '../domain/batch-state.ts'
import { condorJobOf } from '../domain/condor-submit.ts'
import { imageAllowed } from '../domain/request-check.ts'
import { prepareJobTree, resolveJobUser } from '../adapters/job-user.ts'
import type { AgentConfig } from './config.ts'

interface AgentJob {
  key: string
  jobId: string
  try: number
  /** JobRequest, base64 protobuf. */
  request: string
  outdir: string
  logFile: string
  exitFile: string
  pid?: number
  startedAtMs?: number
  deadlineMs: number
  /** Bytes of the log already sent. */
  sentOffset: number
  cancelled?: string
  timedOut?: boolean
  /** Final JobStatus (base64 protobuf) not yet delivered. */
  final?: string
  /** htcondor backend: the schedd's id ("cluster.proc") once submitted. */
  condorId?: string
  /** htcondor backend: when the submission began (a restart looks the job up before submitting again). */
  submittingAtMs?: number
  /** htcondor backend: RUNNING was sent. */
  runningSent?: boolean
}

type ConnectInit = MessageInitShape<typeof AgentServiceConnectRequestSchema>['message']

export async function startAgent (config: AgentConfig, logger: Logger): Promise<AsyncDisposable & { jobs: () => string[] }> {
  const log = logger.child({ component: 'agent', agent: config.AUTOCAL_AGENT_ID })
  const home = join(config.AUTOCAL_DATA_DIR, 'agent', fileSafe(config.AUTOCAL_AGENT_ID))
  const stateFile = join(home, 'jobs.json')
  mkdirSync(home, { recursive: true })
  const jobs = new Map<string, AgentJob>()
  if (existsSync(stateFile)) for (const j of JSON.parse(readFileSync(stateFile, 'utf8')) as AgentJob[]) jobs.set(j.key, j)
  // allow-listed basics only: never the agent's token or other AUTOCAL_* keys
  const baseEnv = baseEnvironment(config.AUTOCAL_AGENT_JOB_ENV, process.env)
  const jobUser = resolveJobUser(config.AUTOCAL_AGENT_JOB_USER, 'AUTOCAL_AGENT_JOB_USER')
  if (jobUser !== undefined) prepareJobTree(jobUser, config.AUTOCAL_DATA_DIR, [join(home, 'jobs'), join(home, 'run')])
  else log.warn('the agent does not run as root: jobs run as its own user and can read its environment (its token)')
  const state = { stopped: false }
  // aborted on dispose: a reconnect backoff or a watch wait ends at once
  const stopping = new AbortController()
  const sleep = async (ms: number): Promise<void> => { await delay(ms, undefined, { signal: stopping.signal }).catch(() => {}) }
  const timers = new Map<string, NodeJS.Timeout>()
  const condor = config.AUTOCAL_AGENT_BACKEND === 'htcondor' ? createCondorBackend({ binDir: config.AUTOCAL_AGENT_CONDOR_BIN_DIR }) : undefined
  const backendName = condor === undefined ? 'local' : 'htcondor'

  function persist (): void {
    writeFileSync(`${stateFile}.tmp`, JSON.stringify([...jobs.values()]))
    renameSync(`${stateFile}.tmp`, stateFile)
  }

  // TLS unless explicitly insecure (the config refuses half a TLS setup)
  const credentials = config.AUTOCAL_AGENT_TLS_CA_FILE === undefined
    ? undefined
    : grpc.credentials.createSsl(
      config.AUTOCAL_AGENT_TLS_CA_FILE === 'system' ? null : readFileSync(config.AUTOCAL_AGENT_TLS_CA_FILE),
      config.AUTOCAL_AGENT_TLS_KEY_FILE === undefined ? null : readFileSync(config.AUTOCAL_AGENT_TLS_KEY_FILE),
      config.AUTOCAL_AGENT_TLS_CERT_FILE === undefined ? null : readFileSync(config.AUTOCAL_AGENT_TLS_CERT_FILE))
  if (credentials === undefined) log.warn('dialling the executor without TLS (AUTOCAL_AGENT_INSECURE=true): the token travels in clear text')
  const token = config.AUTOCAL_AGENT_TOKEN ?? readFileSync(config.AUTOCAL_AGENT_TOKEN_FILE!, 'utf8').trim()
  const client = createGrpcClient(AgentService, config.AUTOCAL_AGENT_EXECUTOR, { token, ...(credentials === undefined ? {} : { credentials }) })

  // the current stream, once registered
  let stream: ReturnType<typeof client.connect> | undefined
  let registered = false
  const send = (message: ConnectInit): boolean => {
    if (stream === undefined || !registered || stream.destroyed || stream.writableEnded) return false
    stream.write(create(AgentServiceConnectRequestSchema, { message } as MessageInitShape<typeof AgentServiceConnectRequestSchema>))
    return true
  }

  function flushLog (job: AgentJob, all: boolean): void {
    if (!existsSync(job.logFile)) return
    const size = statSync(job.logFile).size
    if (size <= job.sentOffset) return
    const buffer = Buffer.alloc(size - job.sentOffset)
    const fd = openSync(job.logFile, 'r')
    try { readSync(fd, buffer, 0, buffer.length, job.sentOffset) } finally { closeSync(fd) }
    // whole lines only, unless the job ended
    const end = all ? buffer.length : buffer.lastIndexOf(0x0a) + 1
    if (end <= 0) return
    if (send({ case: 'logLines', value: { jobId: job.jobId, try: job.try, text: buffer.subarray(0, end).toString('utf8') } })) job.sentOffset += end
  }

  function deliverFinal (job: AgentJob): void {
    if (job.final === undefined) return
    flushLog(job, true)
    if (send({ case: 'jobUpdate', value: { status: fromBinary(JobStatusSchema, Buffer.from(job.final, 'base64')) } })) {
      jobs.delete(job.key)
      persist()
    }
  }

  const finishing = new Set<string>()
  async function finish (job: AgentJob): Promise<void> {
    if (finishing.has(job.key) || job.final !== undefined) return
    finishing.add(job.key)
    try {
      clearTimeout(timers.get(job.key))
      const request = fromBinary(JobRequestSchema, Buffer.from(job.request, 'base64'))
      const start = request.action.case === 'start' ? request.action.value : undefined
      const end = await concludeProcess({ pid: job.pid!, exitFile: job.exitFile, outdir: job.outdir, killGraceMs: config.AUTOCAL_AGENT_KILL_GRACE_MS, timedOut: job.timedOut === true, timeoutS: start?.timeoutS ?? 0, cancelled: job.cancelled })
      const status = create(JobStatusSchema, {
        jobId: job.jobId,
        try: job.try,
        phase: end.phase === 'done' ? JobPhase.DONE : JobPhase.FAILED,
        ...(end.exitCode === undefined ? {} : { exitCode: end.exitCode }),
        signal: end.signal,
        reason: end.reason,
        retryable: end.retryable,
        durationMs: BigInt(Date.now() - (job.startedAtMs ?? Date.now())),
        outputs: end.outputs,
        results: end.results,
        backend: 'local',
        backendId: String(job.pid)
      })
      job.final = Buffer.from(toBinary(JobStatusSchema, status)).toString('base64')
      persist()
      log.info({ job: job.jobId, try: job.try, outcome: end.phase, reason: end.reason }, 'job finished')
      deliverFinal(job)
    } finally {
      finishing.delete(job.key)
    }
  }

  function armTimeout (job: AgentJob): void {
    if (job.deadlineMs <= 0) return
    timers.set(job.key, setTimeout(() => {
      job.timedOut = true
      persist()
      log.warn({ job: job.jobId, try: job.try }, 'job timed out; killing its process group')
      void killGroup(job.pid!, config.AUTOCAL_AGENT_KILL_GRACE_MS)
    }, Math.max(0, job.deadlineMs - Date.now())))
  }

  /** Follows a job this process did not start (from before a restart of the agent). */
  async function watch (job: AgentJob): Promise<void> {
    while (!state.stopped && jobs.has(job.key) && job.final === undefined) {
      if ((await readExitFile(job.exitFile)) !== undefined || !groupAlive(job.pid!)) {
        await finish(job)
        return
      }
      await sleep(200)
    }
  }

  /** Records the final status of `job` (kept in the state file until the executor has it) and delivers it. */
  function conclude (job: AgentJob, init: MessageInitShape<typeof JobStatusSchema>): void {
    const status = create(JobStatusSchema, { jobId: job.jobId, try: job.try, durationMs: BigInt(Date.now() - (job.startedAtMs ?? Date.now())), ...init })
    job.final = Buffer.from(toBinary(JobStatusSchema, status)).toString('base64')
    persist()
    log.info({ job: job.jobId, try: job.try, phase: status.phase, reason: status.reason }, 'job finished')
    deliverFinal(job)
  }

  // jobs whose condor_submit is under way: not looked up or submitted again meanwhile
  const submitting = new Set<string>()
  /**
   * Submits a job to this host's schedd (htcondor backend). The start of the submission is recorded first, so
   * that after a restart the agent looks the job up (condor_q/condor_history by AutocalJobId and AutocalTry)
   * before it submits again. A refused image or variable fails the job at once; a failing condor_submit fails
   * it as retryable (the dispatcher's retry policy decides).
   */
  async function submitCondor (job: AgentJob, request: JobRequest): Promise<void> {
    const start = request.action.case === 'start' ? request.action.value : undefined
    if (condor === undefined || start === undefined) return
    let env: Record<string, string>
    try {
      if (start.image !== '' && !imageAllowed(start.image, config.AUTOCAL_AGENT_CONDOR_IMAGES)) throw new Error(`image ${start.image} is not in AUTOCAL_AGENT_CONDOR_IMAGES`)
      env = { ...jobEnvironment(request, job.outdir, baseEnv), AUTOCAL_AGENT: config.AUTOCAL_AGENT_ID }
    } catch (err) {
      conclude(job, { phase: JobPhase.FAILED, reason: `cannot start: ${(err as Error).message}`, retryable: false, backend: backendName })
      return
    }
    job.submittingAtMs ??= Date.now()
    persist()
    submitting.add(job.key)
    try {
      mkdirSync(dirname(job.logFile), { recursive: true })
      job.condorId = await condor.submit(condorJobOf(request, start, job.outdir, job.logFile, env))
    } catch (err) {
      conclude(job, { phase: JobPhase.FAILED, reason: `submission to htcondor failed: ${(err as Error).message}`, retryable: true, backend: backendName })
      return
    } finally {
      submitting.delete(job.key)
    }
    job.startedAtMs = Date.now()
    persist()
    log.info({ job: job.jobId, try: job.try, id: job.condorId }, 'job submitted to htcondor')
  }

  const following = new Set<string>()
  /** One poll of one HTCondor job: a cancel is passed on, RUNNING sent once, the end reported with its outputs. */
  async function followCondor (job: AgentJob): Promise<void> {
    if (condor === undefined || job.final !== undefined || following.has(job.key) || submitting.has(job.key)) return
    following.add(job.key)
    try {
      if (job.condorId === undefined) {
        if (job.submittingAtMs === undefined) return // not yet submitted
        // a restart between recording the submission and its answer: look it up before submitting again
        const found = await condor.find(job.jobId, job.try)
        if (found !== undefined) {
          job.condorId = found
          job.startedAtMs ??= Date.now()
          persist()
        } else await submitCondor(job, fromBinary(JobRequestSchema, Buffer.from(job.request, 'base64')))
        return
      }
      const ids = { backend: backendName, backendId: job.condorId }
      if (job.cancelled !== undefined) {
        const now = await condor.state(job.condorId)
        if (now !== undefined && (now.phase === 'queued' || now.phase === 'running')) await condor.cancel(job.condorId)
        conclude(job, { phase: JobPhase.FAILED, reason: `cancelled${job.cancelled === '' ? '' : `: ${job.cancelled}`}`, retryable: false, ...ids })
        return
      }
      const state = await condor.state(job.condorId)
      if (state === undefined) {
        conclude(job, { phase: JobPhase.FAILED, reason: `htcondor no longer knows job ${job.condorId}`, retryable: true, ...ids })
        return
      }
      if ((state.phase === 'running' || state.phase === 'done') && job.runningSent !== true) {
        if (send({ case: 'jobUpdate', value: { status: { jobId: job.jobId, try: job.try, phase: JobPhase.RUNNING, ...ids } } })) {
          job.runningSent = true
          persist()
        }
      }
      const end = batchEnd(state, state.phase === 'done' ? await readOutputs(job.outdir) : undefined)
      if (end === undefined) return
      if (end.phase === 'done') {
        conclude(job, { phase: JobPhase.DONE, exitCode: 0, outputs: end.outputs, results: end.results, ...ids })
        return
      }
      // a held job would run beside the retry once released: removed first
      if (state.remove === true) await condor.cancel(job.condorId)
      conclude(job, { phase: JobPhase.FAILED, reason: end.reason, retryable: end.retryable, ...(end.exitCode === undefined ? {} : { exitCode: end.exitCode }), ...(end.signal === undefined ? {} : { signal: end.signal }), ...ids })
    } catch (err) {
      log.warn({ err, job: job.jobId, id: job.condorId }, 'could not follow an htcondor job; retrying')
    } finally {
      following.delete(job.key)
    }
  }

  function run (request: JobRequest): void {
    const key = `${request.jobId}#${request.try}`
    if (jobs.has(key) || request.action.case !== 'start') return
    const start = request.action.value
    const safe = fileSafe(request.jobId)
    const job: AgentJob = {
      key,
      jobId: request.jobId,
      try: request.try,
      request: Buffer.from(toBinary(JobRequestSchema, request)).toString('base64'),
      outdir: start.outdir !== '' ? start.outdir : join(home, 'jobs', safe, String(request.try)),
      logFile: join(home, 'logs', `${safe}.${request.try}.log`),
      exitFile: join(home, 'run', `${safe}.${request.try}.exit`),
      deadlineMs: 0,
      sentOffset: 0
    }
    rmSync(job.exitFile, { force: true })
    jobs.set(key, job)
    if (condor !== undefined) {
      void submitCondor(job, request)
      return
    }
    try {
      if (start.argv.length === 0) throw new Error('empty argv')
      const env = { ...jobEnvironment(request, job.outdir, jobUser === undefined ? baseEnv : { ...baseEnv, HOME: job.outdir }), AUTOCAL_AGENT: config.AUTOCAL_AGENT_ID }
      const proc = startProcess({ argv: start.argv, cwd: job.outdir, env, logFile: job.logFile, exitFile: job.exitFile, user: jobUser })
      job.pid = proc.pid
      job.startedAtMs = Date.now()
      job.deadlineMs = start.timeoutS > 0 ? job.startedAtMs + start.timeoutS * 1000 : 0
      persist()
      armTimeout(job)
      void proc.exited.then(async () => { await finish(job) })
      send({ case: 'jobUpdate', value: { status: { jobId: job.jobId, try: job.try, phase: JobPhase.RUNNING, backend: 'local', backendId: String(proc.pid) } } })
      log.info({ job: job.jobId, try: job.try, pid: proc.pid }, 'job started')
    } catch (err) {
      const status = create(JobStatusSchema, { jobId: job.jobId, try: job.try, phase: JobPhase.FAILED, reason: `cannot start: ${(err as Error).message}`, retryable: false })
      job.final = Buffer.from(toBinary(JobStatusSchema, status)).toString('base64')
      persist()
      deliverFinal(job)
    }
  }

  function stopJob (jobId: string, attempt: number, reason: string, forget: boolean): void {
    const job = jobs.get(`${jobId}#${attempt}`)
    if (job === undefined) return
    job.cancelled = reason
    persist()
    if (job.pid !== undefined && groupAlive(job.pid)) void killGroup(job.pid, config.AUTOCAL_AGENT_KILL_GRACE_MS)
    // an HTCondor job is removed by the next poll (followCondor), or here when it is no longer this agent's
    if (forget && job.condorId !== undefined && condor !== undefined) void condor.cancel(job.condorId).catch(err => { log.warn({ err, id: job.condorId }, 'condor_rm of a job assigned elsewhere failed') })
    if (forget) {
      // no longer ours: nobody wants its result
      clearTimeout(timers.get(job.key))
      jobs.delete(job.key)
      persist()
    }
  }

  function onMessage (m: AgentServiceConnectResponse): void {
    const msg = m.message
    if (msg.case === 'registered') {
      registered = true
      for (const c of msg.value.cancel) {
        log.warn({ job: c.jobId, try: c.try }, 'job no longer assigned to this agent; stopped')
        stopJob(c.jobId, c.try, 'assigned elsewhere', true)
      }
      for (const job of [...jobs.values()]) {
        flushLog(job, false)
        deliverFinal(job)
      }
    } else if (msg.case === 'assign' && msg.value.request !== undefined) {
      run(msg.value.request)
    } else if (msg.case === 'cancel') {
      stopJob(msg.value.jobId, msg.value.try, msg.value.reason, false)
    }
  }

  /** One stream, until it breaks; true when it got as far as registering. */
  async function session (): Promise<boolean> {
    registered = false
    const s = client.connect()
    stream = s
    let heartbeat: NodeJS.Timeout | undefined
    const ended = new Promise<void>(resolve => {
      s.on('data', (m: AgentServiceConnectResponse) => {
        if (m.message.case === 'registered') {
          clearInterval(heartbeat)
          heartbeat = setInterval(() => {
            send({ case: 'heartbeat', value: { running: jobs.size } })
            for (const job of jobs.values()) flushLog(job, false)
          }, Math.max(100, Math.min(m.message.value.heartbeatIntervalMs, 5000)))
        }
        onMessage(m)
      })
      s.on('error', (err: grpc.ServiceError) => {
        if (err.code === grpc.status.UNAUTHENTICATED) log.error({ err: err.details }, 'executor rejected this agent\'s token')
        else log.warn({ err: err.details }, 'stream to the executor failed')
        resolve()
      })
      s.on('end', () => { resolve() })
      s.on('close', () => { resolve() })
    })
    s.write(create(AgentServiceConnectRequestSchema, {
      message: {
        case: 'register',
        value: {
          agentId: config.AUTOCAL_AGENT_ID,
          capabilities: { backends: [backendName], slots: config.AUTOCAL_AGENT_SLOTS, pool: config.AUTOCAL_AGENT_POOL, hostname: hostname() },
          jobs: [...jobs.values()].map(j => ({ jobId: j.jobId, try: j.try }))
        }
      }
    }))
    await ended
    clearInterval(heartbeat)
    const was = registered
    registered = false
    stream = undefined
    if (!s.destroyed) s.cancel()
    return was
  }

  // jobs from before a restart of the agent
  for (const job of jobs.values()) {
    if (job.final !== undefined || job.pid === undefined) continue
    armTimeout(job)
    void watch(job)
  }
  // htcondor backend: every job of the agent is polled (those from before a restart too)
  const poll = condor === undefined ? undefined : setInterval(() => { for (const job of [...jobs.values()]) void followCondor(job) }, config.AUTOCAL_AGENT_POLL_MS)

  const loop = (async () => {
    // reconnects under policies.agentReconnect (capped by AUTOCAL_AGENT_BACKOFF_MAX_MS), from the start after a session that registered
    const backoff = { ...policies.agentReconnect, maxDelayMs: config.AUTOCAL_AGENT_BACKOFF_MAX_MS }
    let failures = 0
    while (!state.stopped) {
      const ok = await session().catch(() => false)
      if (state.stopped) break
      failures = ok ? 1 : failures + 1
      const wait = retryDelay(backoff, failures) ?? backoff.maxDelayMs
      log.info({ retryInMs: wait }, 'disconnected from the executor; reconnecting')
      await sleep(wait)
    }
  })()

  return {
    jobs: () => [...jobs.keys()],
    [Symbol.asyncDispose]: async () => {
      state.stopped = true
      stopping.abort()
      stream?.end()
      stream?.cancel()
      for (const t of timers.values()) clearTimeout(t)
      clearInterval(poll)
      await loop
      client.close()
      // running jobs keep running; the agent re-registers them when it starts again
    }
  }
}
