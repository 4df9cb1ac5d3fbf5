// Gates: what a task on a block still waits for. Pure: the facts come in
// (block, upstream task states, Tier-0 facts of the block's runs, the HTTP
// predicate's last answer, how many blocks of the task are processing), the
// names of the gates not yet open go out. No pending gate = ready to dispatch.
import type { TaskDef } from './workflow.ts'

export interface RunReadiness {
  durationS: number
  recordedLumiPb: number
  streamsDone: ReadonlySet<string>
  datasetsDone: ReadonlySet<string>
}

export interface GateContext {
  blockClosed: boolean
  runs: readonly number[]
  /** Facts per run of the block; a run missing here has no facts yet. */
  readiness: ReadonlyMap<number, RunReadiness>
  /** Whether each upstream task is done on this block. */
  upstreamDone: ReadonlyMap<string, boolean>
  /**
   * Upstream tasks on this block that will not become done by themselves: failed, cancelled or skipped, or
   * blocked in turn (waiting on a `blocked:` gate). A task needing one is blocked, not waiting (issue 15).
   * A fan-in task (fan-in.ts) names the upstream block too: `<end>:<block>`.
   */
  upstreamEnded?: ReadonlyMap<string, UpstreamEnd | `${UpstreamEnd}:${string}`>
  /** Last answer of the HTTP predicate: true = open; undefined = not asked yet. */
  httpOpen?: boolean
  /** Blocks of this task (this campaign) processing now. */
  processing: number
}

/** How an upstream task ended without being done, as a `blocked:<task>:<end>` gate names it. */
export type UpstreamEnd = 'failed' | 'cancelled' | 'skipped' | 'blocked'

/** The end of an upstream task that blocks its downstream tasks, or undefined while it may still become done. */
export function upstreamEnd (t: { state: string, pendingGates: readonly string[] }): UpstreamEnd | undefined {
  if (t.state === 'failed' || t.state === 'cancelled' || t.state === 'skipped') return t.state
  if (t.state === 'waiting' && t.pendingGates.some(g => g.startsWith('blocked:'))) return 'blocked'
  return undefined
}

/**
 * The gates of `task` not yet open on its block, in this order: `block-closed`,
 * `blocked:<task>:<end>` for an upstream task that failed, was cancelled or
 * skipped, or is blocked itself (it will not become done without an
 * operator: reprocess it, `reprocess --cascade`), `needs:<task>` for one not
 * done yet, the Tier-0, duration, luminosity and HTTP gates, and `concurrency:<n>`
 * last (only when every other gate is open). Empty = ready to dispatch.
 */
export function pendingGates (task: TaskDef, ctx: GateContext): string[] {
  const pending: string[] = []
  if (!ctx.blockClosed) pending.push('block-closed')
  for (const n of task.needs) {
    const end = ctx.upstreamEnded?.get(n)
    if (end !== undefined) pending.push(`blocked:${n}:${end}`)
    else if (ctx.upstreamDone.get(n) !== true) pending.push(`needs:${n}`)
  }
  const facts = ctx.runs.map(r => ctx.readiness.get(r))
  for (const s of task.gates.t0StreamDone) {
    if (!facts.every(f => f?.streamsDone.has(s) === true)) pending.push(`t0StreamDone:${s}`)
  }
  for (const d of task.gates.t0DatasetDone) {
    if (!facts.every(f => f?.datasetsDone.has(d) === true)) pending.push(`t0DatasetDone:${d}`)
  }
  if (task.gates.minDurationS !== undefined) {
    const total = facts.reduce((s, f) => s + (f?.durationS ?? 0), 0)
    if (total < task.gates.minDurationS) pending.push(`minDuration:${task.gates.minDurationS}s`)
  }
  if (task.gates.minLumiPb !== undefined) {
    const total = facts.reduce((s, f) => s + (f?.recordedLumiPb ?? 0), 0)
    if (total < task.gates.minLumiPb) pending.push(`minLumi:${task.gates.minLumiPb}`)
  }
  if (task.gates.http !== undefined && ctx.httpOpen !== true) pending.push('http')
  // concurrency is checked last: it is the only gate that opens by itself
  if (pending.length === 0 && task.concurrency !== undefined && ctx.processing >= task.concurrency) {
    pending.push(`concurrency:${task.concurrency}`)
  }
  return pending
}
