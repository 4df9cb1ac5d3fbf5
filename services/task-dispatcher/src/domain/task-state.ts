// The task state machine: every state change of a (campaign, block, task)
// happens here, in `transition(task, event)`, which returns the next task and
// the effects to perform (job requests, cancels, a condition request). The
// caller publishes the new task as a TaskEvent when `changed` and performs the
// effects; nothing else mutates a task.
//
//   (none) ──plan──► new ──gates──► waiting ──gates open──► processing ──jobs done──► done
//                      └──────────gates open───────────────►    │   └─jobs done + condition─► (upload) ──► done | failed
//                                                                └─job failed, budget left─► (retry with backoff)
//                                                                └─job failed, no budget──► failed
//   append-only tag (offline, runmc, mc): jobs done ─► (upload waits for an earlier block's task to end) ─upload-due─► (upload)
//   sign-off: jobs done + condition with signOff ─► (dry-run check) ─► awaiting-signoff ─approve─► (upload) ─► done | failed
//                                                                                      └─reject──► failed
//   operators: reprocess (any → new, attempt + 1), skip (→ skipped), cancel (→ cancelled),
//              resubmit failed jobs (failed → processing, same attempt, unfinished jobs with their next try)
//
// Every transition bumps `version` by one; a redelivered or stale event
// (another attempt, another try, a job already done) changes nothing, so the
// machine is idempotent under at-least-once delivery.
import type { BlockState } from './block-grouping.ts'
import { uploadWaitReason, uploadWaiting } from './upload-order.ts'
import { defaultInfrastructureRetries, failureCause, retryDecision, type RetryPolicy } from './retry-policy.ts'
import { forceGates, gateTimeoutDecision, gateTimeoutText, notForced, waitingSince, type GateTimeoutRule, type TaskGateRecord } from './gate-timeout.ts'

export type TaskStateName = 'new' | 'waiting' | 'processing' | 'awaiting-signoff' | 'done' | 'failed' | 'skipped' | 'cancelled'
export type JobStateName = 'idle' | 'running' | 'done' | 'failed'

export interface TaskOutput { path: string, sizeBytes: number, sha256: string, label: string }

export interface TaskJob {
  index: number
  state: JobStateName
  /** Try of this job within the attempt (1 for the first). */
  try: number
  reason: string
  outputs: TaskOutput[]
  logUrl: string
  /** When a failed job is requested again. */
  retryAtMs?: number
  /** Where the current try runs (the executor's report): backend and its id there (pid, cluster.proc, Job name). */
  backend?: string
  backendId?: string
  /** Infrastructure failures of this job in this attempt, retried apart from `retries` (retry-policy.ts). */
  infraFailures?: number
  /** Numeric results of the done job (its outputs manifest's `results`), e.g. { chi2_ndf: 1.07 }. */
  results?: Record<string, number>
  /** Its slice of the input dataset's files (a data-aware task: domain/file-slices.ts), the `{files}` of every try. */
  inputFiles?: string[]
}

/** Where the task's condition upload stands (TaskCondition in tasks.proto). */
export interface TaskCondition {
  /** request_id of the last ConditionRequest (uploadRequestId, with "/check" for the dry run before a sign-off). */
  requestId: string
  /** '' while under way. */
  outcome: '' | ConditionOutcome
  payloadHash: string
  /** IOV start the uploader reported, decimal (64-bit: Time and Lumi sinces exceed 2^53). */
  since?: string
  target: string
  reason: string
  signedOffBy: string
  signOffReason: string
}

export type ConditionOutcome = 'uploaded' | 'skipped' | 'rejected' | 'failed'

/** Request id of a task attempt's upload: "<campaign>/<block id>/<task>/<attempt>" (names never contain "/"). */
export const uploadRequestId = (t: Pick<Task, 'campaign' | 'block' | 'task' | 'attempt'>): string => `${t.campaign}/${t.block.id}/${t.task}/${t.attempt}`
/** Request id of the dry run that checks a payload before its sign-off. */
export const checkRequestId = (t: Pick<Task, 'campaign' | 'block' | 'task' | 'attempt'>): string => `${uploadRequestId(t)}/check`

export interface Task {
  subsystem: string
  campaign: string
  workflow: string
  workflowVersion: string
  /** Workflow branch the task was planned with ('' or absent = production). */
  workflowBranch?: string
  /** Notification channel of the task's campaign ('' or absent = the subsystem's routes). */
  notifyChannel?: string
  task: string
  block: BlockState
  state: TaskStateName
  previousState: TaskStateName
  attempt: number
  version: number
  reason: string
  actor: string
  atMs: number
  createdAtMs: number
  jobs: TaskJob[]
  outputs: TaskOutput[]
  conditionTag: string
  conditionSync: string
  pendingGates: string[]
  /** End of the block's last run (ms), for the prompt-hold deadline. */
  runEndedAtMs?: number
  /** Control command that caused the transition. */
  commandId: string
  /** Control commands already applied to this task, oldest first (see domain/commands.ts). */
  appliedCommands?: string[]
  /** The condition upload, once requested. */
  condition?: TaskCondition
  /** Readiness gates over time: waiting since, forced open, timed out (gate-timeout.ts); reset by reprocess. */
  gates?: TaskGateRecord
}

