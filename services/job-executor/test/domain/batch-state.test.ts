import { test } from 'node:test'
import assert from 'node:assert/strict'
import { batchEnd, condorState, kubeState, type BatchState, type OutputsFound } from '../../src/domain/batch-state.ts'

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
  assert.equal(held.remove, true, 'a held job is removed before its failure is reported')
  assert.equal(condorState({ JobStatus: 4, ExitCode: 2 }).remove, undefined, 'a completed job has left the queue')
  assert.equal(condorState({ JobStatus: 5, HoldReason: 'via condor_hold (by user alice)', HoldReasonCode: 1 }).retryable, false)
})

test('Kubernetes Job conditions and pods map to phases: complete, deadline, backoff, evicted', () => {
  assert.equal(kubeState({}).phase, 'queued')
  assert.equal(kubeState({ active: 1 }).phase, 'running')
  assert.equal(kubeState({ succeeded: 1, conditions: [{ type: 'Complete', status: 'True' }] }).phase, 'done')
  assert.deepEqual(kubeState({ conditions: [{ type: 'Failed', status: 'True', reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline' }] }),
    { phase: 'failed', reason: 'timeout: Job was active longer than specified deadline', retryable: true, remove: true })
  const backoff = kubeState({ failed: 1, conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded' }] }, [{ phase: 'Failed', containerStatuses: [{ state: { terminated: { exitCode: 3 } } }] }])
  assert.deepEqual(backoff, { phase: 'failed', exitCode: 3, reason: 'kubernetes job failed: BackoffLimitExceeded (exit code 3)', retryable: true, remove: true })
  const evicted = kubeState({ failed: 1, conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded' }] }, [{ phase: 'Failed', reason: 'Evicted', message: 'The node was low on resource: memory.' }])
  assert.deepEqual(evicted, { phase: 'failed', reason: 'pod evicted: The node was low on resource: memory.', retryable: true, remove: true })
})

test('a Kubernetes job that cannot start fails at once with the reason Kubernetes gives, and is to be removed', () => {
  const now = Date.parse('2026-11-30T05:00:00Z')
  const waiting = (reason: string, message: string) => [{ phase: 'Pending', containerStatuses: [{ state: { waiting: { reason, message } } }] }]
  const unschedulable = (since: string) => [{ phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes are available: 3 Insufficient memory.', lastTransitionTime: since }] }]
  const cases: Array<[ReturnType<typeof waiting> | ReturnType<typeof unschedulable>, object]> = [
    [waiting('ImagePullBackOff', 'Back-off pulling image "registry.cern.ch/autocal/fit:9"'), { phase: 'failed', reason: 'cannot start: ImagePullBackOff: Back-off pulling image "registry.cern.ch/autocal/fit:9"', retryable: true, remove: true }],
    [waiting('ErrImagePull', 'manifest unknown'), { phase: 'failed', reason: 'cannot start: ErrImagePull: manifest unknown', retryable: true, remove: true }],
    [waiting('InvalidImageName', 'couldn\'t parse image reference'), { phase: 'failed', reason: 'cannot start: InvalidImageName: couldn\'t parse image reference', retryable: false, remove: true }],
    [waiting('CreateContainerConfigError', 'secret "x" not found'), { phase: 'failed', reason: 'cannot start: CreateContainerConfigError: secret "x" not found', retryable: false, remove: true }],
    [waiting('ContainerCreating', ''), { phase: 'queued', reason: '', retryable: false }],
    [unschedulable('2026-11-30T04:54:00Z'), { phase: 'failed', reason: 'cannot start: unschedulable for 360 s: 0/3 nodes are available: 3 Insufficient memory.', retryable: true, remove: true }],
    [unschedulable('2026-11-30T04:59:00Z'), { phase: 'queued', reason: '', retryable: false }]
  ]
  for (const [pods, state] of cases) assert.deepEqual(kubeState({}, pods, now), state, JSON.stringify(pods))
})

test('the end of a batch job: done only with its declared outputs, failed with the batch system\'s reason', () => {
  const outputs = { outputs: ['calib.db'], missing: [], problem: undefined, results: { chi2_ndf: 1.07 } }
  const rows: Array<[string, BatchState, OutputsFound<string> | undefined, ReturnType<typeof batchEnd<string>>]> = [
    ['queued: not ended', { phase: 'queued', reason: '', retryable: false }, undefined, undefined],
    ['running: not ended', { phase: 'running', reason: '', retryable: false }, undefined, undefined],
    ['done with its outputs', { phase: 'done', exitCode: 0, reason: '', retryable: false }, outputs, { phase: 'done', exitCode: 0, outputs: ['calib.db'], results: { chi2_ndf: 1.07 } }],
    ['done, a declared output missing', { phase: 'done', exitCode: 0, reason: '', retryable: false }, { outputs: [], missing: ['calib.db'], problem: undefined }, { phase: 'failed', reason: 'declared output missing: calib.db', retryable: false, exitCode: 0 }],
    ['done, the manifest unreadable', { phase: 'done', exitCode: 0, reason: '', retryable: false }, { outputs: [], missing: [], problem: 'outputs.json is not JSON' }, { phase: 'failed', reason: 'outputs.json is not JSON', retryable: false, exitCode: 0 }],
    ['failed with an exit code', { phase: 'failed', exitCode: 3, reason: 'exit code 3', retryable: true }, undefined, { phase: 'failed', reason: 'exit code 3', retryable: true, exitCode: 3 }],
    ['killed by a signal', { phase: 'failed', signal: 'SIGKILL', reason: 'killed by SIGKILL', retryable: true }, undefined, { phase: 'failed', reason: 'killed by SIGKILL', retryable: true, signal: 'SIGKILL' }],
    ['held for good', { phase: 'failed', reason: 'held by HTCondor: x (HoldReasonCode 1)', retryable: false, remove: true }, undefined, { phase: 'failed', reason: 'held by HTCondor: x (HoldReasonCode 1)', retryable: false }]
  ]
  for (const [name, state, found, expected] of rows) assert.deepEqual(batchEnd(state, found), expected, name)
})
