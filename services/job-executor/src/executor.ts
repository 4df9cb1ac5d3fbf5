// The local backend's executor: takes job requests, runs them as process
// groups within the cluster-wide concurrency slots, and reports their state.
// Where a job's state changes:
//   accept()   request → claimed in Redis (once per job id and try) → QUEUED
//   pump()     a slot is free → process started → RUNNING
//   finish()   process ended (or found ended) → DONE | FAILED, slot released
//   reconcile() every few seconds: leases renewed, cancels applied, jobs of
//              dead executors taken over (re-attached, finished, or failed
//              as retryable when their process is gone)
import { create, fromBinary, toBinary, type MessageInitShape } from '@bufbuild/protobuf'
import { timestampFromDate } from '@bufbuild/protobuf/wkt'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { JobRequestSchema, JobStatusSchema, JobPhase, OutputSchema, topics, type JobRequest, type Output } from '@autocal/contracts'
import { acquireLease, captureContext, withContext, type Lease, type Logger, type Producer, type RedisHandle } from '@autocal/runtime'
import { manifestName, parseManifest } from './domain/manifest.ts'
import { decodeShellStatus, outcomeOf } from './domain/outcome.ts'
import { fileSummary, groupAlive, killGroup, readExitFile, signalNumbers, startProcess } from './adapters/local-process.ts'
import type { JobEntry, JobStore } from './adapters/job-store.ts'
import type { ExecutorMetrics } from './metrics.ts'

export interface ExecutorOptions {
  instance: string
  slots: number
  dataDir: string
  publicUrl: string
  killGraceMs: number
  reconcileMs: number
  store: JobStore
  redis: RedisHandle
  producer: Producer
  logger: Logger
  metrics: ExecutorMetrics
  /** Environment every job gets (PATH and the like). */
  baseEnv: Record<string, string>
}

interface Running {
  entry: JobEntry
  request: JobRequest
  slot: Lease
  cancelled?: string
  timedOut?: boolean
  timer?: NodeJS.Timeout
}

const fileSafe = (s: string): string => s.replace(/[^A-Za-z0-9._-]+/g, '_')

