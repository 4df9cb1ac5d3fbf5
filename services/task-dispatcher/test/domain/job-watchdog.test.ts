import { test } from 'node:test'
import assert from 'node:assert/strict'
import { unansweredJobs, watchDecision, watchField, type JobWatch, type WatchDecision } from '../../src/domain/job-watchdog.ts'
import type { TaskJob } from '../../src/domain/task-state.ts'

const policy = { answerTimeoutMs: 60_000, reRequests: 2 }

test('a requested job waits for its answer, is requested again with the same try, then its try is failed', () => {
  const cases: Array<[string, JobWatch, number, WatchDecision]> = [
    ['answered: nothing to do', { sinceMs: 0, reRequests: 0, answered: true }, 10 * 60_000, { kind: 'answered' }],
    ['within the timeout', { sinceMs: 1000, reRequests: 0, answered: false }, 60_999, { kind: 'wait', dueAtMs: 61_000 }],
    ['timeout passed: requested again, a new wait', { sinceMs: 1000, reRequests: 0, answered: false }, 61_000, { kind: 're-request', watch: { sinceMs: 61_000, reRequests: 1, answered: false } }],
    ['second timeout: requested again', { sinceMs: 61_000, reRequests: 1, answered: false }, 130_000, { kind: 're-request', watch: { sinceMs: 130_000, reRequests: 2, answered: false } }],
    ['requested again as often as allowed: the try fails', { sinceMs: 130_000, reRequests: 2, answered: false }, 190_000, { kind: 'fail', reason: 'no answer from the job-executor for 180 s (requested 3 times)' }],
    ['an answer after the re-requests still counts', { sinceMs: 130_000, reRequests: 2, answered: true }, 190_000, { kind: 'answered' }]
  ]
  for (const [name, watch, now, expected] of cases) assert.deepEqual(watchDecision(watch, now, policy), expected, name)
  assert.deepEqual(watchDecision({ sinceMs: 0, reRequests: 0, answered: false }, 60_000, { answerTimeoutMs: 60_000, reRequests: 0 }), { kind: 'fail', reason: 'no answer from the job-executor for 60 s (requested 1 times)' }, 'no re-requests: fails at the first timeout')
})

test('only the idle jobs of a processing task are unanswered', () => {
  const job = (index: number, state: TaskJob['state'], tryNo = 1): TaskJob => ({ index, state, try: tryNo, reason: '', outputs: [], logUrl: '' })
  const jobs = [job(0, 'idle'), job(1, 'running'), job(2, 'done'), job(3, 'failed'), job(4, 'idle', 3)]
  assert.deepEqual(unansweredJobs({ state: 'processing', jobs }), [{ index: 0, try: 1 }, { index: 4, try: 3 }])
  for (const state of ['new', 'waiting', 'done', 'failed', 'awaiting-signoff', 'cancelled'] as const) assert.deepEqual(unansweredJobs({ state, jobs }), [], state)
  assert.equal(watchField('prompt/run-1/t', 2, 4, 3), 'prompt/run-1/t|2|4|3')
})
