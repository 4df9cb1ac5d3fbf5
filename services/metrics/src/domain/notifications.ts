// What deserves a notification, its text, its identity (for de-duplication)
// and whether it may go out now (age and per-minute rate limit).
import type { TaskView } from './task-view.ts'
import { mattermostText as safe } from './markdown.ts'

/**
 * Every kind of notification, with its audience: `failures` are the public
 * failures channel's (a task, an upload or a prompt hold of a subsystem),
 * `experts` the low-level channel's (executors, consumers, dead letters).
 * Routes (domain/routing.ts) select by kind and subsystem.
 */
export const notificationKinds = {
  'task-failed': 'failures',
  'gate-timeout': 'failures',
  'deadline-near': 'failures',
  'deadline-missed': 'failures',
  'upload-rejected': 'failures',
  'executor-lost': 'experts',
  'consumer-stalled': 'experts',
  'lag-growing': 'experts',
  'dlq-entry': 'experts',
  'dlq-flood': 'experts'
} as const

export type NotificationKind = keyof typeof notificationKinds

export interface Notification {
  kind: NotificationKind
  /** The subsystem the fact belongs to ('' for the system as a whole: executors, consumers, dead letters). */
  subsystem?: string
  /** The notification channel of the task's campaign (TaskEvent.notify_channel); routing.ts sends it there only. */
  campaignChannel?: string
  /** Same identity = same notification: sent once. */
  identity: string
  text: string
  /** When the fact it reports happened (ms). */
  at: number
}

/** The campaign channel of a task's notifications, when its campaign has one. */
const channelOf = (v: Pick<TaskView, 'notifyChannel'>): Pick<Notification, 'campaignChannel'> =>
  v.notifyChannel === undefined || v.notifyChannel === '' ? {} : { campaignChannel: v.notifyChannel }

function where (v: TaskView): string {
  const runs = v.runs.length === 1 ? `run ${v.runs[0]}` : `runs ${v.runs[0] ?? '?'}–${v.runs[v.runs.length - 1] ?? '?'}`
  return `${safe(v.subsystem)} ${safe(v.campaign)} · ${safe(v.task)} on ${safe(v.blockId)} (${runs})`
}