/** What the state machine needs to know of the task's definition. */
export interface TaskSpec {
  subsystem: string
  campaign: string
  workflow: string
  workflowVersion: string
  workflowBranch?: string
  notifyChannel?: string
  task: string
  jobs: number
  retries: number
  backoffS: number
  conditionTag: string
  conditionSync: string
  /** The upload waits for an operator's sign-off after a dry run that checks the payload. */
  signOff: boolean
  /** Readiness gates not all open this long after the task began to wait on them alone: the policy applies (gate-timeout.ts). */
  gateTimeout?: GateTimeoutRule
}

/** What a job report's transition needs of the task's definition (catalog.ts jobSpecOf). */
export type JobSpec = Pick<TaskSpec, 'retries' | 'backoffS'> & {
  signOff?: boolean
  /** Exit codes and signals never retried; none when absent. */
  retryNever?: { exitCodes: readonly number[], signals: readonly string[] }
  /** Infrastructure failures retried per job apart from `retries`; defaultInfrastructureRetries when absent. */
  infrastructureRetries?: number
}

export type TaskEventInput =
  | { kind: 'plan', spec: TaskSpec, block: BlockState, runEndedAtMs?: number }
  /**
   * Gates evaluated. A data-aware task (file-slices.ts) also brings `jobFiles` (one job per slice, instead of
   * `spec.jobs`), `why` (more on a pending gate, e.g. DBS's error and the next retry), or `end`: it is skipped
   * (no files for its runs) or failed (DBS unreadable beyond its infrastructure retries) before any job.
   */
  | { kind: 'gates', spec: TaskSpec, pending: string[], jobFiles?: string[][], why?: string, end?: { state: 'skipped' | 'failed', reason: string } }
  /** `uploadWaitsFor`: the block whose task must end before this task's upload to an append-only tag (upload-order.ts). */
  /** A job report; a failed one carries what the executor said of its end (exit code, signal, retryable) for the retry policy. */
  | { kind: 'job', spec: JobSpec, attempt: number, index: number, try: number, phase: 'queued' | 'running' | 'done' | 'failed', outputs: TaskOutput[], reason: string, logUrl: string, uploadWaitsFor?: string, backend?: string, backendId?: string, exitCode?: number, signal?: string, retryable?: boolean, results?: Record<string, number> }
  /** A waiting upload looked at again (an earlier block's task ended): sent, or still waiting for `waitsFor`. */
  | { kind: 'upload-due', spec: { signOff: boolean }, waitsFor?: string }
  | { kind: 'retry-due' }
  | { kind: 'condition', attempt: number, outcome: ConditionOutcome, reason: string, requestId?: string, payloadHash?: string, since?: bigint, target?: string }
  | { kind: 'sign-off', decision: 'approve' | 'reject', requestId: string, payloadHash: string, actor: string, reason: string, commandId: string }
  | { kind: 'reprocess' | 'skip' | 'cancel', actor: string, reason: string, commandId: string }
  | { kind: 'resubmit-failed', actor: string, reason: string, commandId: string }
  /** An operator forces a waiting task's gate open (`gate` by name or kind), or all its readiness gates (gate-timeout.ts forceGates). */
  | { kind: 'force-gates', spec: TaskSpec, gate?: string, actor: string, reason: string, commandId: string }

export type Effect =
  | { kind: 'start-job', index: number, try: number }
  | { kind: 'cancel-job', index: number, try: number, reason: string }
  | {
    kind: 'request-condition'
    /** A dry run that checks the payload before a sign-off (request id "<upload id>/check"). */
    check: boolean
    /** The upload is refused unless the payload has this hash ('' = any): the hash that was checked and signed off. */
    expectedPayloadHash: string
  }

export interface Transition {
  task: Task
  effects: Effect[]
  changed: boolean
  /** Why nothing changed, for logs and command replies. */
  ignored?: string
}

const terminal: ReadonlySet<TaskStateName> = new Set(['done', 'failed', 'skipped', 'cancelled'])
export const isTerminal = (s: TaskStateName): boolean => terminal.has(s)

function next (task: Task, state: TaskStateName, reason: string, nowMs: number, patch: Partial<Task> = {}): Task {
  return { ...task, ...patch, previousState: task.state, state, reason, version: task.version + 1, atMs: nowMs, actor: patch.actor ?? '', commandId: patch.commandId ?? '' }
}

