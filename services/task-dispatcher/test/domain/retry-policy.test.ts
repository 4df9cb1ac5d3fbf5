import { test } from 'node:test'
import assert from 'node:assert/strict'
import { failureCause, retryDecision, type JobFailure, type RetryPolicy } from '../../src/domain/retry-policy.ts'

const policy: RetryPolicy = { retries: 2, neverExitCodes: [3], neverSignals: ['SIGSEGV'], infrastructure: 5 }

test('the cause of a failed try', () => {
  const rows: Array<[string, JobFailure, ReturnType<typeof failureCause>]> = [
    ['an exit code of retry.never fails at once', { exitCode: 3, retryable: true }, 'never'],
    ['a signal of retry.never fails at once', { signal: 'SIGSEGV', retryable: true }, 'never'],
    ['another exit code is the job\'s own failure', { exitCode: 4, retryable: true }, 'job'],
    ['a timeout (killed by a signal) is the job\'s own failure', { signal: 'SIGKILL', retryable: true }, 'job'],
    ['retryable without exit code or signal (evicted, held, submission failed) is infrastructure', { retryable: true }, 'infrastructure'],
    ['an empty signal counts as none', { signal: '', retryable: true }, 'infrastructure'],
    ['not retryable without exit code or signal (cancelled, a bad manifest) is the job\'s own failure', { retryable: false }, 'job'],
    ['nothing known is the job\'s own failure', {}, 'job']
  ]
  for (const [name, failure, cause] of rows) assert.equal(failureCause(policy, failure), cause, name)
})

test('the decision and the budget it is taken from', () => {
  const rows: Array<[string, ReturnType<typeof failureCause>, number, number, ReturnType<typeof retryDecision>]> = [
    ['never: not retried, whatever is left', 'never', 0, 0, { retry: false, why: 'never retried (retry.never)' }],
    ['the first job failure: retry 1 of retries', 'job', 0, 0, { retry: true, budget: 'retries', nth: 1 }],
    ['the second: retry 2', 'job', 1, 3, { retry: true, budget: 'retries', nth: 2 }],
    ['the third: retries exhausted', 'job', 2, 0, { retry: false, why: 'retries exhausted' }],
    ['infrastructure failures do not use retries', 'infrastructure', 2, 0, { retry: true, budget: 'infrastructure', nth: 1 }],
    ['the fifth infrastructure failure is still retried', 'infrastructure', 0, 4, { retry: true, budget: 'infrastructure', nth: 5 }],
    ['the sixth is not', 'infrastructure', 0, 5, { retry: false, why: 'infrastructure retries exhausted (retry.infrastructure: 5)' }]
  ]
  for (const [name, cause, jobFailures, infraFailures, expected] of rows) assert.deepEqual(retryDecision(policy, cause, jobFailures, infraFailures), expected, name)
})
