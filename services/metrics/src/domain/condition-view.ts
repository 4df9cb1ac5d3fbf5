// The read model of condition uploads: the request the dispatcher sent and
// the outcome the uploader published, per request id
// ("<campaign>/<block id>/<task>/<attempt>").
import { Outcome, type ConditionEvent, type ConditionRequest } from '@autocal/contracts'
import { taskKeyOfProvenance } from './task-view.ts'
import { isoOf, millisOf } from './time.ts'

export type OutcomeName = 'unspecified' | 'uploaded' | 'skipped' | 'rejected' | 'failed'

const outcomeByNumber: Record<number, OutcomeName> = {
  [Outcome.UNSPECIFIED]: 'unspecified',
  [Outcome.UPLOADED]: 'uploaded',
  [Outcome.SKIPPED]: 'skipped',
  [Outcome.REJECTED]: 'rejected',
  [Outcome.FAILED]: 'failed'
}

export function outcomeName (outcome: number): OutcomeName {
  return outcomeByNumber[outcome] ?? 'unspecified'
}

export interface ConditionRequestView {
  requestId: string
  taskKey: string
  tag: string
  record: string
  synchronization: string
  since?: string
  payloadFile: string
  inputTag: string
  dryRun: boolean
  logUrl: string
  requestedAt: string
}

export interface ConditionOutcomeView {
  requestId: string
  taskKey: string
  outcome: OutcomeName
  tag: string
  record: string
  since: string
  requestedSince?: string
  payloadHash: string
  objectType: string
  target: string
  reason: string
  logUrl: string
  synchronization: string
  at: string
}

export function conditionRequestView (request: ConditionRequest, eventTime: Date): ConditionRequestView {
  const view: ConditionRequestView = {
    requestId: request.requestId,
    taskKey: taskKeyOfProvenance(request.provenance),
    tag: request.destinationTag,
    record: request.record,
    synchronization: request.synchronization,
    payloadFile: request.payloadFile,
    inputTag: request.inputTag,
    dryRun: request.dryRun,
    logUrl: request.logUrl,
    requestedAt: eventTime.toISOString()
  }
  if (request.since !== undefined) view.since = request.since.toString()
  return view
}

export type ConditionDecision =
  | { kind: 'unchanged', reason: string }
  | {
    kind: 'applied'
    view: ConditionOutcomeView
    /** Milliseconds of the upload (event `at`, else its ce_time), for the run end → uploaded histogram. */
    uploadedAtMs?: number
  }

/** One outcome per request id and outcome: a redelivered event changes nothing. */
export function applyConditionEvent (current: ConditionOutcomeView | undefined, event: ConditionEvent, eventTime: Date): ConditionDecision {
  const outcome = outcomeName(event.outcome)
  if (current !== undefined && current.outcome === outcome) return { kind: 'unchanged', reason: `${outcome} of ${event.requestId} already recorded` }
  const view: ConditionOutcomeView = {
    requestId: event.requestId,
    taskKey: taskKeyOfProvenance(event.provenance),
    outcome,
    tag: event.tag,
    record: event.record,
    since: event.since.toString(),
    payloadHash: event.payloadHash,
    objectType: event.objectType,
    target: event.target,
    reason: event.reason,
    logUrl: event.logUrl,
    synchronization: event.synchronization,
    at: isoOf(event.at) ?? eventTime.toISOString()
  }
  if (event.requestedSince !== undefined) view.requestedSince = event.requestedSince.toString()
  const decision: ConditionDecision = { kind: 'applied', view }
  if (outcome === 'uploaded') decision.uploadedAtMs = millisOf(event.at) ?? eventTime.getTime()
  return decision
}