const emptyCondition = (requestId: string): TaskCondition => ({ requestId, outcome: '', payloadHash: '', target: '', reason: '', signedOffBy: '', signOffReason: '' })

const same = (task: Task, ignored: string): Transition => ({ task, effects: [], changed: false, ignored })

/** Cancels of every job of the attempt that has not finished. */
function cancelRunning (task: Task, reason: string): Effect[] {
  return task.jobs.filter(j => j.state === 'idle' || j.state === 'running').map(j => ({ kind: 'cancel-job', index: j.index, try: j.try, reason }))
}

function freshJobs (n: number): TaskJob[] {
  return Array.from({ length: n }, (_, index) => ({ index, state: 'idle', try: 1, reason: '', outputs: [], logUrl: '' }))
}

/** processing → processing: the payload check before a sign-off, or the upload, is requested (the condition-uploader must confirm). */
function requestUpload (task: Task, why: string, signOff: boolean, nowMs: number, patch: Partial<Task>): Transition {
  if (signOff) {
    // processing → processing (check): the payload is checked by a dry run before its sign-off
    return {
      task: next(task, 'processing', `${why}; payload check (dry run) for ${task.conditionTag} requested before sign-off`, nowMs, { ...patch, condition: emptyCondition(checkRequestId(task)) }),
      effects: [{ kind: 'request-condition', check: true, expectedPayloadHash: '' }],
      changed: true
    }
  }
  // processing → processing (upload): the condition-uploader must confirm
  return {
    task: next(task, 'processing', `${why}; condition upload to ${task.conditionTag} requested`, nowMs, { ...patch, condition: emptyCondition(uploadRequestId(task)) }),
    effects: [{ kind: 'request-condition', check: false, expectedPayloadHash: '' }],
    changed: true
  }
}

/** The event of kind `K`, narrowed. */
type EventOf<K extends TaskEventInput['kind']> = Extract<TaskEventInput, { kind: K }>

/**
 * (none) → new: the task is planned on a block (which may still be open).
 * Attempt 1, version 1, no jobs; `runEndedAtMs` is kept for the prompt-hold deadline.
 */
function planTask (event: EventOf<'plan'>, nowMs: number): Transition {
  const { spec, block } = event
  const created: Task = {
    subsystem: spec.subsystem,
    campaign: spec.campaign,
    workflow: spec.workflow,
    workflowVersion: spec.workflowVersion,
    ...(spec.workflowBranch === undefined || spec.workflowBranch === '' ? {} : { workflowBranch: spec.workflowBranch }),
    ...(spec.notifyChannel === undefined || spec.notifyChannel === '' ? {} : { notifyChannel: spec.notifyChannel }),
    task: spec.task,
    block,
    state: 'new',
    previousState: 'new',
    attempt: 1,
    version: 1,
    reason: `planned on ${block.id}`,
    actor: '',
    atMs: nowMs,
    createdAtMs: nowMs,
    jobs: [],
    outputs: [],
    conditionTag: spec.conditionTag,
    conditionSync: spec.conditionSync,
    pendingGates: [],
    commandId: ''
  }
  if (event.runEndedAtMs !== undefined) created.runEndedAtMs = event.runEndedAtMs
  return { task: created, effects: [], changed: true }
}

/**
 * Same state, new block content: a run joined the open block, or it closed.
 * Unchanged when the block's runs, closed flag and recorded luminosity (/pb) are the same.
 */
function replan (task: Task, event: EventOf<'plan'>, nowMs: number): Transition {
  const b = event.block
  if (b.runs.join() === task.block.runs.join() && b.closed === task.block.closed && b.recordedLumiPb === task.block.recordedLumiPb) return same(task, 'block unchanged')
  const patch: Partial<Task> = { block: b }
  if (event.runEndedAtMs !== undefined) patch.runEndedAtMs = event.runEndedAtMs
  const reason = b.closed && !task.block.closed ? `block closed: ${b.closedReason}` : `block ${b.id} now has ${b.runs.length} runs`
  return { task: next(task, task.state, reason, nowMs, patch), effects: [], changed: true }
}

/**
 * Gates evaluated (only in new or waiting). Gates an operator forced open do
 * not count. None pending → processing with `spec.jobs` fresh jobs requested
 * (try 1); some pending → waiting on them (unchanged when the same gates were
 * already pending), with the gate clock started once only readiness gates are
 * left (gate-timeout.ts); when `spec.gateTimeout` has passed on that clock, its
 * policy: fail → failed, skip → skipped, run → processing with the gates not open.
 */
