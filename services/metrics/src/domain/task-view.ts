// The read model of one task (campaign, block, task): the latest TaskEvent,
// flattened to JSON-friendly data, and what applying a new event means for
// the counters, the histograms and the notifications.
import { JobState, taskResults, taskStateName, taskStateNames, type Output, type TaskEvent, type TaskStateName } from '@autocal/contracts'
import { isoOf, millisOfIso } from './time.ts'

export type StateName = TaskStateName

const jobStateByNumber: Record<number, string> = {
  [JobState.UNSPECIFIED]: 'unspecified',
  [JobState.IDLE]: 'idle',
  [JobState.RUNNING]: 'running',
  [JobState.DONE]: 'done',
  [JobState.FAILED]: 'failed'
}

const blockKinds = ['unspecified', 'run', 'fill', 'lumi', 'era']

/** The name of a task state; a state this version does not know counts as unspecified. */
export function stateName (state: number): StateName {
  return taskStateName(state) ?? 'unspecified'
}

const allStateNames: readonly string[] = Object.values(taskStateNames)

export function isStateName (s: string): s is StateName {
  return allStateNames.includes(s)
}

export interface OutputView {
  path: string
  sizeBytes: number
  sha256: string
  label: string
}

export interface TaskJobView {
  index: number
  state: string
  try: number
  reason: string
  logUrl: string
  outputs: OutputView[]
  retryAt?: string
  /** Numeric results of the done job (TaskJob.results). */
  results?: Record<string, number>
}

export interface TaskView {
  /** "<campaign>/<block id>/<task>" */
  key: string
  subsystem: string
  campaign: string
  workflow: string
  task: string
  blockId: string
  blockKind: string
  runs: number[]
  fill: number
  era: string
  state: StateName
  previousState: StateName
  attempt: number
  version: number
  reason: string
  actor: string
  at?: string
  createdAt?: string
  runEndedAt?: string
  conditionTag: string
  conditionSync: string
  pendingGates: string[]
  /** Content hash of the workflow file the task was planned with, and its branch (absent = production). */
  workflowVersion?: string
  workflowBranch?: string
  /** Notification channel of the task's campaign (absent = the subsystem's routes). */
  notifyChannel?: string
  jobs: TaskJobView[]
  outputs: OutputView[]
  /** The gate timeout that ended this attempt's wait (TaskEvent.gates.timed_out): the gates still closed, the policy, the timeout (s). */
  gateTimeout?: { gates: string[], policy: string, afterS: number }
}

export function outputView (o: Output): OutputView {
  return { path: o.path, sizeBytes: Number(o.sizeBytes), sha256: o.sha256, label: o.label }
}

function withOptional<T extends object> (base: T, extra: Record<string, string | undefined>): T {
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) }
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) out[k] = v
  return out as T
}

export function taskViewOf (event: TaskEvent): TaskView {
  const block = event.block
  const blockId = block?.id ?? ''
  return withOptional<TaskView>({
    key: `${event.campaign}/${blockId}/${event.task}`,
    subsystem: event.subsystem,
    campaign: event.campaign,
    workflow: event.workflow,
    task: event.task,
    blockId,
    blockKind: blockKinds[block?.kind ?? 0] ?? 'unspecified',
    runs: [...(block?.runs ?? [])],
    fill: block?.fill ?? 0,
    era: block?.era ?? '',
    state: stateName(event.state),
    previousState: stateName(event.previousState),
    attempt: event.attempt,
    version: Number(event.version),
    reason: event.reason,
    actor: event.actor,
    conditionTag: event.conditionTag,
    conditionSync: event.conditionSync,
    pendingGates: [...event.pendingGates],
    jobs: event.jobs.map(j => withOptional<TaskJobView>({
      index: j.index,
      state: jobStateByNumber[j.state] ?? 'unspecified',
      try: j.try,
      reason: j.reason,
      logUrl: j.logUrl,
      outputs: j.outputs.map(outputView),
      ...(Object.keys(j.results).length > 0 ? { results: { ...j.results } } : {})
    }, { retryAt: isoOf(j.retryAt) })),
    outputs: event.outputs.map(outputView),
    ...(event.gates?.timedOut === undefined ? {} : { gateTimeout: { gates: [...event.gates.timedOut.gates], policy: event.gates.timedOut.policy, afterS: event.gates.timedOut.afterS } })
  }, {
    at: isoOf(event.at),
    createdAt: isoOf(event.createdAt),
    runEndedAt: isoOf(event.runEndedAt),
    workflowVersion: event.workflowVersion === '' ? undefined : event.workflowVersion,
    workflowBranch: event.workflowBranch === '' ? undefined : event.workflowBranch,
    notifyChannel: event.notifyChannel === '' ? undefined : event.notifyChannel
  })
}

