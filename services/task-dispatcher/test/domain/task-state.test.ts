import { test } from 'node:test'
import assert from 'node:assert/strict'
import { transition, type Task, type TaskEventInput, type TaskSpec, type TaskStateName } from '../../src/domain/task-state.ts'
import type { BlockState } from '../../src/domain/block-grouping.ts'

const block: BlockState = { id: 'run-355100', kind: 'run', runs: [355100], fill: 8000, era: 'Run2022C', recordedLumiPb: 1, closed: true, closedReason: 'single-run', openedAtMs: 0 }
const spec: TaskSpec = { subsystem: 'ECAL', campaign: 'prompt', workflow: 'timing', workflowVersion: 'v', task: 'timing-reco', jobs: 2, retries: 1, backoffS: 10, conditionTag: '', conditionSync: '', signOff: false }
const condSpec: TaskSpec = { ...spec, task: 'timing-calib', jobs: 1, conditionTag: 'EcalTimeCalibConstants_v01_prompt', conditionSync: 'prompt' }
const offSpec: TaskSpec = { ...spec, task: 'pi0-ic', jobs: 1, conditionTag: 'EcalIntercalibConstants_pi0_v01_offline', conditionSync: 'offline' }
const budget = { retries: 1, backoffS: 10 }
const op = (kind: 'reprocess' | 'skip' | 'cancel'): TaskEventInput => ({ kind, actor: 'alice', reason: 'test', commandId: 'c1' })
const job = (index: number, phase: 'queued' | 'running' | 'done' | 'failed', t = 1, attempt = 1): TaskEventInput =>
  ({ kind: 'job', spec: budget, attempt, index, try: t, phase, outputs: phase === 'done' ? [{ path: `/o/${index}.root`, sizeBytes: 1, sha256: 'x', label: '' }] : [], reason: phase === 'failed' ? 'exit 1' : '', logUrl: '' })

function planned (s = spec): Task {
  return transition(undefined, { kind: 'plan', spec: s, block }, 0).task
}
function run (events: TaskEventInput[], s = spec, now = 1000): { task: Task, effects: string[] } {
  let task = planned(s)
  const effects: string[] = []
  for (const e of events) {
    const r = transition(task, e, now)
    task = r.task
    effects.push(...r.effects.map(x => x.kind === 'request-condition' ? (x.check ? 'check-condition' : x.expectedPayloadHash === '' ? x.kind : `${x.kind}:${x.expectedPayloadHash}`) : `${x.kind}:${x.index}:${x.try}`))
  }
  return { task, effects }
}
const processing: TaskEventInput[] = [{ kind: 'gates', spec, pending: [] }]

// sign-off: the jobs' done report carries the task's signOff (from its upload in the campaign)
const signed = { ...condSpec, signOff: true }
const signedDone: TaskEventInput = { ...job(0, 'done'), spec: { ...budget, signOff: true } } as TaskEventInput
const upload = 'prompt/run-355100/timing-calib/1'
const check = `${upload}/check`
const checked = (hash = 'h1'): TaskEventInput => ({ kind: 'condition', attempt: 1, outcome: 'skipped', reason: 'dry run: valid', requestId: check, payloadHash: hash, since: 355100n, target: 'dry-run' })
const decide = (decision: 'approve' | 'reject', payloadHash = 'h1', requestId = upload): TaskEventInput => ({ kind: 'sign-off', decision, requestId, payloadHash, actor: 'alice', reason: 'looks right', commandId: 'c2' })
const toSignOff: TaskEventInput[] = [{ kind: 'gates', spec: signed, pending: [] }, signedDone, checked()]

