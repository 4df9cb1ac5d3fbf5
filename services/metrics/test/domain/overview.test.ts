import { test } from 'node:test'
import assert from 'node:assert/strict'
import { TaskState } from '@autocal/contracts'
import { buildOverview, emptyFilter, parseOverviewFilter, summariseCampaigns } from '../../src/domain/overview.ts'
import { taskViewOf } from '../../src/domain/task-view.ts'
import { taskEvent } from './samples.ts'

const views = [
  taskViewOf(taskEvent({ state: TaskState.DONE, version: 3, task: 'timing-reco', runs: [355101] })),
  taskViewOf(taskEvent({ state: TaskState.DONE, version: 3, task: 'timing-reco', runs: [355100] })),
  taskViewOf(taskEvent({ state: TaskState.FAILED, version: 5, task: 'timing-calib', runs: [355100] })),
  taskViewOf(taskEvent({ state: TaskState.WAITING, version: 1, task: 'phisym', runs: [355100, 355101, 355102], blockId: 'fill-7920' })),
  taskViewOf(taskEvent({ state: TaskState.PROCESSING, version: 2, task: 'pps-timing', runs: [355102], subsystem: 'PPS' }))
]

test('the overview has one cell per run of each block, runs ascending', () => {
  const o = buildOverview('prompt', views, emptyFilter())
  assert.deepEqual(o.runs, [355100, 355101, 355102])
  assert.equal(o.cells.length, 1 + 1 + 1 + 3 + 1)
  assert.deepEqual(o.cells.filter(c => c.task === 'phisym').map(c => c.run), [355100, 355101, 355102])
  assert.deepEqual(o.tasks, ['phisym', 'timing-calib', 'timing-reco', 'pps-timing'])
})

test('filters by task, state, subsystem and run range', () => {
  const cases: Array<[Record<string, string>, number]> = [
    [{ task: 'timing-reco' }, 2],
    [{ state: 'failed' }, 1],
    [{ state: 'done,failed' }, 3],
    [{ subsystem: 'PPS' }, 1],
    [{ fromRun: '355101', toRun: '355101' }, 2],
    [{ task: 'phisym', fromRun: '355102' }, 1]
  ]
  for (const [query, n] of cases) {
    const f = parseOverviewFilter(query)
    assert.equal(f.kind, 'ok')
    if (f.kind !== 'ok') continue
    assert.equal(buildOverview('prompt', views, f.filter).cells.length, n, JSON.stringify(query))
  }
})

test('a bad filter is refused with the reason', () => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ state: 'finished' }, /unknown state 'finished'/],
    [{ fromRun: 'abc' }, /fromRun must be a run number/],
    [{ fromRun: '5', toRun: '4' }, /fromRun 5 is after toRun 4/]
  ]
  for (const [query, reason] of cases) {
    const f = parseOverviewFilter(query)
    assert.ok(f.kind === 'invalid' && reason.test(f.reason), JSON.stringify(f))
  }
})

test('campaign summaries add up the task counts', () => {
  const s = summariseCampaigns([
    { subsystem: 'ECAL', campaign: 'prompt', task: 'a', state: 'done', count: 2 },
    { subsystem: 'PPS', campaign: 'prompt', task: 'b', state: 'done', count: 1 },
    { subsystem: 'ECAL', campaign: 'prompt', task: 'a', state: 'failed', count: 0 },
    { subsystem: 'ECAL', campaign: 'rereco', task: 'a', state: 'new', count: 4 }
  ])
  assert.deepEqual(s, [
    { campaign: 'prompt', subsystems: ['ECAL', 'PPS'], tasks: ['a', 'b'], states: { done: 3 }, total: 3 },
    { campaign: 'rereco', subsystems: ['ECAL'], tasks: ['a'], states: { new: 4 }, total: 4 }
  ])
})
