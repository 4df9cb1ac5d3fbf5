// In-process fan-out of read-model changes to the server-sent-event clients.
import type { TaskView } from './domain/task-view.ts'
import type { ConditionOutcomeView } from './domain/condition-view.ts'

export type Change =
  | { type: 'task', task: TaskView }
  | { type: 'condition', condition: ConditionOutcomeView }

export interface ChangeFeed {
  publish: (change: Change) => void
  subscribe: (listener: (change: Change) => void) => () => void
  readonly listeners: number
}

export function createChangeFeed (): ChangeFeed {
  const listeners = new Set<(change: Change) => void>()
  return {
    publish: change => { for (const l of listeners) l(change) },
    subscribe: listener => {
      listeners.add(listener)
      return () => { listeners.delete(listener) }
    },
    get listeners () { return listeners.size }
  }
}
