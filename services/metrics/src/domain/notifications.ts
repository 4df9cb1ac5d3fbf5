// What deserves a notification, its text, its identity (for de-duplication)
// and whether it may go out now (age and per-minute rate limit).
import type { TaskView } from './task-view.ts'
import { mattermostText as safe } from './markdown.ts'

export type NotificationKind = 'task-failed' | 'deadline-near' | 'executor-lost' | 'dlq-flood'

export interface Notification {
  kind: NotificationKind
  /** Same identity = same notification: sent once. */
  identity: string
  text: string
  /** When the fact it reports happened (ms). */
  at: number
}

function where (v: TaskView): string {
  const runs = v.runs.length === 1 ? `run ${v.runs[0]}` : `runs ${v.runs[0] ?? '?'}–${v.runs[v.runs.length - 1] ?? '?'}`
  return `${safe(v.subsystem)} ${safe(v.campaign)} · ${safe(v.task)} on ${safe(v.blockId)} (${runs})`
}

export function taskFailedNotification (v: TaskView, at: number): Notification {
  return {
    kind: 'task-failed',
    identity: `task-failed/${v.key}/${v.attempt}`,
    text: `:x: **task failed** ${where(v)}, attempt ${v.attempt}: ${v.reason === '' ? 'no reason given' : safe(v.reason)}`,
    at
  }
}

export function deadlineNotification (v: TaskView, deadline: number, remainingMs: number, at: number): Notification {
  const hours = (remainingMs / 3_600_000).toFixed(1)
  return {
    kind: 'deadline-near',
    identity: `deadline-near/${v.key}`,
    text: `:warning: **prompt hold ends in ${hours} h** (${new Date(deadline).toISOString()}) and ${where(v)} is ${v.state}` +
      (v.conditionTag === '' ? '' : ` (tag ${safe(v.conditionTag)}, ${safe(v.conditionSync)})`),
    at
  }
}

export function executorLostNotification (who: string, reason: string, jobId: string, at: number): Notification {
  return {
    kind: 'executor-lost',
    identity: `executor-lost/${who}`,
    text: `:rotating_light: **executor/agent lost**: ${safe(who)} (job ${safe(jobId)}: ${safe(reason)})`,
    at
  }
}

/** A flood: the per-minute dead-letter count just reached the threshold (so one notification per minute at most). */
export function dlqFloodNotification (count: number, threshold: number, minute: number, topic: string): Notification | undefined {
  if (count !== threshold) return undefined
  return {
    kind: 'dlq-flood',
    identity: `dlq-flood/${minute}`,
    text: `:rotating_light: **dead-letter flood**: ${count} messages dead-lettered within a minute (latest from ${safe(topic)}); a consumer or producer may be broken`,
    at: minute * 60_000
  }
}

export function minuteOf (ms: number): number {
  return Math.floor(ms / 60_000)
}

export type SendDecision =
  | { kind: 'send' }
  | { kind: 'skip', reason: 'too-old' | 'duplicate' | 'rate-limited' }

/** Whether a notification older than maxAgeMs should be considered at all (a replay of old events must not alert). */
export function isFresh (n: Notification, now: number, maxAgeMs: number): boolean {
  return now - n.at <= maxAgeMs
}

/**
 * The decision once the identity was claimed (firstTime = nobody sent it
 * before) and the minute's counter was incremented (sentThisMinute includes
 * this one).
 */
export function sendDecision (input: { firstTime: boolean, sentThisMinute: number, perMinute: number }): SendDecision {
  if (!input.firstTime) return { kind: 'skip', reason: 'duplicate' }
  if (input.sentThisMinute > input.perMinute) return { kind: 'skip', reason: 'rate-limited' }
  return { kind: 'send' }
}

export interface MattermostPayload {
  text: string
  username?: string
  channel?: string
}

export function mattermostPayload (n: Notification, options: { username?: string, channel?: string }): MattermostPayload {
  const payload: MattermostPayload = { text: n.text }
  if (options.username !== undefined) payload.username = options.username
  if (options.channel !== undefined) payload.channel = options.channel
  return payload
}
