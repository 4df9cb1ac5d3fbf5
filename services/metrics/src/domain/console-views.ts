// The web console's views of the read model: a page of the runs × tasks
// overview (newest run first) with the prompt-hold time left per run, the IOV
// timeline of a tag, and the age of the executors that report job statuses.
// Pure: views in, page out.
import { deadlineStatus, type DeadlinePolicy } from './deadlines.ts'
import type { OverviewCell, OverviewFilter } from './overview.ts'
import type { StateName, TaskView } from './task-view.ts'

/** One transition of a task, as its TaskEvent told it: who (actor), when (at), why (reason). */
export interface TransitionView {
  version: number
  attempt: number
  state: StateName
  previousState: StateName
  actor: string
  reason: string
  at?: string
}

export function transitionOf (v: TaskView): TransitionView {
  const t: TransitionView = { version: v.version, attempt: v.attempt, state: v.state, previousState: v.previousState, actor: v.actor, reason: v.reason }
  if (v.at !== undefined) t.at = v.at
  return t
}

export interface HoldView {
  /** ms since the epoch when the prompt hold ends (run end + hold). */
  deadline: number
  /** 'warn' = within the warning window; 'missed' = passed with a prompt task still unfinished. */
  kind: 'warn' | 'missed'
  remainingMs: number
}

export interface OverviewRow {
  run: number
  fill: number
  era: string
  /** End of the run (ISO), from its tasks' runEndedAt, when known. */
  endedAt?: string
  cells: OverviewCell[]
  /** The most urgent prompt hold of the run's unfinished tasks, when one is near or missed. */
  hold?: HoldView
}

function matches (v: TaskView, filter: OverviewFilter): boolean {
  if (filter.tasks.length > 0 && !filter.tasks.includes(v.task)) return false
  if (filter.states.length > 0 && !filter.states.includes(v.state)) return false
  if (filter.subsystems.length > 0 && !filter.subsystems.includes(v.subsystem)) return false
  return true
}

/**
 * The rows of the given runs (in the given order, newest first) from the task
 * views of their blocks; a run none of whose tasks passes the filter has no
 * row. `now` and `policy` mark runs whose prompt hold ends within the warning
 * window, or has passed, with a prompt-synchronised task not finished.
 */
export function overviewRows (runs: number[], views: TaskView[], filter: OverviewFilter, now: number, policy: DeadlinePolicy): OverviewRow[] {
  const byRun = new Map<number, TaskView[]>()
  for (const v of views) {
    for (const run of v.runs) byRun.set(run, [...(byRun.get(run) ?? []), v])
  }
  const rows: OverviewRow[] = []
  for (const run of runs) {
    const all = byRun.get(run) ?? []
    const shown = all.filter(v => matches(v, filter))
    if (shown.length === 0) continue
    const row: OverviewRow = {
      run,
      fill: all[0]?.fill ?? 0,
      era: all[0]?.era ?? '',
      cells: shown.map(v => {
        const cell: OverviewCell = { run, task: v.task, subsystem: v.subsystem, workflow: v.workflow, blockId: v.blockId, blockKind: v.blockKind, state: v.state, attempt: v.attempt, version: v.version, reason: v.reason, pendingGates: v.pendingGates }
        if (v.at !== undefined) cell.at = v.at
        if (v.runEndedAt !== undefined) cell.runEndedAt = v.runEndedAt
        return cell
      })
    }
    const ended = all.find(v => v.blockKind === 'run' && v.runEndedAt !== undefined)?.runEndedAt
    if (ended !== undefined) row.endedAt = ended
    for (const v of all) {
      const s = deadlineStatus(v, now, policy)
      if (s.kind !== 'warn' && s.kind !== 'missed') continue
      const remainingMs = s.deadline - now
      if (row.hold === undefined || remainingMs < row.hold.remainingMs) row.hold = { deadline: s.deadline, kind: s.kind, remainingMs }
    }
    rows.push(row)
  }
  return rows
}

