// The watchdog's timer (domain/job-watchdog.ts decides): every check period,
// under a Redis lease (one replica at a time), it looks at the idle jobs of
// every processing task, starts a wait for each new one, and requests again or
// fails the tries that waited past the answer timeout without any status
// from the executor. A job status of a try marks it answered (jobStatus
// handler, index.ts). Notes of jobs that are no longer idle are dropped.
import { taskKey, type JobStatus } from '@autocal/contracts'
import { acquireLease, errorMessage, type Logger, type RedisHandle } from '@autocal/runtime'
import { jobSpecOf, type Catalog } from './domain/catalog.ts'
import { unansweredJobs, watchDecision, watchField, type WatchdogPolicy } from './domain/job-watchdog.ts'
import type { StateStore } from './adapters/state-store.ts'
import type { JobWatchStore } from './adapters/job-watch-store.ts'
import type { TaskTransitions } from './task-transitions.ts'

export interface JobWatchdogDeps {
  store: StateStore
  watches: JobWatchStore
  redis: RedisHandle
  catalog: Catalog
  transitions: TaskTransitions
  logger: Logger
  policy: WatchdogPolicy
  /** Resolves when the read model is complete (rebuilds it from Kafka when needed). */
  ensureState: () => Promise<void>
  now?: () => number
}

export function createJobWatchdog (deps: JobWatchdogDeps) {
  const { store, watches, catalog, transitions, policy } = deps
  const log = deps.logger.child({ component: 'job-watchdog' })
  const now = deps.now ?? Date.now

  /** Records that the executor answered a job try (any phase). */
  async function answered (s: JobStatus): Promise<void> {
    const p = s.provenance
    if (p === undefined) return
    await watches.answered(p.campaign, watchField(taskKey(p.campaign, p.blockId, p.task), p.taskAttempt, s.jobIndex, s.try))
  }

  async function checkCampaign (campaign: string): Promise<void> {
    const tasks = await store.getTasks(await store.processingKeys(campaign))
    const known = await watches.all(campaign)
    const current = new Set<string>()
    for (const t of tasks) {
      const key = store.keyOf(t)
      for (const job of unansweredJobs(t)) {
        const field = watchField(key, t.attempt, job.index, job.try)
        current.add(field)
        const watch = known.get(field)
        if (watch === undefined) {
          await watches.begin(campaign, field, { sinceMs: now(), reRequests: 0, answered: false })
          continue
        }
        const d = watchDecision(watch, now(), policy)
        switch (d.kind) {
          case 'wait':
          case 'answered':
            break
          case 're-request':
            if (await transitions.requestJobAgain(t, job.index, job.try)) {
              await watches.put(campaign, field, d.watch)
              log.warn({ campaign, block: t.block.id, task: t.task, attempt: t.attempt, job: job.index, try: job.try, reRequests: d.watch.reRequests }, 'job request unanswered; requested again')
            }
            break
          case 'fail': {
            const def = catalog.task(campaign, t.task)
            const spec = jobSpecOf(campaign, def)
            // nobody answered the request: an infrastructure failure (retry-policy.ts), not the job's own
            await transitions.apply(key, cur => cur?.state === 'processing' && cur.attempt === t.attempt && cur.jobs[job.index]?.state === 'idle' && cur.jobs[job.index]?.try === job.try
              ? { kind: 'job', spec, attempt: t.attempt, index: job.index, try: job.try, phase: 'failed', outputs: [], reason: d.reason, logUrl: '', retryable: true }
              : undefined)
            log.warn({ campaign, block: t.block.id, task: t.task, attempt: t.attempt, job: job.index, try: job.try, reason: d.reason }, 'job request unanswered; its try failed')
            break
          }
        }
      }
    }
    await watches.remove(campaign, [...known.keys()].filter(f => !current.has(f)))
  }

  /** One pass over every campaign (one replica at a time). */
  async function check (): Promise<void> {
    await deps.ensureState()
    const lease = await acquireLease(deps.redis, 'td:jobwatch', Math.max(30_000, policy.answerTimeoutMs))
    if (lease === null) return
    try {
      for (const campaign of catalog.campaigns.keys()) {
        try {
          await checkCampaign(campaign)
        } catch (err) {
          log.warn({ err, campaign, reason: errorMessage(err) }, 'job watchdog pass failed; the next one retries')
        }
      }
    } finally {
      await lease.release().catch(() => false)
    }
  }

  return { answered, check }
}

export type JobWatchdog = ReturnType<typeof createJobWatchdog>

/** Runs the watchdog every `everyMs` (a quarter of the answer timeout, at most 5 s) until disposed. */
export function startJobWatchdog (watchdog: JobWatchdog, everyMs: number, logger: Logger): AsyncDisposable {
  let stopped = false
  let timer: NodeJS.Timeout | undefined
  let inFlight: Promise<void> = Promise.resolve()
  const loop = (): void => {
    if (stopped) return
    inFlight = watchdog.check()
      .catch((err: unknown) => { logger.warn({ err }, 'job watchdog pass failed') })
      .finally(() => { if (!stopped) timer = setTimeout(loop, everyMs) })
  }
  timer = setTimeout(loop, everyMs)
  return {
    [Symbol.asyncDispose]: async () => {
      stopped = true
      clearTimeout(timer)
      await inFlight
    }
  }
}

/** The check period for an answer timeout: a quarter of it, between 100 ms and 5 s. */
export const watchdogPeriodMs = (answerTimeoutMs: number): number => Math.min(5000, Math.max(100, Math.floor(answerTimeoutMs / 4)))
