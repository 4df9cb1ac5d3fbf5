// Which open tasks the planner's tick evaluates. Work happens in the handler
// of the event that makes it possible (README "Dispatching on events"); the
// tick is a safety net for what a handler missed. A task a handler planned a
// moment ago is about to be evaluated by that handler: the tick leaving it
// alone keeps the two from racing for the task's lease (the loser waited in
// 50–100 ms steps, on the path from a run's end to its job request).
import type { Task } from './task-state.ts'

/**
 * True when the tick evaluates `task` now: always for a waiting task (someone
 * evaluated it already) and for one the tick planned itself (`plannedByTick`);
 * a new task only once it has been new for `graceMs` (ms; 0 = at once) at
 * `nowMs` (ms since epoch), its `atMs` being when it was planned.
 */
export function tickEvaluates (task: Pick<Task, 'state' | 'atMs'>, nowMs: number, graceMs: number, plannedByTick = false): boolean {
  if (task.state !== 'new' || plannedByTick) return true
  return nowMs - task.atMs >= graceMs
}
