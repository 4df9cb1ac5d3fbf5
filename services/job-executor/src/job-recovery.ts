// Rebuilds the executor's job table from the job topics when Redis lost it
// (an empty Redis after an outage, a FLUSHALL, a first start), the way the
// task-dispatcher's recovery.ts rebuilds its read model: the marker
// `executor:state` is missing. Live executors first write back the jobs they
// hold in memory (Executor.restoreOwn); then one executor, under a lease,
// reads `jobs.requests` and `jobs.status` to their current ends
// (domain/open-jobs.ts), marks every ended (job id, try) done (a redelivered
// or repeated request starts nothing), restores the cancels of open jobs, and
// gives every open job that no executor holds an entry again, as
// recoveryDecision() says: owned by no live executor, so the usual takeover
// follows it (a local process of this pod by its pid and exit file, a batch
// job looked up by its autocal job id and try before any submission, an
// agent job through its agent) or starts it once; a job that cannot be
// followed is reported FAILED retryable, and the dispatcher retries it with
// the next try. Requests and reconcile passes wait until the marker is back.
import { setTimeout as delay } from 'node:timers/promises'
import { existsSync } from 'node:fs'
import { JobPhase, topics, type JobRequest } from '@autocal/contracts'
import { AutocalError, acquireLease, policies, readTopic, retry, type KafkaConfig, type Logger, type RedisHandle } from '@autocal/runtime'
import { recordRequest, recordStatus, recoveryDecision, settleLedger, type JobHistory, type ReportedPhase } from './domain/open-jobs.ts'
import { groupAlive, pidFileOf, readExitFile, readPidFile } from './adapters/local-process.ts'
import type { JobEntry, JobStore } from './adapters/job-store.ts'
import type { StatusPublisher } from './status-publisher.ts'
import { newJobEntry } from './executor.ts'

/** Owner of rebuilt entries: never alive, so the reconcile passes take them over. */
export const recoveredOwner = 'recovered-from-topics'

export interface JobRecoveryOptions {
  config: KafkaConfig
  logger: Logger
  redis: RedisHandle
  store: JobStore
  statuses: StatusPublisher
  /** Pod, data and jobs directory of this executor: local evidence is read here. */
  instance: string
  host: string
  dataDir: string
  jobsDir: string
  /** How long live executors need to notice the loss and write back their jobs (2 reconcile periods). */
  restoreWaitMs: number
  /** Writes back the entries of the jobs this executor holds in memory. */
  restoreOwn: () => Promise<number>
  /** The agent connected here that holds (job id, try), if any. */
  agentHolding?: (key: string) => string | undefined
}

/** The job ledger's reader: its consumer group starts with the service's name, as the Kafka ACLs require (see readerGroup). */
export const jobRecoveryReader = 'job-executor-recovery'

const phases: Partial<Record<JobPhase, ReportedPhase>> = { [JobPhase.QUEUED]: 'queued', [JobPhase.RUNNING]: 'running', [JobPhase.DONE]: 'done', [JobPhase.FAILED]: 'failed' }

