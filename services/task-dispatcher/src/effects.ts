// The messages a transition's effects become: job requests, job cancels and
// condition requests, with their deterministic event ids (a redelivery or a
// replica repeating a decision writes the same id; consumers drop it).
import { create } from '@bufbuild/protobuf'
import {
  ConditionRequestSchema, FcsrPolicy, JobRequestSchema, ProvenanceSchema, ResourcesSchema, StartJobSchema, CancelJobSchema,
  type ConditionRequest, type JobRequest, type Provenance
} from '@autocal/contracts'
import { fillTemplate, fillText, type TemplateValues } from './domain/templates.ts'
import { checkRequestId, uploadRequestId, type Task } from './domain/task-state.ts'
import type { TaskDef } from './domain/workflow.ts'

export const jobIdOf = (t: Task, index: number): string => `${t.campaign}/${t.block.id}/${t.task}/${t.attempt}/${index}`
export const requestIdOf = uploadRequestId
/**
 * The output directory of one try of one job: `<dataDir>/jobs/<campaign>/<block>/<task>/a<attempt>/j<index>/t<try>`.
 * One per try: a retry (or a try a batch system still runs) never writes into
 * another try's directory. The dispatcher numbers the tries (JobRequest.try);
 * the executor uses the directory it is given (StartJob.outdir).
 */
export const outdirOf = (dataDir: string, t: Task, index: number, tryNo: number): string => `${dataDir}/jobs/${t.campaign}/${t.block.id}/${t.task}/a${t.attempt}/j${index}/t${tryNo}`

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
    njobs: String(def.input === undefined || t.jobs.length === 0 ? def.jobs : t.jobs.length),
    inputs,
    files: t.jobs[index]?.inputFiles ?? [],
    outdir,
    campaign: t.campaign,
    task: t.task,
    attempt: String(t.attempt),
    workflowDir: def.workflowDir
  }
}

export function startJob (t: Task, def: TaskDef, index: number, tryNo: number, inputs: string[], dataDir: string): { message: JobRequest, eventId: string } {
  const jobId = jobIdOf(t, index)
  const outdir = outdirOf(dataDir, t, index, tryNo)
  const values = templateValues(t, def, index, inputs, outdir)
  const start = create(StartJobSchema, {
    argv: fillTemplate(def.run, values),
    env: Object.fromEntries(Object.entries(def.env).map(([k, v]) => [k, fillText(v, values)])),
    backend: def.backend,
    image: def.image ?? '',
    timeoutS: Math.round(def.timeoutS),
    outdir,
    inputs,
    njobs: def.input === undefined || t.jobs.length === 0 ? def.jobs : t.jobs.length,
    pool: def.pool ?? '',
    resources: create(ResourcesSchema, def.resources),
    accountingGroup: def.batch.accountingGroup,
    jobFlavour: def.batch.jobFlavour,
    passEnv: def.passEnv
  })
  const message = create(JobRequestSchema, { jobId, try: tryNo, provenance: provenanceOf(t), jobIndex: index, action: { case: 'start', value: start } })
  return { message, eventId: `jobs.requests/${jobId}/${tryNo}/start` }
}

export function cancelJob (t: Task, index: number, tryNo: number, reason: string): { message: JobRequest, eventId: string } {
  const jobId = jobIdOf(t, index)
  const message = create(JobRequestSchema, { jobId, try: tryNo, provenance: provenanceOf(t), jobIndex: index, action: { case: 'cancel', value: create(CancelJobSchema, { reason }) } })
  return { message, eventId: `jobs.requests/${jobId}/${tryNo}/cancel` }
}

export interface ConditionRequestOptions {
  /** The dry run that checks the payload before a sign-off (request id "<upload id>/check"). */
  check: boolean
  /** Refuse the upload unless the payload has this hash ('' = any). */
  expectedPayloadHash: string
  /** A promotion: its own request id and destination database, never a dry run. */
  promotion?: { requestId: string, destinationDatabase: string }
}

/**
 * The condition request of a task whose jobs are done, or why there is none.
 * `payloadTask` is the task whose job outputs hold the payload: the task
 * itself, or the calibration a validation task validates (`validatedBy`).
 * The payload is the output labelled "condition" (else the first *.db);
 * `output_dir` is the output directory of the job try that wrote it, as the
 * job-executor was told to use it (StartJob.outdir). An optional condition
 * without a payload output is still requested (payload_file empty,
 * optional_payload set): the uploader answers SKIPPED "no new payload".
 * The since is the block's first run (`since: block`), or unset for the IOVs'
 * own sinces (`since: payload`, Time and Lumi tags).
 */
export function conditionRequest (t: Task, def: TaskDef, payloadTask: Task, dataDir: string, options: ConditionRequestOptions): { message: ConditionRequest, eventId: string } | { missing: string } {
  const upload = def.upload
  if (upload === undefined) return { missing: 'task uploads no condition' }
  const payload = payloadTask.outputs.find(o => o.label === 'condition') ?? payloadTask.outputs.find(o => o.path.endsWith('.db'))
  const from = payloadTask.task === t.task ? '' : ` of task '${payloadTask.task}'`
  if (payload === undefined && !upload.optional) return { missing: `no job output${from} is labelled "condition" or ends in .db` }
  const writer = payload === undefined ? undefined : payloadTask.jobs.find(j => j.outputs.some(o => o.path === payload.path))
  const requestId = options.promotion?.requestId ?? (options.check ? checkRequestId(t) : uploadRequestId(t))
  const message = create(ConditionRequestSchema, {
    requestId,
    provenance: provenanceOf(t),
    payloadFile: payload?.path ?? '',
    inputTag: upload.inputTag,
    destinationTag: upload.tag,
    destinationDatabase: options.promotion?.destinationDatabase ?? upload.destinationDatabase,
    record: upload.record,
    synchronization: upload.sync,
    userText: `autocal ${t.subsystem} ${t.workflow}/${t.task} campaign ${t.campaign} block ${t.block.id} attempt ${t.attempt}` +
      (payloadTask.task === t.task ? '' : ` (payload of ${payloadTask.task}, validated by ${t.task})`) +
      (options.promotion === undefined ? '' : ` promoted from ${uploadRequestId(t)}`),
    fcsrPolicy: upload.fcsrPolicy === 'reject' ? FcsrPolicy.REJECT : FcsrPolicy.MOVE,
    dryRun: options.promotion === undefined && (options.check || upload.dryRun),
    checks: upload.checks,
    logUrl: (writer ?? payloadTask.jobs[0])?.logUrl ?? '',
    optionalPayload: upload.optional,
    expectedPayloadHash: options.expectedPayloadHash,
    outputDir: outdirOf(dataDir, payloadTask, writer?.index ?? 0, (writer ?? payloadTask.jobs[0])?.try ?? 1)
  })
  if (upload.since === 'block') message.since = BigInt(t.block.runs[0] ?? 1)
  return { message, eventId: `conditions.requests/${requestId}` }
}
