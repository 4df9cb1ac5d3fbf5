import { test } from 'node:test'
import assert from 'node:assert/strict'
import { recordRequest, recordStatus, recoveryDecision, settleLedger, type JobHistory, type LocalEvidence, type ReportedPhase } from '../../src/domain/open-jobs.ts'

test('the ledger of the job topics: a try with DONE or FAILED has ended, a requested try without is open, whatever the order of the statuses', () => {
  const ledger = new Map<string, JobHistory<string>>()
  const start = (jobId: string, tryNo: number, backend = ''): void => { recordRequest(ledger, { jobId, try: tryNo, action: 'start', backend, request: `${jobId}#${tryNo}` }) }
  const status = (jobId: string, tryNo: number, phase: ReportedPhase, backendId = ''): void => { recordStatus(ledger, { jobId, try: tryNo, phase, backendId }) }
  start('a', 1); status('a', 1, 'queued'); status('a', 1, 'running', '41'); status('a', 1, 'done')
  start('b', 1); status('b', 1, 'failed'); start('b', 2); status('b', 2, 'queued')
  start('c', 1, 'htcondor'); status('c', 1, 'running', '12.0'); status('c', 1, 'queued') // a late QUEUED does not go back
  start('d', 1, 'agent')
  recordRequest(ledger, { jobId: 'd', try: 1, action: 'cancel', reason: 'operator' })
  status('e', 1, 'done') // a status without its request (another prefix's, or a request compacted away): ended, never opened
  const { ended, open } = settleLedger(ledger)
  assert.deepEqual(ended.sort(), ['a#1', 'b#1', 'e#1'])
  assert.deepEqual(open.map(j => [j.key, j.backend, j.phase, j.backendId, j.cancelled, j.cancelReason, j.request]), [
    ['b#2', 'local', 'queued', '', false, '', 'b#2'],
    ['c#1', 'htcondor', 'running', '12.0', false, '', 'c#1'],
    ['d#1', 'agent', 'none', '', true, 'operator', 'd#1']
  ])
})

test('what becomes of an open job whose entry was lost: followed where it can be seen, started once where it never was, reported otherwise', () => {
  const none: LocalEvidence = { alive: false }
  const cases: Array<[string, Pick<JobHistory<unknown>, 'backend' | 'phase' | 'backendId'>, LocalEvidence, string | undefined, ReturnType<typeof recoveryDecision>]> = [
    ['local, process alive here', { backend: 'local', phase: 'running', backendId: '41' }, { pid: 41, alive: true }, undefined, { kind: 'follow', pid: 41 }],
    ['local, started here during the outage (never reported running)', { backend: 'local', phase: 'queued', backendId: '' }, { pid: 41, alive: true }, undefined, { kind: 'follow', pid: 41 }],
    ['local, ended here with an exit status', { backend: 'local', phase: 'running', backendId: '41' }, { pid: 41, alive: false, exitStatus: 0 }, undefined, { kind: 'follow', pid: 41 }],
    ['local, started here, gone without exit status', { backend: 'local', phase: 'running', backendId: '41' }, { pid: 41, alive: false }, undefined, { kind: 'fail', reason: 'executor state lost (Redis): the job process is gone without an exit status', retryable: true }],
    ['local, reported running, not in this pod', { backend: 'local', phase: 'running', backendId: '41' }, none, undefined, { kind: 'fail', reason: 'executor state lost (Redis): the job was reported running, but its process is not in this pod', retryable: true }],
    ['local, queued, never started', { backend: 'local', phase: 'queued', backendId: '' }, none, undefined, { kind: 'queue' }],
    ['local, never answered', { phase: 'none', backendId: '' }, none, undefined, { kind: 'queue' }],
    ['agent, held by a connected agent', { backend: 'agent', phase: 'queued', backendId: '' }, none, 'lxplus-a', { kind: 'assign', agent: 'lxplus-a' }],
    ['agent, reported running by an agent', { backend: 'agent', phase: 'running', backendId: 'lxplus-b/977' }, none, undefined, { kind: 'assign', agent: 'lxplus-b' }],
    ['agent, only queued', { backend: 'agent', phase: 'queued', backendId: '' }, none, undefined, { kind: 'queue' }],
    ['htcondor, running with its id', { backend: 'htcondor', phase: 'running', backendId: '12.0' }, none, undefined, { kind: 'look-up', backendId: '12.0', runningReported: true }],
    ['htcondor, queued: looked up by autocal job id before any submission', { backend: 'htcondor', phase: 'queued', backendId: '' }, none, undefined, { kind: 'look-up', runningReported: false }],
    ['kubernetes, never answered', { backend: 'kubernetes', phase: 'none', backendId: '' }, none, undefined, { kind: 'look-up', runningReported: false }],
    ['an unknown backend', { backend: 'slurm', phase: 'none', backendId: '' }, none, undefined, { kind: 'fail', reason: "backend 'slurm' is not available on this executor", retryable: false }]
  ]
  for (const [name, job, local, agent, expected] of cases) assert.deepEqual(recoveryDecision(job, local, agent), expected, name)
})
