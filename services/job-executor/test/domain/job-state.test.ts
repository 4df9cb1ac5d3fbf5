import { test } from 'node:test'
import assert from 'node:assert/strict'
import { decideJobChange, type JobChange, type JobDecision, type JobRecord } from '../../src/domain/job-state.ts'

type Entry = JobRecord & { key: string }
const queued: Entry = { key: 'j#1', state: 'queued', owner: 'ex-a' }
const assigned: Entry = { key: 'j#1', state: 'assigned', owner: 'ex-a', agent: 'ag-1' }
const running: Entry = { key: 'j#1', state: 'running', owner: 'ex-a' }

test('every job change is decided from the stored entry', () => {
  const cases: Array<[string, Entry | undefined, JobChange, JobDecision<Entry>]> = [
    ['nothing stored', undefined, { kind: 'drop-queued' }, { kind: 'unchanged', reason: 'the job is not in the table' }],
    ['take-over of the dead owner\'s job', running, { kind: 'take-over', from: 'ex-a', to: 'ex-b' }, { kind: 'write', entry: { ...running, owner: 'ex-b' } }],
    ['take-over after another was faster', { ...running, owner: 'ex-c' }, { kind: 'take-over', from: 'ex-a', to: 'ex-b' }, { kind: 'unchanged', reason: 'owned by ex-c, not ex-a' }],
    ['assign a queued job', queued, { kind: 'assign', agent: 'ag-1', owner: 'ex-b' }, { kind: 'write', entry: { ...queued, state: 'assigned', agent: 'ag-1', owner: 'ex-b' } }],
    ['assign a job already assigned', assigned, { kind: 'assign', agent: 'ag-2', owner: 'ex-b' }, { kind: 'unchanged', reason: 'assigned, not queued' }],
    ['reattach to its agent', assigned, { kind: 'reattach', agent: 'ag-1', owner: 'ex-b' }, { kind: 'write', entry: { ...assigned, owner: 'ex-b' } }],
    ['reattach by another agent', assigned, { kind: 'reattach', agent: 'ag-2', owner: 'ex-b' }, { kind: 'unchanged', reason: 'not assigned to agent ag-2' }],
    ['requeue a lost agent\'s job', assigned, { kind: 'requeue', agent: 'ag-1' }, { kind: 'write', entry: { key: 'j#1', state: 'queued', owner: 'ex-a' } }],
    ['requeue for another agent', assigned, { kind: 'requeue', agent: 'ag-2' }, { kind: 'unchanged', reason: 'not assigned to agent ag-2' }],
    ['drop a queued job', queued, { kind: 'drop-queued' }, { kind: 'finish' }],
    ['drop a running job', running, { kind: 'drop-queued' }, { kind: 'unchanged', reason: 'running, not queued' }]
  ]
  for (const [name, entry, change, want] of cases) {
    const before = entry === undefined ? undefined : structuredClone(entry)
    assert.deepEqual(decideJobChange(entry, change), want, name)
    assert.deepEqual(entry, before, `${name}: the stored entry is not mutated`)
  }
})

test('a requeued entry carries no agent and keeps every other field', () => {
  const d = decideJobChange({ ...assigned, outdir: '/x', pid: 7 } as Entry & { outdir: string, pid: number }, { kind: 'requeue', agent: 'ag-1' })
  assert.equal(d.kind, 'write')
  if (d.kind !== 'write') return
  assert.equal('agent' in d.entry, false)
  assert.equal(d.entry.outdir, '/x')
  assert.equal(d.entry.pid, 7)
})
