// The prompt hold: conditions for prompt, express and hlt tags must be in the
// database before prompt reconstruction of the run starts, run end + 48 h by
// default. A task that is not done while its deadline comes close is worth a
// warning.
import type { TaskView } from './task-view.ts'
import { millisOfIso } from './time.ts'

export const promptSyncs = ['prompt', 'express', 'hlt'] as const

export interface DeadlinePolicy {
  holdMs: number
  warnMs: number
}

export type DeadlineStatus =
  | { kind: 'none', reason: string }
  | { kind: 'ok', deadline: number }
  | { kind: 'warn', deadline: number, remainingMs: number }
  | { kind: 'missed', deadline: number }

const finished = new Set(['done', 'skipped', 'cancelled'])

/** The prompt-hold deadline of a task (ms), when it has one. */
export function promptDeadline (view: TaskView, holdMs: number): number | undefined {
  if (!(promptSyncs as readonly string[]).includes(view.conditionSync.toLowerCase())) return undefined
  const end = millisOfIso(view.runEndedAt)
  return end === undefined ? undefined : end + holdMs
}

export function deadlineStatus (view: TaskView, now: number, policy: DeadlinePolicy): DeadlineStatus {
  const deadline = promptDeadline(view, policy.holdMs)
  if (deadline === undefined) return { kind: 'none', reason: 'no prompt-synchronised condition or no run end' }
  if (finished.has(view.state)) return { kind: 'none', reason: `task is ${view.state}` }
  if (now >= deadline) return { kind: 'missed', deadline }
  if (deadline - now <= policy.warnMs) return { kind: 'warn', deadline, remainingMs: deadline - now }
  return { kind: 'ok', deadline }
}
