import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseRequestId, promotionProblem, promotionRequestId, signOffProblem } from '../../src/domain/sign-off.ts'
import { transition, type Task, type TaskCondition } from '../../src/domain/task-state.ts'
import type { BlockState } from '../../src/domain/block-grouping.ts'

const block: BlockState = { id: 'run-355100', kind: 'run', runs: [355100], fill: 8000, era: 'Run2022C', recordedLumiPb: 1, closed: true, closedReason: 'single-run', openedAtMs: 0 }
const planned = transition(undefined, { kind: 'plan', spec: { subsystem: 'ECAL', campaign: 'prompt', workflow: 'timing', workflowVersion: 'v', task: 'timing-calib', jobs: 1, retries: 0, backoffS: 1, conditionTag: 'T_prompt', conditionSync: 'prompt', signOff: true }, block }, 0).task
const id = 'prompt/run-355100/timing-calib/1'
const cond = (patch: Partial<TaskCondition>): TaskCondition => ({ requestId: id, outcome: 'uploaded', payloadHash: 'h1', target: 'sqlite:/x', reason: '', signedOffBy: '', signOffReason: '', ...patch })
const task = (patch: Partial<Task>): Task => ({ ...planned, ...patch })

test('request ids parse into the task they name, and malformed ones say why', () => {
  assert.deepEqual(parseRequestId(id), { campaign: 'prompt', block: 'run-355100', task: 'timing-calib', attempt: 1 })
  const problems: Array<[string, RegExp]> = [
    ['prompt/run-1/t', /is not <campaign>\/<block id>\/<task>\/<attempt>/],
    ['prompt/run-1/t/1/check', /is not <campaign>\/<block id>\/<task>\/<attempt>/],
    ['prompt/bucket-1/t/1', /block "bucket-1" is not a valid name/],
    ['prompt/run-1/t/0', /attempt "0" of request id "prompt\/run-1\/t\/0" is not a positive integer/],
    ['pr..x/run-1/t/1', /campaign "pr\.\.x" is not a valid name/]
  ]
  for (const [text, expect] of problems) {
    const r = parseRequestId(text)
    assert.ok('problem' in r && expect.test(r.problem), `${text}: ${JSON.stringify(r)}`)
  }
  assert.equal(promotionRequestId(id, 'c-1'), `${id}/promote/c-1`)
})

const signOffTable: Array<{ name: string, task: Task | undefined, requestId?: string, expect: RegExp | undefined }> = [
  { name: 'a task awaiting sign-off can be signed off', task: task({ state: 'awaiting-signoff', condition: cond({ requestId: `${id}/check`, outcome: 'skipped' }) }), expect: undefined },
  { name: 'an unknown task cannot', task: undefined, expect: /no task for request/ },
  { name: 'a processing task cannot', task: task({ state: 'processing' }), expect: /is processing, not awaiting sign-off/ },
  { name: 'an older attempt cannot', task: task({ state: 'awaiting-signoff', attempt: 2 }), expect: /is not the current attempt of the task \(attempt 2/ }
]
for (const row of signOffTable) {
  test(`sign-off: ${row.name}`, () => {
    const p = signOffProblem(row.task, row.requestId ?? id)
    if (row.expect === undefined) assert.equal(p, undefined)
    else assert.match(p ?? '', row.expect)
  })
}

const promotionTable: Array<{ name: string, task: Task | undefined, hash?: string, expect: RegExp | undefined }> = [
  { name: 'an uploaded payload can be promoted', task: task({ state: 'done', condition: cond({}) }), expect: undefined },
  { name: 'a validated (dry-run) payload can be promoted', task: task({ state: 'done', condition: cond({ outcome: 'skipped', target: 'dry-run' }) }), expect: undefined },
  { name: 'the named hash must be the recorded one', task: task({ state: 'done', condition: cond({}) }), hash: 'h2', expect: /payload h2 is not the recorded payload h1/ },
  { name: 'a payload waiting for sign-off cannot be promoted', task: task({ state: 'awaiting-signoff', condition: cond({ requestId: `${id}/check`, outcome: 'skipped' }) }), expect: /has no upload outcome yet/ },
  { name: 'an upload under way cannot be promoted', task: task({ state: 'processing', condition: cond({ outcome: '', payloadHash: '' }) }), expect: /is still under way/ },
  { name: 'a rejected upload cannot be promoted', task: task({ state: 'failed', condition: cond({ outcome: 'rejected', payloadHash: 'h1' }) }), expect: /ended rejected/ },
  { name: 'a skipped upload without payload (no new payload) cannot be promoted', task: task({ state: 'done', condition: cond({ outcome: 'skipped', payloadHash: '' }) }), expect: /ended skipped without a payload/ },
  { name: 'a task without any upload cannot be promoted', task: task({ state: 'done' }), expect: /has no upload outcome yet/ },
  { name: 'an unknown task cannot be promoted', task: undefined, expect: /no task for request/ }
]
for (const row of promotionTable) {
  test(`promotion: ${row.name}`, () => {
    const p = promotionProblem(row.task, id, row.hash)
    if (row.expect === undefined) assert.equal(p, undefined)
    else assert.match(p ?? '', row.expect)
  })
}