function evaluateGates (task: Task, event: EventOf<'gates'>, nowMs: number): Transition {
  if (task.state !== 'new' && task.state !== 'waiting') return same(task, `gates are evaluated only before processing (task is ${task.state})`)
  if (event.end !== undefined) {
    // new|waiting → skipped (its input dataset has no files for the block) | failed (DBS unreadable, retries exhausted)
    return { task: next(task, event.end.state, event.end.reason, nowMs, { pendingGates: [] }), effects: [], changed: true }
  }
  const pending = notForced(event.pending, task.gates)
  if (pending.length === 0) {
    // new|waiting → processing: every gate is open (or forced open); request the jobs of this attempt (a data-aware task: one per slice of its files)
    const forced = task.gates?.forced ?? []
    return dispatch(task, event.spec, `gates open${forced.length === 0 ? '' : ` (forced: ${forced.map(f => f.gate).join(', ')})`}`, nowMs, task.gates, event.jobFiles)
  }
  const sinceMs = waitingSince(pending, task.gates?.waitingSinceMs, nowMs)
  const record: TaskGateRecord = { ...(task.gates ?? { forced: [] }) }
  if (sinceMs === undefined) delete record.waitingSinceMs
  else record.waitingSinceMs = sinceMs
  const timeout = gateTimeoutDecision(event.spec.gateTimeout, pending, sinceMs, nowMs)
  if (timeout.kind === 'timed-out') {
    const why = gateTimeoutText(timeout.gates, timeout.afterS)
    const timedOut = { ...record, timedOut: { gates: timeout.gates, policy: timeout.policy, afterS: timeout.afterS, atMs: nowMs } }
    switch (timeout.policy) {
      // waiting → failed: the gate timeout passed with the policy fail
      case 'fail': return { task: next(task, 'failed', `${why} (onTimeout: fail)`, nowMs, { pendingGates: timeout.gates, gates: timedOut }), effects: [], changed: true }
      // waiting → skipped: the gate timeout passed with the policy skip
      case 'skip': return { task: next(task, 'skipped', `${why} (onTimeout: skip)`, nowMs, { pendingGates: timeout.gates, gates: timedOut }), effects: [], changed: true }
      // waiting → processing: the gate timeout passed with the policy run; the jobs run with these gates not open
      case 'run': return dispatch(task, event.spec, `${why} (onTimeout: run): dispatched with ${timeout.gates.join(', ')} not open`, nowMs, timedOut, event.jobFiles)
    }
  }
  // new → waiting, or waiting → waiting with other pending gates (or the gate clock started)
  const reason = waitingReason(pending, event.why)
  if (task.state === 'waiting' && task.pendingGates.join() === pending.join() && task.gates?.waitingSinceMs === record.waitingSinceMs && (event.why === undefined || task.reason === reason)) return same(task, 'same gates pending')
  const waiting = next(task, 'waiting', reason, nowMs, { pendingGates: pending, gates: record })
  if (record.waitingSinceMs === undefined && record.forced.length === 0 && record.timedOut === undefined) delete waiting.gates
  return { task: waiting, effects: [], changed: true }
}

/** new|waiting → processing: the attempt's `spec.jobs` fresh jobs (a data-aware task: one per slice of `jobFiles`) are requested (try 1); `why` leads the reason. */
function dispatch (task: Task, spec: TaskSpec, why: string, nowMs: number, gates: TaskGateRecord | undefined, jobFiles?: string[][]): Transition {
  const jobs = jobFiles === undefined ? freshJobs(spec.jobs) : freshJobs(jobFiles.length).map((j, i) => ({ ...j, inputFiles: jobFiles[i] ?? [] }))
  const patch: Partial<Task> = { jobs, pendingGates: [], outputs: [] }
  if (gates !== undefined) patch.gates = gates
  return {
    task: next(task, 'processing', `${why}; ${jobs.length} job(s) requested`, nowMs, patch),
    effects: jobs.map(j => ({ kind: 'start-job', index: j.index, try: 1 })),
    changed: true
  }
}

/**
 * An operator forces gates open (only a waiting task; which gates: gate-timeout.ts
 * forceGates, refused with its reason otherwise). The forced gates are recorded
 * with who, why and the command, and stay open for this attempt; when no gate is
 * left → processing, else waiting on the rest.
 */
