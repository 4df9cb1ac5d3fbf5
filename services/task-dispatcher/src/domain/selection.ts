// Which tasks an operator command selects, and who may touch them: bearer
// tokens are scoped to subsystems ("*" = all).
import type { Selector } from '@autocal/contracts'
import type { Task } from './task-state.ts'

export function matchesSelector (t: Pick<Task, 'campaign' | 'task' | 'subsystem' | 'block'>, s: Pick<Selector, 'campaign' | 'tasks' | 'runs' | 'firstRun' | 'lastRun' | 'blockIds' | 'subsystem'>): boolean {
  if (s.campaign !== '' && t.campaign !== s.campaign) return false
  if (s.subsystem !== '' && t.subsystem !== s.subsystem) return false
  if (s.tasks.length > 0 && !s.tasks.includes(t.task)) return false
  if (s.blockIds.length > 0 && !s.blockIds.includes(t.block.id)) return false
  if (s.runs.length > 0 && !t.block.runs.some(r => s.runs.includes(r))) return false
  if (s.firstRun !== 0 || s.lastRun !== 0) {
    const lo = s.firstRun === 0 ? 0 : s.firstRun
    const hi = s.lastRun === 0 ? Infinity : s.lastRun
    if (!t.block.runs.some(r => r >= lo && r <= hi)) return false
  }
  return true
}

export function matchTasks<T extends Pick<Task, 'campaign' | 'task' | 'subsystem' | 'block'>> (tasks: T[], s: Selector): T[] {
  return tasks.filter(t => matchesSelector(t, s))
}

export interface Principal { principal: string, subsystems: string[] }

export const scopeAllows = (scope: readonly string[], subsystem: string): boolean => scope.includes('*') || scope.includes(subsystem)

export type Authorisation = { ok: true } | { ok: false, reason: string }

/** Whether a principal may act on tasks of these subsystems. */
export function authorise (p: Principal, subsystems: Iterable<string>, what: string): Authorisation {
  const denied = [...new Set(subsystems)].filter(s => !scopeAllows(p.subsystems, s)).sort()
  if (denied.length === 0) return { ok: true }
  return { ok: false, reason: `${p.principal} may act for ${p.subsystems.join(', ') || 'no subsystem'}, but ${what} touches ${denied.join(', ')}` }
}
