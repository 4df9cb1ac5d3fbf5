// The lower-case names of the task states ("new", "waiting", …), as the CLI
// prints them and the metrics service labels and serves them: one table, so
// that every place names a state alike. Written by hand (src/gen is not);
// scripts/write-index.ts exports it from the index.
import { TaskState } from './gen/autocal/tasks/v1/tasks_pb.ts'

/** The name of every TaskState; `satisfies` fails the build when tasks.proto gains a state not named here. */
export const taskStateNames = {
  [TaskState.UNSPECIFIED]: 'unspecified',
  [TaskState.NEW]: 'new',
  [TaskState.WAITING]: 'waiting',
  [TaskState.PROCESSING]: 'processing',
  [TaskState.DONE]: 'done',
  [TaskState.FAILED]: 'failed',
  [TaskState.SKIPPED]: 'skipped',
  [TaskState.CANCELLED]: 'cancelled',
  [TaskState.AWAITING_SIGNOFF]: 'awaiting-signoff'
} as const satisfies Record<typeof TaskState[keyof typeof TaskState], string>

export type TaskStateName = typeof taskStateNames[keyof typeof taskStateNames]

/** The name of a task state; undefined for a number this version does not know (a state added by a newer writer). */
export function taskStateName (state: number): TaskStateName | undefined {
  return (taskStateNames as Partial<Record<number, TaskStateName>>)[state]
}