/** Labels of the autocal_tasks gauge. */
export interface TaskCountLabels {
  subsystem: string
  campaign: string
  task: string
  state: StateName
}

export interface CountDelta {
  labels: TaskCountLabels
  delta: number
}

export type TaskDecision =
  | { kind: 'stale', reason: string }
  | {
    kind: 'applied'
    view: TaskView
    counts: CountDelta[]
    /** Seconds from the end of the block's last run to done, when the task became done now. */
    runEndToDoneSeconds?: number
    /** True when the task has just failed (the dispatcher fails a task only after its retries). */
    failedNow: boolean
    /** True when a gate timeout's policy has just applied to this attempt (the view's gateTimeout is new). */
    gateTimedOutNow: boolean
    /** When the task has just become done with numeric results: them (taskResults), with the block's last run. */
    results?: TaskResults
  }

/** A done task's numeric results, for the autocal_task_result gauges: the block's last run and its id. */
export interface TaskResults { run: number, blockId: string, values: Record<string, number> }

function labelsOf (v: TaskView): TaskCountLabels {
  return { subsystem: v.subsystem, campaign: v.campaign, task: v.task, state: v.state }
}

/** Applies a TaskEvent to the current view: the highest version wins, a lower or equal one is stale. */
export function applyTaskEvent (current: TaskView | undefined, event: TaskEvent): TaskDecision {
  const view = taskViewOf(event)
  if (current !== undefined && view.version <= current.version) {
    return { kind: 'stale', reason: `version ${view.version} is not above ${current.version}` }
  }
  const counts: CountDelta[] = []
  const sameCell = current !== undefined && JSON.stringify(labelsOf(current)) === JSON.stringify(labelsOf(view))
  if (!sameCell) {
    if (current !== undefined) counts.push({ labels: labelsOf(current), delta: -1 })
    counts.push({ labels: labelsOf(view), delta: 1 })
  }
  const becameDone = view.state === 'done' && !(current?.state === 'done' && current.attempt === view.attempt)
  const failedNow = view.state === 'failed' && !(current?.state === 'failed' && current.attempt === view.attempt)
  const gateTimedOutNow = view.gateTimeout !== undefined && !(current?.gateTimeout !== undefined && current.attempt === view.attempt)
  const decision: TaskDecision = { kind: 'applied', view, counts, failedNow, gateTimedOutNow }
  if (becameDone) {
    const results = taskResults(view.jobs)
    if (Object.keys(results).length > 0) decision.results = { run: Math.max(0, ...view.runs), blockId: view.blockId, values: results }
    const end = millisOfIso(view.runEndedAt)
    const done = millisOfIso(view.at)
    if (end !== undefined && done !== undefined) decision.runEndToDoneSeconds = Math.max(0, (done - end) / 1000)
  }
  return decision
}

/**
 * The task a job or condition message belongs to, from its provenance:
 * "<campaign>/<block id>/<task>"; '' when it names none (a condition
 * request from outside autocal). Never parsed out of a job or request id
 * (DESIGN: request parts come from provenance).
 */
export function taskKeyOfProvenance (p: { campaign: string, blockId: string, task: string } | undefined): string {
  return p === undefined ? '' : `${p.campaign}/${p.blockId}/${p.task}`
}
