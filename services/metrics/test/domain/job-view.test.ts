import { test } from 'node:test'
import assert from 'node:assert/strict'
import { create } from '@bufbuild/protobuf'
import { JobPhase, JobRequestSchema, JobStatusSchema } from '@autocal/contracts'
import { applyJobRequest, applyJobStatus } from '../../src/domain/job-view.ts'

const provenance = { subsystem: 'ECAL', campaign: 'prompt', workflow: 'timing', blockId: 'run-355100', task: 'timing-reco', taskAttempt: 1, inputRuns: [355100] }
const status = (phase: JobPhase, extra: { reason?: string, durationMs?: bigint, backend?: string } = {}) =>
  create(JobStatusSchema, { jobId: 'prompt/run-355100/timing-reco/1/0', try: 1, provenance, phase, executor: 'executor-1', ...extra })
const t = new Date('2026-01-01T00:00:00Z')

test('the first start request of a task attempt ends the dispatch latency; retries and other jobs do not', () => {
  const start = (jobIndex: number, attempt: number) => create(JobRequestSchema, {
    jobId: `prompt/run-355100/timing-reco/1/${jobIndex}`, try: attempt, jobIndex, provenance, action: { case: 'start', value: { argv: ['true'] } }
  })
  const first = applyJobRequest(undefined, start(0, 1), t)
  assert.ok(first.kind === 'applied' && first.firstOfTask && first.view.backend === 'local' && first.view.taskKey === 'prompt/run-355100/timing-reco')
  assert.ok(applyJobRequest(undefined, start(1, 1), t).kind === 'applied')
  assert.equal((applyJobRequest(undefined, start(1, 1), t) as { firstOfTask: boolean }).firstOfTask, false)
  assert.equal((applyJobRequest(undefined, start(0, 2), t) as { firstOfTask: boolean }).firstOfTask, false)
  assert.equal(applyJobRequest(first.view, start(0, 1), t).kind, 'unchanged')
})

test('a job finishes once, with its backend and duration; late or repeated phases change nothing more', () => {
  const running = applyJobStatus(undefined, status(JobPhase.RUNNING, { backend: 'local' }), t)
  assert.ok(running.kind === 'applied' && running.finished === undefined)
  const done = applyJobStatus(running.view, status(JobPhase.DONE, { durationMs: 2500n }), t)
  assert.ok(done.kind === 'applied')
  assert.deepEqual(done.finished, { backend: 'local', seconds: 2.5, failed: false })
  assert.equal(applyJobStatus(done.view, status(JobPhase.DONE, { durationMs: 2500n }), t).kind, 'unchanged')
  const late = applyJobStatus(done.view, status(JobPhase.QUEUED), t)
  assert.ok(late.kind === 'applied' && late.view.phase === 'done' && late.finished === undefined)
})

test('a failure reporting a lost agent names the agent', () => {
  const d = applyJobStatus(undefined, status(JobPhase.FAILED, { reason: 'agent lost: no heartbeat for 30 s', backend: 'agent' }), t)
  assert.ok(d.kind === 'applied')
  assert.deepEqual(d.finished, { backend: 'agent', seconds: 0, failed: true })
  assert.deepEqual(d.lost, { who: 'executor-1', reason: 'agent lost: no heartbeat for 30 s' })
})