const table: Array<{ name: string, events: TaskEventInput[], spec?: TaskSpec, state: TaskStateName, attempt?: number, effects?: string[], now?: number }> = [
  { name: 'a planned task is new', events: [], state: 'new' },
  { name: 'a new task with a closed gate waits', events: [{ kind: 'gates', spec, pending: ['t0StreamDone:Express'] }], state: 'waiting' },
  { name: 'a new task with every gate open is processing and requests its jobs', events: processing, state: 'processing', effects: ['start-job:0:1', 'start-job:1:1'] },
  { name: 'a waiting task whose gates open is processing', events: [{ kind: 'gates', spec, pending: ['needs:x'] }, ...processing], state: 'processing', effects: ['start-job:0:1', 'start-job:1:1'] },
  { name: 'a running job keeps the task processing', events: [...processing, job(0, 'running')], state: 'processing' },
  { name: 'a task is done when all its jobs are done', events: [...processing, job(0, 'done'), job(1, 'done')], state: 'done' },
  { name: 'a task with a condition asks for the upload when its jobs are done', spec: condSpec, events: [{ kind: 'gates', spec: condSpec, pending: [] }, job(0, 'done')], state: 'processing', effects: ['start-job:0:1', 'request-condition'] },
  { name: 'a task with a condition is done when the uploader confirms', spec: condSpec, events: [{ kind: 'gates', spec: condSpec, pending: [] }, job(0, 'done'), { kind: 'condition', attempt: 1, outcome: 'uploaded', reason: '' }], state: 'done' },
  { name: 'a task with a condition is done when the uploader skips an identical payload', spec: condSpec, events: [{ kind: 'gates', spec: condSpec, pending: [] }, job(0, 'done'), { kind: 'condition', attempt: 1, outcome: 'skipped', reason: 'same hash' }], state: 'done' },
  { name: 'a task with a condition fails with the uploader rejection', spec: condSpec, events: [{ kind: 'gates', spec: condSpec, pending: [] }, job(0, 'done'), { kind: 'condition', attempt: 1, outcome: 'rejected', reason: 'since below FCSR' }], state: 'failed' },
  { name: 'a failed job within the budget keeps the task processing', events: [...processing, job(0, 'failed')], state: 'processing' },
  { name: 'a failed job is not requested again before its backoff passed', events: [...processing, job(0, 'failed'), { kind: 'retry-due' }], now: 1000, state: 'processing', effects: ['start-job:0:1', 'start-job:1:1'] },
  { name: 'a failure report of a try that was never requested changes nothing', events: [...processing, job(0, 'failed'), job(0, 'failed', 2)], state: 'processing' },
  { name: 'a done task goes back to new with the next attempt on reprocess', events: [...processing, job(0, 'done'), job(1, 'done'), op('reprocess')], state: 'new', attempt: 2 },
  { name: 'a failed task goes back to new with the next attempt on reprocess', spec: condSpec, events: [{ kind: 'gates', spec: condSpec, pending: [] }, job(0, 'done'), { kind: 'condition', attempt: 1, outcome: 'failed', reason: 'x' }, op('reprocess')], state: 'new', attempt: 2 },
  { name: 'reprocess of a processing task cancels its jobs', events: [...processing, job(0, 'running'), op('reprocess')], state: 'new', attempt: 2, effects: ['start-job:0:1', 'start-job:1:1', 'cancel-job:0:1', 'cancel-job:1:1'] },
  { name: 'cancel of a running task cancels its jobs', events: [...processing, job(0, 'running'), job(1, 'done'), op('cancel')], state: 'cancelled', effects: ['start-job:0:1', 'start-job:1:1', 'cancel-job:0:1'] },
  { name: 'cancel of a waiting task', events: [{ kind: 'gates', spec, pending: ['x'] }, op('cancel')], state: 'cancelled' },
  { name: 'cancel of a done task changes nothing', events: [...processing, job(0, 'done'), job(1, 'done'), op('cancel')], state: 'done' },
  { name: 'skip of a new task', events: [op('skip')], state: 'skipped' },
  { name: 'skip of a processing task cancels its jobs', events: [...processing, op('skip')], state: 'skipped', effects: ['start-job:0:1', 'start-job:1:1', 'cancel-job:0:1', 'cancel-job:1:1'] },
  { name: 'a skipped task can be reprocessed', events: [op('skip'), op('reprocess')], state: 'new', attempt: 2 },
  { name: 'a job report of an older attempt changes nothing', events: [...processing, op('reprocess'), { kind: 'gates', spec, pending: [] }, job(0, 'done', 1, 1), job(1, 'done', 1, 1)], state: 'processing', attempt: 2 },
  { name: 'a redelivered job report changes nothing', events: [...processing, job(0, 'done'), job(0, 'done')], state: 'processing' },
  { name: 'a task whose upload needs sign-off asks for a dry-run check when its jobs are done', spec: signed, events: [{ kind: 'gates', spec: signed, pending: [] }, signedDone], state: 'processing', effects: ['start-job:0:1', 'check-condition'] },
  { name: 'a checked payload waits for sign-off', spec: signed, events: toSignOff, state: 'awaiting-signoff' },
  { name: 'a payload refused by the check fails the task without sign-off', spec: signed, events: [{ kind: 'gates', spec: signed, pending: [] }, signedDone, { kind: 'condition', attempt: 1, outcome: 'rejected', reason: 'empty-iov', requestId: check }], state: 'failed' },
  { name: 'a check that finds no new payload ends the task done without sign-off', spec: signed, events: [{ kind: 'gates', spec: signed, pending: [] }, signedDone, checked('')], state: 'done' },
  { name: 'an approved payload is uploaded with the checked hash', spec: signed, events: [...toSignOff, decide('approve')], state: 'processing', effects: ['start-job:0:1', 'check-condition', 'request-condition:h1'] },
  { name: 'an approved payload is done when the uploader confirms the upload', spec: signed, events: [...toSignOff, decide('approve'), { kind: 'condition', attempt: 1, outcome: 'uploaded', reason: '', requestId: upload, payloadHash: 'h1' }], state: 'done' },
  { name: 'the check outcome repeated after the approval changes nothing', spec: signed, events: [...toSignOff, decide('approve'), checked()], state: 'processing' },
  { name: 'a rejected payload fails the task and uploads nothing', spec: signed, events: [...toSignOff, decide('reject')], state: 'failed', effects: ['start-job:0:1', 'check-condition'] },
  { name: 'a sign-off of another payload hash changes nothing', spec: signed, events: [...toSignOff, decide('approve', 'other')], state: 'awaiting-signoff' },
  { name: 'a sign-off of another attempt changes nothing', spec: signed, events: [...toSignOff, decide('approve', 'h1', 'prompt/run-355100/timing-calib/2')], state: 'awaiting-signoff' },
  { name: 'a sign-off of a task not awaiting one changes nothing', spec: condSpec, events: [{ kind: 'gates', spec: condSpec, pending: [] }, job(0, 'done'), decide('approve')], state: 'processing' },
  { name: 'a task awaiting sign-off can be reprocessed', spec: signed, events: [...toSignOff, op('reprocess')], state: 'new', attempt: 2 },
  { name: 'a task awaiting sign-off can be cancelled', spec: signed, events: [...toSignOff, op('cancel')], state: 'cancelled' },
  { name: 'an upload outcome while the check is awaited changes nothing', spec: signed, events: [{ kind: 'gates', spec: signed, pending: [] }, signedDone, { kind: 'condition', attempt: 1, outcome: 'uploaded', reason: '', requestId: upload }], state: 'processing' },
  { name: 'a condition outcome of another attempt changes nothing', spec: condSpec, events: [{ kind: 'gates', spec: condSpec, pending: [] }, job(0, 'done'), { kind: 'condition', attempt: 7, outcome: 'uploaded', reason: '' }], state: 'processing' },
  // append-only tags: the upload waits for an earlier block (upload-order.ts), then goes out on upload-due
  { name: 'an upload to an append-only tag waits when an earlier block is not over', spec: offSpec, events: [{ kind: 'gates', spec: offSpec, pending: [] }, { ...job(0, 'done'), uploadWaitsFor: 'run-355000' } as TaskEventInput], state: 'processing', effects: ['start-job:0:1'] },
  { name: 'a waiting upload goes out on upload-due once nothing earlier is open', spec: offSpec, events: [{ kind: 'gates', spec: offSpec, pending: [] }, { ...job(0, 'done'), uploadWaitsFor: 'run-355000' } as TaskEventInput, { kind: 'upload-due', spec: { signOff: false } }], state: 'processing', effects: ['start-job:0:1', 'request-condition'] },
  { name: 'a waiting upload needing sign-off is checked first on upload-due', spec: offSpec, events: [{ kind: 'gates', spec: offSpec, pending: [] }, { ...job(0, 'done'), uploadWaitsFor: 'run-355000' } as TaskEventInput, { kind: 'upload-due', spec: { signOff: true } }], state: 'processing', effects: ['start-job:0:1', 'check-condition'] },
  { name: 'upload-due on a task whose upload was already requested changes nothing', spec: offSpec, events: [{ kind: 'gates', spec: offSpec, pending: [] }, job(0, 'done'), { kind: 'upload-due', spec: { signOff: false } }], state: 'processing', effects: ['start-job:0:1', 'request-condition'] },
  { name: 'a waiting upload is done once its upload is confirmed', spec: offSpec, events: [{ kind: 'gates', spec: offSpec, pending: [] }, { ...job(0, 'done'), uploadWaitsFor: 'run-355000' } as TaskEventInput, { kind: 'upload-due', spec: { signOff: false } }, { kind: 'condition', attempt: 1, outcome: 'uploaded', reason: '' }], state: 'done', effects: ['start-job:0:1', 'request-condition'] },
  // branches of each step that the rows above do not reach
  { name: 'gates reported for a processing task change nothing', events: [...processing, { kind: 'gates', spec, pending: ['x'] }], state: 'processing', effects: ['start-job:0:1', 'start-job:1:1'] },
  { name: 'a waiting task with other pending gates still waits', events: [{ kind: 'gates', spec, pending: ['a'] }, { kind: 'gates', spec, pending: ['b'] }], state: 'waiting' },
  { name: 'a job report for a task not processing changes nothing', events: [{ kind: 'gates', spec, pending: ['x'] }, job(0, 'done')], state: 'waiting' },
  { name: 'a report of a job the task does not have changes nothing', events: [...processing, job(5, 'done'), job(0, 'done'), job(1, 'done')], state: 'done' },
  { name: 'a queued report changes nothing', events: [...processing, job(0, 'queued'), job(1, 'done')], state: 'processing' },
  { name: 'a job done after running, and the other done, ends the task', events: [...processing, job(0, 'running'), job(0, 'running'), job(0, 'done'), job(1, 'done')], state: 'done' },
  { name: 'retry-due outside processing changes nothing', events: [{ kind: 'retry-due' }], state: 'new' },
  { name: 'a condition outcome for a task without a tag changes nothing', events: [...processing, job(0, 'done'), { kind: 'condition', attempt: 1, outcome: 'uploaded', reason: '' }], state: 'processing' },
  { name: 'a condition outcome before every job is done changes nothing', spec: { ...condSpec, jobs: 2 }, events: [{ kind: 'gates', spec: { ...condSpec, jobs: 2 }, pending: [] }, job(0, 'done'), { kind: 'condition', attempt: 1, outcome: 'uploaded', reason: '' }], state: 'processing' },
  { name: 'a payload check that fails (not only rejects) fails the task', spec: signed, events: [{ kind: 'gates', spec: signed, pending: [] }, signedDone, { kind: 'condition', attempt: 1, outcome: 'failed', reason: 'disk', requestId: check }], state: 'failed' },
  { name: 'skip of a done task changes nothing', events: [...processing, job(0, 'done'), job(1, 'done'), op('skip')], state: 'done' },
  { name: 'a failed task can be skipped', spec: condSpec, events: [{ kind: 'gates', spec: condSpec, pending: [] }, job(0, 'done'), { kind: 'condition', attempt: 1, outcome: 'rejected', reason: 'x' }, op('skip')], state: 'skipped' },
  { name: 'skip of a skipped task changes nothing, and it stays at its attempt', events: [op('skip'), op('skip')], state: 'skipped', attempt: 1 },
  { name: 'cancel of a cancelled task changes nothing', events: [op('cancel'), op('cancel'), op('skip')], state: 'skipped' },
]

