// The processing overview of a campaign: a runs × tasks matrix, one cell per
// run of each task's block (a fill block fills the cells of all its runs).
import { isStateName, type StateName, type TaskView } from './task-view.ts'

export interface OverviewFilter {
  tasks: string[]
  states: StateName[]
  subsystems: string[]
  fromRun?: number
  toRun?: number
}

export interface OverviewCell {
  run: number
  task: string
  subsystem: string
  workflow: string
  blockId: string
  blockKind: string
  state: StateName
  attempt: number
  version: number
  reason: string
  at?: string
  createdAt?: string
  runEndedAt?: string
  pendingGates: string[]
}

export interface Overview {
  campaign: string
  runs: number[]
  tasks: string[]
  cells: OverviewCell[]
}

export type FilterDecision = { kind: 'ok', filter: OverviewFilter } | { kind: 'invalid', reason: string }

function listParam (v: string | string[] | undefined): string[] {
  const values = Array.isArray(v) ? v : (v === undefined ? [] : [v])
  return values.flatMap(x => x.split(',')).map(x => x.trim()).filter(x => x !== '')
}

function runParam (name: string, v: string | string[] | undefined): { ok: true, run?: number } | { ok: false, reason: string } {
  const [first] = listParam(v)
  if (first === undefined) return { ok: true }
  if (!/^\d+$/.test(first)) return { ok: false, reason: `${name} must be a run number, got '${first}'` }
  return { ok: true, run: Number(first) }
}

/** Reads ?task=&state=&subsystem=&fromRun=&toRun= (lists comma-separated or repeated). */
export function parseOverviewFilter (query: Record<string, string | string[] | undefined>): FilterDecision {
  const states = listParam(query.state).map(s => s.toLowerCase())
  const bad = states.filter(s => !isStateName(s))
  if (bad.length > 0) return { kind: 'invalid', reason: `unknown state ${bad.map(s => `'${s}'`).join(', ')}` }
  const from = runParam('fromRun', query.fromRun)
  if (!from.ok) return { kind: 'invalid', reason: from.reason }
  const to = runParam('toRun', query.toRun)
  if (!to.ok) return { kind: 'invalid', reason: to.reason }
  const filter: OverviewFilter = { tasks: listParam(query.task), states: states as StateName[], subsystems: listParam(query.subsystem) }
  if (from.run !== undefined) filter.fromRun = from.run
  if (to.run !== undefined) filter.toRun = to.run
  if (filter.fromRun !== undefined && filter.toRun !== undefined && filter.fromRun > filter.toRun) {
    return { kind: 'invalid', reason: `fromRun ${filter.fromRun} is after toRun ${filter.toRun}` }
  }
  return { kind: 'ok', filter }
}

export function emptyFilter (): OverviewFilter {
  return { tasks: [], states: [], subsystems: [] }
}

function cellOf (run: number, v: TaskView): OverviewCell {
  const cell: OverviewCell = {
    run,
    task: v.task,
    subsystem: v.subsystem,
    workflow: v.workflow,
    blockId: v.blockId,
    blockKind: v.blockKind,
    state: v.state,
    attempt: v.attempt,
    version: v.version,
    reason: v.reason,
    pendingGates: v.pendingGates
  }
  if (v.at !== undefined) cell.at = v.at
  if (v.createdAt !== undefined) cell.createdAt = v.createdAt
  if (v.runEndedAt !== undefined) cell.runEndedAt = v.runEndedAt
  return cell
}

/** The matrix of a campaign's task views under a filter; runs ascending, tasks by workflow then name. */
export function buildOverview (campaign: string, views: TaskView[], filter: OverviewFilter): Overview {
  const cells: OverviewCell[] = []
  for (const v of views) {
    if (v.campaign !== campaign) continue
    if (filter.tasks.length > 0 && !filter.tasks.includes(v.task)) continue
    if (filter.states.length > 0 && !filter.states.includes(v.state)) continue
    if (filter.subsystems.length > 0 && !filter.subsystems.includes(v.subsystem)) continue
    for (const run of v.runs) {
      if (filter.fromRun !== undefined && run < filter.fromRun) continue
      if (filter.toRun !== undefined && run > filter.toRun) continue
      cells.push(cellOf(run, v))
    }
  }
  const order = new Map<string, string>()
  for (const c of cells) order.set(c.task, `${c.subsystem}/${c.workflow}/${c.task}`)
  const tasks = [...order.keys()].sort((a, b) => (order.get(a) ?? a).localeCompare(order.get(b) ?? b))
  const runs = [...new Set(cells.map(c => c.run))].sort((a, b) => a - b)
  cells.sort((a, b) => a.run - b.run || tasks.indexOf(a.task) - tasks.indexOf(b.task))
  return { campaign, runs, tasks, cells }
}

export interface CampaignSummary {
  campaign: string
  subsystems: string[]
  tasks: string[]
  /** Number of task instances (block × task) per state. */
  states: Partial<Record<StateName, number>>
  total: number
}

/** The campaigns of the autocal_tasks counts (subsystem, campaign, task, state → n). */
export function summariseCampaigns (counts: Array<{ subsystem: string, campaign: string, task: string, state: StateName, count: number }>): CampaignSummary[] {
  const byCampaign = new Map<string, CampaignSummary>()
  for (const c of counts) {
    if (c.count <= 0) continue
    const s = byCampaign.get(c.campaign) ?? { campaign: c.campaign, subsystems: [], tasks: [], states: {}, total: 0 }
    if (!s.subsystems.includes(c.subsystem)) s.subsystems.push(c.subsystem)
    if (!s.tasks.includes(c.task)) s.tasks.push(c.task)
    s.states[c.state] = (s.states[c.state] ?? 0) + c.count
    s.total += c.count
    byCampaign.set(c.campaign, s)
  }
  return [...byCampaign.values()]
    .map(s => ({ ...s, subsystems: s.subsystems.sort(), tasks: s.tasks.sort() }))
    .sort((a, b) => a.campaign.localeCompare(b.campaign))
}
