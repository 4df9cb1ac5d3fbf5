// Messages of one small prompt campaign, as the other services publish them.
import { create } from '@bufbuild/protobuf'
import { timestampFromDate } from '@bufbuild/protobuf/wkt'
import {
  BlockKind, ConditionEventSchema, JobState, ConditionRequestSchema, DeadLetterSchema, JobPhase, JobRequestSchema, JobStatusSchema, Outcome,
  RunEventSchema, TaskEventSchema, TaskState, type ConditionEvent, type JobStatus, type RunEvent, type TaskEvent
} from '@autocal/contracts'

const ts = (ms: number): ReturnType<typeof timestampFromDate> => timestampFromDate(new Date(ms))

export function runEnded (run: number, endMs: number): RunEvent {
  return create(RunEventSchema, {
    run,
    contentHash: `hash-${run}`,
    source: 'replay',
    change: { case: 'ended', value: { run: { run, fill: 8102, era: 'Run2022C', global: true, runClass: 'collisions2022', recordedLumiPb: 12.5, startTime: ts(endMs - 3_600_000), endTime: ts(endMs) } } }
  })
}

export interface TaskInit {
  task: string
  run: number
  state: TaskState
  version: number
  attempt?: number
  atMs: number
  runEndedMs?: number
  sync?: string
  reason?: string
  subsystem?: string
  campaign?: string
  /** Numeric results of the task's jobs (one done job each). */
  jobResults?: Array<Record<string, number>>
}

export function taskEvent (init: TaskInit): TaskEvent {
  return create(TaskEventSchema, {
    subsystem: init.subsystem ?? 'ECAL',
    campaign: init.campaign ?? 'prompt',
    workflow: 'timing',
    task: init.task,
    block: { id: `run-${init.run}`, kind: BlockKind.RUN, runs: [init.run], era: 'Run2022C', closed: true },
    state: init.state,
    attempt: init.attempt ?? 1,
    version: BigInt(init.version),
    reason: init.reason ?? '',
    at: ts(init.atMs),
    createdAt: ts(init.atMs),
    ...(init.runEndedMs === undefined ? {} : { runEndedAt: ts(init.runEndedMs) }),
    conditionSync: init.sync ?? '',
    conditionTag: init.sync === undefined ? '' : 'EcalTimeCalibConstants_prompt',
    jobs: (init.jobResults ?? []).map((results, index) => ({ index, state: JobState.DONE, try: 1, results }))
  })
}

const provenance = (task: string, run: number) => ({ subsystem: 'ECAL', campaign: 'prompt', workflow: 'timing', blockId: `run-${run}`, task, taskAttempt: 1, inputRuns: [run] })

export function jobStart (task: string, run: number, index = 0) {
  return create(JobRequestSchema, {
    jobId: `prompt/run-${run}/${task}/1/${index}`,
    try: 1,
    jobIndex: index,
    provenance: provenance(task, run),
    action: { case: 'start', value: { argv: ['python3', 'reco.py', '--run', String(run)], backend: 'local', njobs: 1, outdir: `/data/jobs/prompt/run-${run}/${task}/a1/j${index}` } }
  })
}

export function jobStatus (task: string, run: number, phase: JobPhase, extra: { exitCode?: number, reason?: string, durationMs?: bigint, executor?: string } = {}): JobStatus {
  return create(JobStatusSchema, {
    jobId: `prompt/run-${run}/${task}/1/0`,
    try: 1,
    jobIndex: 0,
    provenance: provenance(task, run),
    phase,
    backend: 'local',
    executor: 'executor-1',
    logUrl: `http://127.0.0.1:8083/jobs/prompt/run-${run}/${task}/1/0/log`,
    ...(phase === JobPhase.DONE ? { exitCode: 0, durationMs: 1500n, outputs: [{ path: `/data/jobs/prompt/run-${run}/${task}/a1/j0/timing.db`, sizeBytes: 2048n, sha256: 'ab'.repeat(32), label: 'condition' }] } : {}),
    ...extra
  })
}

export function conditionRequest (task: string, run: number) {
  return create(ConditionRequestSchema, {
    requestId: `prompt/run-${run}/${task}/1`,
    provenance: provenance(task, run),
    payloadFile: `/data/jobs/prompt/run-${run}/${task}/a1/j0/timing.db`,
    destinationTag: 'EcalTimeCalibConstants_prompt',
    record: 'EcalTimeCalibConstantsRcd',
    synchronization: 'prompt',
    since: BigInt(run)
  })
}

export function conditionOutcome (task: string, run: number, outcome: Outcome, atMs: number): ConditionEvent {
  return create(ConditionEventSchema, {
    requestId: `prompt/run-${run}/${task}/1`,
    outcome,
    tag: 'EcalTimeCalibConstants_prompt',
    record: 'EcalTimeCalibConstantsRcd',
    since: BigInt(run),
    payloadHash: 'c'.repeat(40),
    objectType: 'EcalTimeCalibConstants',
    target: 'sqlite:/data/conddb.sqlite',
    provenance: provenance(task, run),
    synchronization: 'prompt',
    at: ts(atMs)
  })
}

export function deadLetter (topic: string, offset: number) {
  return create(DeadLetterSchema, { topic, partition: 0, offset: BigInt(offset), code: 'AUTOCAL_DECODE_FAILED', reason: 'cannot decode', consumerGroup: 'task-dispatcher', service: 'task-dispatcher' })
}

export { JobPhase, Outcome, TaskState }