/** Tasks in display order: by subsystem, workflow, then name. */
export function taskColumns (views: Array<Pick<TaskView, 'task' | 'subsystem' | 'workflow'>>): Array<{ task: string, subsystem: string, workflow: string }> {
  const seen = new Map<string, { task: string, subsystem: string, workflow: string }>()
  for (const v of views) if (!seen.has(v.task)) seen.set(v.task, { task: v.task, subsystem: v.subsystem, workflow: v.workflow })
  return [...seen.values()].sort((a, b) => `${a.subsystem}/${a.workflow}/${a.task}`.localeCompare(`${b.subsystem}/${b.workflow}/${b.task}`))
}

/** One condition outcome as the console's conditions page keeps it, per tag and request id. */
export interface TagUploadView {
  requestId: string
  taskKey: string
  outcome: string
  /** The since the IOV was written with (after FCSR handling), a run number as a decimal string. */
  since: string
  /** The since the task asked for, when the uploader moved it (FCSR). */
  requestedSince?: string
  inputRuns: number[]
  reason: string
  payloadHash: string
  synchronization: string
  at: string
}

export interface IovView {
  since: number
  /** The since of the next IOV, or undefined for the open last one. */
  until?: number
  requestedSince?: number
  /** True when the uploader wrote a since other than the one requested (FCSR move). */
  moved: boolean
  inputRuns: number[]
  requestId: string
  payloadHash: string
  at: string
}

export interface TagTimeline {
  tag: string
  iovs: IovView[]
  rejected: TagUploadView[]
  failed: TagUploadView[]
}

/**
 * The IOV timeline of a tag from its uploads: the uploaded ones sorted by
 * since, each valid until the next since (the last one open-ended, as in the
 * CondDB); rejected and failed uploads with their reasons, newest first.
 */
export function tagTimeline (tag: string, uploads: TagUploadView[]): TagTimeline {
  const uploaded = uploads.filter(u => u.outcome === 'uploaded').sort((a, b) => Number(a.since) - Number(b.since) || a.at.localeCompare(b.at))
  const bySince = new Map<number, TagUploadView>()
  for (const u of uploaded) bySince.set(Number(u.since), u) // a later upload of the same since replaces the payload
  const sinces = [...bySince.keys()].sort((a, b) => a - b)
  const iovs = sinces.map((since, i): IovView => {
    const u = bySince.get(since)!
    const iov: IovView = { since, moved: false, inputRuns: u.inputRuns, requestId: u.requestId, payloadHash: u.payloadHash, at: u.at }
    const next = sinces[i + 1]
    if (next !== undefined) iov.until = next
    if (u.requestedSince !== undefined && u.requestedSince !== '') {
      iov.requestedSince = Number(u.requestedSince)
      iov.moved = iov.requestedSince !== since
    }
    return iov
  })
  const newest = (a: TagUploadView, b: TagUploadView): number => b.at.localeCompare(a.at)
  return { tag, iovs, rejected: uploads.filter(u => u.outcome === 'rejected').sort(newest), failed: uploads.filter(u => u.outcome === 'failed').sort(newest) }
}

/** An executor (or agent) as seen through the job statuses it reports. */
export interface ExecutorSeen {
  executor: string
  backend: string
  lastSeenAt: string
}

export interface ExecutorHealth extends ExecutorSeen {
  /** Seconds since its last job status. */
  ageSeconds: number
  runningJobs: number
}

/** Executors with the age of their last status and their running jobs (job entry → executor), oldest first. */
export function executorHealth (seen: ExecutorSeen[], running: Array<{ entry: string, executor: string }>, now: number): ExecutorHealth[] {
  return seen.map(e => ({
    ...e,
    ageSeconds: Math.max(0, Math.round((now - Date.parse(e.lastSeenAt)) / 1000)),
    runningJobs: running.filter(r => r.executor === e.executor).length
  })).sort((a, b) => b.ageSeconds - a.ageSeconds || a.executor.localeCompare(b.executor))
}
