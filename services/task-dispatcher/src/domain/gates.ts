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
  /** Last answer of the HTTP predicate: true = open; undefined = not asked yet. */
  httpOpen?: boolean
  /** Blocks of this task (this campaign) processing now. */
  processing: number
}

export function pendingGates (task: TaskDef, ctx: GateContext): string[] {
  const pending: string[] = []
  if (!ctx.blockClosed) pending.push('block-closed')
  for (const n of task.needs) if (ctx.upstreamDone.get(n) !== true) pending.push(`needs:${n}`)
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
