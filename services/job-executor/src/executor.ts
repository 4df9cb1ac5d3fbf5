// The local backend's executor: takes job requests, runs them as process
// groups within the cluster-wide concurrency slots, and reports their state.
// Where a job's state changes:
//   accept()   request → claimed in Redis (once per job id and try) → QUEUED
//   pump()     a slot is free → process started → RUNNING
//   finish()   process ended (or found ended) → DONE | FAILED, slot released
//   reconcile() every few seconds: leases renewed, cancels applied, jobs of
//              dead executors taken over (re-attached, finished, or failed
//              as retryable when their process is gone)
import { setTimeout as delay } from 'node:timers/promises'
import { fromBinary, toBinary } from '@bufbuild/protobuf'
import { join } from 'node:path'
import { JobRequestSchema, JobPhase, type JobRequest } from '@autocal/contracts'
import { AutocalError, acquireLease, captureContext, Lease, type Logger, type RedisHandle } from '@autocal/runtime'
import { fileSafe, jobEnvironment, type ExtraEnv } from './domain/job-environment.ts'
import { concludeProcess, confineDirectory, groupAlive, killGroup, readExitFile, readPidFile, startProcess } from './adapters/local-process.ts'
import type { JobEntry, JobStore } from './adapters/job-store.ts'
import type { JobUser } from './adapters/job-user.ts'
import type { ExecutorMetrics } from './metrics.ts'
import type { StatusExtra, StatusPublisher } from './status-publisher.ts'
import type { BatchJobs } from './batch-jobs.ts'

type StartJob = Extract<JobRequest['action'], { case: 'start' }>['value']

export interface ExecutorOptions {
  instance: string
  /** The pod (process namespace) this executor's processes live in: only an executor of the same pod can see them. */
  host: string
  slots: number
  /** Local jobs waiting for a slot here at most (back-pressure: more requests wait in Kafka). */
  maxQueued: number
  dataDir: string
  /** Every output directory is inside it; default output directories are made here. */
  jobsDir: string
  /** Local jobs run as this user (the executor is root); undefined = as the executor's own. */
  jobUser?: JobUser | undefined
  publicUrl: string
  killGraceMs: number
  reconcileMs: number
  store: JobStore
  redis: RedisHandle
  statuses: StatusPublisher
  /** Jobs on batch backends (htcondor, kubernetes). */
  batch?: BatchJobs
  /** Called when a job for the agent backend was queued (agents connected to this executor may take it). */
  onAgentJob?: () => void
  logger: Logger
  metrics: ExecutorMetrics
  /** Environment every job gets (PATH and the like, from the allow-list). */
  baseEnv: Record<string, string>
  /** Variables a job may ask for by name (AUTOCAL_EXECUTOR_JOB_EXTRA_ENV); none when absent. */
  extraEnv?: ExtraEnv
  /**
   * Resolves once the job table in Redis is complete (rebuilt from the job
   * topics after a loss of Redis's data, job-recovery.ts); called before every
   * reconcile pass. Absent = assumed complete.
   */
  ensureState?: () => Promise<void>
}

/**
 * A new entry of the job table for a start request: owned by `o.instance` in
 * pod `o.host`, queued; its output directory is the request's (or one under
 * the jobs directory), its log and exit files are named by job id and try
 * under the data directory (`logs/jobs/<id>.<try>.log`, `run/jobs/<id>.<try>.exit`),
 * so that any executor of the pod finds them again from the request alone.
 */
export function newJobEntry (request: JobRequest, o: Pick<ExecutorOptions, 'instance' | 'host' | 'dataDir' | 'jobsDir'>): JobEntry {
  const start = request.action.case === 'start' ? request.action.value : undefined
  const dir = fileSafe(request.jobId)
  const backend = start?.backend
  return {
    key: `${request.jobId}#${request.try}`,
    jobId: request.jobId,
    try: request.try,
    owner: o.instance,
    host: o.host,
    state: 'queued',
    request: Buffer.from(toBinary(JobRequestSchema, request)).toString('base64'),
    outdir: start !== undefined && start.outdir !== '' ? start.outdir : join(o.jobsDir, dir),
    logFile: join(o.dataDir, 'logs', 'jobs', `${dir}.${request.try}.log`),
    exitFile: join(o.dataDir, 'run', 'jobs', `${dir}.${request.try}.exit`),
    deadlineMs: 0,
    queuedAtMs: Date.now(),
    trace: captureContext(),
    ...(backend === 'agent' || backend === 'htcondor' || backend === 'kubernetes' ? { backend } : {})
  }
}

