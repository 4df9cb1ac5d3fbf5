// The read model of the jobs of a task: what the dispatcher asked for and
// what the executor reported, one entry per job id and try.
import { JobPhase, type JobRequest, type JobStatus } from '@autocal/contracts'
import { outputView, taskKeyOfProvenance, type OutputView } from './task-view.ts'
import { isoOf } from './time.ts'

export type PhaseName = 'unspecified' | 'queued' | 'running' | 'done' | 'failed'

const phaseByNumber: Record<number, PhaseName> = {
  [JobPhase.UNSPECIFIED]: 'unspecified',
  [JobPhase.QUEUED]: 'queued',
  [JobPhase.RUNNING]: 'running',
  [JobPhase.DONE]: 'done',
  [JobPhase.FAILED]: 'failed'
}

const rank: Record<PhaseName, number> = { unspecified: 0, queued: 1, running: 2, done: 3, failed: 3 }

export interface JobRequestView {
  jobId: string
  try: number
  index: number
  taskKey: string
  attempt: number
  runs: number[]
  action: 'start' | 'cancel' | 'unspecified'
  requestedAt: string
  backend: string
  argv: string[]
  outdir: string
  njobs: number
  cancelReason: string
}

export interface JobStatusView {
  jobId: string
  try: number
  index: number
  taskKey: string
  phase: PhaseName
  /** When each phase was reported (ISO). */
  phases: Partial<Record<PhaseName, string>>
  exitCode?: number
  signal: string
  reason: string
  retryable: boolean
  durationMs: number
  outputs: OutputView[]
  logUrl: string
  backend: string
  backendId: string
  executor: string
}

export function jobEntryId (jobId: string, attempt: number): string {
  return `${jobId}#${attempt}`
}

export type JobRequestDecision =
  | { kind: 'unchanged', reason: string }
  | {
    kind: 'applied'
    view: JobRequestView
    /** The first start request of a task attempt: the moment the dispatch latency ends. */
    firstOfTask: boolean
  }

export function applyJobRequest (current: JobRequestView | undefined, request: JobRequest, eventTime: Date): JobRequestDecision {
  const action = request.action.case ?? 'unspecified'
  if (current !== undefined && current.action === action) return { kind: 'unchanged', reason: `${action} of ${request.jobId} try ${request.try} already recorded` }
  const start = request.action.case === 'start' ? request.action.value : undefined
  const base: JobRequestView = current ?? {
    jobId: request.jobId,
    try: request.try,
    index: request.jobIndex,
    taskKey: taskKeyOfProvenance(request.provenance),
    attempt: request.provenance?.taskAttempt ?? 0,
    runs: [...(request.provenance?.inputRuns ?? [])],
    action,
    requestedAt: eventTime.toISOString(),
    backend: '',
    argv: [],
    outdir: '',
    njobs: 0,
    cancelReason: ''
  }
  const view: JobRequestView = { ...base, action }
  if (start !== undefined) {
    view.backend = start.backend === '' ? 'local' : start.backend
    view.argv = [...start.argv]
    view.outdir = start.outdir
    view.njobs = start.njobs
    view.requestedAt = eventTime.toISOString()
  }
  if (request.action.case === 'cancel') view.cancelReason = request.action.value.reason
  return { kind: 'applied', view, firstOfTask: start !== undefined && request.try <= 1 && request.jobIndex === 0 }
}

export type JobStatusDecision =
  | { kind: 'unchanged', reason: string }
  | {
    kind: 'applied'
    view: JobStatusView
    /** Set when the job reached done or failed with this event. */
    finished?: { backend: string, seconds: number, failed: boolean }
    /** Set when the executor reports the job's executor or agent as lost. */
    lost?: { who: string, reason: string }
  }

const lostPattern = /\b(executor|agent)\b[^.;/]*\blost\b|\blost\b[^.;/]*\b(executor|agent)\b/i

/** True when a failure reason says that the executor or agent running the job was lost. */
export function isExecutorLost (reason: string): boolean {
  return lostPattern.test(reason)
}

export function applyJobStatus (current: JobStatusView | undefined, status: JobStatus, eventTime: Date): JobStatusDecision {
  const phase = phaseByNumber[status.phase] ?? 'unspecified'
  if (current?.phases[phase] !== undefined) return { kind: 'unchanged', reason: `${phase} of ${status.jobId} try ${status.try} already recorded` }
  const at = isoOf(status.at) ?? eventTime.toISOString()
  const base: JobStatusView = current ?? {
    jobId: status.jobId,
    try: status.try,
    index: status.jobIndex,
    taskKey: taskKeyOfProvenance(status.provenance),
    phase,
    phases: {},
    signal: '',
    reason: '',
    retryable: false,
    durationMs: 0,
    outputs: [],
    logUrl: '',
    backend: '',
    backendId: '',
    executor: ''
  }
  const view: JobStatusView = { ...base, phases: { ...base.phases, [phase]: at } }
  if (status.backend !== '') view.backend = status.backend
  if (status.backendId !== '') view.backendId = status.backendId
  if (status.executor !== '') view.executor = status.executor
  if (status.logUrl !== '') view.logUrl = status.logUrl
  const wasTerminal = current !== undefined && rank[current.phase] === 3
  // a late QUEUED/RUNNING after DONE/FAILED is kept in `phases` but does not move the phase back
  if (!wasTerminal && rank[phase] >= rank[base.phase]) {
    view.phase = phase
    view.reason = status.reason
    view.retryable = status.retryable
    view.signal = status.signal
    if (status.exitCode !== undefined) view.exitCode = status.exitCode
    if (status.durationMs > 0n) view.durationMs = Number(status.durationMs)
    if (status.outputs.length > 0) view.outputs = status.outputs.map(outputView)
  }
  const decision: JobStatusDecision = { kind: 'applied', view }
  if (!wasTerminal && rank[phase] === 3) {
    decision.finished = { backend: view.backend === '' ? 'unknown' : view.backend, seconds: view.durationMs / 1000, failed: phase === 'failed' }
  }
  if (status.reason !== '' && isExecutorLost(status.reason)) {
    decision.lost = { who: status.executor !== '' ? status.executor : (status.backendId !== '' ? status.backendId : 'unknown'), reason: status.reason }
  }
  return decision
}
