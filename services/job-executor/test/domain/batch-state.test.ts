import { test } from 'node:test'
import assert from 'node:assert/strict'
import { condorState, kubeState } from '../../src/domain/batch-state.ts'

test('HTCondor JobStatus codes 1..7 map to phases; held jobs fail with their hold reason', () => {
  assert.equal(condorState({ JobStatus: 1 }).phase, 'queued')
  for (const s of [2, 6, 7]) assert.equal(condorState({ JobStatus: s }).phase, 'running')
  assert.deepEqual(condorState({ JobStatus: 3, RemoveReason: 'via condor_rm (by user autocal)' }), { phase: 'failed', reason: 'removed from HTCondor: via condor_rm (by user autocal)', retryable: false })
  assert.deepEqual(condorState({ JobStatus: 4, ExitCode: 0 }), { phase: 'done', exitCode: 0, reason: '', retryable: false })
  assert.deepEqual(condorState({ JobStatus: 4, ExitCode: 2 }), { phase: 'failed', exitCode: 2, reason: 'exit code 2', retryable: true })
  assert.equal(condorState({ JobStatus: 4, ExitBySignal: true, ExitSignal: 9 }, n => n === 9 ? 'SIGKILL' : '?').reason, 'killed by SIGKILL')
  const held = condorState({ JobStatus: 5, HoldReason: 'Error from slot1@node: Job has gone over memory limit of 2048 megabytes.', HoldReasonCode: 34 })
  assert.equal(held.phase, 'failed')
  assert.equal(held.reason, 'held by HTCondor: Error from slot1@node: Job has gone over memory limit of 2048 megabytes. (HoldReasonCode 34)')
  assert.equal(held.retryable, true)
  assert.equal(condorState({ JobStatus: 5, HoldReason: 'via condor_hold (by user alice)', HoldReasonCode: 1 }).retryable, false)
})

test('Kubernetes Job conditions and pods map to phases: complete, deadline, backoff, evicted', () => {
  assert.equal(kubeState({}).phase, 'queued')
  assert.equal(kubeState({ active: 1 }).phase, 'running')
  assert.equal(kubeState({ succeeded: 1, conditions: [{ type: 'Complete', status: 'True' }] }).phase, 'done')
  assert.deepEqual(kubeState({ conditions: [{ type: 'Failed', status: 'True', reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline' }] }),
    { phase: 'failed', reason: 'timeout: Job was active longer than specified deadline', retryable: true })
  const backoff = kubeState({ failed: 1, conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded' }] }, [{ phase: 'Failed', containerStatuses: [{ state: { terminated: { exitCode: 3 } } }] }])
  assert.deepEqual(backoff, { phase: 'failed', exitCode: 3, reason: 'kubernetes job failed: BackoffLimitExceeded (exit code 3)', retryable: true })
  const evicted = kubeState({ failed: 1, conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded' }] }, [{ phase: 'Failed', reason: 'Evicted', message: 'The node was low on resource: memory.' }])
  assert.deepEqual(evicted, { phase: 'failed', reason: 'pod evicted: The node was low on resource: memory.', retryable: true })
})
