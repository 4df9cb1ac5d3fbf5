import { test } from 'node:test'
import assert from 'node:assert/strict'
import { create } from '@bufbuild/protobuf'
import { ConditionEventSchema, ControlCommandSchema, JobPhase, JobStatusSchema, Outcome, type ControlCommand } from '@autocal/contracts'
import { conditionProblem, controlProblem, jobStatusProblem } from '../../src/domain/unusable-messages.ts'

const catalog = { task: (campaign: string, task: string) => campaign === 'prompt' && task === 'timing-reco' ? ({ name: task } as never) : undefined }
const provenance = { campaign: 'prompt', blockId: 'run-1', task: 'timing-reco', taskAttempt: 1 }

test('a job status is usable only with provenance, a known phase and a task some workflow defines', () => {
  const cases: Array<[string, Parameters<typeof create<typeof JobStatusSchema>>[1], RegExp | undefined]> = [
    ['usable', { jobId: 'j', phase: JobPhase.DONE, provenance }, undefined],
    ['no provenance', { jobId: 'j', phase: JobPhase.DONE }, /job status of job "j" has no provenance/],
    ['phase unspecified', { jobId: 'j', phase: JobPhase.UNSPECIFIED, provenance }, /has no known phase \(0\)/],
    ['phase from the future', { jobId: 'j', phase: 99 as JobPhase, provenance }, /has no known phase \(99\)/],
    ['unknown task', { jobId: 'j', phase: JobPhase.RUNNING, provenance: { ...provenance, task: 'gone' } }, /names task 'gone' of campaign 'prompt', which no loaded workflow defines/],
    ['unknown campaign', { jobId: 'j', phase: JobPhase.QUEUED, provenance: { ...provenance, campaign: 'rereco' } }, /of campaign 'rereco'/]
  ]
  for (const [name, init, want] of cases) {
    const got = jobStatusProblem(create(JobStatusSchema, init), catalog)
    if (want === undefined) assert.equal(got, undefined, name)
    else assert.match(got ?? '', want, name)
  }
})

test('a condition outcome is usable only with a known outcome and provenance', () => {
  const cases: Array<[string, Parameters<typeof create<typeof ConditionEventSchema>>[1], RegExp | undefined]> = [
    ['usable', { requestId: 'r', outcome: Outcome.UPLOADED, provenance }, undefined],
    ['outcome unspecified', { requestId: 'r', outcome: Outcome.UNSPECIFIED, provenance }, /condition outcome of request "r" has no known outcome \(0\)/],
    ['no provenance', { requestId: 'r', outcome: Outcome.FAILED }, /has no provenance: its task is unknown/]
  ]
  for (const [name, init, want] of cases) {
    const got = conditionProblem(create(ConditionEventSchema, init))
    if (want === undefined) assert.equal(got, undefined, name)
    else assert.match(got ?? '', want, name)
  }
})

test('a control command is usable only with an action and the selector that action needs', () => {
  const task = { campaign: 'prompt', blockIds: ['run-1'], tasks: ['timing-calib'] }
  const cases: Array<[string, Parameters<typeof create<typeof ControlCommandSchema>>[1], RegExp | undefined]> = [
    ['no action', { commandId: 'c' }, /control command "c" has no action/],
    ['inject without selector', { commandId: 'c', action: { case: 'injectRuns', value: { runs: [1] } } }, undefined],
    ['skip with selector', { commandId: 'c', selector: { campaign: 'prompt' }, action: { case: 'skip', value: {} } }, undefined],
    ['skip without selector', { commandId: 'c', action: { case: 'skip', value: {} } }, /\(skip\) has no selector/],
    ['reprocess without selector', { commandId: 'c', action: { case: 'reprocess', value: {} } }, /\(reprocess\) has no selector/],
    ['approve with its task', { commandId: 'c', selector: task, action: { case: 'approveCondition', value: {} } }, undefined],
    ['approve without block', { commandId: 'c', selector: { ...task, blockIds: [] }, action: { case: 'approveCondition', value: {} } }, /\(approveCondition\) does not name its task/],
    ['reject without campaign', { commandId: 'c', selector: { ...task, campaign: '' }, action: { case: 'rejectCondition', value: {} } }, /\(rejectCondition\) does not name its task/],
    ['promote without selector', { commandId: 'c', action: { case: 'promoteCondition', value: {} } }, /\(promoteCondition\) does not name its task/]
  ]
  for (const [name, init, want] of cases) {
    const got = controlProblem(create(ControlCommandSchema, init) as ControlCommand)
    if (want === undefined) assert.equal(got, undefined, name)
    else assert.match(got ?? '', want, name)
  }
})
