// Operator commands (reprocess, skip, cancel, resubmit of failed jobs, gate force) are applied once per (command
// id, task). A command selects many tasks and is applied task by task; when
// it is redelivered — the dispatcher died part-way through, or one task's
// transition failed retryably — the tasks it already moved must not move
// again (a second reprocess would start attempt n + 2 and cancel the jobs of
// attempt n + 1). The task itself remembers the commands applied to it, so
// the rule survives a loss of Redis: the list travels in every TaskEvent
// (`applied_commands`) and the read model is rebuilt from them.
import type { Task, TaskEventInput } from './task-state.ts'

/** How many command ids a task remembers (commands of a campaign arrive in order, so a redelivery is recent). */
export const appliedCommandsKept = 16

export type OperatorEvent = Extract<TaskEventInput, { kind: 'reprocess' | 'skip' | 'cancel' | 'resubmit-failed' | 'force-gates' }>

export function isOperatorEvent (event: TaskEventInput): event is OperatorEvent {
  return event.kind === 'reprocess' || event.kind === 'skip' || event.kind === 'cancel' || event.kind === 'resubmit-failed' || event.kind === 'force-gates'
}

/** True when `event` is a command this task has already had applied (an empty command id is never recognised). */
export function alreadyApplied (task: Task | undefined, event: TaskEventInput): boolean {
  return isOperatorEvent(event) && event.commandId !== '' && (task?.appliedCommands ?? []).includes(event.commandId)
}

/** The task with `commandId` recorded as applied (the oldest forgotten past appliedCommandsKept). */
export function recordCommand (task: Task, commandId: string): Task {
  if (commandId === '') return task
  return { ...task, appliedCommands: [...(task.appliedCommands ?? []), commandId].slice(-appliedCommandsKept) }
}
