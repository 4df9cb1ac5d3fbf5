// Operator decisions on condition uploads: which task a request id names,
// whether a sign-off (approve/reject) or a promotion (prep → prod) applies to
// the task as it stands. Pure: the control API checks these before it accepts
// a command, and the dispatcher checks again when it applies it (the task may
// have moved in between).
import { nameProblem } from '@autocal/contracts'
import { uploadRequestId, type Task } from './task-state.ts'

export interface RequestParts { campaign: string, block: string, task: string, attempt: number }

/**
 * Parses an upload request id "<campaign>/<block id>/<task>/<attempt>"
 * (the ConditionRequest.request_id the dispatcher writes). Returns the parts,
 * or what is wrong with the id, naming it.
 */
export function parseRequestId (requestId: string): RequestParts | { problem: string } {
  const parts = requestId.split('/')
  if (parts.length !== 4) return { problem: `request id ${JSON.stringify(requestId.slice(0, 400))} is not <campaign>/<block id>/<task>/<attempt>` }
  const [campaign, block, task, attempt] = parts as [string, string, string, string]
  const problem = nameProblem('campaign', campaign) ?? nameProblem('block', block) ?? nameProblem('task', task) ??
    (/^[1-9]\d{0,8}$/.test(attempt) ? undefined : `attempt ${JSON.stringify(attempt)} of request id ${JSON.stringify(requestId.slice(0, 400))} is not a positive integer`)
  if (problem !== undefined) return { problem }
  return { campaign, block, task, attempt: Number(attempt) }
}

/** Request id of a promotion: "<upload request id>/promote/<command id>" (one per operator command). */
export const promotionRequestId = (requestId: string, commandId: string): string => `${requestId}/promote/${commandId}`

/** Why a sign-off of `requestId` does not apply to `task` (undefined = it applies). */
export function signOffProblem (task: Task | undefined, requestId: string): string | undefined {
  if (task === undefined) return `no task for request ${requestId}`
  if (uploadRequestId(task) !== requestId) return `request ${requestId} is not the current attempt of the task (attempt ${task.attempt}, request ${uploadRequestId(task)})`
  if (task.state !== 'awaiting-signoff') return `task ${task.campaign}/${task.block.id}/${task.task} is ${task.state}, not awaiting sign-off`
  return undefined
}

/**
 * Why `requestId` cannot be promoted (undefined = it can): the task's current
 * attempt must have a recorded upload outcome (uploaded, or skipped: already
 * present or a dry run) with a payload hash, and `payloadHash`, when given,
 * must be that hash. A payload still waiting for sign-off is not promotable.
 */
export function promotionProblem (task: Task | undefined, requestId: string, payloadHash = ''): string | undefined {
  if (task === undefined) return `no task for request ${requestId}`
  if (uploadRequestId(task) !== requestId) return `request ${requestId} is not the current attempt of the task (attempt ${task.attempt}, request ${uploadRequestId(task)})`
  const c = task.condition
  if (c === undefined || c.requestId !== requestId || (c.outcome !== 'uploaded' && c.outcome !== 'skipped') || c.payloadHash === '') {
    const stand = c === undefined || c.requestId !== requestId ? 'has no upload outcome yet' : c.outcome === '' ? 'is still under way' : c.payloadHash === '' ? `ended ${c.outcome} without a payload` : `ended ${c.outcome}`
    return `request ${requestId} ${stand}: only an uploaded (or validated) payload can be promoted`
  }
  if (payloadHash !== '' && payloadHash !== c.payloadHash) return `payload ${payloadHash} is not the recorded payload ${c.payloadHash} of request ${requestId}`
  return undefined
}