/** A log URL that may become a Markdown link: http(s), and no character that could end or break the link. */
// eslint-disable-next-line no-control-regex -- a control character refuses the URL
export const linkableUrl = (url: string): boolean => /^https?:\/\/[^\s()<>[\]`\\"'\u0000-\u001f\u007f-\u009f]+$/.test(url)

/** Links to the logs of the task's failed jobs (at most 3), as the executor published them (`/jobs/<encoded id>/log?try=N`). */
function failedJobLogs (v: TaskView): string {
  const links = v.jobs.filter(j => j.state === 'failed' && linkableUrl(j.logUrl)).slice(0, 3).map(j => `[log of job ${j.index} try ${j.try}](${j.logUrl})`)
  return links.length === 0 ? '' : ` · ${links.join(' · ')}`
}

/**
 * A task failed: where, the attempt, the reason (which carries the failed job's log tail as the executor wrote
 * it, so up to 1,500 characters of it are kept) and links to the failed jobs' logs, like `autocal status`.
 */
export function taskFailedNotification (v: TaskView, at: number): Notification {
  return {
    kind: 'task-failed',
    subsystem: v.subsystem,
    ...channelOf(v),
    identity: `task-failed/${v.key}/${v.attempt}`,
    text: `:x: **task failed** ${where(v)}, attempt ${v.attempt}: ${v.reason === '' ? 'no reason given' : safe(v.reason, 1500)}${failedJobLogs(v)}`,
    at
  }
}

const policyOutcome: Record<string, string> = { fail: 'task failed', skip: 'task skipped', run: 'jobs dispatched with the gate(s) not open' }

/**
 * A task's readiness gates stayed closed past its gate timeout (`when.timeout`) and the policy applied: where
 * (subsystem, campaign, task, block and runs), the gates, the timeout and the policy with its outcome. One per
 * task attempt; it replaces task-failed for a task the policy fail ended.
 */
export function gateTimeoutNotification (v: TaskView, at: number): Notification {
  const g = v.gateTimeout ?? { gates: [], policy: '', afterS: 0 }
  return {
    kind: 'gate-timeout',
    subsystem: v.subsystem,
    identity: `gate-timeout/${v.key}/${v.attempt}`,
    text: `:hourglass: **gate timed out** ${where(v)}, attempt ${v.attempt}: ${safe(g.gates.join(', '))} not open after ${g.afterS} s; onTimeout ${safe(g.policy)}: ${policyOutcome[g.policy] ?? safe(g.policy)}`,
    at
  }
}

export function deadlineNotification (v: TaskView, deadline: number, remainingMs: number, at: number): Notification {
  const hours = (remainingMs / 3_600_000).toFixed(1)
  return {
    kind: 'deadline-near',
    subsystem: v.subsystem,
    ...channelOf(v),
    identity: `deadline-near/${v.key}`,
    text: `:warning: **prompt hold ends in ${hours} h** (${new Date(deadline).toISOString()}) and ${where(v)} is ${v.state}` +
      (v.conditionTag === '' ? '' : ` (tag ${safe(v.conditionTag)}, ${safe(v.conditionSync)})`),
    at
  }
}

/** A prompt-synchronised task past its hold and not done: the condition missed prompt reconstruction. */
export function deadlineMissedNotification (v: TaskView, deadline: number, at: number): Notification {
  const hours = ((at - deadline) / 3_600_000).toFixed(1)
  return {
    kind: 'deadline-missed',
    subsystem: v.subsystem,
    ...channelOf(v),
    identity: `deadline-missed/${v.key}`,
    text: `:rotating_light: **prompt hold missed** ${hours} h ago (${new Date(deadline).toISOString()}): ${where(v)} is ${v.state}` +
      (v.conditionTag === '' ? '' : ` (tag ${safe(v.conditionTag)}, ${safe(v.conditionSync)})`),
    at
  }
}

/** The uploader refused a condition payload (validation: retrying will not help). One per request id. */
export function uploadRejectedNotification (c: { requestId: string, tag: string, since: string, reason: string }, subsystem: string, at: number, campaignChannel = ''): Notification {
  return {
    kind: 'upload-rejected',
    subsystem,
    ...channelOf({ notifyChannel: campaignChannel }),
    identity: `upload-rejected/${c.requestId}`,
    text: `:no_entry: **upload rejected** ${safe(subsystem)} tag ${safe(c.tag)} since ${safe(c.since)} (request ${safe(c.requestId)}): ${c.reason === '' ? 'no reason given' : safe(c.reason)}`,
    at
  }
}

/** One message dead-lettered (identity: its event id), with the reason the consumer gave. */
export function dlqEntryNotification (letter: { eventId: string, topic: string, group: string, reason: string }, at: number): Notification {
  return {
    kind: 'dlq-entry',
    identity: `dlq-entry/${letter.eventId}`,
    text: `:inbox_tray: **dead letter** from ${safe(letter.topic)}` + (letter.group === '' ? '' : ` (group ${safe(letter.group)})`) +
      `: ${letter.reason === '' ? 'no reason given' : safe(letter.reason)}`,
    at
  }
}

/**
 * A consumer group with a backlog that has not committed for `stalledMs`;
 * identity: group, topic and the start of the stall (one per episode). On
 * the job-executor group and the job requests topic it says that no executor
 * takes jobs.
 */
export function consumerStalledNotification (s: { group: string, topic: string, lag: number, since: number, stalledMs: number }, at: number): Notification {
  const seconds = Math.round(s.stalledMs / 1000)
  const what = /(^|\.)job-executor$/.test(s.group) && s.topic.endsWith('autocal.jobs.requests.v1')
    ? `**no executor takes jobs**: ${s.lag} job request${s.lag === 1 ? '' : 's'} waiting on ${safe(s.topic)} and nothing consumed for ${seconds} s`
    : `**consumer stalled**: group ${safe(s.group)} is ${s.lag} message${s.lag === 1 ? '' : 's'} behind on ${safe(s.topic)} and has consumed nothing for ${seconds} s`
  return {
    kind: 'consumer-stalled',
    identity: `consumer-stalled/${s.group}/${s.topic}/${s.since}`,
    text: `:rotating_light: ${what}`,
    at
  }
}

/** A group's lag on a topic grew over a window (`from` → `to`); identity: group, topic and the start of the backlog (one per episode). */
export function lagGrowingNotification (g: { group: string, topic: string, from: { at: number, lag: number }, to: { at: number, lag: number }, backlogSince: number }, at: number): Notification {
  const minutes = Math.round((g.to.at - g.from.at) / 60_000)
  return {
    kind: 'lag-growing',
    identity: `lag-growing/${g.group}/${g.topic}/${g.backlogSince}`,
    text: `:chart_with_upwards_trend: **consumer lag growing**: group ${safe(g.group)} on ${safe(g.topic)} went from ${g.from.lag} to ${g.to.lag} messages behind in ${minutes} min`,
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

/**
 * The digest that replaces the notifications a route's rate limit held back:
 * one message with their texts (at most `maxLines`, then a count of the rest).
 * Undefined when nothing was held back.
 */
export function digestText (texts: string[], maxLines = 30): string | undefined {
  if (texts.length === 0) return undefined
  const shown = texts.slice(0, maxLines).map(t => `- ${t}`)
  const rest = texts.length - shown.length
  return [`:bookmark_tabs: **digest**: ${texts.length} notification${texts.length === 1 ? '' : 's'} held back by the rate limit`, ...shown, ...(rest > 0 ? [`- … and ${rest} more`] : [])].join('\n')
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
