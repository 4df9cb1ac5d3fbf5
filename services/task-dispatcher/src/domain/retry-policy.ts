// Which job failures are retried, and against which budget. Pure.
//
// A workflow task says (workflow.ts):
//   retries: 2                       failures of the job itself retried this many times
//   retry:
//     never: [3, SIGSEGV]            exit codes or signals that fail the task at once ("the
//                                    calibration did not converge": running it again changes nothing)
//     infrastructure: 5              failures of the infrastructure retried this many times,
//                                    without consuming `retries`
// An infrastructure failure is one the job's own process did not cause: the
// executor reports it retryable with neither an exit code nor a signal (an
// evicted pod, a held HTCondor job, a submission that failed, a job request
// nobody answered, a job HTCondor no longer knows). An executor or agent lost
// mid-job is not even seen here: its job is queued again in the same try.

export interface RetryPolicy {
  /** Failures of the job itself retried per job (the workflow's `retries`). */
  retries: number
  /** Exit codes never retried. */
  neverExitCodes: readonly number[]
  /** Signals (e.g. "SIGSEGV") never retried. */
  neverSignals: readonly string[]
  /** Infrastructure failures retried per job, apart from `retries`. */
  infrastructure: number
}

/** What the executor reported of one failed try. */
export interface JobFailure {
  exitCode?: number | undefined
  /** "" or undefined when no signal ended the process. */
  signal?: string | undefined
  /** The executor's judgement: running it again may succeed. */
  retryable?: boolean | undefined
}

/** `job`: the job's own failure (counts against `retries`); `never`: fails at once; `infrastructure`: its own budget. */
export type FailureCause = 'job' | 'never' | 'infrastructure'

/** Default number of infrastructure failures retried per job when the workflow does not say. */
export const defaultInfrastructureRetries = 5

/** The cause of a failed try under `policy` (see the header for the rules). */
export function failureCause (policy: Pick<RetryPolicy, 'neverExitCodes' | 'neverSignals'>, f: JobFailure): FailureCause {
  if (f.exitCode !== undefined && policy.neverExitCodes.includes(f.exitCode)) return 'never'
  if (f.signal !== undefined && f.signal !== '' && policy.neverSignals.includes(f.signal)) return 'never'
  if (f.retryable === true && f.exitCode === undefined && (f.signal === undefined || f.signal === '')) return 'infrastructure'
  return 'job'
}

/**
 * Whether a job that failed is requested again, and why not. `jobFailures` and
 * `infraFailures` count the job's earlier failures of each kind in this attempt
 * (not this one). Returns `{ retry: true, budget }` with the budget it is taken
 * from and the number of this retry within it (1 = first), or `{ retry: false, why }`.
 */
export function retryDecision (policy: RetryPolicy, cause: FailureCause, jobFailures: number, infraFailures: number):
  { retry: true, budget: 'retries' | 'infrastructure', nth: number } | { retry: false, why: string } {
  switch (cause) {
    case 'never': return { retry: false, why: 'never retried (retry.never)' }
    case 'infrastructure':
      return infraFailures < policy.infrastructure
        ? { retry: true, budget: 'infrastructure', nth: infraFailures + 1 }
        : { retry: false, why: `infrastructure retries exhausted (retry.infrastructure: ${policy.infrastructure})` }
    case 'job':
      return jobFailures < policy.retries
        ? { retry: true, budget: 'retries', nth: jobFailures + 1 }
        : { retry: false, why: 'retries exhausted' }
  }
}