for (const row of table) {
  test(row.name, () => {
    const r = run(row.events, row.spec, row.now)
    assert.equal(r.task.state, row.state)
    if (row.attempt !== undefined) assert.equal(r.task.attempt, row.attempt)
    if (row.effects !== undefined) assert.deepEqual(r.effects, row.effects)
  })
}

test('retries are exhausted after the budget and the remaining jobs are cancelled', () => {
  let t = transition(planned(), { kind: 'gates', spec, pending: [] }, 0).task
  t = transition(t, job(0, 'failed'), 0).task
  assert.equal(t.jobs[0]?.retryAtMs, 10_000)
  const early = transition(t, { kind: 'retry-due' }, 5_000)
  assert.equal(early.changed, false)
  const retry = transition(t, { kind: 'retry-due' }, 10_000)
  assert.deepEqual(retry.effects, [{ kind: 'start-job', index: 0, try: 2 }])
  const fail = transition(retry.task, job(0, 'failed', 2), 11_000)
  assert.equal(fail.task.state, 'failed')
  assert.match(fail.task.reason, /retries exhausted/)
  assert.deepEqual(fail.effects, [{ kind: 'cancel-job', index: 1, try: 1, reason: 'another job of the task failed' }])
})

test('the backoff doubles with every try', () => {
  const s2 = { retries: 3, backoffS: 10 }
  let t = transition(planned(), { kind: 'gates', spec, pending: [] }, 0).task
  const delays: number[] = []
  for (let tryNo = 1; tryNo <= 3; tryNo++) {
    t = transition(t, { ...job(0, 'failed', tryNo), spec: s2 } as TaskEventInput, 0).task
    delays.push(t.jobs[0]?.retryAtMs ?? -1)
    t = transition(t, { kind: 'retry-due' }, 1e9).task
  }
  assert.deepEqual(delays, [10_000, 20_000, 40_000])
})

