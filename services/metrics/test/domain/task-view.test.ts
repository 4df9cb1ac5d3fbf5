import { test } from 'node:test'
import assert from 'node:assert/strict'
import { TaskState } from '@autocal/contracts'
import { applyTaskEvent, taskViewOf } from '../../src/domain/task-view.ts'
import { taskEvent } from './samples.ts'

test('a first task event creates the view and counts one task in its state', () => {
  const d = applyTaskEvent(undefined, taskEvent({ state: TaskState.WAITING, version: 1 }))
  assert.equal(d.kind, 'applied')
  if (d.kind !== 'applied') return
  assert.equal(d.view.key, 'prompt/run-355100/timing-calib')
  assert.equal(d.view.state, 'waiting')
  assert.deepEqual(d.counts, [{ labels: { subsystem: 'ECAL', campaign: 'prompt', task: 'timing-calib', state: 'waiting' }, delta: 1 }])
})

test('a lower or equal version is stale and changes nothing', () => {
  const current = taskViewOf(taskEvent({ state: TaskState.PROCESSING, version: 3 }))
  for (const version of [1, 3]) {
    assert.equal(applyTaskEvent(current, taskEvent({ state: TaskState.DONE, version })).kind, 'stale')
  }
})

test('a transition moves the count from the old state to the new one', () => {
  const current = taskViewOf(taskEvent({ state: TaskState.WAITING, version: 1 }))
  const d = applyTaskEvent(current, taskEvent({ state: TaskState.PROCESSING, version: 2 }))
  assert.equal(d.kind, 'applied')
  if (d.kind !== 'applied') return
  assert.deepEqual(d.counts.map(c => [c.labels.state, c.delta]), [['waiting', -1], ['processing', 1]])
})

test('a version bump in the same state keeps the counts', () => {
  const current = taskViewOf(taskEvent({ state: TaskState.PROCESSING, version: 1 }))
  const d = applyTaskEvent(current, taskEvent({ state: TaskState.PROCESSING, version: 2 }))
  assert.ok(d.kind === 'applied' && d.counts.length === 0)
})

test('becoming done measures the time since the end of the block\'s last run', () => {
  const current = taskViewOf(taskEvent({ state: TaskState.PROCESSING, version: 1 }))
  const d = applyTaskEvent(current, taskEvent({ state: TaskState.DONE, version: 2, runEndedAt: '2022-07-10T10:00:00Z', at: '2022-07-10T12:00:00Z' }))
  assert.ok(d.kind === 'applied')
  assert.equal(d.runEndToDoneSeconds, 7200)
  const again = applyTaskEvent(d.view, taskEvent({ state: TaskState.DONE, version: 3, runEndedAt: '2022-07-10T10:00:00Z' }))
  assert.ok(again.kind === 'applied' && again.runEndToDoneSeconds === undefined, 'done twice in one attempt is measured once')
})

test('failing is reported once per attempt', () => {
  const d1 = applyTaskEvent(undefined, taskEvent({ state: TaskState.FAILED, version: 4 }))
  assert.ok(d1.kind === 'applied' && d1.failedNow)
  const d2 = applyTaskEvent(d1.view, taskEvent({ state: TaskState.FAILED, version: 5 }))
  assert.ok(d2.kind === 'applied' && !d2.failedNow)
  const d3 = applyTaskEvent(d2.view, taskEvent({ state: TaskState.FAILED, version: 9, attempt: 2 }))
  assert.ok(d3.kind === 'applied' && d3.failedNow)
})
