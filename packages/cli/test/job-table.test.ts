import { test } from 'node:test'
import assert from 'node:assert/strict'
import { create } from '@bufbuild/protobuf'
import { JobState, TaskEventSchema } from '@autocal/contracts'
import { jobLines, jobRows, outputLines, outputRows } from '../src/job-table.ts'
import { logUrlOf } from '../src/job-log.ts'

const task = (era: string) => create(TaskEventSchema, {
  campaign: 'prompt',
  task: 'timing-reco',
  attempt: 2,
  block: { id: 'run-357478', runs: [357478], era },
  jobs: [
    { index: 0, state: JobState.DONE, try: 1, logUrl: 'http://x/jobs/prompt%2Frun-357478%2Ftiming-reco%2F2%2F0/log?try=1', backend: 'htcondor', backendId: '4711.0' },
    { index: 1, state: JobState.FAILED, try: 3, reason: 'exit code 3; stderr: ValueError: no hits', logUrl: '' },
    { index: 2, state: JobState.RUNNING, try: 1, logUrl: '', backend: 'kubernetes', backendId: 'autocal-prompt-run-357478-timing-reco-2-2-t1' },
    { index: 3, state: JobState.RUNNING, try: 2, logUrl: '', backend: 'local', backendId: '31337' }
  ],
  outputs: [{ path: '/data/jobs/prompt/run-357478/timing-reco/a2/j0/timing.root', sizeBytes: 1234n, sha256: 'ab'.repeat(32), label: 'plot' }]
})

test('jobs: one row per job of the current attempt with its id, try, state, backend id, reason and log link', () => {
  const rows = jobRows([task('Run2024C')])
  assert.deepEqual(rows.map(r => [r.job, r.state, r.try, r.backend, r.backendId, r.reason]), [
    ['prompt/run-357478/timing-reco/2/0', 'done', 1, 'htcondor', '4711.0', ''],
    ['prompt/run-357478/timing-reco/2/1', 'failed', 3, '', '', 'exit code 3; stderr: ValueError: no hits'],
    ['prompt/run-357478/timing-reco/2/2', 'running', 1, 'kubernetes', 'autocal-prompt-run-357478-timing-reco-2-2-t1', ''],
    ['prompt/run-357478/timing-reco/2/3', 'running', 2, 'local', '31337', '']
  ])
  const lines = jobLines(rows)
  assert.equal(lines[0], 'JOB\tRUNS\tSTATE\tTRY\tBACKEND\tLOG\tREASON')
  assert.equal(lines[1], 'prompt/run-357478/timing-reco/2/0\t357478\tdone\t1\thtcondor 4711.0\thttp://x/jobs/prompt%2Frun-357478%2Ftiming-reco%2F2%2F0/log?try=1\t')
  assert.equal(lines[2], 'prompt/run-357478/timing-reco/2/1\t357478\tfailed\t3\t-\t-\texit code 3; stderr: ValueError: no hits')
  assert.equal(lines[3], 'prompt/run-357478/timing-reco/2/2\t357478\trunning\t1\tkubernetes autocal-prompt-run-357478-timing-reco-2-2-t1\t-\t')
  assert.equal(lines[4], 'prompt/run-357478/timing-reco/2/3\t357478\trunning\t2\tlocal 31337\t-\t')
  assert.equal(lines.at(-1), '4 job(s), 1 failed')
})

test('outputs: path, size and checksum of the selected tasks, filtered by era', () => {
  assert.equal(outputRows([task('Run2024C')], 'Run2024D').length, 0)
  const lines = outputLines(outputRows([task('Run2024C')], 'Run2024C'))
  assert.equal(lines[1], `timing-reco\trun-357478\t357478\t1234\t${'ab'.repeat(32)}\tplot\t/data/jobs/prompt/run-357478/timing-reco/a2/j0/timing.root`)
  assert.equal(lines.at(-1), '1 output(s)')
})

test('a log link sends the job id as one path segment (its slashes as %2F)', () => {
  assert.equal(logUrlOf('http://127.0.0.1:8083/', 'prompt/run-357478/timing-reco/2/1', 3, { tail: 20, follow: true }),
    'http://127.0.0.1:8083/jobs/prompt%2Frun-357478%2Ftiming-reco%2F2%2F1/log?try=3&tail=20&follow=1')
})