export function createExecutor (o: ExecutorOptions) {
  const log = o.logger.child({ component: 'executor' })
  const queue: Array<{ entry: JobEntry, request: JobRequest }> = []
  const running = new Map<string, Running>()
  const state = { stopped: false }
  let pumpTimer: NodeJS.Timeout | undefined

  function logUrl (jobId: string, attempt: number): string {
    return `${o.publicUrl}/jobs/${encodeURIComponent(jobId)}/log?try=${attempt}`
  }

  async function publish (request: JobRequest, entry: JobEntry, phase: JobPhase, extra: Omit<MessageInitShape<typeof JobStatusSchema>, '$typeName'> = {}): Promise<void> {
    const status = create(JobStatusSchema, {
      jobId: request.jobId,
      try: request.try,
      provenance: request.provenance,
      jobIndex: request.jobIndex,
      phase,
      backend: 'local',
      backendId: entry.pid === undefined ? '' : String(entry.pid),
      executor: o.instance,
      logUrl: logUrl(request.jobId, request.try),
      at: timestampFromDate(new Date()),
      ...extra
    })
    const name = phase === JobPhase.QUEUED ? 'queued' : phase === JobPhase.RUNNING ? 'running' : phase === JobPhase.DONE ? 'done' : 'failed'
    // in the trace of the request, however much later the job ends
    await withContext(entry.trace, async () => await o.producer.publish(topics.jobStatus, status, { eventId: `jobs/${request.jobId}/${request.try}/${name}` }))
  }

  /** A start request: claim it (once), report it queued, run it when a slot is free. */
  async function accept (request: JobRequest): Promise<void> {
    if (request.action.case !== 'start') return
    const start = request.action.value
    const key = `${request.jobId}#${request.try}`
    const dir = fileSafe(request.jobId)
    const entry: JobEntry = {
      key,
      jobId: request.jobId,
      try: request.try,
      owner: o.instance,
      state: 'queued',
      request: Buffer.from(toBinary(JobRequestSchema, request)).toString('base64'),
      outdir: start.outdir !== '' ? start.outdir : join(o.dataDir, 'jobs', dir),
      logFile: join(o.dataDir, 'logs', 'jobs', `${dir}.${request.try}.log`),
      exitFile: join(o.dataDir, 'run', 'jobs', `${dir}.${request.try}.exit`),
      deadlineMs: 0,
      trace: captureContext()
    }
    if (!await o.store.claim(entry)) {
      log.info({ job: request.jobId, try: request.try }, 'request for a job already taken; ignored')
      return
    }
    if (start.backend !== '' && start.backend !== 'local') {
      await publish(request, entry, JobPhase.FAILED, { reason: `backend '${start.backend}' is not available on this executor`, retryable: false })
      await o.store.finish(key)
      return
    }
    await publish(request, entry, JobPhase.QUEUED)
    queue.push({ entry, request })
    o.metrics.queued.set(queue.length)
    pump()
  }

  /** A cancel request: marked for whichever executor runs the job; applied here at once if it is ours. */
  async function cancel (request: JobRequest): Promise<void> {
    const reason = request.action.case === 'cancel' ? request.action.value.reason : ''
    await o.store.requestCancel(request.jobId, reason)
    const i = queue.findIndex(q => q.request.jobId === request.jobId)
    if (i >= 0) {
      const [q] = queue.splice(i, 1)
      await publish(q!.request, q!.entry, JobPhase.FAILED, { reason: `cancelled${reason === '' ? '' : `: ${reason}`}`, retryable: false })
      await o.store.finish(q!.entry.key)
    }
    for (const r of running.values()) {
      if (r.request.jobId === request.jobId && r.cancelled === undefined) {
        r.cancelled = reason
        void killGroup(r.entry.pid!, o.killGraceMs)
      }
    }
  }

  async function freeSlot (): Promise<{ lease: Lease, slot: number } | undefined> {
    for (let slot = 0; slot < o.slots; slot++) {
      const lease = await acquireLease(o.redis, `executor:slot:${slot}`, Math.max(30_000, o.reconcileMs * 6))
      if (lease !== null) return { lease, slot }
    }
    return undefined
  }

  let pumping = false
  function pump (): void {
    if (pumping || state.stopped) return
    pumping = true
    void (async () => {
      try {
        while (queue.length > 0 && !state.stopped) {
          const free = await freeSlot()
          if (free === undefined) {
            clearTimeout(pumpTimer)
            pumpTimer = setTimeout(pump, 250) // another executor's job may end: look again soon
            return
          }
          const next = queue.shift()!
          o.metrics.queued.set(queue.length)
          await run(next.entry, next.request, free.lease, free.slot)
        }
      } catch (err) {
        log.error({ err }, 'could not start a job; retrying')
        clearTimeout(pumpTimer)
        pumpTimer = setTimeout(pump, 1000)
      } finally {
        pumping = false
      }
    })()
  }

  function jobEnv (request: JobRequest, entry: JobEntry): Record<string, string> {
    const start = request.action.case === 'start' ? request.action.value : undefined
    const p = request.provenance
    return {
      ...o.baseEnv,
      ...start?.env,
      AUTOCAL_CAMPAIGN: p?.campaign ?? '',
      AUTOCAL_SUBSYSTEM: p?.subsystem ?? '',
      AUTOCAL_WORKFLOW: p?.workflow ?? '',
      AUTOCAL_TASK: p?.task ?? '',
      AUTOCAL_BLOCK: p?.blockId ?? '',
      AUTOCAL_ATTEMPT: String(p?.taskAttempt ?? 1),
      AUTOCAL_RUNS: (p?.inputRuns ?? []).join(','),
      AUTOCAL_JOB: String(request.jobIndex),
      AUTOCAL_NJOBS: String(start?.njobs ?? 1),
      AUTOCAL_INPUTS: (start?.inputs ?? []).join(','),
      AUTOCAL_OUTDIR: entry.outdir,
      AUTOCAL_JOB_ID: request.jobId,
      AUTOCAL_TRY: String(request.try)
    }
  }

  async function run (entry: JobEntry, request: JobRequest, slot: Lease, slotNumber: number): Promise<void> {
    const start = request.action.case === 'start' ? request.action.value : undefined
    if (start === undefined) return
    const cancelReason = await o.store.cancelReason(request.jobId)
    if (cancelReason !== undefined) {
      await publish(request, entry, JobPhase.FAILED, { reason: `cancelled${cancelReason === '' ? '' : `: ${cancelReason}`}`, retryable: false })
      await o.store.finish(entry.key)
      await slot.release()
      return
    }
    if (start.argv.length === 0) {
      await publish(request, entry, JobPhase.FAILED, { reason: 'empty argv', retryable: false })
      await o.store.finish(entry.key)
      await slot.release()
      return
    }
    let proc
    try {
      proc = startProcess({ argv: start.argv, cwd: entry.outdir, env: jobEnv(request, entry), logFile: entry.logFile, exitFile: entry.exitFile })
    } catch (err) {
      await publish(request, entry, JobPhase.FAILED, { reason: `cannot start: ${(err as Error).message}`, retryable: false })
      await o.store.finish(entry.key)
      await slot.release()
      return
    }
    const startedAtMs = Date.now()
    Object.assign(entry, { state: 'running', pid: proc.pid, slot: slotNumber, startedAtMs, deadlineMs: start.timeoutS > 0 ? startedAtMs + start.timeoutS * 1000 : 0 })
    await o.store.update(entry)
    const r: Running = { entry, request, slot }
    running.set(entry.key, r)
    o.metrics.running.set(running.size)
    armTimeout(r)
    await publish(request, entry, JobPhase.RUNNING)
    log.info({ job: request.jobId, try: request.try, pid: proc.pid, slot: slotNumber }, 'job started')
    void proc.exited.then(async () => { await finish(r) })
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
      // the wrapper is gone; make sure nothing of the group is left behind
      if (groupAlive(r.entry.pid!)) await killGroup(r.entry.pid!, o.killGraceMs)
      const status = await readExitFile(r.entry.exitFile)
      const start = r.request.action.case === 'start' ? r.request.action.value : undefined
      const decoded = status === undefined ? { exitCode: null, signal: 'SIGKILL' } : decodeShellStatus(status, signalNumbers)
      const manifestPath = join(r.entry.outdir, manifestName)
      const manifest = parseManifest(existsSync(manifestPath) ? await readFile(manifestPath, 'utf8') : undefined, r.entry.outdir)
      const outputs: Output[] = []
      const missing: string[] = []
      if (manifest.ok) {
        for (const d of manifest.outputs) {
          const summary = await fileSummary(d.path)
          if (summary === undefined) missing.push(d.path)
          else outputs.push(create(OutputSchema, { path: d.path, label: d.label, ...summary }))
        }
      }
      const outcome = outcomeOf({
        exitCode: decoded.exitCode,
        signal: decoded.signal,
        timedOut: r.timedOut === true,
        timeoutS: start?.timeoutS ?? 0,
        cancelled: r.cancelled !== undefined,
        cancelReason: r.cancelled ?? '',
        missingOutputs: missing,
        manifestProblem: manifest.ok ? undefined : manifest.reason
      })
      const durationMs = BigInt(Date.now() - (r.entry.startedAtMs ?? Date.now()))
      await publish(r.request, r.entry, outcome.phase === 'done' ? JobPhase.DONE : JobPhase.FAILED, {
        ...(decoded.exitCode === null ? {} : { exitCode: decoded.exitCode }),
        signal: decoded.signal,
        reason: outcome.reason,
        retryable: outcome.retryable,
        durationMs,
        outputs: outcome.phase === 'done' ? outputs : []
      })
      o.metrics.finished.inc({ outcome: outcome.phase })
      o.metrics.duration.observe(Number(durationMs) / 1000)
      await o.store.finish(r.entry.key)
      await r.slot.release()
      running.delete(r.entry.key)
      o.metrics.running.set(running.size)
      log.info({ job: r.request.jobId, try: r.request.try, outcome: outcome.phase, reason: outcome.reason, durationMs: Number(durationMs) }, 'job finished')
      pump()
    } catch (err) {
      // Redis or Kafka failed: leave the entry; reconcile() finishes it from the exit file
      log.error({ err, job: r.request.jobId }, 'could not report a finished job; will retry')
      running.delete(r.entry.key)
    } finally {
      finishing.delete(r.entry.key)
    }
  }

  /** Renews leases, applies cancels, and takes over the jobs of executors that died. */
  async function reconcile (): Promise<void> {
    await o.store.heartbeat(o.reconcileMs * 4)
    for (const r of running.values()) {
      await r.slot.extend(Math.max(30_000, o.reconcileMs * 6))
      if (r.cancelled === undefined) {
        const reason = await o.store.cancelReason(r.request.jobId)
        if (reason !== undefined) {
          r.cancelled = reason
          void killGroup(r.entry.pid!, o.killGraceMs)
        }
      }
    }
    for (const entry of await o.store.entries()) {
      if (running.has(entry.key) || queue.some(q => q.entry.key === entry.key)) continue
      const mine = entry.owner === o.instance
      if (!mine && await o.store.isAlive(entry.owner)) continue
      if (!mine && !await o.store.takeOver(entry)) continue
      entry.owner = o.instance
      await adopt(entry)
    }
  }

  /** A job whose executor is gone (or ours, from before a restart). */
  async function adopt (entry: JobEntry): Promise<void> {
    const request = fromBinary(JobRequestSchema, Buffer.from(entry.request, 'base64'))
    if (entry.state === 'queued' || entry.pid === undefined) {
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
    await o.store.finish(entry.key)
    await slot.release()
  }

  /** Waits for a process this executor did not start (it cannot wait() for it). */
  async function watchForeign (r: Running): Promise<void> {
    while (!state.stopped) {
      if ((await readExitFile(r.entry.exitFile)) !== undefined || !groupAlive(r.entry.pid!)) {
        await finish(r)
        return
      }
      await new Promise(resolve => setTimeout(resolve, 200))
    }
  }

  let reconcileTimer: NodeJS.Timeout | undefined
  async function startReconciling (): Promise<void> {
    await reconcile()
    const loop = (): void => {
      reconcileTimer = setTimeout(() => {
        reconcile().catch(err => { log.warn({ err }, 'reconcile failed') }).finally(() => { if (!state.stopped) loop() })
      }, o.reconcileMs)
    }
    loop()
  }

  return {
    accept,
    cancel,
    startReconciling,
    runningCount: () => running.size,
    queuedCount: () => queue.length,
    /** Stops taking jobs. Running processes keep running; the next executor re-attaches them. */
    stop: async (): Promise<void> => {
      state.stopped = true
      clearTimeout(reconcileTimer)
      clearTimeout(pumpTimer)
      for (const r of running.values()) clearTimeout(r.timer)
    }
  }
}

export type Executor = ReturnType<typeof createExecutor>