function forceGatesOpen (task: Task, event: EventOf<'force-gates'>, nowMs: number): Transition {
  const decision = forceGates(task.state, task.pendingGates, event.gate)
  if (decision.kind === 'refused') return same(task, decision.reason)
  const by = { actor: event.actor, commandId: event.commandId }
  const forced = [...(task.gates?.forced ?? []), ...decision.gates.map(gate => ({ gate, actor: event.actor, reason: event.reason, commandId: event.commandId, atMs: nowMs }))]
  const record: TaskGateRecord = { ...(task.gates ?? {}), forced }
  const why = `gate force by ${event.actor}: ${decision.gates.join(', ')} (${event.reason})`
  const left = notForced(task.pendingGates, record)
  if (left.length === 0) {
    // waiting → processing: the last gates were forced open by an operator
    const t = dispatch(task, event.spec, `${why}; gates open`, nowMs, record)
    return { ...t, task: { ...t.task, ...by } }
  }
  // waiting → waiting: some gates forced open, others still pending
  return { task: next(task, 'waiting', `${why}; waiting on ${left.join(', ')}`, nowMs, { pendingGates: left, gates: record, ...by }), effects: [], changed: true }
}

/** The reason of a waiting task: `waiting on <gates>`, with more on them in parentheses (e.g. DBS's error). */
export const waitingReason = (pending: readonly string[], why?: string): string => `waiting on ${pending.join(', ')}${why === undefined ? '' : ` (${why})`}`

/** The job with the backend and backend id a job report names (kept when the report names none). */
function withBackend (job: TaskJob, report: { backend?: string, backendId?: string }): TaskJob {
  const j = { ...job }
  if (report.backend !== undefined && report.backend !== '') j.backend = report.backend
  if (report.backendId !== undefined && report.backendId !== '') j.backendId = report.backendId
  return j
}

/** The jobs a resubmit of failed jobs runs again: a failed task's jobs that did not finish (none for another state). */
export const jobsToResubmit = (task: Pick<Task, 'state' | 'jobs'>): TaskJob[] => task.state === 'failed' ? task.jobs.filter(j => j.state !== 'done') : []

/**
 * failed → processing, same attempt: the jobs that did not finish (failed, or
 * left idle/running when a sibling failed and they were cancelled) are
 * requested again with their next try; done jobs keep their outputs. The
 * retry budget is not renewed: a resubmitted job that fails ends the task
 * again. Nothing to run again (not failed, or every job done, e.g. its upload
 * failed: use reprocess) leaves the task as it is, with the reason.
 */
export function resubmitFailedJobs (task: Task, event: { actor: string, reason: string, commandId: string }, nowMs: number): Transition {
  if (task.state !== 'failed') return same(task, `only a failed task's jobs are resubmitted (task is ${task.state})`)
  const again = jobsToResubmit(task)
  if (again.length === 0) return same(task, `every job of attempt ${task.attempt} is done; the task failed after them (reprocess it instead)`)
  const jobs = task.jobs.map((j): TaskJob => {
    if (j.state === 'done') return j
    const { retryAtMs: _r, backend: _b, backendId: _i, ...rest } = j
    return { ...rest, state: 'idle', try: j.try + 1, reason: '', outputs: [] }
  })
  const reason = `resubmit of failed jobs: ${event.reason}; job(s) ${again.map(j => j.index).join(',')} requested again`
  return {
    task: next(task, 'processing', reason, nowMs, { jobs, outputs: [], actor: event.actor, commandId: event.commandId }),
    effects: again.map(j => ({ kind: 'start-job', index: j.index, try: j.try + 1 })),
    changed: true
  }
}

/** The task's jobs with `job` in place of the one of the same index. */
const withJob = (task: Task, job: TaskJob): TaskJob[] => task.jobs.map(x => x.index === job.index ? job : x)

/**
 * A job report: applies only to a processing task, at the task's attempt, to
 * an existing job at the reported try that has not ended; anything else
 * (stale attempt or try, redelivery) changes nothing. Then by phase.
 */
function reportJob (task: Task, event: EventOf<'job'>, nowMs: number): Transition {
  if (task.state !== 'processing') return same(task, `job report for a ${task.state} task`)
  if (event.attempt !== task.attempt) return same(task, `job report of attempt ${event.attempt}, task is at attempt ${task.attempt}`)
  const current = task.jobs[event.index]
  if (current === undefined) return same(task, `no job ${event.index}`)
  if (event.try !== current.try) return same(task, `job ${event.index} report of try ${event.try}, job is at try ${current.try}`)
  if (current.state === 'done' || current.state === 'failed') return same(task, `job ${event.index} try ${current.try} already ${current.state}`)
  // the job as the report leaves it: with the backend and backend id it names
  const job = withBackend(current, event)
  switch (event.phase) {
    case 'queued':
    case 'running': return jobStarted(task, job, event, nowMs)
    case 'done': return jobDone(task, job, event, nowMs)
    case 'failed': return jobFailed(task, job, event, nowMs)
  }
}

/** processing: job idle → running (the task stays processing); a queued report, or a second running one, changes nothing. */
function jobStarted (task: Task, job: TaskJob, event: EventOf<'job'>, nowMs: number): Transition {
  if (job.state === 'running' || event.phase === 'queued') return same(task, `job ${event.index} ${event.phase}`)
  const jobs = withJob(task, { ...job, state: 'running', logUrl: event.logUrl || job.logUrl })
  return { task: next(task, 'processing', `job ${event.index} running`, nowMs, { jobs }), effects: [], changed: true }
}