test('every transition bumps the version by one and keeps the previous state', () => {
  const a = planned()
  assert.equal(a.version, 1)
  const b = transition(a, { kind: 'gates', spec, pending: ['x'] }, 5)
  assert.equal(b.task.version, 2)
  assert.equal(b.task.previousState, 'new')
  const c = transition(b.task, { kind: 'gates', spec, pending: ['x'] }, 6)
  assert.equal(c.changed, false)
  assert.equal(c.task.version, 2)
})

test('an operator transition records who and which command', () => {
  const r = transition(planned(), op('skip'), 5)
  assert.equal(r.task.actor, 'alice')
  assert.equal(r.task.commandId, 'c1')
  assert.equal(r.task.reason, 'skip: test')
})

test('a block change of a planned task is a transition that keeps the state', () => {
  const open = { ...block, id: 'fill-8000', kind: 'fill' as const, closed: false, closedReason: '' }
  const t = transition(undefined, { kind: 'plan', spec, block: open }, 0).task
  const r = transition(t, { kind: 'plan', spec, block: { ...open, runs: [355100, 355101], closed: true, closedReason: 'next-fill' } }, 1)
  assert.equal(r.changed, true)
  assert.equal(r.task.state, 'new')
  assert.equal(r.task.reason, 'block closed: next-fill')
  assert.equal(transition(r.task, { kind: 'plan', spec, block: r.task.block }, 2).changed, false)
})

