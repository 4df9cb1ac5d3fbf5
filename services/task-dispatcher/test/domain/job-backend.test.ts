import { test } from 'node:test'
import assert from 'node:assert/strict'
import { transition, type Task, type TaskEventInput, type TaskSpec } from '../../src/domain/task-state.ts'
import type { BlockState } from '../../src/domain/block-grouping.ts'

const block: BlockState = { id: 'run-357401', kind: 'run', runs: [357401], fill: 8102, era: 'Run2022D', recordedLumiPb: 12, closed: true, closedReason: 'single-run', openedAtMs: 0 }
const spec: TaskSpec = { subsystem: 'ECAL', campaign: 'prompt', workflow: 'timing', workflowVersion: 'v', task: 'timing-reco', jobs: 1, retries: 1, backoffS: 1, conditionTag: '', conditionSync: '', signOff: false }
const report = (phase: 'queued' | 'running' | 'done' | 'failed', t: number, backend?: [string, string]): TaskEventInput =>
  ({ kind: 'job', spec: { retries: 1, backoffS: 1 }, attempt: 1, index: 0, try: t, phase, outputs: [], reason: phase === 'failed' ? 'exit code 3' : '', logUrl: '', ...(backend === undefined ? {} : { backend: backend[0], backendId: backend[1] }) })

function run (events: TaskEventInput[]): Task {
  let task = transition(undefined, { kind: 'plan', spec, block }, 0).task
  task = transition(task, { kind: 'gates', spec, pending: [] }, 0).task
  for (const [i, e] of events.entries()) task = transition(task, e, 10_000 * (i + 1)).task
  return task
}

const table: Array<{ name: string, events: TaskEventInput[], backend: string | undefined, backendId: string | undefined }> = [
  { name: 'a job not yet reported has no backend id', events: [], backend: undefined, backendId: undefined },
  { name: 'running records the HTCondor cluster.proc', events: [report('running', 1, ['htcondor', '4711.0'])], backend: 'htcondor', backendId: '4711.0' },
  { name: 'done keeps the id when the report names none', events: [report('running', 1, ['kubernetes', 'autocal-j-t1']), report('done', 1, ['', ''])], backend: 'kubernetes', backendId: 'autocal-j-t1' },
  { name: 'a failed try records where it ran', events: [report('running', 1, ['local', '31337']), report('failed', 1, ['local', '31337'])], backend: 'local', backendId: '31337' },
  { name: 'the next try forgets the failed try\'s id until it is reported', events: [report('running', 1, ['local', '31337']), report('failed', 1, ['local', '31337']), { kind: 'retry-due' }], backend: undefined, backendId: undefined },
  { name: 'the next try records its own id', events: [report('failed', 1, ['agent', 'agent-1/11']), { kind: 'retry-due' }, report('running', 2, ['agent', 'agent-2/12'])], backend: 'agent', backendId: 'agent-2/12' },
  { name: 'a report of another try records nothing', events: [report('running', 2, ['htcondor', '9.0'])], backend: undefined, backendId: undefined }
]

for (const row of table) {
  test(`backend id: ${row.name}`, () => {
    const job = run(row.events).jobs[0]
    assert.equal(job?.backend, row.backend)
    assert.equal(job?.backendId, row.backendId)
  })
}
