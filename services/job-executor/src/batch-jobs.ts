// Jobs on batch systems (htcondor, kubernetes): submitted once per (job id,
// try), then followed by polling from the reconcile loop. The batch system's
// id is recorded in Redis, so an executor that restarts (or takes over from a
// lost one) simply goes on polling; nothing is submitted twice.
import { fromBinary } from '@bufbuild/protobuf'
import { JobPhase, JobRequestSchema, type JobRequest } from '@autocal/contracts'
import type { Logger } from '@autocal/runtime'
import { batchEnd, type BatchState } from './domain/batch-state.ts'
import { readOutputs } from './adapters/local-process.ts'
import type { JobEntry, JobStore } from './adapters/job-store.ts'
import type { StatusPublisher } from './status-publisher.ts'

export interface BatchBackend {
  submit: (entry: JobEntry, request: JobRequest) => Promise<string>
  state: (id: string) => Promise<BatchState | undefined>
  /** The batch system's id of the job submitted for (job id, try), if any. */
  find: (jobId: string, attempt: number) => Promise<string | undefined>
  cancel: (id: string) => Promise<void>
}

export function createBatchJobs (o: { backends: Partial<Record<'htcondor' | 'kubernetes', BatchBackend>>, store: JobStore, statuses: StatusPublisher, logger: Logger, instance: string }) {
  const log = o.logger.child({ component: 'batch-jobs' })
  const backendOf = (entry: JobEntry): BatchBackend | undefined => entry.backend === 'htcondor' || entry.backend === 'kubernetes' ? o.backends[entry.backend] : undefined
  const requestOf = (entry: JobEntry): JobRequest => fromBinary(JobRequestSchema, Buffer.from(entry.request, 'base64'))
  const cancelled = new Set<string>()
  const submitting = new Set<string>()

  async function fail (entry: JobEntry, request: JobRequest, reason: string, retryable: boolean, extra: { exitCode?: number, signal?: string } = {}): Promise<void> {
    await o.statuses.publish(request, entry.trace, JobPhase.FAILED, { backend: entry.backend ?? '', backendId: entry.backendId ?? '', reason, retryable, ...extra, durationMs: BigInt(Date.now() - (entry.startedAtMs ?? Date.now())) })
    await o.store.finish(entry.key)
  }

  /** A claimed request for a batch backend: queued, then submitted. */
  async function accept (entry: JobEntry, request: JobRequest): Promise<void> {
    const backend = backendOf(entry)
    if (backend === undefined) {
      await fail(entry, request, `backend '${entry.backend ?? ''}' is not enabled on this executor (AUTOCAL_EXECUTOR_BACKENDS)`, false)
      return
    }
    submitting.add(entry.key)
    try {
      // recorded before the side effect: whoever takes the entry over looks the job up before submitting again
      if (entry.submittingAtMs === undefined) {
        entry.submittingAtMs = Date.now()
        await o.store.update(entry)
      }
      await o.statuses.publish(request, entry.trace, JobPhase.QUEUED, { backend: entry.backend! })
      try {
        entry.backendId = await backend.submit(entry, request)
      } catch (err) {
        log.warn({ err, job: entry.jobId }, 'submission failed')
        await fail(entry, request, `submission to ${entry.backend!} failed: ${(err as Error).message}`, true)
        return
      }
    } finally {
      submitting.delete(entry.key)
    }
    entry.startedAtMs = Date.now()
    await o.store.update(entry)
    log.info({ job: entry.jobId, try: entry.try, backend: entry.backend, id: entry.backendId }, 'job submitted')
  }

  async function follow (entry: JobEntry): Promise<void> {
    const backend = backendOf(entry)
    if (backend === undefined || entry.backendId === undefined) return
    const request = requestOf(entry)
    const reason = await o.store.cancelReason(entry.jobId)
    if (reason !== undefined && !cancelled.has(entry.key)) {
      cancelled.add(entry.key)
      await backend.cancel(entry.backendId)
      await fail(entry, request, `cancelled${reason === '' ? '' : `: ${reason}`}`, false)
      return
    }
    const state = await backend.state(entry.backendId)
    if (state === undefined) {
      await fail(entry, request, `${entry.backend!} no longer knows job ${entry.backendId}`, true)
      return
    }
    const ids = { backend: entry.backend!, backendId: entry.backendId }
    if (state.phase === 'running' && entry.runningReported !== true) {
      await o.statuses.publish(request, entry.trace, JobPhase.RUNNING, ids)
      entry.runningReported = true
      await o.store.update(entry)
      return
    }
    const end = batchEnd(state, state.phase === 'done' ? await readOutputs(entry.outdir) : undefined)
    if (end === undefined) return
    if (end.phase === 'failed') {
      // removed first (a throw leaves it for the next pass): no retry may run beside it
      if (state.remove === true) await backend.cancel(entry.backendId)
      const { reason, retryable, ...codes } = end
      await fail(entry, request, reason, retryable, { ...(codes.exitCode === undefined ? {} : { exitCode: codes.exitCode }), ...(codes.signal === undefined ? {} : { signal: codes.signal }) })
      return
    }
    // it ran between two polls: RUNNING was never seen, but it happened
    if (entry.runningReported !== true) await o.statuses.publish(request, entry.trace, JobPhase.RUNNING, ids)
    await o.statuses.publish(request, entry.trace, JobPhase.DONE, { ...ids, exitCode: 0, outputs: end.outputs, results: end.results, durationMs: BigInt(Date.now() - (entry.startedAtMs ?? Date.now())) })
    await o.store.finish(entry.key)
    log.info({ job: entry.jobId, try: entry.try, ...ids }, 'batch job done')
  }

  /** Polls every batch job of this executor, and those of lost executors. */
  async function reconcile (): Promise<void> {
    for (const entry of await o.store.entries()) {
      if ((entry.backend !== 'htcondor' && entry.backend !== 'kubernetes') || submitting.has(entry.key)) continue
      if (entry.owner !== o.instance) {
        if (await o.store.isAlive(entry.owner)) continue
        if (!await o.store.takeOver(entry)) continue
        entry.owner = o.instance
        log.info({ job: entry.jobId, try: entry.try, id: entry.backendId }, 'batch job of a lost executor taken over')
      }
      if (entry.backendId === undefined) {
        // claimed, but no submission recorded: the executor died before or after submitting
        try {
          const found = entry.submittingAtMs === undefined ? undefined : await backendOf(entry)?.find(entry.jobId, entry.try)
          if (found === undefined) await accept(entry, requestOf(entry))
          else {
            entry.backendId = found
            entry.startedAtMs ??= Date.now()
            await o.store.update(entry)
            log.info({ job: entry.jobId, try: entry.try, id: found }, 'submission of a lost executor found; followed, not submitted again')
          }
        } catch (err) {
          log.warn({ err, job: entry.jobId }, 'could not look up a batch job before submitting it; retrying')
        }
        continue
      }
      try {
        await follow(entry)
      } catch (err) {
        log.warn({ err, job: entry.jobId, id: entry.backendId }, 'could not follow a batch job; retrying')
      }
    }
  }

  return { accept, reconcile }
}

export type BatchJobs = ReturnType<typeof createBatchJobs>