/**
 * A job done with its outputs. Jobs left → processing; the last one → done
 * (no condition), the upload (or its sign-off check) requested, or, for an
 * append-only tag whose earlier block's upload is not over (`uploadWaitsFor`,
 * upload-order.ts), processing with the upload waiting.
 */
function jobDone (task: Task, job: TaskJob, event: EventOf<'job'>, nowMs: number): Transition {
  const done: TaskJob = { ...job, state: 'done', outputs: event.outputs, logUrl: event.logUrl || job.logUrl, reason: '' }
  if (event.results !== undefined && Object.keys(event.results).length > 0) done.results = { ...event.results }
  const jobs = withJob(task, done)
  const left = jobs.filter(j => j.state !== 'done').length
  if (left > 0) {
    // processing: one more job done
    return { task: next(task, 'processing', `job ${event.index} done; ${left} left`, nowMs, { jobs }), effects: [], changed: true }
  }
  const outputs = jobs.flatMap(j => j.outputs)
  if (task.conditionTag !== '' && event.uploadWaitsFor !== undefined) {
    // processing (upload waits): all jobs done; an earlier block's upload to this append-only tag comes first
    return { task: next(task, 'processing', `all ${jobs.length} job(s) done; ${uploadWaitReason(task, event.uploadWaitsFor)}`, nowMs, { jobs, outputs }), effects: [], changed: true }
  }
  if (task.conditionTag !== '') return requestUpload(task, `all ${jobs.length} job(s) done`, event.spec.signOff === true, nowMs, { jobs, outputs })
  // processing → done: all jobs done, no condition to upload
  return { task: next(task, 'done', `all ${jobs.length} job(s) done`, nowMs, { jobs, outputs }), effects: [], changed: true }
}

/**
 * A job failed. Its cause under the task's retry policy (retry-policy.ts):
 * an exit code or signal of `retry.never` fails the task at once; an
 * infrastructure failure (retryable, no exit code, no signal) is retried up to
 * `retry.infrastructure` times without consuming `retries`; any other failure
 * is retried while the job's own failures (try − 1 − infrastructure failures)
 * are below `retries`. A retry is requested after `backoffS` × 2^(n−1) seconds,
 * n its number within its budget (retry-due); otherwise the task fails and the
 * attempt's unfinished jobs are cancelled.
 */
function jobFailed (task: Task, job: TaskJob, event: EventOf<'job'>, nowMs: number): Transition {
  const reason = `job ${event.index} try ${job.try} failed: ${event.reason || 'no reason given'}`
  const policy: RetryPolicy = {
    retries: event.spec.retries,
    neverExitCodes: event.spec.retryNever?.exitCodes ?? [],
    neverSignals: event.spec.retryNever?.signals ?? [],
    infrastructure: event.spec.infrastructureRetries ?? defaultInfrastructureRetries
  }
  const cause = failureCause(policy, event)
  const infra = job.infraFailures ?? 0
  const decision = retryDecision(policy, cause, Math.max(0, job.try - 1 - infra), infra)
  const failedJob: TaskJob = { ...job, state: 'failed', reason: event.reason, logUrl: event.logUrl || job.logUrl }
  if (cause === 'infrastructure') failedJob.infraFailures = infra + 1
  if (decision.retry) {
    // processing: job failed within its budget → requested again after an exponential backoff
    const delayMs = event.spec.backoffS * 1000 * 2 ** (decision.nth - 1)
    const jobs = withJob(task, { ...failedJob, retryAtMs: nowMs + delayMs })
    const budget = decision.budget === 'infrastructure' ? `; infrastructure failure ${decision.nth} of ${policy.infrastructure}, not counted against retries` : ''
    return { task: next(task, 'processing', `${reason}${budget}; retry in ${Math.round(delayMs / 1000)} s`, nowMs, { jobs }), effects: [], changed: true }
  }
  // processing → failed: never retried, or its budget exhausted; the attempt's other jobs are cancelled
  const jobs = withJob(task, failedJob)
  const failed = next(task, 'failed', `${reason}; ${decision.why}${task.conditionTag === '' ? '' : `; nothing uploaded to ${task.conditionTag}`}`, nowMs, { jobs })
  return { task: failed, effects: cancelRunning({ ...task, jobs }, 'another job of the task failed'), changed: true }
}

/**
 * A waiting upload to an append-only tag looked at again: still waiting for
 * `waitsFor` (a new reason only when another block is named), or requested now.
 */