test('the sign-off path records the checked payload, who signed it off and the uploaded since', () => {
  let t = run(toSignOff, signed).task
  assert.deepEqual(t.condition, { requestId: check, outcome: 'skipped', payloadHash: 'h1', since: '355100', target: 'dry-run', reason: 'dry run: valid', signedOffBy: '', signOffReason: '' })
  assert.match(t.reason, /payload h1 checked for EcalTimeCalibConstants_v01_prompt: waiting for sign-off \(autocal conditions approve\|reject --request prompt\/run-355100\/timing-calib\/1\)/)
  t = transition(t, decide('approve'), 2000).task
  assert.equal(t.actor, 'alice')
  assert.equal(t.condition?.requestId, upload)
  assert.equal(t.condition?.signedOffBy, 'alice')
  t = transition(t, { kind: 'condition', attempt: 1, outcome: 'uploaded', reason: 'ok', requestId: upload, payloadHash: 'h1', since: 355100n, target: 'sqlite:/x' }, 3000).task
  assert.equal(t.state, 'done')
  assert.equal(t.condition?.outcome, 'uploaded')
  assert.equal(t.condition?.signedOffBy, 'alice')
  const rejected = transition(run(toSignOff, signed).task, decide('reject'), 2000).task
  assert.equal(rejected.reason, 'sign-off rejected by alice: looks right; payload h1 not uploaded to EcalTimeCalibConstants_v01_prompt')
})

test('a task whose jobs fail says that its condition was not uploaded', () => {
  const t = run([{ kind: 'gates', spec: condSpec, pending: [] }, { ...job(0, 'failed'), spec: { retries: 0, backoffS: 1 } } as TaskEventInput], condSpec).task
  assert.equal(t.state, 'failed')
  assert.match(t.reason, /retries exhausted; nothing uploaded to EcalTimeCalibConstants_v01_prompt$/)
})

