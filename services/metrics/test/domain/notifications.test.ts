import { test } from 'node:test'
import assert from 'node:assert/strict'
import { TaskState } from '@autocal/contracts'
import { dlqFloodNotification, isFresh, mattermostPayload, sendDecision, taskFailedNotification } from '../../src/domain/notifications.ts'
import { isExecutorLost } from '../../src/domain/job-view.ts'
import { taskViewOf } from '../../src/domain/task-view.ts'
import { taskEvent } from './samples.ts'

test('a failed task notification names the task, block, runs, attempt and reason, with an identity per attempt', () => {
  const v = taskViewOf(taskEvent({ state: TaskState.FAILED, version: 4, attempt: 2, reason: 'job 1 failed: exit 3' }))
  const n = taskFailedNotification(v, 0)
  assert.equal(n.identity, 'task-failed/prompt/run-355100/timing-calib/2')
  assert.match(n.text, /ECAL prompt · timing-calib on run-355100 \(run 355100\), attempt 2: job 1 failed: exit 3/)
  assert.deepEqual(mattermostPayload(n, { username: 'autocal' }), { text: n.text, username: 'autocal' })
})

test('a failed task notification carries the job\'s reason as text: no mention, link or control character acts', () => {
  const v = taskViewOf(taskEvent({ state: TaskState.FAILED, version: 4, attempt: 1, reason: 'exit 3 @channel [x](https://evil.example)\u001b[2J' }))
  const { text } = taskFailedNotification(v, 0)
  assert.doesNotMatch(text, /@channel/)
  assert.equal(text.includes('\u001b'), false)
  assert.doesNotMatch(text, /[^\\]\[x\]/)
  assert.match(text, /exit 3 @\u200bchannel \\\[x\\\]\\\(https:\/\/evil\.example\\\)\\u001b\\\[2J$/)
})

test('a notification is sent when new and within the rate; otherwise it says why not', () => {
  assert.deepEqual(sendDecision({ firstTime: true, sentThisMinute: 1, perMinute: 3 }), { kind: 'send' })
  assert.deepEqual(sendDecision({ firstTime: true, sentThisMinute: 3, perMinute: 3 }), { kind: 'send' })
  assert.deepEqual(sendDecision({ firstTime: true, sentThisMinute: 4, perMinute: 3 }), { kind: 'skip', reason: 'rate-limited' })
  assert.deepEqual(sendDecision({ firstTime: false, sentThisMinute: 1, perMinute: 3 }), { kind: 'skip', reason: 'duplicate' })
})

test('old facts do not notify', () => {
  const n = { kind: 'task-failed' as const, identity: 'x', text: 'x', at: 1000 }
  assert.equal(isFresh(n, 1000 + 60_000, 60_000), true)
  assert.equal(isFresh(n, 1001 + 60_000, 60_000), false)
})

test('a dead-letter flood notifies once, when the minute\'s count reaches the threshold', () => {
  assert.equal(dlqFloodNotification(19, 20, 5, 'autocal.runs.v1'), undefined)
  assert.equal(dlqFloodNotification(20, 20, 5, 'autocal.runs.v1')?.identity, 'dlq-flood/5')
  assert.equal(dlqFloodNotification(21, 20, 5, 'autocal.runs.v1'), undefined)
})

test('executor and agent losses are recognised from the failure reason', () => {
  const cases: Array<[string, boolean]> = [
    ['executor lost', true],
    ['agent lost: no heartbeat for 30 s', true],
    ['lost agent lxplus-7', true],
    ['Agent agent-3 was lost', true],
    ['exit 1', false],
    ['timeout after 3600 s', false],
    ['declared output missing: /lost/agent.db', false]
  ]
  for (const [reason, lost] of cases) assert.equal(isExecutorLost(reason), lost, reason)
})