function uploadDue (task: Task, event: EventOf<'upload-due'>, nowMs: number): Transition {
  if (!uploadWaiting(task)) return same(task, `no upload waits (task is ${task.state})`)
  if (event.waitsFor !== undefined) {
    // processing (upload waits): still an earlier block's upload first
    const reason = `all ${task.jobs.length} job(s) done; ${uploadWaitReason(task, event.waitsFor)}`
    if (reason === task.reason) return same(task, 'upload still waits for the same block')
    return { task: next(task, 'processing', reason, nowMs), effects: [], changed: true }
  }
  return requestUpload(task, 'earlier blocks\' uploads ended', event.spec.signOff, nowMs, {})
}

/** processing: failed jobs whose backoff passed (retryAtMs ≤ nowMs) are requested again with the next try. */
function retryDue (task: Task, nowMs: number): Transition {
  if (task.state !== 'processing') return same(task, 'no retry outside processing')
  const due = task.jobs.filter(j => j.state === 'failed' && j.retryAtMs !== undefined && j.retryAtMs <= nowMs)
  if (due.length === 0) return same(task, 'no retry due')
  const jobs = task.jobs.map(j => {
    if (!due.includes(j)) return j
    const { retryAtMs: _r, backend: _b, backendId: _i, ...rest } = j
    return { ...rest, state: 'idle' as const, try: j.try + 1, outputs: [] }
  })
  return {
    task: next(task, 'processing', `job(s) ${due.map(j => j.index).join(',')} requested again`, nowMs, { jobs }),
    effects: due.map(j => ({ kind: 'start-job', index: j.index, try: j.try + 1 })),
    changed: true
  }
}

/**
 * The condition-uploader's outcome. Applies only to a processing task with a
 * tag, all jobs done, at the same attempt, for the request the task waits
 * for (tasks written before conditions were tracked have no request id: their
 * upload is the only request). Then the check's or the upload's outcome.
 */
function conditionOutcome (task: Task, event: EventOf<'condition'>, nowMs: number): Transition {
  if (task.state !== 'processing' || event.attempt !== task.attempt || task.jobs.some(j => j.state !== 'done') || task.conditionTag === '') {
    return same(task, `condition outcome for attempt ${event.attempt} does not apply (task ${task.state}, attempt ${task.attempt})`)
  }
  const expected = task.condition?.requestId ?? uploadRequestId(task)
  const requestId = event.requestId ?? uploadRequestId(task)
  if (requestId !== expected) return same(task, `condition outcome of request ${requestId}, the task waits for ${expected}`)
  const condition: TaskCondition = {
    ...(task.condition ?? emptyCondition(requestId)),
    outcome: event.outcome,
    payloadHash: event.payloadHash ?? '',
    target: event.target ?? '',
    reason: event.reason
  }
  if (event.since !== undefined) condition.since = String(event.since)
  return requestId === checkRequestId(task) ? checkOutcome(task, event, condition, nowMs) : uploadOutcome(task, event, condition, nowMs)
}

/**
 * The dry run before a sign-off: refused → failed (nothing uploaded); no new
 * payload (empty hash) → done; a valid payload → awaiting-signoff.
 */
function checkOutcome (task: Task, event: EventOf<'condition'>, condition: TaskCondition, nowMs: number): Transition {
  if (event.outcome === 'rejected' || event.outcome === 'failed') {
    // processing → failed: the payload check before the sign-off refused the payload; nothing is uploaded
    return { task: next(task, 'failed', `payload check ${event.outcome}: ${event.reason || 'no reason given'}; nothing uploaded to ${task.conditionTag}`, nowMs, { condition }), effects: [], changed: true }
  }
  if (condition.payloadHash === '') {
    // processing → done: the check found nothing to upload (an optional condition without a new payload)
    return { task: next(task, 'done', `condition ${event.outcome}${event.reason === '' ? '' : `: ${event.reason}`}`, nowMs, { condition }), effects: [], changed: true }
  }
  // processing → awaiting-signoff: the payload is valid; the upload waits for an operator's approve or reject
  return { task: next(task, 'awaiting-signoff', `payload ${condition.payloadHash} checked for ${task.conditionTag}: waiting for sign-off (autocal conditions approve|reject --request ${uploadRequestId(task)})`, nowMs, { condition }), effects: [], changed: true }
}

/** The upload: uploaded or skipped (same payload already there) → done; rejected or failed → failed. */
function uploadOutcome (task: Task, event: EventOf<'condition'>, condition: TaskCondition, nowMs: number): Transition {
  if (event.outcome === 'uploaded' || event.outcome === 'skipped') {
    // processing → done: the condition-uploader confirmed the payload
    return { task: next(task, 'done', `condition ${event.outcome}${event.reason === '' ? '' : `: ${event.reason}`}`, nowMs, { condition }), effects: [], changed: true }
  }
  // processing → failed: the condition-uploader rejected the payload or could not write it
  return { task: next(task, 'failed', `condition ${event.outcome}: ${event.reason || 'no reason given'}`, nowMs, { condition }), effects: [], changed: true }
}

