import { test } from 'node:test'
import assert from 'node:assert/strict'
import { create } from '@bufbuild/protobuf'
import { JobState, TaskJobSchema, TaskState } from '@autocal/contracts'
import { linkableUrl, consumerStalledNotification, lagGrowingNotification, deadlineMissedNotification, digestText, dlqEntryNotification, dlqFloodNotification, isFresh, mattermostPayload, sendDecision, taskFailedNotification, uploadRejectedNotification } from '../../src/domain/notifications.ts'
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

test('new kinds name what happened, carry untrusted text escaped and have one identity per fact', () => {
  const missed = deadlineMissedNotification(taskViewOf(taskEvent({ state: TaskState.FAILED, version: 4 })), 0, 2 * 3_600_000)
  assert.equal(missed.identity, 'deadline-missed/prompt/run-355100/timing-calib')
  assert.equal(missed.subsystem, 'ECAL')
  assert.match(missed.text, /prompt hold missed\*\* 2\.0 h ago \(1970-01-01T00:00:00\.000Z\): ECAL prompt · timing-calib on run-355100 \(run 355100\) is failed/)

  const rejected = uploadRejectedNotification({ requestId: 'r-1', tag: 'EcalTiming_v1', since: '355100', reason: 'payload @here empty' }, 'ECAL', 0)
  assert.equal(rejected.identity, 'upload-rejected/r-1')
  assert.match(rejected.text, /upload rejected\*\* ECAL tag EcalTiming\\_v1 since 355100 \(request r-1\): payload @\u200bhere empty/)

  const letter = dlqEntryNotification({ eventId: 'e-9', topic: 'autocal.jobs.status.v1', group: 'task-dispatcher', reason: 'decode failed' }, 0)
  assert.equal(letter.identity, 'dlq-entry/e-9')
  assert.match(letter.text, /dead letter\*\* from autocal\.jobs\.status\.v1 \(group task-dispatcher\): decode failed/)

  const stall = { group: 'job-executor', topic: 'autocal.jobs.requests.v1', lag: 3, since: 1000, stalledMs: 125_400 }
  const noExecutor = consumerStalledNotification(stall, 0)
  assert.equal(noExecutor.identity, 'consumer-stalled/job-executor/autocal.jobs.requests.v1/1000')
  assert.match(noExecutor.text, /no executor takes jobs\*\*: 3 job requests waiting on autocal\.jobs\.requests\.v1 and nothing consumed for 125 s/)
  assert.match(consumerStalledNotification({ ...stall, group: 'task-dispatcher', topic: 'autocal.runs.v1', lag: 1 }, 0).text, /consumer stalled\*\*: group task-dispatcher is 1 message behind on autocal\.runs\.v1/)
})

test('a digest lists the held-back texts, at most maxLines, and counts the rest', () => {
  assert.equal(digestText([]), undefined)
  assert.equal(digestText(['a']), ':bookmark_tabs: **digest**: 1 notification held back by the rate limit\n- a')
  assert.equal(digestText(['a', 'b', 'c'], 2), ':bookmark_tabs: **digest**: 3 notifications held back by the rate limit\n- a\n- b\n- … and 1 more')
})

test('a growing lag names the group, topic and growth, with one identity per backlog', () => {
  const n = lagGrowingNotification({ group: 'task-dispatcher', topic: 'autocal.jobs.status.v1', from: { at: 0, lag: 60 }, to: { at: 600_000, lag: 160 }, backlogSince: 42 }, 600_000)
  assert.equal(n.identity, 'lag-growing/task-dispatcher/autocal.jobs.status.v1/42')
  assert.equal(n.text, ':chart_with_upwards_trend: **consumer lag growing**: group task-dispatcher on autocal.jobs.status.v1 went from 60 to 160 messages behind in 10 min')
})

test('a failed task notification carries the job\'s log tail and a link to each failed job\'s log', () => {
  const tail = 'exit code 3; log tail: Traceback (most recent call last): | File "fit.py", line 12 | ValueError: no hits in EB-07'
  const ev = taskEvent({ state: TaskState.FAILED, version: 6, attempt: 1, reason: `job 1 try 2 failed: ${'x'.repeat(600)} ${tail}; retries exhausted` })
  const log = 'http://127.0.0.1:8083/jobs/prompt%2Frun-355100%2Ftiming-calib%2F1%2F1/log?try=2'
  ev.jobs = [
    create(TaskJobSchema, { index: 0, state: JobState.DONE, try: 1, logUrl: 'http://127.0.0.1:8083/jobs/prompt%2Frun-355100%2Ftiming-calib%2F1%2F0/log?try=1' }),
    create(TaskJobSchema, { index: 1, state: JobState.FAILED, try: 2, logUrl: log }),
    create(TaskJobSchema, { index: 2, state: JobState.FAILED, try: 1, logUrl: 'http://x/log) [click](https://evil.example' })
  ]
  const { text } = taskFailedNotification(taskViewOf(ev), 0)
  // the tail survives a long reason (the reason keeps 1,500 characters), as text
  assert.match(text, /ValueError: no hits in EB-07; retries exhausted · /)
  assert.ok(text.endsWith(` · [log of job 1 try 2](${log})`), text.slice(-200))
  assert.equal(text.match(/\]\(http/g)?.length, 1, 'one link: the done job has none, a URL that would break the link is left out')
})

for (const [url, ok] of [
  ['http://127.0.0.1:8083/jobs/prompt%2Frun-1%2Ft%2F1%2F0/log?try=1', true],
  ['https://executor.example/jobs/a%2Fb/log?try=3', true],
  ['', false],
  ['javascript:alert(1)', false],
  ['http://x/log) [click](https://evil.example', false],
  ['http://x/a b', false],
  ['http://x/\u001b[2J', false]
] as const) {
  test(`a log URL ${JSON.stringify(url)} ${ok ? 'becomes' : 'does not become'} a link`, () => { assert.equal(linkableUrl(url), ok) })
}