interface Running {
  entry: JobEntry
  request: JobRequest
  slot: Lease
  cancelled?: string
  timedOut?: boolean
  timer?: NodeJS.Timeout
  /** Its end could not be reported (Redis or Kafka down): the next reconcile pass tries again. */
  unreported?: boolean
  /** Its start could not be recorded (entry, RUNNING): the next reconcile pass records it. */
  unrecorded?: boolean
}

export function createExecutor (o: ExecutorOptions) {
  const log = o.logger.child({ component: 'executor' })
  const queue: Array<{ entry: JobEntry, request: JobRequest }> = []
  const running = new Map<string, Running>()
  const state = { stopped: false }
  let pumpTimer: NodeJS.Timeout | undefined

  async function publish (request: JobRequest, entry: JobEntry, phase: JobPhase, extra: StatusExtra = {}): Promise<void> {
    await o.statuses.publish(request, entry.trace, phase, {
      backend: 'local',
      backendId: entry.pid === undefined ? '' : String(entry.pid),
      ...extra
    })
  }

  // keys this process holds (from its claim or adoption to the end of the job): reconcile leaves them alone
  const owned = new Set<string>()
  async function release (key: string, slot?: Lease): Promise<void> {
    // adopt() may run a job without a real slot lease (all were taken): nothing to free then
    await o.store.finish(key, slot instanceof Lease ? slot : undefined)
    owned.delete(key)
  }

  let accepting = 0 // local start requests between the queue-length check and their place in the queue

  /** A start request: claim it (once), report it queued, run it when a slot is free. */
  async function accept (request: JobRequest): Promise<void> {
    if (request.action.case !== 'start') return
    const start = request.action.value
    const entry = newJobEntry(request, o)
    const { key } = entry
    if (owned.has(key)) {
      await answerAgain(request, key)
      return
    }
    const local = start.backend === '' || start.backend === 'local'
    if (local && queue.length + accepting >= o.maxQueued) {
      // back-pressure: the request stays uncommitted in Kafka (the bus offers it
      // again) instead of a long queue in memory that reports every job queued
      // before the first ones run
      throw new AutocalError('AUTOCAL_BUSY', `${queue.length + accepting} local jobs already wait for a slot`)
    }
    // requests of other partitions are accepted meanwhile: count this one at once
    if (local) accepting++
    try {
      await claimAndQueue(request, start, entry)
    } finally {
      if (local) accepting--
    }
  }

  async function claimAndQueue (request: JobRequest, start: StartJob, entry: JobEntry): Promise<void> {
    const { key } = entry
    owned.add(key) // before the claim lands in Redis, so that no reconcile pass can see it unowned
    let claimed: boolean
    try {
      claimed = await o.store.claim(entry)
    } catch (err) {
      owned.delete(key) // not ours: the redelivered request claims it again
      throw err
    }
    if (!claimed) {
      owned.delete(key)
      log.info({ job: request.jobId, try: request.try }, 'request for a job already taken; its state is reported again')
      await answerAgain(request, key)
      return
    }
    if (start.backend === 'agent' || start.backend === 'htcondor' || start.backend === 'kubernetes') owned.delete(key) // followed elsewhere
    if (start.backend === 'agent') {
      await o.statuses.publish(request, entry.trace, JobPhase.QUEUED, { backend: 'agent' })
      o.onAgentJob?.()
      return
    }
    if ((start.backend === 'htcondor' || start.backend === 'kubernetes') && o.batch !== undefined) {
      await o.batch.accept(entry, request)
      return
    }
    if (start.backend !== '' && start.backend !== 'local') {
      await o.statuses.publish(request, entry.trace, JobPhase.FAILED, { backend: start.backend, reason: `backend '${start.backend}' is not available on this executor`, retryable: false })
      await release(key)
      return
    }
    // queued in memory before QUEUED is published: a failed publish (the bus
    // retries the request) cannot lose a claimed job; the retry answers again
    queue.push({ entry, request })
    o.metrics.queued.set(queue.length)
    try {
      await publish(request, entry, JobPhase.QUEUED)
    } finally {
      pump()
    }
  }

  /**
   * A start request for a (job id, try) that is already taken: starts
   * nothing, but reports the job's phase again (same event ids), so that the
   * dispatcher's watchdog for unanswered requests hears from a job that a
   * slow executor or a batch queue holds. An ended job is not reported again
   * (its end is on the status topic already).
   */
  async function answerAgain (request: JobRequest, key: string): Promise<void> {
    const entry = await o.store.get(key)
    if (entry === undefined) return
    const running = entry.state === 'running' || entry.runningReported === true
    await o.statuses.publish(request, entry.trace, running ? JobPhase.RUNNING : JobPhase.QUEUED, {
      backend: entry.backend ?? 'local',
      backendId: entry.backendId ?? (entry.pid === undefined ? '' : String(entry.pid))
    })
  }

  /** A cancel request: marked for whichever executor runs the job; applied here at once if it is ours. */
  async function cancel (request: JobRequest): Promise<void> {
    const reason = request.action.case === 'cancel' ? request.action.value.reason : ''
    await o.store.requestCancel(request.jobId, request.try, reason)
    const i = queue.findIndex(q => q.request.jobId === request.jobId && q.request.try === request.try)
    if (i >= 0) {
      const [q] = queue.splice(i, 1)
      await publish(q!.request, q!.entry, JobPhase.FAILED, { reason: `cancelled${reason === '' ? '' : `: ${reason}`}`, retryable: false })
      await release(q!.entry.key)
    }
    for (const r of running.values()) {
      if (r.request.jobId === request.jobId && r.cancelled === undefined) {
        r.cancelled = reason
        void killGroup(r.entry.pid!, o.killGraceMs)
      }
    }
  }

  async function freeSlot (): Promise<{ lease: Lease, slot: number } | undefined> {
    return await o.store.takeFreeSlot(o.slots, Math.max(30_000, o.reconcileMs * 6))
  }

  let pumping = false
  /** The pump's loop while it runs; stop() waits for it. */
  let pumpLoop: Promise<void> = Promise.resolve()
  /** Starts in progress (run() of a job that has its slot); stop() waits for them. */
  const starts = new Set<Promise<void>>()
  /** After a failed start, no job starts before this time (ms since epoch): a failing Redis is not retried in a tight loop. */
  let retryAt = 0
  function retryLater (err: unknown): void {
    log.error({ err }, 'could not start a job; retrying in 1 s')
    retryAt = Date.now() + 1000
    clearTimeout(pumpTimer)
    pumpTimer = setTimeout(pump, 1000)
  }
  function pump (): void {
    if (pumping || state.stopped) return
    pumping = true
    pumpLoop = (async () => {
      try {
        while (queue.length > 0 && !state.stopped && Date.now() >= retryAt) {
          const free = await freeSlot()
          if (free === undefined) {
            clearTimeout(pumpTimer)
            pumpTimer = setTimeout(pump, 250) // another executor's job may end: look again soon
            return
          }
          if (state.stopped || Date.now() < retryAt) { // stopped, or a start failed, while the slot was taken
            await free.lease.release().catch(() => false)
            return
          }
          const next = queue.shift()!
          o.metrics.queued.set(queue.length)
          // started without waiting for the previous start (its Redis records,
          // the spawn and the RUNNING status): one start at a time bounded the
          // local backend at 30-60 jobs/s whatever the slots (`pnpm bench`)
          const start = run(next.entry, next.request, free.lease, free.slot)
          starts.add(start)
          start.catch(retryLater).finally(() => starts.delete(start))
        }
      } catch (err) {
        retryLater(err)
      } finally {
        pumping = false
      }
    })()
  }

  /** Puts a job that did not start back at the head of the queue and frees its slot; pump() starts it again. */
  async function putBack (entry: JobEntry, request: JobRequest, slot: Lease): Promise<void> {
    Object.assign(entry, { state: 'queued' })
    queue.unshift({ entry, request })
    o.metrics.queued.set(queue.length)
    await slot.release().catch(() => false)
  }

  async function run (entry: JobEntry, request: JobRequest, slot: Lease, slotNumber: number): Promise<void> {
    const start = request.action.case === 'start' ? request.action.value : undefined
    if (start === undefined) return
    try {
      const cancelReason = await o.store.cancelReason(request.jobId, request.try)
      if (cancelReason !== undefined) {
        await publish(request, entry, JobPhase.FAILED, { reason: `cancelled${cancelReason === '' ? '' : `: ${cancelReason}`}`, retryable: false })
        await release(entry.key, slot)
        return
      }
      if (start.argv.length === 0) {
        await publish(request, entry, JobPhase.FAILED, { reason: 'empty argv', retryable: false })
        await release(entry.key, slot)
        return
      }
      // recorded before the side effect: an heir reads the pid file before starting it again
      Object.assign(entry, { state: 'starting', slot: slotNumber })
      await o.store.update(entry)
    } catch (err) {
      // not started (Redis or Kafka failed before the spawn): back to the head of the queue (pump() retries), never dropped
      await putBack(entry, request, slot)
      throw err
    }
    let proc
    try {
      await confineDirectory(o.jobsDir, entry.outdir)
      // a job user cannot use the executor's HOME: its output directory is its home
      const env = jobEnvironment(request, entry.outdir, o.jobUser === undefined ? o.baseEnv : { ...o.baseEnv, HOME: entry.outdir }, o.extraEnv)
      proc = startProcess({ argv: start.argv, cwd: entry.outdir, env, logFile: entry.logFile, exitFile: entry.exitFile, user: o.jobUser })
    } catch (err) {
      await publish(request, entry, JobPhase.FAILED, { reason: `cannot start: ${(err as Error).message}`, retryable: false })
      await release(entry.key, slot)
      return
    }
    const startedAtMs = Date.now()
    Object.assign(entry, { state: 'running', pid: proc.pid, slot: slotNumber, startedAtMs, deadlineMs: start.timeoutS > 0 ? startedAtMs + start.timeoutS * 1000 : 0 })
    // followed from here on, whatever Redis or Kafka say next: its end is reported
    const r: Running = { entry, request, slot }
    running.set(entry.key, r)
    o.metrics.running.set(running.size)
    armTimeout(r)
    void proc.exited.then(async () => { await finish(r) })
    log.info({ job: request.jobId, try: request.try, pid: proc.pid, slot: slotNumber }, 'job started')
    await recordStart(r)
  }

  /** Records a started job (entry with its pid, RUNNING); on failure the next reconcile pass records it. */
  async function recordStart (r: Running): Promise<void> {
    try {
      if (finishing.has(r.entry.key) || !running.has(r.entry.key)) return
      await o.store.update(r.entry)
      await publish(r.request, r.entry, JobPhase.RUNNING)
      r.unrecorded = false
    } catch (err) {
      r.unrecorded = true
      log.warn({ err, job: r.request.jobId, try: r.request.try }, 'could not record a started job; the next reconcile pass records it')
    }
  }

  function armTimeout (r: Running): void {
    if (r.entry.deadlineMs <= 0) return
    r.timer = setTimeout(() => {
      r.timedOut = true
      log.warn({ job: r.request.jobId, try: r.request.try }, 'job timed out; killing its process group')
      void killGroup(r.entry.pid!, o.killGraceMs)
    }, Math.max(0, r.entry.deadlineMs - Date.now()))
  }

  const finishing = new Set<string>()
  async function finish (r: Running): Promise<void> {
    if (finishing.has(r.entry.key)) return
    finishing.add(r.entry.key)
    try {
      clearTimeout(r.timer)
      const start = r.request.action.case === 'start' ? r.request.action.value : undefined
      const end = await concludeProcess({ pid: r.entry.pid!, exitFile: r.entry.exitFile, outdir: r.entry.outdir, killGraceMs: o.killGraceMs, timedOut: r.timedOut === true, timeoutS: start?.timeoutS ?? 0, cancelled: r.cancelled })
      const durationMs = BigInt(Date.now() - (r.entry.startedAtMs ?? Date.now()))
      await publish(r.request, r.entry, end.phase === 'done' ? JobPhase.DONE : JobPhase.FAILED, {
        ...(end.exitCode === undefined ? {} : { exitCode: end.exitCode }),
        signal: end.signal,
        reason: end.reason,
        retryable: end.retryable,
        durationMs,
        outputs: end.outputs,
        results: end.results
      })
      o.metrics.finished.inc({ outcome: end.phase })
      o.metrics.duration.observe(Number(durationMs) / 1000)
      await release(r.entry.key, r.slot)
      running.delete(r.entry.key)
      o.metrics.running.set(running.size)
      log.info({ job: r.request.jobId, try: r.request.try, outcome: end.phase, reason: end.reason, durationMs: Number(durationMs) }, 'job finished')
      pump()
    } catch (err) {
      // Redis or Kafka failed: kept (its exit file tells the end again); the next reconcile pass reports it
      r.unreported = true
      log.error({ err, job: r.request.jobId }, 'could not report a finished job; will retry')
    } finally {
      finishing.delete(r.entry.key)
    }
  }

  /** Renews leases, applies cancels, and takes over the jobs of executors that died. */
  async function reconcile (): Promise<void> {
    await o.ensureState?.()
    await o.batch?.reconcile()
    for (const r of [...running.values()]) {
      if (r.unreported === true) {
        await finish(r)
        continue
      }
      if (await fenced(r)) continue
      if (r.unrecorded === true) await recordStart(r)
      await r.slot.extend(Math.max(30_000, o.reconcileMs * 6))
      if (r.cancelled === undefined) {
        const reason = await o.store.cancelReason(r.request.jobId, r.request.try)
        if (reason !== undefined) {
          r.cancelled = reason
          void killGroup(r.entry.pid!, o.killGraceMs)
        }
      }
    }
    for (const entry of await o.store.entries()) {
      if (entry.backend !== undefined && entry.backend !== 'local') continue // the agent hub and batch jobs follow these
      if (owned.has(entry.key) || running.has(entry.key) || queue.some(q => q.entry.key === entry.key)) continue
      const mine = entry.owner === o.instance
      if (mine && await o.store.get(entry.key) === undefined) continue // finished since the list was read
      if (!mine && await o.store.isAlive(entry.owner)) continue
      if (!mine && !await o.store.takeOver(entry)) continue
      entry.owner = o.instance
      owned.add(entry.key)
      await adopt(entry)
    }
  }

  /**
   * A job this executor runs that another executor took over while this one
   * looked dead (stopped, cut off): one of the same pod follows the process
   * now (this one lets go), one of another pod reported it lost and a retry
   * may run (this one kills it). True when it was let go.
   */
  async function fenced (r: Running): Promise<boolean> {
    if (finishing.has(r.entry.key)) return false
    const current = await o.store.get(r.entry.key)
    if (current?.owner === o.instance) return false
    if (current === undefined && !await o.store.isDone(r.entry.key)) return false
    // the job may have ended here while Redis was read: its own finish() reported it (and marked it done)
    if (finishing.has(r.entry.key) || running.get(r.entry.key) !== r) return false
    running.delete(r.entry.key)
    owned.delete(r.entry.key)
    clearTimeout(r.timer)
    finishing.add(r.entry.key) // its exit is not ours to report
    if (current === undefined) {
      log.warn({ job: r.entry.jobId, try: r.entry.try, pid: r.entry.pid }, 'job reported by another executor while this one looked dead; its process group is killed')
      await killGroup(r.entry.pid!, o.killGraceMs)
    } else log.warn({ job: r.entry.jobId, try: r.entry.try, owner: current.owner }, 'job taken over by another executor while this one looked dead; let go')
    await r.slot.release().catch(() => false)
    o.metrics.running.set(running.size)
    return true
  }

  /** A job whose executor is gone (or ours, from before a restart). */
  async function adopt (entry: JobEntry): Promise<void> {
    const request = fromBinary(JobRequestSchema, Buffer.from(entry.request, 'base64'))
    if (entry.host !== undefined && entry.host !== o.host && entry.state !== 'queued') {
      // its process lives in another pod: invisible from here (a pid here is another process)
      log.warn({ job: entry.jobId, try: entry.try, host: entry.host }, 'job of a lost executor in another pod; failed as retryable')
      await publish(request, entry, JobPhase.FAILED, { reason: `executor lost: its pod ${entry.host} is gone or unreachable; the job's process cannot be followed from ${o.host}`, retryable: true })
      await release(entry.key)
      return
    }
    entry.host = o.host
    if (entry.state === 'starting' && entry.pid === undefined) {
      // its executor died around the spawn: started if the wrapper wrote its pid
      const pid = await readPidFile(entry.exitFile)
      if (pid !== undefined) {
        const start = request.action.case === 'start' ? request.action.value : undefined
        const startedAtMs = Date.now()
        Object.assign(entry, { state: 'running', pid, startedAtMs, deadlineMs: (start?.timeoutS ?? 0) > 0 ? startedAtMs + start!.timeoutS * 1000 : 0 })
        await o.store.update(entry)
        log.info({ job: entry.jobId, try: entry.try, pid }, 'job of a lost executor was started before it died: followed, not started again')
        await publish(request, entry, JobPhase.RUNNING) // as its executor would have (same event id if it did)
      }
    }
    if (entry.state === 'queued' || entry.state === 'starting' || entry.pid === undefined) {
      log.info({ job: entry.jobId, try: entry.try }, 'queued job of a lost executor taken over')
      queue.push({ entry, request })
      pump()
      return
    }
    const slotLease = await acquireLease(o.redis, `executor:slot:${entry.slot ?? 0}`, Math.max(30_000, o.reconcileMs * 6)) ??
      await freeSlot().then(f => f?.lease)
    const slot = slotLease ?? { release: async () => true, extend: async () => true } as unknown as Lease
    const r: Running = { entry, request, slot }
    if (groupAlive(entry.pid) || (await readExitFile(entry.exitFile)) !== undefined) {
      log.info({ job: entry.jobId, try: entry.try, pid: entry.pid }, 'job of a lost executor re-attached')
      running.set(entry.key, r)
      armTimeout(r)
      void watchForeign(r)
      return
    }
    log.warn({ job: entry.jobId, try: entry.try, pid: entry.pid }, 'job of a lost executor has no process and no exit status; failed as retryable')
    await publish(request, entry, JobPhase.FAILED, { reason: 'executor lost: the job process is gone without an exit status', retryable: true })
    await release(entry.key, slot)
  }

  /** Waits for a process this executor did not start (it cannot wait() for it). */
  async function watchForeign (r: Running): Promise<void> {
    while (!state.stopped) {
      if ((await readExitFile(r.entry.exitFile)) !== undefined || !groupAlive(r.entry.pid!)) {
        await finish(r)
        return
      }
      await delay(200)
    }
  }

  // The heartbeat has a timer of its own: a reconcile pass may wait minutes
  // on a busy batch system (condor_q, the Kubernetes API), and an executor
  // whose heartbeat waited behind it would look dead to the others, which
  // would take over its live jobs.
  let heartbeatTimer: NodeJS.Timeout | undefined
  const heartbeat = async (): Promise<void> => { await o.store.heartbeat(o.reconcileMs * 4) }

  let reconcileTimer: NodeJS.Timeout | undefined
  async function startReconciling (): Promise<void> {
    await heartbeat()
    heartbeatTimer = setInterval(() => { heartbeat().catch(err => { log.warn({ err }, 'heartbeat failed') }) }, o.reconcileMs)
    await reconcile()
    const loop = (): void => {
      reconcileTimer = setTimeout(() => {
        reconcile().catch(err => { log.warn({ err }, 'reconcile failed') }).finally(() => { if (!state.stopped) loop() })
      }, o.reconcileMs)
    }
    loop()
  }

  /**
   * After a loss of Redis's data: writes back the entries (and slot leases)
   * of the jobs this executor holds in memory, queued and running, unless
   * they ended meanwhile; the rebuild from the topics (job-recovery.ts) then
   * finds them in the table and leaves them to this executor.
   */
  async function restoreOwn (): Promise<number> {
    let restored = 0
    for (const q of queue) if (await o.store.claim(q.entry)) restored++
    for (const r of running.values()) {
      if (finishing.has(r.entry.key)) continue
      if (await o.store.claim(r.entry)) restored++
      if (r.slot instanceof Lease) await o.store.retakeSlot(r.slot, Math.max(30_000, o.reconcileMs * 6))
    }
    if (restored > 0) log.warn({ restored }, 'job table lost: entries of the jobs this executor holds written back')
    return restored
  }

  return {
    accept,
    cancel,
    restoreOwn,
    startReconciling,
    runningCount: () => running.size,
    queuedCount: () => queue.length,
    /** Stops taking jobs. Running processes keep running; the next executor re-attaches them. */
    stop: async (): Promise<void> => {
      state.stopped = true
      clearInterval(heartbeatTimer)
      clearTimeout(reconcileTimer)
      clearTimeout(pumpTimer)
      await pumpLoop // a loop waiting for a slot takes no job once stopped
      await Promise.allSettled([...starts]) // a start under way records its process before the store closes
      for (const r of running.values()) clearTimeout(r.timer)
    }
  }
}

export type Executor = ReturnType<typeof createExecutor>