test('a waiting upload names the block it waits for, and a second upload-due naming another block says so', () => {
  const { task } = run([{ kind: 'gates', spec: offSpec, pending: [] }, { ...job(0, 'done'), uploadWaitsFor: 'run-355000' } as TaskEventInput], offSpec)
  assert.equal(task.reason, "all 1 job(s) done; upload waits for run-355000's upload to EcalIntercalibConstants_pi0_v01_offline: an offline tag takes only appends")
  assert.equal(task.condition, undefined)
  const same = transition(task, { kind: 'upload-due', spec: { signOff: false }, waitsFor: 'run-355000' }, 2000)
  assert.equal(same.changed, false)
  const other = transition(task, { kind: 'upload-due', spec: { signOff: false }, waitsFor: 'run-355050' }, 2000)
  assert.equal(other.changed, true)
  assert.deepEqual(other.effects, [])
  assert.match(other.task.reason, /upload waits for run-355050's upload/)
})

test('an event other than plan for a task that does not exist is a caller error', () => {
  assert.throws(() => transition(undefined, { kind: 'retry-due' }, 0), /no task for a retry-due event/)
})

test('a reprocess drops the condition of the earlier attempt', () => {
  const t = transition(run(toSignOff, signed).task, op('reprocess'), 2000).task
  assert.equal(t.condition, undefined)
  assert.deepEqual([t.jobs, t.outputs, t.pendingGates], [[], [], []])
})

test('a second failure report of the same try changes nothing', () => {
  const failed = run([...processing, job(0, 'failed')]).task
  const again = transition(failed, job(0, 'failed'), 5000)
  assert.equal(again.changed, false)
  assert.equal(again.ignored, 'job 0 try 1 already failed')
})

// issue 15: retry policies by cause (retry-policy.ts)
const policySpec = { retries: 1, backoffS: 10, retryNever: { exitCodes: [3], signals: ['SIGSEGV'] }, infrastructureRetries: 2 }
const failedTry = (index: number, t: number, end: { exitCode?: number, signal?: string, retryable?: boolean }, reason: string): TaskEventInput =>
  ({ kind: 'job', spec: policySpec, attempt: 1, index, try: t, phase: 'failed', outputs: [], reason, logUrl: '', ...end })
const retryTable: Array<{ name: string, failures: Array<[{ exitCode?: number, signal?: string, retryable?: boolean }, string]>, state: TaskStateName, reason: RegExp, infra?: number }> = [
  { name: 'an exit code of retry.never fails the task at once, with budget left', failures: [[{ exitCode: 3, retryable: true }, 'exit code 3']], state: 'failed', reason: /^job 0 try 1 failed: exit code 3; never retried \(retry\.never\)$/ },
  { name: 'a signal of retry.never fails the task at once', failures: [[{ signal: 'SIGSEGV', retryable: true }, 'killed by SIGSEGV']], state: 'failed', reason: /never retried/ },
  { name: 'another exit code uses retries', failures: [[{ exitCode: 4, retryable: true }, 'exit code 4']], state: 'processing', reason: /^job 0 try 1 failed: exit code 4; retry in 10 s$/ },
  { name: 'an infrastructure failure is retried apart from retries', failures: [[{ retryable: true }, 'held by HTCondor: x']], state: 'processing', reason: /^job 0 try 1 failed: held by HTCondor: x; infrastructure failure 1 of 2, not counted against retries; retry in 10 s$/, infra: 1 },
  { name: 'after two infrastructure failures the job still has its own retry', failures: [[{ retryable: true }, 'evicted'], [{ retryable: true }, 'evicted'], [{ exitCode: 4, retryable: true }, 'exit code 4']], state: 'processing', reason: /^job 0 try 3 failed: exit code 4; retry in 10 s$/, infra: 2 },
  { name: 'the third infrastructure failure exhausts its budget', failures: [[{ retryable: true }, 'evicted'], [{ retryable: true }, 'evicted'], [{ retryable: true }, 'evicted']], state: 'failed', reason: /; infrastructure retries exhausted \(retry\.infrastructure: 2\)$/, infra: 3 },
  { name: 'a job failure after an infrastructure one still has its budget, then exhausts it', failures: [[{ retryable: true }, 'evicted'], [{ exitCode: 4, retryable: true }, 'exit code 4'], [{ exitCode: 4, retryable: true }, 'exit code 4']], state: 'failed', reason: /^job 0 try 3 failed: exit code 4; retries exhausted$/, infra: 1 }
]
for (const row of retryTable) {
  test(`retry by cause: ${row.name}`, () => {
    let t = transition(planned(), { kind: 'gates', spec, pending: [] }, 0).task
    let now = 0
    for (const [i, [end, reason]] of row.failures.entries()) {
      if (i > 0) {
        now = t.jobs[0]!.retryAtMs!
        t = transition(t, { kind: 'retry-due' }, now).task
      }
      t = transition(t, failedTry(0, i + 1, end, reason), now).task
    }
    assert.equal(t.state, row.state)
    assert.match(t.reason, row.reason)
    assert.equal(t.jobs[0]?.infraFailures, row.infra)
  })
}
