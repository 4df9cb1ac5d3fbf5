// Which decoded messages the dispatcher cannot use, and why. A message that
// passes the contract's checks (decode, names) may still carry nothing to act
// on: a job status without provenance or phase, for a task no workflow
// defines, a condition outcome without an outcome, a control command without
// an action or without the selector its action needs. The handlers send such
// a message to the DLQ with this reason (STYLE.md: a message that cannot be
// used is never dropped silently) instead of committing it unseen.
import { JobPhase, Outcome, type ConditionEvent, type ControlCommand, type JobStatus } from '@autocal/contracts'
import type { Catalog } from './catalog.ts'

/** Why a job status cannot be applied to a task, or undefined when it can. */
export function jobStatusProblem (s: Pick<JobStatus, 'jobId' | 'phase' | 'provenance'>, catalog: Pick<Catalog, 'task'>): string | undefined {
  const p = s.provenance
  if (p === undefined) return `job status of job ${JSON.stringify(s.jobId)} has no provenance: its task is unknown`
  if (!([JobPhase.QUEUED, JobPhase.RUNNING, JobPhase.DONE, JobPhase.FAILED] as number[]).includes(s.phase)) {
    return `job status of job ${JSON.stringify(s.jobId)} has no known phase (${s.phase})`
  }
  if (catalog.task(p.campaign, p.task) === undefined) {
    return `job status of job ${JSON.stringify(s.jobId)} names task '${p.task}' of campaign '${p.campaign}', which no loaded workflow defines`
  }
  return undefined
}

/** Why a condition outcome cannot be applied to a task, or undefined when it can. */
export function conditionProblem (ev: Pick<ConditionEvent, 'requestId' | 'outcome' | 'provenance'>): string | undefined {
  if (!([Outcome.UPLOADED, Outcome.SKIPPED, Outcome.REJECTED, Outcome.FAILED] as number[]).includes(ev.outcome)) {
    return `condition outcome of request ${JSON.stringify(ev.requestId)} has no known outcome (${ev.outcome})`
  }
  if (ev.provenance === undefined) return `condition outcome of request ${JSON.stringify(ev.requestId)} has no provenance: its task is unknown`
  return undefined
}

/**
 * Why a control command cannot be applied, or undefined when it can: it needs
 * an action; reprocess, skip, cancel and resubmit need a selector; approve, reject and
 * promote need the task in their selector (campaign, block id and task, as the
 * control API writes them).
 */
export function controlProblem (cmd: Pick<ControlCommand, 'commandId' | 'action' | 'selector'>): string | undefined {
  const what = `control command ${JSON.stringify(cmd.commandId)}`
  const s = cmd.selector
  switch (cmd.action.case) {
    case undefined:
      return `${what} has no action`
    case 'injectRuns':
      return undefined
    case 'reprocess':
    case 'skip':
    case 'cancel':
    case 'resubmitFailedJobs':
      return s === undefined ? `${what} (${cmd.action.case}) has no selector` : undefined
    case 'closeBlock':
      return s === undefined || s.campaign === '' || s.blockIds[0] === undefined ? `${what} (closeBlock) does not name its campaign and block in the selector` : undefined
    case 'approveCondition':
    case 'rejectCondition':
    case 'promoteCondition':
    case 'forceGate':
      return s === undefined || s.campaign === '' || s.blockIds[0] === undefined || s.tasks[0] === undefined
        ? `${what} (${cmd.action.case}) does not name its task in the selector (campaign, block id and task)`
        : undefined
  }
}
