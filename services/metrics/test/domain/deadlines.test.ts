import { test } from 'node:test'
import assert from 'node:assert/strict'
import { TaskState } from '@autocal/contracts'
import { deadlineStatus } from '../../src/domain/deadlines.ts'
import { taskViewOf } from '../../src/domain/task-view.ts'
import { taskEvent } from './samples.ts'

const hour = 3_600_000
const policy = { holdMs: 48 * hour, warnMs: 6 * hour }
const end = Date.parse('2022-07-10T10:00:00Z')

test('the prompt hold deadline is run end + 48 h and warns within the threshold', () => {
  const view = taskViewOf(taskEvent({ state: TaskState.PROCESSING, version: 1, sync: 'prompt', runEndedAt: '2022-07-10T10:00:00Z' }))
  const cases: Array<[number, string]> = [
    [end + 1 * hour, 'ok'],
    [end + 41 * hour, 'ok'],
    [end + 42 * hour, 'warn'],
    [end + 47 * hour, 'warn'],
    [end + 48 * hour, 'missed']
  ]
  for (const [now, kind] of cases) assert.equal(deadlineStatus(view, now, policy).kind, kind, `${(now - end) / hour} h after run end`)
  const warn = deadlineStatus(view, end + 45 * hour, policy)
  assert.ok(warn.kind === 'warn' && warn.deadline === end + 48 * hour && warn.remainingMs === 3 * hour)
})

test('only unfinished tasks with a prompt, express or hlt condition have a deadline', () => {
  const now = end + 45 * hour
  const cases: Array<[Parameters<typeof taskEvent>[0], string]> = [
    [{ state: TaskState.PROCESSING, version: 1, sync: 'express', runEndedAt: '2022-07-10T10:00:00Z' }, 'warn'],
    [{ state: TaskState.FAILED, version: 1, sync: 'hlt', runEndedAt: '2022-07-10T10:00:00Z' }, 'warn'],
    [{ state: TaskState.DONE, version: 1, sync: 'prompt', runEndedAt: '2022-07-10T10:00:00Z' }, 'none'],
    [{ state: TaskState.SKIPPED, version: 1, sync: 'prompt', runEndedAt: '2022-07-10T10:00:00Z' }, 'none'],
    [{ state: TaskState.WAITING, version: 1, sync: 'offline', runEndedAt: '2022-07-10T10:00:00Z' }, 'none'],
    [{ state: TaskState.WAITING, version: 1, sync: 'prompt' }, 'none']
  ]
  for (const [init, kind] of cases) assert.equal(deadlineStatus(taskViewOf(taskEvent(init)), now, policy).kind, kind, JSON.stringify(init))
})
