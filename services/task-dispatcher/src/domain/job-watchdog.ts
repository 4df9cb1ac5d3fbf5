// The watchdog for job requests nobody answers (issue #13): a job the
// dispatcher requested must hear from the job-executor (QUEUED, RUNNING, DONE
// or FAILED) within the answer timeout. An executor that accepted a job
// answers at once (QUEUED, even while the job waits for a slot or sits in a
// batch queue) and answers a repeated request again, so only a request that
// no executor has taken stays silent: a request lost with the executor's
// state, or one it could not record. Such a job is requested again with the
// same job id and try (the executor starts a (job id, try) once, so asking
// again never starts it twice), up to `reRequests` times; after that its try
// is failed, and the normal retry path (backoff, next try, retry budget)
// takes over.
import type { Task } from './task-state.ts'

/** What the watchdog knows of one requested (task, attempt, job, try). */
export interface JobWatch {
  /** When the current wait began (first seen unanswered, or last requested again), ms since epoch. */
  sinceMs: number
  /** How often it was requested again. */
  reRequests: number
  /** The executor answered (any status of this try). */
  answered: boolean
}

export interface WatchdogPolicy {
  /** How long a requested job may stay without any status, ms. */
  answerTimeoutMs: number
  /** How often it is requested again before its try is failed. */
  reRequests: number
}

export type WatchDecision =
  | { kind: 'wait', dueAtMs: number }
  | { kind: 'answered' }
  | { kind: 're-request', watch: JobWatch }
  | { kind: 'fail', reason: string }

/** The watch field of one job try: `<task key>|<attempt>|<job index>|<try>`. */
export const watchField = (taskKey: string, attempt: number, index: number, tryNo: number): string => `${taskKey}|${attempt}|${index}|${tryNo}`

/** The job tries of a processing task that were requested and have no status yet (job state idle). */
export function unansweredJobs (task: Pick<Task, 'state' | 'jobs'>): Array<{ index: number, try: number }> {
  if (task.state !== 'processing') return []
  return task.jobs.filter(j => j.state === 'idle').map(j => ({ index: j.index, try: j.try }))
}

/**
 * What to do about one unanswered job try at `nowMs`: wait until its
 * deadline, nothing (it was answered), request it again (with the watch that
 * starts the next wait), or fail the try with a reason naming the silence.
 */
export function watchDecision (watch: JobWatch, nowMs: number, policy: WatchdogPolicy): WatchDecision {
  if (watch.answered) return { kind: 'answered' }
  const dueAtMs = watch.sinceMs + policy.answerTimeoutMs
  if (nowMs < dueAtMs) return { kind: 'wait', dueAtMs }
  if (watch.reRequests < policy.reRequests) return { kind: 're-request', watch: { sinceMs: nowMs, reRequests: watch.reRequests + 1, answered: false } }
  const silentS = Math.round(policy.answerTimeoutMs * (policy.reRequests + 1) / 1000)
  return { kind: 'fail', reason: `no answer from the job-executor for ${silentS} s (requested ${policy.reRequests + 1} times)` }
}