export function createJobRecovery (o: JobRecoveryOptions) {
  const log = o.logger.child({ component: 'job-recovery' })
  let running: Promise<void> | undefined
  // each start request's trace context (job id#try → W3C headers): a reinstated job's statuses continue its request's trace
  const traces = new Map<string, Record<string, string>>()

  async function readLedger (): Promise<Map<string, JobHistory<JobRequest>>> {
    const ledger = new Map<string, JobHistory<JobRequest>>()
    traces.clear()
    await readTopic(o.config, o.logger, jobRecoveryReader, topics.jobRequests, async (r, meta) => {
      if (r.action.case === 'start') {
        recordRequest(ledger, { jobId: r.jobId, try: r.try, action: 'start', backend: r.action.value.backend, request: r })
        traces.set(`${r.jobId}#${r.try}`, meta.trace)
      } else if (r.action.case === 'cancel') recordRequest(ledger, { jobId: r.jobId, try: r.try, action: 'cancel', reason: r.action.value.reason })
    })
    await readTopic(o.config, o.logger, jobRecoveryReader, topics.jobStatus, async s => {
      const phase = phases[s.phase]
      if (phase !== undefined) recordStatus(ledger, { jobId: s.jobId, try: s.try, phase, backendId: s.backendId })
    })
    return ledger
  }

  /** Gives one open job that no executor holds its entry back, or reports it. */
  async function reinstate (job: JobHistory<JobRequest> & { request: JobRequest }, cancelReason: string | undefined): Promise<string> {
    const trace = traces.get(`${job.jobId}#${job.try}`) ?? {}
    const entry: JobEntry = { ...newJobEntry(job.request, o), owner: recoveredOwner, trace }
    const pid = existsSync(pidFileOf(entry.exitFile)) ? await readPidFile(entry.exitFile) : undefined
    const local = { pid, alive: pid !== undefined && groupAlive(pid), exitStatus: await readExitFile(entry.exitFile).catch(() => undefined) }
    const decision = recoveryDecision(job, local, o.agentHolding?.(job.key))
    switch (decision.kind) {
      case 'follow':
        Object.assign(entry, { state: 'running', pid: decision.pid, startedAtMs: Date.now() })
        break
      case 'queue':
        break
      case 'assign':
        Object.assign(entry, { state: 'assigned', agent: decision.agent })
        break
      case 'look-up':
        Object.assign(entry, { submittingAtMs: Date.now(), runningReported: decision.runningReported, ...(decision.backendId === undefined ? {} : { backendId: decision.backendId }) })
        break
      case 'fail': {
        const reason = cancelReason === undefined ? decision.reason : `cancelled${cancelReason === '' ? '' : `: ${cancelReason}`}`
        await o.statuses.publish(job.request, trace, JobPhase.FAILED, { backend: job.backend ?? 'local', reason, retryable: cancelReason === undefined && decision.retryable })
        await o.store.markDone([job.key])
        return decision.kind
      }
    }
    // claim: unless an executor wrote it back meanwhile, or it ended
    if (!await o.store.claim(entry)) return 'held'
    return decision.kind
  }

  async function rebuild (): Promise<void> {
    await o.restoreOwn()
    const lease = await acquireLease(o.redis, 'executor:rebuild', 120_000)
    if (lease === null) {
      // another executor rebuilds: wait for its marker
      const building = new AutocalError('AUTOCAL_NOT_READY', 'the job table is being rebuilt by another executor', { retryable: true })
      await retry(async () => { if (!await o.store.hasMarker()) throw building }, policies.rebuildMarker, { shouldRetry: err => err === building })
      return
    }
    const started = Date.now()
    try {
      const ledger = await readLedger()
      const { ended, open } = settleLedger(ledger)
      await o.store.markDone(ended)
      const held = async (): Promise<Set<string>> => new Set((await o.store.entries()).map(e => e.key))
      let known = await held()
      if (open.some(j => !known.has(j.key))) {
        // live executors write back what they hold once they notice the loss (next reconcile pass)
        await delay(o.restoreWaitMs)
        await o.restoreOwn()
        known = await held()
      }
      // a cancel is kept per (job id, try), as Executor.cancel keeps it
      const cancels = new Map([...ledger.values()].filter(h => h.cancelled).map(h => [`${h.jobId}#${h.try}`, h.cancelReason]))
      const outcomes: Record<string, number> = {}
      for (const job of open) {
        const cancelReason = cancels.get(`${job.jobId}#${job.try}`)
        if (cancelReason !== undefined) await o.store.requestCancel(job.jobId, job.try, cancelReason)
        if (known.has(job.key)) continue
        const kind = await reinstate(job, cancelReason)
        outcomes[kind] = (outcomes[kind] ?? 0) + 1
        log.info({ job: job.jobId, try: job.try, backend: job.backend, phase: job.phase, outcome: kind }, 'open job of the lost job table reinstated')
      }
      await o.store.setMarker()
      log.info({ ended: ended.length, open: open.length, held: open.filter(j => known.has(j.key)).length, outcomes, ms: Date.now() - started }, 'job table rebuilt from kafka')
    } finally {
      await lease.release().catch(() => false)
    }
  }

  /** Resolves once the job table is complete; rebuilds it first when its marker is missing. */
  async function ensureState (): Promise<void> {
    if (await o.store.hasMarker()) return
    running ??= rebuild().finally(() => { running = undefined })
    await running
  }

  return { ensureState }
}

export type JobRecovery = ReturnType<typeof createJobRecovery>
