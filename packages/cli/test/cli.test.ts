import { test } from 'node:test'
import assert from 'node:assert/strict'
import { create } from '@bufbuild/protobuf'
import { GetStatusResponseSchema, TaskState } from '@autocal/contracts'
import { renderMatrix } from '../src/status-matrix.ts'
import { errorLine, iovAt, runCli } from '../src/cli.ts'

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

test('a run number outside 1 ≤ run < 2^32 is a usage error naming the option, before any request', async () => {
  // it was sent, and the gRPC encoder failed with "INTERNAL: Request message serialization failure"
  const cases: Array<[string[], string]> = [
    [['--runs', '4294967296'], '--runs: run 4294967296 is out of range'],
    [['--runs', '355100,99999999999999999999'], '--runs: run 99999999999999999999 is out of range'],
    [['--runs', '0'], '--runs: run 0 is out of range'],
    [['--range', '355100-4294967296'], '--range: run 4294967296 is out of range']
  ]
  for (const [selection, message] of cases) {
    const { io: streams, err } = io()
    assert.equal(await runCli(['runs', 'inject', '--campaign', 'prompt', ...selection, '--reason', 'x', '--server', '127.0.0.1:1'], streams), 2, selection.join(' '))
    assert.ok(err[0]?.startsWith(`autocal: ${message}`), `${selection.join(' ')}: ${err[0]}`)
  }
})

test('help prints the usage and exits 0', async () => {
  const { io: streams, out } = io()
  assert.equal(await runCli(['--help'], streams), 0)
  assert.match(out.join(''), /^usage: autocal <command>/)
})

test('conditions commands without their required options are usage errors', async () => {
  const { io: streams, err } = io()
  assert.equal(await runCli(['conditions', 'approve', '--reason', 'ok'], streams), 2)
  assert.equal(err[0], 'autocal: --request is required\n')
  assert.equal(await runCli(['conditions', 'reject', '--request', 'prompt/run-1/t/1'], io().io), 2)
  assert.equal(await runCli(['conditions', 'at', 'EcalPedestals_pcl'], io().io), 2)
  const bad = io()
  assert.equal(await runCli(['conditions', 'at', '../x', '361000'], bad.io), 2)
  assert.match(bad.err[0] ?? '', /tag "\.\.\/x" is not a valid name/)
  const run = io()
  assert.equal(await runCli(['conditions', 'at', 'EcalPedestals_pcl', '0'], run.io), 2)
  assert.match(run.err[0] ?? '', /run 0 is out of range/)
  assert.equal(await runCli(['conditions', 'sign'], io().io), 2)
})

const iovs = [{ since: '355100', payloadHash: 'a' }, { since: '355200', payloadHash: 'b' }, { since: '355300', payloadHash: 'c' }]
const lumi = (run: number, ls: number): string => String((BigInt(run) << 32n) | BigInt(ls))
const atTable: Array<{ name: string, answer: Parameters<typeof iovAt>[0], run: number, expect: string }> = [
  { name: 'the uploader\'s own answer is taken as it is', answer: { timeType: 'Time', iov: { since: '7000000000000000000', payloadHash: 't' } }, run: 355150, expect: 't' },
  { name: 'a run inside an IOV gets that IOV', answer: { timeType: 'Run', iovs }, run: 355250, expect: 'b' },
  { name: 'a run at a since gets the IOV starting there', answer: { timeType: 'Run', iovs }, run: 355200, expect: 'b' },
  { name: 'a run after the last since gets the last IOV', answer: { timeType: 'Run', iovs }, run: 999999, expect: 'c' },
  { name: 'a run before the first since has no IOV', answer: { timeType: 'Run', iovs }, run: 355000, expect: 'no IOV covers this run (every since is later)' },
  { name: 'a Lumi tag compares (run << 32) | lumisection', answer: { timeType: 'Lumi', iovs: [{ since: lumi(355100, 1), payloadHash: 'a' }, { since: lumi(355100, 40), payloadHash: 'b' }, { since: lumi(355101, 1), payloadHash: 'c' }] }, run: 355100, expect: 'a' },
  { name: 'a Time tag without the uploader\'s answer cannot be answered', answer: { timeType: 'Time', iovs }, run: 355250, expect: 'the uploader gave no IOV for the run, and a Time tag\'s sinces are not runs' },
  { name: 'a null answer means no IOV', answer: { timeType: 'Run', iov: null }, run: 355250, expect: 'no IOV covers this run' }
]
for (const row of atTable) {
  test(`conditions at: ${row.name}`, () => {
    const r = iovAt(row.answer, row.run)
    assert.equal('problem' in r ? r.problem : r.payloadHash, row.expect)
  })
}

test('workflows validate on a path that does not exist names it and exits 1', async () => {
  const { out, err, io: streams } = io()
  const code = await runCli(['workflows', 'validate', '/nonexistent/autocal-workflows'], streams)
  assert.equal(code, 1)
  assert.deepEqual(out, [])
  assert.match(err.join(''), /\/nonexistent\/autocal-workflows: no such workflow file or directory/)
})

test('--cascade goes with reprocess and a task selection: usage errors before any request', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['skip', '--campaign', 'prompt', '--task', 'a', '--reason', 'x', '--cascade'], /--cascade goes with reprocess/],
    [['reprocess', '--campaign', 'prompt', '--runs', '355100', '--reason', 'x', '--cascade'], /reprocess --cascade needs --task/]
  ]
  for (const [args, message] of cases) {
    const { err, io: streams } = io()
    assert.equal(await runCli(args, streams), 2, args.join(' '))
    assert.match(err.join(''), message)
  }
})
