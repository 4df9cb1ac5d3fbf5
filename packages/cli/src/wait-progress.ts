// Where the tasks an operator command selected stand while `--wait` follows
// them: one progress line (printed only when it changes), whether they have
// settled, and which are blocked. Pure: status cells in, a verdict out.
import { TaskState, type StatusCell } from '@autocal/contracts'

type Cell = Pick<StatusCell, 'blockId' | 'task' | 'state' | 'attempt' | 'at' | 'pendingGates'>

/** A task's identity across polls, and what changes when the dispatcher applies a command to it. */
export const cellKey = (c: Pick<Cell, 'blockId' | 'task'>): string => `${c.blockId}/${c.task}`
export const cellVersion = (c: Pick<Cell, 'attempt' | 'at'>): string => `${c.attempt}/${c.at?.seconds ?? 0n}/${c.at?.nanos ?? 0}`

const active = new Set<number>([TaskState.NEW, TaskState.WAITING, TaskState.PROCESSING])
const ended = new Set<number>([TaskState.FAILED, TaskState.SKIPPED, TaskState.CANCELLED])
const endedName: Record<number, string> = { [TaskState.FAILED]: 'failed', [TaskState.SKIPPED]: 'skipped', [TaskState.CANCELLED]: 'cancelled' }

export interface WaitVerdict {
  /** "4 task(s): 2 done, 0 processing, 1 waiting, 1 failed, 1 blocked". */
  line: string
  settled: boolean
  /** Tasks selected (one per block and task). */
  total: number
  /** Of them, those that have settled (changed and no longer new, waiting or processing; blocked; or quiet): the progress bar's value. */
  finished: number
  /** Waiting tasks that cannot go on: "run-1/calib waits on reco (failed)". */
  blocked: string[]
}

/**
 * The verdict on the selected tasks' cells (one per run: cells of one block
 * and task count once). A task is blocked when it waits only on upstream
 * tasks (`needs:<task>` gates) of its block that failed, were skipped or
 * cancelled, or are blocked themselves. The tasks have settled when each one
 * has changed since `before` (key → cellVersion) and is no longer new,
 * waiting or processing, or is blocked; a task unchanged for `quietMs` is
 * taken as one the command did not apply to.
 */
export function waitVerdict (cells: readonly Cell[], before: ReadonlyMap<string, string>, elapsedMs: number, quietMs = 10_000): WaitVerdict {
  const tasks = new Map(cells.map(c => [cellKey(c), c]))
  const blockedBy = new Map<string, string>()
  // an upstream blocked makes its downstream blocked: repeat until nothing more is found
  for (let found = true; found;) {
    found = false
    for (const [key, c] of tasks) {
      if (blockedBy.has(key) || !active.has(c.state) || c.state === TaskState.PROCESSING || c.pendingGates.length === 0) continue
      const reasons: string[] = []
      for (const g of c.pendingGates) {
        if (!g.startsWith('needs:')) break
        const upKey = cellKey({ blockId: c.blockId, task: g.slice('needs:'.length) })
        const up = tasks.get(upKey)
        if (up !== undefined && ended.has(up.state)) reasons.push(`${up.task} (${endedName[up.state] ?? ''})`)
        else if (blockedBy.has(upKey)) reasons.push(`${up?.task ?? upKey} (blocked)`)
        else break
      }
      if (reasons.length === c.pendingGates.length) {
        blockedBy.set(key, `${key} waits on ${reasons.join(', ')}`)
        found = true
      }
    }
  }
  const n = (...st: number[]): number => [...tasks.values()].filter(x => st.includes(x.state)).length
  const line = `${tasks.size} task(s): ${n(TaskState.DONE)} done, ${n(TaskState.PROCESSING)} processing, ${n(TaskState.WAITING, TaskState.NEW) - blockedBy.size} waiting, ${n(TaskState.FAILED)} failed` +
    (n(TaskState.AWAITING_SIGNOFF) > 0 ? `, ${n(TaskState.AWAITING_SIGNOFF)} awaiting sign-off` : '') + (blockedBy.size > 0 ? `, ${blockedBy.size} blocked` : '')
  const finished = [...tasks].filter(([key, c]) => {
    if (blockedBy.has(key)) return true
    return before.get(key) !== cellVersion(c) ? !active.has(c.state) : elapsedMs >= quietMs
  }).length
  return { line, settled: finished === tasks.size, total: tasks.size, finished, blocked: [...blockedBy.values()] }
}
