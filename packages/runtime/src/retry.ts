// One way to try again: named policies over p-retry, each cancellable by an
// AbortSignal from the caller's shutdown path, so a stopping service never
// waits out a backoff. Waits without retrying use node:timers/promises
// `setTimeout(ms, undefined, { signal })` directly.
import pRetry from 'p-retry'

/**
 * How an operation is tried again. Delays in milliseconds: the wait before
 * retry n (n = 1, 2, …) is `min(minDelayMs · factor^(n−1), maxDelayMs)`; no jitter,
 * so the schedule is the table in the tests.
 */
export interface RetryPolicy {
  /** Retries after the first attempt (attempts = retries + 1); `Infinity` retries until stopped or `maxTotalMs` passes. */
  readonly retries: number
  readonly minDelayMs: number
  readonly factor: number
  readonly maxDelayMs: number
  /** Time budget for all attempts together, in ms; `Infinity` for none. */
  readonly maxTotalMs: number
}

/** Builds a policy; unnamed fields: one attempt more than `retries`, constant delay, no time budget. */
export function retryPolicy (p: Partial<RetryPolicy> & Pick<RetryPolicy, 'retries' | 'minDelayMs'>): RetryPolicy {
  return { factor: 1, maxDelayMs: p.minDelayMs, maxTotalMs: Infinity, ...p }
}

/**
 * The named policies of autocal. A caller may narrow one with its configured
 * values (`{ ...policies.dropboxStep, retries: config.AUTOCAL_DROPBOX_RETRIES }`).
 */
export const policies = {
  /** One HTTP step of the CMS conditions upload service (dropBox): a transient reply or a held tag lock; defaults of uploadConditions.py (3 retries). */
  dropboxStep: retryPolicy({ retries: 3, minDelayMs: 1000, factor: 2, maxDelayMs: 10_000 }),
  /** A topic created a moment ago has no partition leader yet ("not the leader for that topic-partition"): 20 tries, 250 ms apart. */
  topicLeader: retryPolicy({ retries: 19, minDelayMs: 250 }),
  /** Topics being created become usable (every partition led and answering): 100 ms doubling to 1 s, within the caller's wait. */
  topicsReady: retryPolicy({ retries: Infinity, minDelayMs: 100, factor: 2, maxDelayMs: 1000 }),
  /** Another replica or executor rebuilds a read model from the topics: look for its marker every 100 ms, 600 times (one minute). */
  rebuildMarker: retryPolicy({ retries: 599, minDelayMs: 100 }),
  /** Another replica holds a lease (the uploader's tag lease): poll every 200 ms within the caller's time budget. */
  leaseWait: retryPolicy({ retries: Infinity, minDelayMs: 200 }),
  /** A job agent reconnecting to its executor: 0.5 s doubling up to 30 s, for as long as the agent runs. */
  agentReconnect: retryPolicy({ retries: Infinity, minDelayMs: 500, factor: 2, maxDelayMs: 30_000 }),
  /** A run source (OMS, files) that failed: 1 s doubling up to 60 s, for as long as the watcher runs. */
  sourceBackoff: retryPolicy({ retries: Infinity, minDelayMs: 1000, factor: 2, maxDelayMs: 60_000 })
} as const satisfies Record<string, RetryPolicy>

export type PolicyName = keyof typeof policies

/**
 * The wait in ms before retry `n` (1-based) under `policy`, or `undefined` when
 * the policy allows no retry `n`. Pure: the schedule the table tests check.
 */
export function retryDelay (policy: RetryPolicy, n: number): number | undefined {
  if (!Number.isInteger(n) || n < 1 || n > policy.retries) return undefined
  return Math.min(policy.minDelayMs * policy.factor ** (n - 1), policy.maxDelayMs)
}

export interface RetryOptions {
  /** Stops retrying at once (also during a wait); the promise rejects with the signal's reason. */
  signal?: AbortSignal | undefined
  /** False stops retrying and rethrows the error (default: every error is retried). */
  shouldRetry?: (err: unknown) => boolean
  /** Told of each failed attempt before its wait (for logs and step notes). */
  onFailedAttempt?: (failure: { error: unknown, attempt: number, retryInMs: number }) => void
}

/**
 * Runs `fn(attempt)` (attempt 1, 2, …) until it resolves, retrying a rejection
 * under `policy`. Rejects with the last error when retries or the time budget
 * run out or `shouldRetry` says no, and with `signal.reason` when aborted.
 */
export async function retry<T> (fn: (attempt: number) => Promise<T>, policy: RetryPolicy, options: RetryOptions = {}): Promise<T> {
  const shouldRetry = options.shouldRetry
  // p-retry does not retry a TypeError other than a network failure: a programming error, not a transient one
  return await pRetry(fn, {
    retries: policy.retries,
    minTimeout: policy.minDelayMs,
    factor: policy.factor,
    maxTimeout: policy.maxDelayMs,
    maxRetryTime: policy.maxTotalMs,
    randomize: false,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    shouldRetry: ({ error }) => shouldRetry === undefined || shouldRetry(error),
    onFailedAttempt: ({ error, attemptNumber, retryDelay }) => {
      options.onFailedAttempt?.({ error, attempt: attemptNumber, retryInMs: retryDelay })
    }
  })
}
