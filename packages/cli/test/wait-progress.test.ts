import { test } from 'node:test'
import assert from 'node:assert/strict'
import { TaskState } from '@autocal/contracts'
import { cellKey, cellVersion, waitVerdict } from '../src/wait-progress.ts'

type C = Parameters<typeof waitVerdict>[0][number]
const cell = (task: string, state: TaskState, o: { block?: string, attempt?: number, at?: bigint, gates?: string[] } = {}): C =>
  ({ blockId: o.block ?? 'run-1', task, state, attempt: o.attempt ?? 1, at: { seconds: o.at ?? 1n, nanos: 0 } as C['at'], pendingGates: o.gates ?? [] })
const versions = (cells: C[]): Map<string, string> => new Map(cells.map(c => [cellKey(c), cellVersion(c)]))

const before = [cell('reco', TaskState.FAILED), cell('calib', TaskState.WAITING, { gates: ['needs:reco'] }), cell('plot', TaskState.WAITING, { gates: ['needs:calib'] })]

const cases: Array<[string, C[], number, { settled: boolean, total: number, finished: number, line: string, blocked: string[] }]> = [
  ['tasks waiting on a failed upstream, and on those, are blocked: settled once the upstream has failed again',
    [cell('reco', TaskState.FAILED, { attempt: 2, at: 5n }), ...before.slice(1)], 0,
    { settled: true, total: 3, finished: 3, line: '3 task(s): 0 done, 0 processing, 0 waiting, 1 failed, 2 blocked', blocked: ['run-1/calib waits on reco (failed)', 'run-1/plot waits on calib (blocked)'] }],
  ['a reprocessed task still processing is not settled',
    [cell('reco', TaskState.PROCESSING, { attempt: 2, at: 5n }), ...before.slice(1)], 60_000,
    { settled: false, total: 3, finished: 2, line: '3 task(s): 0 done, 1 processing, 2 waiting, 0 failed', blocked: [] }],
  ['a task waiting on a gate other than an upstream is not blocked, nor what waits on it',
    [cell('reco', TaskState.FAILED, { attempt: 2, at: 5n }), cell('calib', TaskState.WAITING, { gates: ['needs:reco', 't0StreamDone:Express'] }), before[2]!], 0,
    { settled: false, total: 3, finished: 1, line: '3 task(s): 0 done, 0 processing, 2 waiting, 1 failed', blocked: [] }],
  ['a task the command did not change is settled after the quiet time only',
    [cell('reco', TaskState.DONE)], 9_000,
    { settled: false, total: 1, finished: 0, line: '1 task(s): 1 done, 0 processing, 0 waiting, 0 failed', blocked: [] }],
  ['… and after it, settled',
    [cell('reco', TaskState.DONE)], 10_000,
    { settled: true, total: 1, finished: 1, line: '1 task(s): 1 done, 0 processing, 0 waiting, 0 failed', blocked: [] }],
  ['a block of several runs counts once, an upstream of another block does not block',
    [cell('reco', TaskState.DONE, { at: 7n }), cell('reco', TaskState.DONE, { at: 7n }), cell('calib', TaskState.WAITING, { block: 'run-2', gates: ['needs:reco'] })], 0,
    { settled: false, total: 2, finished: 1, line: '2 task(s): 1 done, 0 processing, 1 waiting, 0 failed', blocked: [] }]
]

for (const [name, cells, elapsed, expected] of cases) {
  test(`--wait: ${name}`, () => {
    assert.deepEqual(waitVerdict(cells, versions(before), elapsed), expected)
  })
}

test('--wait: the same cells give the same line, so a poll that sees no change prints nothing', () => {
  const cells = [cell('reco', TaskState.PROCESSING, { attempt: 2, at: 5n })]
  assert.equal(waitVerdict(cells, versions(before), 1_000).line, waitVerdict(cells, versions(before), 9_000).line)
})
