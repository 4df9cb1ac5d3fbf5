import { test } from 'node:test'
import assert from 'node:assert/strict'
import { create } from '@bufbuild/protobuf'
import { GetStatusResponseSchema, TaskState } from '@autocal/contracts'
import { renderMatrix } from '../src/status-matrix.ts'
import { errorLine, runCli } from '../src/cli.ts'

function io () {
  const out: string[] = []
  const err: string[] = []
  return { out, err, io: { stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => err.push(s) }, env: {} } }
}

test('the status matrix has a row per run, a column per task and the attempt when above one', () => {
  const status = create(GetStatusResponseSchema, {
    campaign: 'prompt',
    runs: [357401, 357406],
    tasks: ['timing-reco', 'timing-calib'],
    cells: [
      { run: 357401, task: 'timing-reco', blockId: 'run-357401', state: TaskState.DONE, attempt: 2 },
      { run: 357401, task: 'timing-calib', blockId: 'run-357401', state: TaskState.FAILED, attempt: 1, reason: 'condition rejected: since below FCSR' },
      { run: 357406, task: 'timing-reco', blockId: 'run-357406', state: TaskState.WAITING, attempt: 1 }
    ]
  })
  assert.equal(renderMatrix(status), [
    'campaign prompt: 2 runs × 2 tasks',
    'run     timing-reco  timing-calib  ',
    '357401  ✓2           ✗',
    '357406  w',
    '',
    'w waiting 1   ✓ done 1   ✗ failed 1',
    '✗ 357401 timing-calib (run-357401, attempt 1): condition rejected: since below FCSR'
  ].join('\n'))
})

test('a gRPC error becomes one line with the status name', () => {
  assert.equal(errorLine({ code: 7, details: 'bob may act for PPS, but skip touches ECAL' }), 'PERMISSION_DENIED: bob may act for PPS, but skip touches ECAL')
  assert.equal(errorLine(new Error('boom\nstack')), 'boom')
})

test('a usage error exits 2 with one line and a hint', async () => {
  const { io: streams, err } = io()
  assert.equal(await runCli(['reprocess', '--reason', 'x'], streams), 2)
  assert.deepEqual(err, ['autocal: --campaign is required\n', 'run `autocal --help` for usage\n'])
  assert.equal(await runCli(['status', '--bogus'], io().io), 2)
  assert.equal(await runCli(['runs', 'inject', '--campaign', 'c', '--range', '9-1', '--reason', 'x'], io().io), 2)
})

test('help prints the usage and exits 0', async () => {
  const { io: streams, out } = io()
  assert.equal(await runCli(['--help'], streams), 0)
  assert.match(out.join(''), /^usage: autocal <command>/)
})
