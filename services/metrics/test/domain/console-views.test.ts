import { test } from 'node:test'
import assert from 'node:assert/strict'
import { executorHealth, overviewRows, tagTimeline, taskColumns, type TagUploadView } from '../../src/domain/console-views.ts'
import { emptyFilter } from '../../src/domain/overview.ts'
import type { TaskView } from '../../src/domain/task-view.ts'

const hour = 3_600_000
const policy = { holdMs: 48 * hour, warnMs: 6 * hour }
const t0 = Date.parse('2022-08-01T00:00:00Z')

function view (task: string, runs: number[], state: TaskView['state'], extra: Partial<TaskView> = {}): TaskView {
  return {
    key: `prompt/run-${runs[0]}/${task}`,
    subsystem: 'ECAL',
    campaign: 'prompt',
    workflow: 'timing',
    task,
    blockId: `run-${runs[0]}`,
    blockKind: 'run',
    runs,
    fill: 8102,
    era: 'Run2022C',
    state,
    previousState: 'new',
    attempt: 1,
    version: 1,
    reason: '',
    actor: '',
    conditionTag: '',
    conditionSync: '',
    pendingGates: [],
    jobs: [],
    outputs: [],
    ...extra
  }
}

test('overview rows keep the requested run order, drop runs the filter empties, and mark the nearest prompt hold', () => {
  const ended = (h: number): string => new Date(t0 - h * hour).toISOString()
  const views = [
    view('timing-reco', [356381], 'done'),
    view('timing-calib', [356381], 'processing', { conditionSync: 'prompt', runEndedAt: ended(45) }), // 3 h left
    view('timing-calib', [356380], 'waiting', { key: 'prompt/run-356380/timing-calib', blockId: 'run-356380', conditionSync: 'prompt', runEndedAt: ended(50) }), // missed
    view('timing-calib', [356379], 'done', { key: 'prompt/run-356379/timing-calib', blockId: 'run-356379', conditionSync: 'prompt', runEndedAt: ended(47) }), // done: no mark
    view('pedestals', [356378], 'failed', { key: 'prompt/run-356378/pedestals', blockId: 'run-356378', conditionSync: 'offline', runEndedAt: ended(47) })
  ]
  const rows = overviewRows([356381, 356380, 356379, 356378, 356377], views, emptyFilter(), t0, policy)
  assert.deepEqual(rows.map(r => r.run), [356381, 356380, 356379, 356378])
  assert.deepEqual(rows.map(r => r.hold?.kind), ['warn', 'missed', undefined, undefined])
  assert.equal(rows[0]!.hold!.remainingMs, 3 * hour)
  assert.deepEqual(rows[0]!.cells.map(c => [c.task, c.state]), [['timing-reco', 'done'], ['timing-calib', 'processing']])

  const failedOnly = overviewRows([356381, 356380, 356379, 356378], views, { ...emptyFilter(), states: ['failed'] }, t0, policy)
  assert.deepEqual(failedOnly.map(r => [r.run, r.cells.length]), [[356378, 1]])
  const byTask = overviewRows([356381, 356380], views, { ...emptyFilter(), tasks: ['timing-reco'] }, t0, policy)
  // the hold mark comes from every task of the run, not only the ones shown
  assert.deepEqual(byTask.map(r => [r.run, r.cells.map(c => c.task), r.hold?.kind]), [[356381, ['timing-reco'], 'warn']])
})

test('a fill block fills the row of each of its runs', () => {
  const fill = view('fill-calib', [356380, 356381], 'done', { blockKind: 'fill', blockId: 'fill-8102' })
  assert.deepEqual(overviewRows([356381, 356380], [fill], emptyFilter(), t0, policy).map(r => r.cells[0]!.blockId), ['fill-8102', 'fill-8102'])
})

test('task columns are ordered by subsystem, workflow and name, once each', () => {
  assert.deepEqual(taskColumns([
    { task: 'timing-calib', subsystem: 'ECAL', workflow: 'timing' },
    { task: 'pps-align', subsystem: 'PPS', workflow: 'alignment' },
    { task: 'timing-calib', subsystem: 'ECAL', workflow: 'timing' },
    { task: 'pedestals', subsystem: 'ECAL', workflow: 'pedestals' }
  ]).map(c => c.task), ['pedestals', 'timing-calib', 'pps-align'])
})

function upload (requestId: string, outcome: string, since: number, extra: Partial<TagUploadView> = {}): TagUploadView {
  return { requestId, taskKey: '', outcome, since: String(since), inputRuns: [since], reason: '', payloadHash: 'ab', synchronization: 'prompt', at: `2022-08-01T00:00:${String(since % 60).padStart(2, '0')}Z`, ...extra }
}

test('the IOV timeline: uploaded IOVs by since, each until the next, FCSR moves flagged, rejections apart', () => {
  const cases: Array<{ name: string, uploads: TagUploadView[], iovs: Array<[number, number | undefined, boolean]>, rejected: string[] }> = [
    {
      name: 'in order, one moved by the FCSR, one rejected',
      uploads: [
        upload('a', 'uploaded', 356300),
        upload('b', 'uploaded', 356390, { requestedSince: '356381', inputRuns: [356381] }),
        upload('c', 'uploaded', 356340, { requestedSince: '356340' }),
        upload('d', 'rejected', 0, { requestedSince: '356200', reason: 'since 356200 is below the FCSR 356390' })
      ],
      iovs: [[356300, 356340, false], [356340, 356390, false], [356390, undefined, true]],
      rejected: ['d']
    },
    { name: 'nothing uploaded', uploads: [upload('x', 'failed', 5)], iovs: [], rejected: [] },
    { name: 'the same since uploaded twice is one IOV', uploads: [upload('a', 'uploaded', 10), upload('b', 'uploaded', 10)], iovs: [[10, undefined, false]], rejected: [] }
  ]
  for (const c of cases) {
    const t = tagTimeline('EcalTimeCalibConstants_prompt', c.uploads)
    assert.deepEqual(t.iovs.map(i => [i.since, i.until, i.moved]), c.iovs, c.name)
    assert.deepEqual(t.rejected.map(u => u.requestId), c.rejected, c.name)
  }
})

test('executors: age of the last status and running jobs, the stalest first', () => {
  const now = Date.parse('2026-01-01T00:10:00Z')
  const health = executorHealth(
    [{ executor: 'exec-a', backend: 'local', lastSeenAt: '2026-01-01T00:09:50Z' }, { executor: 'agent-b', backend: 'agent', lastSeenAt: '2026-01-01T00:05:00Z' }],
    [{ entry: 'j1#1', executor: 'agent-b' }, { entry: 'j2#1', executor: 'agent-b' }, { entry: 'j3#1', executor: 'exec-a' }],
    now)
  assert.deepEqual(health.map(e => [e.executor, e.ageSeconds, e.runningJobs]), [['agent-b', 300, 2], ['exec-a', 10, 1]])
})
