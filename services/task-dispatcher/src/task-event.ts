// Task (the state machine's plain data) ↔ TaskEvent (the message on
// autocal.tasks.v1). The Redis read model stores the Task itself, as JSON.
import { create } from '@bufbuild/protobuf'
import { timestampDate, timestampFromMs } from '@bufbuild/protobuf/wkt'
import { BlockKind, BlockSchema, ForcedGateSchema, GateTimeoutSchema, JobState, OutputSchema, TaskConditionSchema, TaskEventSchema, TaskGatesSchema, TaskJobSchema, TaskState, type Block, type TaskEvent, type TaskGates } from '@autocal/contracts'
import { gateTimeoutPolicies, type TaskGateRecord } from './domain/gate-timeout.ts'
import type { BlockKindName, BlockState } from './domain/block-grouping.ts'
import type { JobStateName, Task, TaskOutput, TaskStateName } from './domain/task-state.ts'

const taskStates: Record<TaskStateName, TaskState> = {
  new: TaskState.NEW,
  waiting: TaskState.WAITING,
  processing: TaskState.PROCESSING,
  done: TaskState.DONE,
  failed: TaskState.FAILED,
  skipped: TaskState.SKIPPED,
  cancelled: TaskState.CANCELLED,
  'awaiting-signoff': TaskState.AWAITING_SIGNOFF
}
const jobStates: Record<JobStateName, JobState> = { idle: JobState.IDLE, running: JobState.RUNNING, done: JobState.DONE, failed: JobState.FAILED }
const blockKinds: Record<BlockKindName, BlockKind> = { run: BlockKind.RUN, fill: BlockKind.FILL, lumi: BlockKind.LUMI, era: BlockKind.ERA }
const invert = <K extends string, V>(r: Record<K, V>): Map<V, K> => new Map(Object.entries(r).map(([k, v]) => [v as V, k as K]))
const taskStateNames = invert(taskStates)
const jobStateNames = invert(jobStates)
const blockKindNames = invert(blockKinds)

export const stateName = (s: TaskState): TaskStateName => taskStateNames.get(s) ?? 'new'
export const stateOf = (s: TaskStateName): TaskState => taskStates[s]

export function blockMessage (b: BlockState): Block {
  return create(BlockSchema, { id: b.id, kind: blockKinds[b.kind], runs: b.runs, fill: b.fill, era: b.era, recordedLumiPb: b.recordedLumiPb, closed: b.closed, closedReason: b.closedReason })
}

export function blockState (b: Block | undefined, openedAtMs: number): BlockState {
  return {
    id: b?.id ?? '',
    kind: blockKindNames.get(b?.kind ?? BlockKind.RUN) ?? 'run',
    runs: [...(b?.runs ?? [])],
    fill: b?.fill ?? 0,
    era: b?.era ?? '',
    recordedLumiPb: b?.recordedLumiPb ?? 0,
    closed: b?.closed ?? false,
    closedReason: b?.closedReason ?? '',
    openedAtMs
  }
}

const outputMessage = (o: TaskOutput): ReturnType<typeof create<typeof OutputSchema>> =>
  create(OutputSchema, { path: o.path, sizeBytes: BigInt(o.sizeBytes), sha256: o.sha256, label: o.label })

export function toTaskEvent (t: Task): TaskEvent {
  const ev = create(TaskEventSchema, {
    subsystem: t.subsystem,
    campaign: t.campaign,
    workflow: t.workflow,
    task: t.task,
    block: blockMessage(t.block),
    state: taskStates[t.state],
    previousState: taskStates[t.previousState],
    attempt: t.attempt,
    version: BigInt(t.version),
    reason: t.reason,
    actor: t.actor,
    at: timestampFromMs(t.atMs),
    createdAt: timestampFromMs(t.createdAtMs),
    jobs: t.jobs.map(j => create(TaskJobSchema, {
      index: j.index,
      state: jobStates[j.state],
      try: j.try,
      reason: j.reason,
      outputs: j.outputs.map(outputMessage),
      logUrl: j.logUrl,
      backend: j.backend ?? '',
      backendId: j.backendId ?? '',
      infrastructureFailures: j.infraFailures ?? 0,
      results: j.results ?? {},
      inputFiles: j.inputFiles ?? [],
      ...(j.retryAtMs === undefined ? {} : { retryAt: timestampFromMs(j.retryAtMs) })
    })),
    outputs: t.outputs.map(outputMessage),
    conditionTag: t.conditionTag,
    pendingGates: t.pendingGates,
    workflowVersion: t.workflowVersion,
    workflowBranch: t.workflowBranch ?? '',
    notifyChannel: t.notifyChannel ?? '',
    conditionSync: t.conditionSync,
    commandId: t.commandId,
    appliedCommands: t.appliedCommands ?? []
  })
  if (t.runEndedAtMs !== undefined) ev.runEndedAt = timestampFromMs(t.runEndedAtMs)
  if (t.condition !== undefined) {
    const { since, ...c } = t.condition
    ev.condition = create(TaskConditionSchema, { ...c, ...(since === undefined ? {} : { since: BigInt(since) }) })
  }
  if (t.gates !== undefined) ev.gates = gatesMessage(t.gates)
  return ev
}

