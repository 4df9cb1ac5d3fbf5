import { test } from 'node:test'
import assert from 'node:assert/strict'
import { transition, type Task, type TaskEventInput, type TaskSpec, type TaskStateName } from '../../src/domain/task-state.ts'
import { alreadyApplied, recordCommand } from '../../src/domain/commands.ts'
import type { BlockState } from '../../src/domain/block-grouping.ts'

const block: BlockState = { id: 'run-357401', kind: 'run', runs: [357401], fill: 8102, era: 'Run2022D', recordedLumiPb: 12, closed: true, closedReason: 'single-run', openedAtMs: 0 }
const spec: TaskSpec = { subsystem: 'ECAL', campaign: 'prompt', workflow: 'timing', workflowVersion: 'v', task: 'timing-reco', jobs: 3, retries: 0, backoffS: 10, conditionTag: '', conditionSync: '', signOff: false }
const condSpec: TaskSpec = { ...spec, task: 'timing-calib', jobs: 1, conditionTag: 'EcalTimeCalibConstants_v01_prompt', conditionSync: 'prompt' }
const budget = { retries: 0, backoffS: 10 }
const job = (index: number, phase: 'running' | 'done' | 'failed', t = 1): TaskEventInput =>
  ({ kind: 'job', spec: budget, attempt: 1, index, try: t, phase, outputs: phase === 'done' ? [{ path: `/o/${index}-${t}.root`, sizeBytes: 1, sha256: 'x', label: '' }] : [], reason: phase === 'failed' ? 'exit code 3' : '', logUrl: '' })
const resubmit: TaskEventInput = { kind: 'resubmit-failed', actor: 'alice', reason: 'node lost', commandId: 'c-resubmit' }
const gates = (s: TaskSpec): TaskEventInput => ({ kind: 'gates', spec: s, pending: [] })

function run (events: TaskEventInput[], s = spec): { task: Task, effects: string[], ignored: string | undefined } {
  let task = transition(undefined, { kind: 'plan', spec: s, block }, 0).task
  let effects: string[] = []
  let ignored: string | undefined
  for (const e of events) {
    const r = transition(task, e, 1000)
    task = r.task
    ignored = r.ignored
    effects = r.effects.map(x => x.kind === 'request-condition' ? x.kind : `${x.kind}:${x.index}:${x.try}`)
  }
  return { task, effects, ignored }
}

// job 0 done, job 1 failed (no retries), job 2 still running: the task fails and job 2 is cancelled
const failedTask = [gates(spec), job(0, 'done'), job(2, 'running'), job(1, 'failed')]

const table: Array<{ name: string, events: TaskEventInput[], spec?: TaskSpec, state: TaskStateName, jobs?: string, effects?: string[], ignored?: RegExp, outputs?: string[] }> = [
  {
    name: 'a failed task runs again only its unfinished jobs, each with its next try, in the same attempt',
    events: [...failedTask, resubmit],
    state: 'processing',
    jobs: '0:done:1 1:idle:2 2:idle:2',
    effects: ['start-job:1:2', 'start-job:2:2']
  },
  {
    name: 'the resubmitted jobs done make the task done with the outputs of every job',
    events: [...failedTask, resubmit, job(1, 'done', 2), job(2, 'done', 2)],
    state: 'done',
    jobs: '0:done:1 1:done:2 2:done:2',
    outputs: ['/o/0-1.root', '/o/1-2.root', '/o/2-2.root']
  },
  {
    name: 'a late report of the cancelled try changes nothing after the resubmit',
    events: [...failedTask, resubmit, job(2, 'done', 1)],
    state: 'processing',
    jobs: '0:done:1 1:idle:2 2:idle:2',
    ignored: /report of try 1, job is at try 2/
  },
  {
    name: 'a resubmitted job failing again fails the task (the retry budget is not renewed)',
    events: [...failedTask, resubmit, job(1, 'failed', 2)],
    state: 'failed',
    effects: ['cancel-job:2:2']
  },
  {
    name: 'a processing task is left as it is',
    events: [gates(spec), job(1, 'running'), resubmit],
    state: 'processing',
    ignored: /only a failed task's jobs are resubmitted \(task is processing\)/
  },
  {
    name: 'a done task is left as it is',
    events: [gates(spec), job(0, 'done'), job(1, 'done'), job(2, 'done'), resubmit],
    state: 'done',
    ignored: /task is done/
  },
  {
    name: 'a task that failed after all its jobs were done (its upload) is left as it is: reprocess it',
    spec: condSpec,
    events: [gates(condSpec), job(0, 'done'), { kind: 'condition', attempt: 1, outcome: 'rejected', reason: 'since before FCSR' }, resubmit],
    state: 'failed',
    ignored: /every job of attempt 1 is done.*reprocess/
  }
]

for (const row of table) {
  test(row.name, () => {
    const r = run(row.events, row.spec)
    assert.equal(r.task.state, row.state)
    assert.equal(r.task.attempt, 1)
    if (row.jobs !== undefined) assert.equal(r.task.jobs.map(j => `${j.index}:${j.state}:${j.try}`).join(' '), row.jobs)
    if (row.effects !== undefined) assert.deepEqual(r.effects, row.effects)
    if (row.ignored !== undefined) assert.match(r.ignored ?? '', row.ignored)
    if (row.outputs !== undefined) assert.deepEqual(r.task.outputs.map(o => o.path), row.outputs)
  })
}

test('a resubmit records who, which command and why, and clears the failed jobs\' reasons', () => {
  const r = run([...failedTask, resubmit])
  assert.equal(r.task.actor, 'alice')
  assert.equal(r.task.commandId, 'c-resubmit')
  assert.match(r.task.reason, /^resubmit of failed jobs: node lost; job\(s\) 1,2 requested again$/)
  assert.equal(r.task.jobs[1]?.reason, '')
})

test('a resubmit command already applied to a task is recognised when redelivered', () => {
  const r = run([...failedTask, resubmit])
  assert.equal(alreadyApplied(r.task, resubmit), false)
  assert.equal(alreadyApplied(recordCommand(r.task, 'c-resubmit'), resubmit), true)
})
