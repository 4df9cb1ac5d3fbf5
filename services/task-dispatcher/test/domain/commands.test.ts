import { test } from 'node:test'
import assert from 'node:assert/strict'
import { alreadyApplied, appliedCommandsKept, recordCommand } from '../../src/domain/commands.ts'
import { transition, type Task, type TaskEventInput, type TaskSpec } from '../../src/domain/task-state.ts'
import type { BlockState } from '../../src/domain/block-grouping.ts'
import { fromTaskEvent, toTaskEvent } from '../../src/task-event.ts'

const block: BlockState = { id: 'run-355100', kind: 'run', runs: [355100], fill: 8000, era: 'Run2022C', recordedLumiPb: 1, closed: true, closedReason: 'single-run', openedAtMs: 0 }
const spec: TaskSpec = { subsystem: 'ECAL', campaign: 'prompt', workflow: 'timing', workflowVersion: 'v', task: 'timing-reco', jobs: 1, retries: 1, backoffS: 10, conditionTag: '', conditionSync: '', signOff: false }
const planned: Task = transition(undefined, { kind: 'plan', spec, block }, 0).task
const op = (kind: 'reprocess' | 'skip' | 'cancel', commandId: string): TaskEventInput => ({ kind, actor: 'alice', reason: 'r', commandId })

test('a command is recognised as applied only by its own id, on the task that recorded it', () => {
  const withC1 = recordCommand(planned, 'c1')
  const table: Array<[string, Task | undefined, TaskEventInput, boolean]> = [
    ['the same reprocess again', withC1, op('reprocess', 'c1'), true],
    ['the same command id as a skip', withC1, op('skip', 'c1'), true],
    ['another command', withC1, op('reprocess', 'c2'), false],
    ['a task that never had it', planned, op('reprocess', 'c1'), false],
    ['no task', undefined, op('cancel', 'c1'), false],
    ['an empty command id', recordCommand(planned, ''), op('reprocess', ''), false],
    ['a job report', withC1, { kind: 'retry-due' }, false]
  ]
  for (const [what, task, event, expected] of table) assert.equal(alreadyApplied(task, event), expected, what)
})

test('the applied commands survive later transitions and the TaskEvent round trip, and only the last ones are kept', () => {
  let task = recordCommand(transition(planned, op('reprocess', 'c1'), 1).task, 'c1')
  task = transition(task, { kind: 'gates', spec, pending: [] }, 2).task
  assert.deepEqual(task.appliedCommands, ['c1'], 'carried by the next transition')
  assert.deepEqual(fromTaskEvent(toTaskEvent(task)).appliedCommands, ['c1'], 'rebuilt from Kafka with the task')
  for (let i = 2; i <= appliedCommandsKept + 3; i++) task = recordCommand(task, `c${i}`)
  assert.equal(task.appliedCommands?.length, appliedCommandsKept)
  assert.equal(task.appliedCommands?.at(-1), `c${appliedCommandsKept + 3}`)
})