/** The task's gate record as TaskGates (gates.proto). */
function gatesMessage (g: TaskGateRecord): TaskGates {
  const m = create(TaskGatesSchema, {
    forced: g.forced.map(f => create(ForcedGateSchema, { gate: f.gate, actor: f.actor, reason: f.reason, commandId: f.commandId, at: timestampFromMs(f.atMs) }))
  })
  if (g.waitingSinceMs !== undefined) m.waitingSince = timestampFromMs(g.waitingSinceMs)
  if (g.timedOut !== undefined) {
    const o = g.timedOut
    m.timedOut = create(GateTimeoutSchema, { gates: o.gates, policy: o.policy, afterS: o.afterS, at: timestampFromMs(o.atMs) })
  }
  return m
}

/** TaskGates (gates.proto) as the task's gate record; an unknown policy reads as fail. */
function gateRecord (m: TaskGates): TaskGateRecord {
  const g: TaskGateRecord = { forced: m.forced.map(f => ({ gate: f.gate, actor: f.actor, reason: f.reason, commandId: f.commandId, atMs: ms(f.at) })) }
  if (m.waitingSince !== undefined) g.waitingSinceMs = ms(m.waitingSince)
  const o = m.timedOut
  if (o !== undefined) g.timedOut = { gates: [...o.gates], policy: gateTimeoutPolicies.find(p => p === o.policy) ?? 'fail', afterS: o.afterS, atMs: ms(o.at) }
  return g
}

const ms = (ts: Parameters<typeof timestampDate>[0] | undefined): number => ts === undefined ? 0 : timestampDate(ts).getTime()

export function fromTaskEvent (ev: TaskEvent): Task {
  const createdAtMs = ms(ev.createdAt)
  const t: Task = {
    subsystem: ev.subsystem,
    campaign: ev.campaign,
    workflow: ev.workflow,
    workflowVersion: ev.workflowVersion,
    ...(ev.workflowBranch === '' ? {} : { workflowBranch: ev.workflowBranch }),
    ...(ev.notifyChannel === '' ? {} : { notifyChannel: ev.notifyChannel }),
    task: ev.task,
    block: blockState(ev.block, createdAtMs),
    state: stateName(ev.state),
    previousState: stateName(ev.previousState),
    attempt: ev.attempt,
    version: Number(ev.version),
    reason: ev.reason,
    actor: ev.actor,
    atMs: ms(ev.at),
    createdAtMs,
    jobs: ev.jobs.map(j => {
      const job: Task['jobs'][number] = {
        index: j.index,
        state: jobStateNames.get(j.state) ?? 'idle',
        try: j.try,
        reason: j.reason,
        outputs: j.outputs.map(o => ({ path: o.path, sizeBytes: Number(o.sizeBytes), sha256: o.sha256, label: o.label })),
        logUrl: j.logUrl
      }
      if (j.retryAt !== undefined) job.retryAtMs = ms(j.retryAt)
      if (j.backend !== '') job.backend = j.backend
      if (j.backendId !== '') job.backendId = j.backendId
      if (j.infrastructureFailures > 0) job.infraFailures = j.infrastructureFailures
      if (Object.keys(j.results).length > 0) job.results = { ...j.results }
      if (j.inputFiles.length > 0) job.inputFiles = [...j.inputFiles]
      return job
    }),
    outputs: ev.outputs.map(o => ({ path: o.path, sizeBytes: Number(o.sizeBytes), sha256: o.sha256, label: o.label })),
    conditionTag: ev.conditionTag,
    conditionSync: ev.conditionSync,
    pendingGates: [...ev.pendingGates],
    commandId: ev.commandId
  }
  if (ev.appliedCommands.length > 0) t.appliedCommands = [...ev.appliedCommands]
  if (ev.runEndedAt !== undefined) t.runEndedAtMs = ms(ev.runEndedAt)
  if (ev.gates !== undefined) t.gates = gateRecord(ev.gates)
  const c = ev.condition
  if (c !== undefined) {
    const outcome = (['uploaded', 'skipped', 'rejected', 'failed'] as const).find(o => o === c.outcome) ?? ''
    t.condition = { requestId: c.requestId, outcome, payloadHash: c.payloadHash, target: c.target, reason: c.reason, signedOffBy: c.signedOffBy, signOffReason: c.signOffReason }
    if (c.since !== undefined) t.condition.since = String(c.since)
  }
  return t
}
