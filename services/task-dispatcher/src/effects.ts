// The messages a transition's effects become: job requests, job cancels and
// condition requests, with their deterministic event ids (a redelivery or a
// replica repeating a decision writes the same id; consumers drop it).
import { create } from '@bufbuild/protobuf'
import {
  ConditionRequestSchema, FcsrPolicy, JobRequestSchema, ProvenanceSchema, StartJobSchema, CancelJobSchema,
  type ConditionRequest, type JobRequest, type Provenance
} from '@autocal/contracts'
import { fillTemplate, fillText, type TemplateValues } from './domain/templates.ts'
import type { Task } from './domain/task-state.ts'
import type { TaskDef } from './domain/workflow.ts'

export const jobIdOf = (t: Task, index: number): string => `${t.campaign}/${t.block.id}/${t.task}/${t.attempt}/${index}`
export const requestIdOf = (t: Task): string => `${t.campaign}/${t.block.id}/${t.task}/${t.attempt}`
export const outdirOf = (dataDir: string, t: Task, index: number): string => `${dataDir}/jobs/${t.campaign}/${t.block.id}/${t.task}/a${t.attempt}/j${index}`

export function provenanceOf (t: Task): Provenance {
  return create(ProvenanceSchema, {
    subsystem: t.subsystem,
    campaign: t.campaign,
    workflow: t.workflow,
    workflowVersion: t.workflowVersion,
    blockId: t.block.id,
    task: t.task,
    taskAttempt: t.attempt,
    inputRuns: t.block.runs
  })
}

export function templateValues (t: Task, def: TaskDef, index: number, inputs: string[], outdir: string): TemplateValues {
  return {
    run: String(t.block.runs[0] ?? ''),
    runs: t.block.runs.map(String),
    fill: String(t.block.fill),
    era: t.block.era,
    block: t.block.id,
    job: String(index),
    njobs: String(def.jobs),
    inputs,
    outdir,
    campaign: t.campaign,
    task: t.task,
    attempt: String(t.attempt),
    workflowDir: def.workflowDir
  }
}

export function startJob (t: Task, def: TaskDef, index: number, tryNo: number, inputs: string[], dataDir: string): { message: JobRequest, eventId: string } {
  const jobId = jobIdOf(t, index)
  const outdir = outdirOf(dataDir, t, index)
  const values = templateValues(t, def, index, inputs, outdir)
  const start = create(StartJobSchema, {
    argv: fillTemplate(def.run, values),
    env: Object.fromEntries(Object.entries(def.env).map(([k, v]) => [k, fillText(v, values)])),
    backend: def.backend,
    image: def.image ?? '',
    timeoutS: Math.round(def.timeoutS),
    outdir,
    inputs,
    njobs: def.jobs,
    pool: def.pool ?? ''
  })
  const message = create(JobRequestSchema, { jobId, try: tryNo, provenance: provenanceOf(t), jobIndex: index, action: { case: 'start', value: start } })
  return { message, eventId: `jobs.requests/${jobId}/${tryNo}/start` }
}

export function cancelJob (t: Task, index: number, tryNo: number, reason: string): { message: JobRequest, eventId: string } {
  const jobId = jobIdOf(t, index)
  const message = create(JobRequestSchema, { jobId, try: tryNo, provenance: provenanceOf(t), jobIndex: index, action: { case: 'cancel', value: create(CancelJobSchema, { reason }) } })
  return { message, eventId: `jobs.requests/${jobId}/${tryNo}/cancel` }
}

/** The condition request of a task whose jobs are done, or why there is none. */
export function conditionRequest (t: Task, def: TaskDef): { message: ConditionRequest, eventId: string } | { missing: string } {
  const cond = def.condition
  if (cond === undefined) return { missing: 'task has no condition' }
  const payload = t.outputs.find(o => o.label === 'condition') ?? t.outputs.find(o => o.path.endsWith('.db'))
  if (payload === undefined) return { missing: 'no job output is labelled "condition" or ends in .db' }
  const requestId = requestIdOf(t)
  const message = create(ConditionRequestSchema, {
    requestId,
    provenance: provenanceOf(t),
    payloadFile: payload.path,
    inputTag: cond.inputTag,
    destinationTag: cond.tag,
    record: cond.record,
    synchronization: cond.sync,
    since: BigInt(t.block.runs[0] ?? 1),
    userText: `autocal ${t.subsystem} ${t.workflow}/${t.task} campaign ${t.campaign} block ${t.block.id} attempt ${t.attempt}`,
    fcsrPolicy: cond.fcsrPolicy === 'reject' ? FcsrPolicy.REJECT : FcsrPolicy.MOVE,
    logUrl: t.jobs[0]?.logUrl ?? ''
  })
  return { message, eventId: `conditions.requests/${requestId}` }
}