/**
 * An operator's sign-off of a checked payload (only awaiting-signoff, for the
 * task's upload request id and, when given, the checked payload hash):
 * reject → failed; approve → processing with the upload of exactly that payload requested.
 */
function signOff (task: Task, event: EventOf<'sign-off'>, nowMs: number): Transition {
  if (task.state !== 'awaiting-signoff') return same(task, `sign-off of a ${task.state} task`)
  if (event.requestId !== uploadRequestId(task)) return same(task, `sign-off of request ${event.requestId}, the task waits for ${uploadRequestId(task)}`)
  const checked = task.condition?.payloadHash ?? ''
  if (event.payloadHash !== '' && event.payloadHash !== checked) return same(task, `sign-off of payload ${event.payloadHash}, the checked payload is ${checked}`)
  const signed = { signedOffBy: event.actor, signOffReason: event.reason }
  if (event.decision === 'reject') {
    // awaiting-signoff → failed: the operator refused the payload; nothing is uploaded
    const condition = { ...(task.condition ?? emptyCondition(uploadRequestId(task))), ...signed }
    return { task: next(task, 'failed', `sign-off rejected by ${event.actor}: ${event.reason}; payload ${checked} not uploaded to ${task.conditionTag}`, nowMs, { condition, actor: event.actor, commandId: event.commandId }), effects: [], changed: true }
  }
  // awaiting-signoff → processing (upload): approved; the upload must carry exactly the checked payload
  const condition = { ...emptyCondition(uploadRequestId(task)), ...signed }
  return {
    task: next(task, 'processing', `sign-off approved by ${event.actor}: ${event.reason}; upload of payload ${checked} to ${task.conditionTag} requested`, nowMs, { condition, actor: event.actor, commandId: event.commandId }),
    effects: [{ kind: 'request-condition', check: false, expectedPayloadHash: checked }],
    changed: true
  }
}

/**
 * An operator command. reprocess: any → new with the next attempt (no jobs,
 * outputs, gates or condition); skip: any but done|skipped → skipped; cancel:
 * any non-terminal → cancelled. A processing task's unfinished jobs are cancelled.
 */
function operatorCommand (task: Task, event: EventOf<'reprocess' | 'skip' | 'cancel'>, nowMs: number): Transition {
  const by = { actor: event.actor, commandId: event.commandId }
  const effects = task.state === 'processing' ? cancelRunning(task, `${event.kind}: ${event.reason}`) : []
  switch (event.kind) {
    case 'reprocess': {
      const { condition: _c, gates: _g, ...rest } = task
      return { task: next(rest, 'new', `reprocess: ${event.reason}`, nowMs, { attempt: task.attempt + 1, jobs: [], outputs: [], pendingGates: [], ...by }), effects, changed: true }
    }
    case 'skip':
      if (task.state === 'done' || task.state === 'skipped') return same(task, `task is already ${task.state}`)
      return { task: next(task, 'skipped', `skip: ${event.reason}`, nowMs, { ...by, pendingGates: [] }), effects, changed: true }
    case 'cancel':
      if (isTerminal(task.state)) return same(task, `task is already ${task.state}`)
      return { task: next(task, 'cancelled', `cancel: ${event.reason}`, nowMs, { ...by, pendingGates: [] }), effects, changed: true }
  }
}

/**
 * The task state machine's one entry: the next task and the effects of
 * `event` at `nowMs` (ms since the epoch). `task` undefined accepts only a
 * plan event; anything else throws (a caller's bug, not a message's fault).
 * A stale or redelivered event returns the task unchanged with `ignored` set.
 */
export function transition (task: Task | undefined, event: TaskEventInput, nowMs: number): Transition {
  if (task === undefined) {
    if (event.kind !== 'plan') throw new Error(`transition: no task for a ${event.kind} event`)
    return planTask(event, nowMs)
  }
  switch (event.kind) {
    case 'plan': return replan(task, event, nowMs)
    case 'gates': return evaluateGates(task, event, nowMs)
    case 'job': return reportJob(task, event, nowMs)
    case 'upload-due': return uploadDue(task, event, nowMs)
    case 'retry-due': return retryDue(task, nowMs)
    case 'condition': return conditionOutcome(task, event, nowMs)
    case 'sign-off': return signOff(task, event, nowMs)
    case 'reprocess':
    case 'skip':
    case 'cancel': return operatorCommand(task, event, nowMs)
    case 'resubmit-failed': return resubmitFailedJobs(task, event, nowMs)
    case 'force-gates': return forceGatesOpen(task, event, nowMs)
  }
}
