import { test } from 'node:test'
import assert from 'node:assert/strict'
import { create } from '@bufbuild/protobuf'
import { GateTimeoutSchema, TaskGatesSchema, TaskState, type TaskEvent } from '@autocal/contracts'
import { gateTimeoutNotification } from '../../src/domain/notifications.ts'
import { applyTaskEvent } from '../../src/domain/task-view.ts'
import { taskEvent } from './samples.ts'

const timedOut = (e: TaskEvent, policy: string): TaskEvent => {
  e.gates = create(TaskGatesSchema, { timedOut: create(GateTimeoutSchema, { gates: ['t0StreamDone:Express'], policy, afterS: 43_200 }) })
  return e
}

test('a gate timeout notifies once per attempt, naming the block, the gate and the policy with its outcome', () => {
  const table: Array<{ state: TaskState, policy: string, outcome: RegExp }> = [
    { state: TaskState.FAILED, policy: 'fail', outcome: /onTimeout fail: task failed$/ },
    { state: TaskState.SKIPPED, policy: 'skip', outcome: /onTimeout skip: task skipped$/ },
    { state: TaskState.PROCESSING, policy: 'run', outcome: /onTimeout run: jobs dispatched with the gate\(s\) not open$/ }
  ]
  for (const c of table) {
    const waiting = applyTaskEvent(undefined, taskEvent({ state: TaskState.WAITING, version: 2, attempt: 1 }))
    assert.ok(waiting.kind === 'applied' && !waiting.gateTimedOutNow)
    const ended = applyTaskEvent(waiting.view, timedOut(taskEvent({ state: c.state, version: 3, attempt: 1 }), c.policy))
    assert.ok(ended.kind === 'applied')
    assert.equal(ended.gateTimedOutNow, true, c.policy)
    const n = gateTimeoutNotification(ended.view, 0)
    assert.equal(n.kind, 'gate-timeout')
    assert.equal(n.identity, 'gate-timeout/prompt/run-355100/timing-calib/1')
    assert.match(n.text, /gate timed out\*\* ECAL prompt · timing-calib on run-355100 \(run 355100\), attempt 1: t0StreamDone:Express not open after 43200 s; /)
    assert.match(n.text, c.outcome)
    // later events of the same attempt (the run policy's jobs) do not notify again; a new attempt's timeout does
    const later = applyTaskEvent(ended.view, timedOut(taskEvent({ state: c.state, version: 4, attempt: 1 }), c.policy))
    assert.ok(later.kind === 'applied' && !later.gateTimedOutNow)
    const next = applyTaskEvent(ended.view, timedOut(taskEvent({ state: c.state, version: 9, attempt: 2 }), c.policy))
    assert.ok(next.kind === 'applied' && next.gateTimedOutNow)
  }
})
