// Workflow files: the YAML schema, its validation (errors as
// "file:line:col path: message") and the resolved, typed workflow the rest of
// the dispatcher works with. Pure: file contents and the environment come in,
// a workflow or a list of errors goes out.
import { createHash } from 'node:crypto'
import { LineCounter, isAlias, isCollection, parseDocument, visit, type Document } from 'yaml'
import { z } from 'zod'
import { closest, distance } from 'fastest-levenshtein'
import bytes from 'bytes'
import { accountingGroupRe, condorJobFlavours, nameProblem, passedEnvProblem, type NameKind } from '@autocal/contracts'
import { parseDuration } from './duration.ts'
import { defaultInfrastructureRetries } from './retry-policy.ts'
import { branchProblems, campaignProblems, shadowUploadProblem } from './workflow-branches.ts'
import { datasetTemplateProblems, type FanOut } from './file-slices.ts'
import { crossNeedProblems, parseNeedName, type CrossNeed } from './cross-needs.ts'
import { compareBlocks, type FanInDef } from './fan-in.ts'
import { gateTimeoutOf, gateTimeoutPolicies, type GateTimeoutRule } from './gate-timeout.ts'

export const backends = ['local', 'htcondor', 'kubernetes', 'agent'] as const
export type Backend = typeof backends[number]
export const synchronizations = ['any', 'validation', 'mc', 'runmc', 'hlt', 'express', 'prompt', 'pcl', 'offline'] as const
export type Synchronization = typeof synchronizations[number]
/**
 * Synchronizations of the tags that data taking and prompt reconstruction read
 * (they have a first condition-safe run). A campaign writes to such a tag only
 * when it opts in (`conditions.writePromptTags: true`): DESIGN §4 rule 9.
 */
export const promptLikeSynchronizations: ReadonlySet<string> = new Set(['hlt', 'express', 'prompt', 'pcl'])
/** The campaign of live runs; every other campaign is a reprocessing (runs injected) and defaults to dry-run uploads. */
export const promptCampaign = 'prompt'
/** Value checks a condition may declare (YAML key → the condition-uploader's check name). */
export const checkNames = {
  minSizeBytes: 'min_size_bytes',
  maxSizeBytes: 'max_size_bytes',
  maxIovs: 'max_iovs',
  objectType: 'object_type',
  timeType: 'time_type',
  synchronization: 'synchronization'
} as const
/** Placeholders an argv template (and an HTTP gate URL) may use. */
export const placeholders = ['run', 'runs', 'fill', 'era', 'block', 'job', 'njobs', 'inputs', 'files', 'outdir', 'campaign', 'task', 'attempt', 'workflowDir'] as const

export interface RunFilter {
  /** Accepted run classes, lower case (e.g. "collisions2022"); empty = any. */
  runClass: string[]
  global?: boolean
  minDurationS?: number
  minRecordedLumi?: number
  stableBeams?: boolean
  bField?: { min?: number, max?: number }
  /** Absolute path of a certification JSON ({run: [[ls, ls]...]}). */
  golden?: string
  eras: string[]
}

export type BlockRule =
  | { kind: 'run' }
  /** closeAfterS: an open fill block closes when no run joined it for this long (seconds), besides OMS's fill end and a later fill. */
  | { kind: 'fill', closeAfterS?: number }
  | { kind: 'era' }
  | { kind: 'lumi', thresholdPb: number, timeoutS?: number, closeAtEraEnd: boolean }

export interface Gates {
  t0StreamDone: string[]
  t0DatasetDone: string[]
  /** Sum of the block's run durations, seconds. */
  minDurationS?: number
  /** Sum of the block's recorded luminosity, /pb. */
  minLumiPb?: number
  /** GET this URL (placeholders filled); open when it answers `status`. */
  http?: { url: string, status: number }
  /** Wait until Tier-0 closed the task's input dataset for the block's runs (every DBS block closed: domain/file-slices.ts). */
  datasetLocked?: boolean
  /** `when.timeout` + `when.onTimeout`: what happens when the readiness gates stay closed (gate-timeout.ts). */
  timeout?: GateTimeoutRule
}

/** A task's input dataset (issue 15, data-aware jobs): the DBS dataset template and how its files become jobs. */
export interface InputDef {
  /** `/primary/processed/TIER`, `{era}` allowed (domain/file-slices.ts expandDataset). */
  dataset: string
  fanOut: FanOut
}

export interface ConditionDef {
  tag: string
  record: string
  sync: Synchronization
  inputTag: string
  fcsrPolicy: 'move' | 'reject'
  /** Dry run whatever the campaign says; undefined = the campaign's setting. */
  dryRun?: boolean
  /** Destination database; '' = the campaign's, else the uploader's default target. */
  destinationDatabase: string
  /** Value checks in the uploader's names, e.g. { min_size_bytes: '10', time_type: 'Time' }. */
  checks: Record<string, string>
  /** A job that produced no new payload ends the task done (SKIPPED "no new payload") instead of failed. */
  optional: boolean
  /** Where the IOV since comes from: the block's first run, or the payload file's own IOVs (Time and Lumi tags). */
  since: 'block' | 'payload'
  /** The upload waits for an operator's sign-off (after a dry run that checks the payload). */
  signOff: boolean
  /** Task whose success gates the upload; it uploads this task's payload once it is done. */
  validatedBy?: string
}

/** A task's condition upload in one campaign: the task's condition with the campaign's target applied. */
export interface Upload {
  /** Task whose job outputs hold the payload (the task itself, or the task a validation task validates). */
  payloadFrom: string
  tag: string
  record: string
  sync: Synchronization
  inputTag: string
  fcsrPolicy: 'move' | 'reject'
  dryRun: boolean
  destinationDatabase: string
  checks: Record<string, string>
  optional: boolean
  since: 'block' | 'payload'
  signOff: boolean
}

export interface TaskDef {
  name: string
  subsystem: string
  workflow: string
  workflowVersion: string
  /** The workflow branch of the file ('' = production). */
  workflowBranch: string
  workflowDir: string
  block: BlockRule
  filter: RunFilter
  gates: Gates
  /** Tasks of the same workflow this task needs (it runs on their blocks). */
  needs: string[]
  /** Tasks of other workflows and conditions this task waits for on its own blocks (domain/cross-needs.ts). */
  crossNeeds: CrossNeed[]
  jobs: number
  /** The input dataset whose files (of the block's runs) the jobs share: `{files}`; undefined = none. */
  input?: InputDef
  run: string[]
  backend: Backend
  image?: string
  pool?: string
  env: Record<string, string>
  retries: number
  /** Exit codes and signals that fail the task at once, and the infrastructure-failure budget (retry-policy.ts). */
  retryNever: { exitCodes: number[], signals: string[] }
  infrastructureRetries: number
  backoffS: number
  timeoutS: number
  /** Most blocks of this task processing at once in one campaign. */
  concurrency?: number
  /** What one job asks of a batch or container backend (0 = the backend's default). */
  resources: JobResources
  /** HTCondor options (htcondor backend, also through an agent that submits to its schedd). */
  batch: BatchOptions
  /** Variables of the executor's environment the job asks for (the executor's AUTOCAL_EXECUTOR_JOB_EXTRA_ENV allows them). */
  passEnv: string[]
  /** Set when the task needs others and declares a coarser block (fan-in.ts): it groups its own blocks and gathers every covered upstream block. */
  fanIn?: FanInDef
  /** The condition declared on this task (its payload). */
  condition?: ConditionDef
  /**
   * The upload this task performs in a campaign (set by the catalog, which
   * holds one TaskDef per campaign): its own condition, or the condition of the
   * task it validates (`validatedBy`); undefined = the task uploads nothing.
   */
  upload?: Upload
  /** The notification channel of the campaign the task runs in (set by the catalog, CampaignDef.notify). */
  notifyChannel?: string
}

/** Resources of one job: CPU cores, memory and scratch disk in MiB (0 = the backend's default). */
export interface JobResources { cpus: number, memoryMb: number, diskMb: number }

/** HTCondor submit options: accounting group and CERN batch job flavour ('' = none). */
export interface BatchOptions { accountingGroup: string, jobFlavour: string }

/** The job flavours of CERN's HTCondor batch service and their maximum runtime in seconds (@autocal/contracts). */
export const jobFlavours = condorJobFlavours

/** Default wall-clock limit of a job when neither `timeout` nor a job flavour says one. */
export const defaultTimeoutS = 2 * 3600

export interface RunType { name: string, filter: RunFilter, tasks: string[] }
/** Where a campaign's conditions go (`campaigns[].conditions`). */
export interface CampaignConditions {
  /** Dry run every upload; undefined = the default (false for prompt, true for a reprocessing campaign). */
  dryRun?: boolean
  /** Destination database of every upload of the campaign; '' = the condition's, else the uploader's default. */
  destinationDatabase: string
  /** Destination per task name, replacing the task's tag (and synchronization) in this campaign. */
  tags: Record<string, { tag: string, sync: Synchronization, inputTag?: string, fcsrPolicy?: 'move' | 'reject' }>
  /** The campaign may write to hlt, express, prompt and pcl tags. */
  writePromptTags: boolean
}

/** active: takes runs and dispatches; paused: records runs, dispatches nothing; closed: no new runs, open tasks finish. */
export type CampaignState = 'active' | 'paused' | 'closed'
export interface CampaignDef {
  name: string
  runTypes: string[]
  conditions: CampaignConditions
  /** Receives every live run (a run event without a campaign); YAML `live`, default true only for `prompt`. */
  live: boolean
  /**
   * A live campaign of a workflow branch that has no effect on production (YAML `shadow`): its uploads are
   * dry runs unless its `conditions.tags` give the task a tag of synchronization `validation` (see {@link uploadsOf}).
   */
  shadow: boolean
  /** Notification channel of the campaign's tasks (YAML `notify`; the metrics service's route of that name). */
  notify?: string
  /** Runtime campaigns only (autocal.campaigns.v1); a YAML campaign is always active. */
  state?: CampaignState
  /** Revision of a runtime campaign's definition. */
  revision?: number
}

export interface Workflow {
  file: string
  subsystem: string
  workflow: string
  /** sha256 of the file content, 12 hex characters. */
  version: string
  /** The workflow branch the file declares (`branch: dev`); '' = production. */
  branch: string
  /**
   * Where parts of the file are, as "file:line:col", for errors that span files (workflow-branches.ts):
   * `branch` (the key, or the file's start), `campaigns.<i>` and `tags.<campaign>.<task>` (the tag an upload of
   * the campaign writes: the campaign's `conditions.tags` entry or the task's `condition.tag`).
   */
  places: Record<string, string>
  campaigns: CampaignDef[]
  runTypes: RunType[]
  tasks: TaskDef[]
}

export interface WorkflowSource {
  /** File name as shown in errors (e.g. "ecal-timing.yaml" or a path). */
  name: string
  content: string
  /** Directory relative paths (golden JSON, {workflowDir}) resolve against. */
  dir: string
}

/** A string that follows the one name grammar of its kind (@autocal/contracts nameProblem; the issue names the value, escaped). */
const grammarName = (kind: NameKind) => z.string().superRefine((v, ctx) => { const p = nameProblem(kind, v); if (p !== undefined) ctx.addIssue({ code: 'custom', message: p }) })
const name = grammarName('task')
const tagName = grammarName('tag')
const recordName = grammarName('record')
const durationText = 'expected a duration such as 90s, 30m, 2h, 1h30m, 3d, "2 hours" or a number of seconds'
const duration = z.union([z.string(), z.number()], { error: durationText }).refine(v => parseDuration(v) !== undefined, durationText)
const oneOrMany = z.union([z.string().min(1), z.array(z.string().min(1))])
/** The largest size in MiB a job request carries (JobResources.memory_mb and disk_mb are uint32). */
export const maxSizeMib = 4294967295
const sizeText = `expected a size such as 512MB, 4GB or a number of MiB, at most ${maxSizeMib} MiB`
/** MiB of a size (rounded up), NaN for text that is not a number with a unit of {@link size}. */
const sizeMib = (v: number | string): number => typeof v === 'number'
  ? Math.ceil(v)
  : /^\d+(\.\d+)?\s*(kb|mb|gb|tb)$/i.test(v) ? Math.ceil((bytes.parse(v) ?? Number.NaN) / 1048576) : Number.NaN
/**
 * A size in MiB: a number (MiB) or a text with a unit, `512MB`, `2GB`, `1.5 GB`, `1TB` (1024-based, as HTCondor's
 * request_memory and Kubernetes' Mi read them; converted by the `bytes` library). Text without a known unit is refused:
 * `bytes` alone would read "2 GiB" as 2 bytes. Positive and at most {@link maxSizeMib} MiB once converted, so that
 * 1e308 or "999…TB" is an error here and not a job request that cannot be encoded.
 */
const size = z.union([z.number(), z.string()], { error: sizeText }).refine(v => { const mib = sizeMib(v); return mib > 0 && mib <= maxSizeMib }, sizeText)
const mibOf = (v: number | string | undefined): number => v === undefined ? 0 : sizeMib(v)
/**
 * A variable name a job may ask for: letters, digits and _, not starting with a digit, and one no executor
 * refuses to pass (`passedEnvProblem` of @autocal/contracts: no AUTOCAL_* configuration, no secret-like name).
 * Whether a given executor passes it (AUTOCAL_EXECUTOR_JOB_EXTRA_ENV) is known only when the job starts.
 */
const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name').superRefine((name, ctx) => {
  const problem = passedEnvProblem(name)
  if (problem !== undefined && /^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) ctx.addIssue({ code: 'custom', message: problem })
})

const FilterSchema = z.strictObject({
  runClass: oneOrMany.optional(),
  global: z.boolean().optional(),
  minDurationS: z.number().nonnegative().optional(),
  minRecordedLumi: z.number().nonnegative().optional(),
  stableBeams: z.boolean().optional(),
  bField: z.strictObject({ min: z.number().optional(), max: z.number().optional() }).optional(),
  golden: z.string().min(1).optional(),
  eras: z.union([grammarName('era'), z.array(grammarName('era'))]).optional()
})

const BlockSchema = z.union([
  z.enum(['run', 'fill', 'era']),
  z.string().regex(/^lumi:\d+(\.\d+)?$/, 'expected run, fill, era or lumi:<pb>'),
  z.strictObject({
    lumi: z.number().positive(),
    timeout: duration.optional(),
    closeAtEraEnd: z.boolean().default(true)
  }),
  z.strictObject({
    fill: z.literal(true, { error: 'expected fill: true (a fill block; closeAfter: how long it waits for another run)' }),
    closeAfter: duration.refine(v => (parseDuration(v) ?? 0) > 0, 'expected a duration above 0 such as 2h')
  })
])

const GatesSchema = z.strictObject({
  t0StreamDone: oneOrMany.optional(),
  t0DatasetDone: oneOrMany.optional(),
  minDuration: duration.optional(),
  minLumi: z.number().nonnegative().optional(),
  http: z.union([z.string().min(1), z.strictObject({ url: z.string().min(1), status: z.number().int().default(200) })]).optional(),
  datasetLocked: z.boolean().optional(),
  timeout: duration.optional(),
  onTimeout: z.enum(gateTimeoutPolicies).optional()
})

const jobsText = 'expected a number of jobs (1–10000), { perFiles: N } or { perLumis: N }'
const JobsSchema = z.union([
  z.number().int().min(1).max(10_000),
  z.strictObject({ perFiles: z.number().int().min(1).max(100_000) }),
  z.strictObject({ perLumis: z.number().int().min(1).max(1_000_000) })
], {
  // a value that is no object is told the number it should be, as zod says it for any number (`expected number, received string`)
  error: iss => typeof iss.input === 'object' && iss.input !== null && !Array.isArray(iss.input)
    ? jobsText
    : `Invalid input: expected number, received ${Array.isArray(iss.input) ? 'array' : iss.input === null ? 'null' : typeof iss.input}`
})

const TaskSchema = z.strictObject({
  name,
  block: BlockSchema.optional(),
  filter: FilterSchema.optional(),
  when: GatesSchema.optional(),
  needs: z.array(z.union([
    z.string().superRefine((v, ctx) => { const p = parseNeedName(v); if ('problem' in p) ctx.addIssue({ code: 'custom', message: p.problem }) }),
    z.strictObject({ condition: tagName, since: z.enum(['any', 'block']).default('any') })
  ], { error: 'expected a task name, subsystem/workflow/task, or { condition: <tag>, since: any | block }' })).default([]),
  jobs: JobsSchema.default(1),
  run: z.array(z.union([z.string(), z.number()]).transform(String)).min(1, 'expected at least the program to run'),
  backend: z.string().default('local'),
  image: z.string().optional(),
  pool: z.string().optional(),
  env: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String)).default({}),
  retries: z.number().int().min(0).max(100).default(2),
  retry: z.strictObject({
    never: z.array(z.union([z.number().int().min(1).max(255), z.string().regex(/^SIG[A-Z0-9]{2,10}$/, 'expected an exit code (1–255) or a signal name such as SIGSEGV')])).default([]),
    infrastructure: z.number().int().min(0).max(100).default(defaultInfrastructureRetries)
  }).optional(),
  backoff: duration.default('30s'),
  timeout: duration.optional(),
  concurrency: z.number().int().positive().optional(),
  resources: z.strictObject({
    cpus: z.number().int().min(1).max(256).optional(),
    memory: size.optional(),
    disk: size.optional()
  }).optional(),
  batch: z.strictObject({
    accountingGroup: z.string().regex(accountingGroupRe, 'expected an accounting group such as group_u_CMS.u_zh').optional(),
    jobFlavour: z.enum(Object.keys(jobFlavours) as [string, ...string[]]).optional()
  }).optional(),
  passEnv: z.array(envName).default([]),
  fanIn: z.strictObject({ allowMissing: z.boolean().default(false) }).optional(),
  condition: z.strictObject({
    tag: tagName,
    record: recordName,
    sync: z.enum(synchronizations),
    inputTag: tagName.optional(),
    fcsrPolicy: z.enum(['move', 'reject']).default('move'),
    dryRun: z.boolean().optional(),
    destinationDatabase: z.string().min(1).optional(),
    checks: z.strictObject({
      minSizeBytes: z.number().int().nonnegative().optional(),
      maxSizeBytes: z.number().int().nonnegative().optional(),
      maxIovs: z.number().int().positive().optional(),
      objectType: z.string().min(1).optional(),
      timeType: z.enum(['Run', 'Time', 'Lumi']).optional(),
      synchronization: z.enum(synchronizations).optional()
    }).optional(),
    optional: z.boolean().default(false),
    since: z.enum(['block', 'payload']).optional(),
    signOff: z.enum(['required', 'none']).default('none'),
    validatedBy: name.optional()
  }).optional(),
  input: z.strictObject({ dataset: z.string().min(1) }).optional()
})

const CampaignConditionsSchema = z.strictObject({
  dryRun: z.boolean().optional(),
  destinationDatabase: z.string().min(1).optional(),
  tags: z.record(name, z.strictObject({
    tag: tagName,
    sync: z.enum(synchronizations),
    inputTag: tagName.optional(),
    fcsrPolicy: z.enum(['move', 'reject']).optional()
  })).optional(),
  writePromptTags: z.boolean().default(false)
})

/** A notification channel: the name of a metrics route (lower-case letters, digits and '-', as routes are named). */
const channelName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, "expected a channel name: lower-case letters, digits and '-' (at most 64), e.g. ecal-dev")
  .refine(v => v !== 'default', "'default' is the name of the metrics service's fallback route; name the campaign's own channel")

const CampaignSchema = z.strictObject({
  name: grammarName('campaign'),
  runTypes: z.array(z.string()).optional(),
  conditions: CampaignConditionsSchema.optional(),
  live: z.boolean().optional(),
  shadow: z.boolean().default(false),
  notify: channelName.optional()
})

const WorkflowSchema = z.strictObject({
  subsystem: grammarName('subsystem'),
  workflow: grammarName('workflow'),
  branch: grammarName('workflow').optional(),
  campaigns: z.array(z.union([grammarName('campaign'), CampaignSchema])).min(1).default(['prompt']),
  runTypes: z.record(z.string(), z.strictObject({ filter: FilterSchema.optional(), tasks: z.array(z.string()).optional() })).optional(),
  tasks: z.array(TaskSchema).min(1, 'expected at least one task')
})

type Path = Array<string | number>

export interface ValidationResult {
  workflow?: Workflow
  /** "file:line:col path: message" */
  errors: string[]
}

export type Env = Record<string, string | undefined>

export interface ValidateOptions {
  /** Checks a referenced golden JSON (absolute path); returns what is wrong with it, or undefined. */
  checkGolden?: (path: string) => string | undefined
  /**
   * Absolute directories a golden JSON may lie in besides the workflow file's own directory
   * (the dispatcher passes its AUTOCAL_REALDATA_DIR). Paths are compared after `.`/`..` are resolved.
   */
  goldenRoots?: readonly string[]
  /**
   * The real path of a file or directory, symbolic links resolved (the adapter's fs.realpathSync; the path itself
   * when it does not exist). The golden JSON and the roots are compared by their real paths, so a link inside the
   * workflow directory that points elsewhere is refused before anything is read.
   */
  realPath?: (path: string) => string
  /**
   * Whether a file exists (absolute path): when given, every `run` argument `{workflowDir}/<path>` must name
   * an existing file of the workflow directory. Omitted (remote validation) = not checked.
   */
  scriptExists?: (path: string) => boolean
}

/** Prefix of the environment variables a workflow may expand (besides {@link workflowVariables}). */
export const workflowVariablePrefix = 'AUTOCAL_WF_'
/** Single variables a workflow may expand: the real-data directory the example workflows' golden JSON lives in. */
export const workflowVariables: readonly string[] = ['AUTOCAL_REALDATA_DIR']

/** Whether a workflow may expand `${name}` (rule: issue 12, no server secret reaches a workflow). */
export function isWorkflowVariable (name: string): boolean {
  return name.startsWith(workflowVariablePrefix) || workflowVariables.includes(name)
}

/**
 * Expands ${VAR} and ${VAR:-default}. Names outside the allow-list ({@link isWorkflowVariable}) are never
 * looked up: they are reported in `forbidden` and expand to ''. Unset allowed names without a default are
 * reported in `missing`. Callers report names only, never the expanded value.
 */
export function expandEnv (text: string, env: Env): { value: string, missing: string[], forbidden: string[] } {
  const missing: string[] = []
  const forbidden: string[] = []
  const value = text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_all, key: string, fallback: string | undefined) => {
    if (!isWorkflowVariable(key)) {
      forbidden.push(key)
      return ''
    }
    const v = Object.hasOwn(env, key) ? env[key] : undefined
    if (v !== undefined && v !== '') return v
    if (fallback !== undefined) return fallback
    missing.push(key)
    return ''
  })
  return { value, missing, forbidden }
}

const forbiddenText = (names: string[]): string =>
  `environment variable ${names.join(', ')} may not be used in a workflow (allowed: ${workflowVariablePrefix}* and ${workflowVariables.join(', ')})`

/** Whether absolute path `p` is `root` or lies below it (both normalised absolute paths). */
function isWithin (p: string, root: string): boolean {
  const r = joinPath('/', root)
  return p === r || p.startsWith(r.endsWith('/') ? r : `${r}/`)
}

function joinPath (dir: string, p: string): string {
  if (p.startsWith('/')) return p
  const parts = `${dir}/${p}`.split('/')
  const out: string[] = []
  for (const part of parts) {
    if (part === '..') out.pop()
    else if (part !== '.' && part !== '') out.push(part)
  }
  return '/' + out.join('/')
}

export function blockRuleOf (spec: z.infer<typeof BlockSchema> | undefined): BlockRule {
  if (spec === undefined || spec === 'run') return { kind: 'run' }
  if (spec === 'fill') return { kind: 'fill' }
  if (spec === 'era') return { kind: 'era' }
  if (typeof spec === 'string') return { kind: 'lumi', thresholdPb: Number(spec.slice(5)), closeAtEraEnd: true }
  if ('fill' in spec) return { kind: 'fill', closeAfterS: parseDuration(spec.closeAfter) as number }
  const rule: BlockRule = { kind: 'lumi', thresholdPb: spec.lumi, closeAtEraEnd: spec.closeAtEraEnd }
  if (spec.timeout !== undefined) rule.timeoutS = parseDuration(spec.timeout) as number
  return rule
}

export function blockRuleText (rule: BlockRule): string {
  return rule.kind === 'lumi' ? `lumi:${rule.thresholdPb}` : rule.kind
}

const list = (v: string | string[] | undefined): string[] => v === undefined ? [] : Array.isArray(v) ? v : [v]

/** Alias expansions a workflow file may make when converted (the yaml library's resource-exhaustion guard). */
const maxAliasCount = 100

/**
 * Parses and validates one workflow file. Every YAML problem, an alias bomb included, is reported as
 * file:line:col; the errors come in the order of their place in the file (then of finding), each once.
 */
export function validateWorkflow (source: WorkflowSource, env: Env = {}, options: ValidateOptions = {}): ValidationResult {
  const result = validateWorkflowFile(source, env, options)
  const place = (e: string): [number, number] => {
    const m = /^(\d+):(\d+) /.exec(e.slice(source.name.length + 1))
    return m === null ? [Infinity, 0] : [Number(m[1]), Number(m[2])]
  }
  const errors = [...new Set(result.errors)].map((e, i) => ({ e, i, p: place(e) }))
    .sort((a, b) => a.p[0] - b.p[0] || a.p[1] - b.p[1] || a.i - b.i).map(x => x.e)
  return { ...result, errors }
}

/** The first line of a YAML parser error; the stack overflow of a file nested thousands deep said in words. */
function yamlErrorText (message: string): string {
  if (/maximum call stack/i.test(message)) return 'nested too deeply to be read (a workflow needs a few levels of nesting; thousands of brackets or indents here)'
  return message.split('\n')[0] ?? message
}

function validateWorkflowFile (source: WorkflowSource, env: Env, options: ValidateOptions): ValidationResult {
  const lineCounter = new LineCounter()
  const doc = parseDocument(source.content, { lineCounter, prettyErrors: false, uniqueKeys: true })
  const errors: string[] = []
  const at = (path: Path, message: string): void => { errors.push(`${source.name}:${positionOf(doc, lineCounter, path)} ${path.join('.') || '(root)'}: ${message}`) }
  for (const e of doc.errors) {
    const [start] = e.pos
    const { line, col } = lineCounter.linePos(start)
    errors.push(`${source.name}:${line}:${col} (yaml): ${yamlErrorText(e.message)}`)
  }
  if (errors.length > 0) return { errors }
  let js: unknown
  try {
    js = doc.toJS({ maxAliasCount })
  } catch (err) {
    // The yaml library throws (a ReferenceError for an alias bomb) instead of listing the error: report it at the first alias.
    let pos = 0
    visit(doc, { Alias: (_key, node) => { if (isAlias(node) && node.range !== undefined && node.range !== null) pos = node.range[0]; return visit.BREAK } })
    const { line, col } = lineCounter.linePos(pos)
    const why = /alias count/i.test((err as Error).message) ? `too many alias expansions (more than ${maxAliasCount}): nested aliases are refused (a YAML alias bomb)` : `cannot be read: ${yamlErrorText((err as Error).message)}`
    errors.push(`${source.name}:${line}:${col} (yaml): ${why}`)
    return { errors }
  }
  // every error of the file in one pass: what names refer to is checked whatever the schema says of the rest
  referenceProblems(js, at)
  scriptProblems(js, source.dir, options, at)
  const parsed = WorkflowSchema.safeParse(js)
  if (!parsed.success) {
    for (const issue of unionBranchIssues(parsed.error.issues)) {
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) at([...issue.path as Path, key], unknownKeyText(key, keysAt(WorkflowSchema, issue.path as Path)))
      } else at(issue.path as Path, issue.message)
    }
    return { errors: [...new Set(errors)] }
  }
  const spec = parsed.data
  const version = createHash('sha256').update(source.content).digest('hex').slice(0, 12)

  const filterOf = (f: z.infer<typeof FilterSchema> | undefined, path: Path): RunFilter => {
    const out: RunFilter = { runClass: list(f?.runClass).map(c => c.toLowerCase()), eras: list(f?.eras) }
    if (f === undefined) return out
    if (f.global !== undefined) out.global = f.global
    if (f.minDurationS !== undefined) out.minDurationS = f.minDurationS
    if (f.minRecordedLumi !== undefined) out.minRecordedLumi = f.minRecordedLumi
    if (f.stableBeams !== undefined) out.stableBeams = f.stableBeams
    if (f.bField !== undefined) {
      out.bField = {}
      if (f.bField.min !== undefined) out.bField.min = f.bField.min
      if (f.bField.max !== undefined) out.bField.max = f.bField.max
      if (f.bField.min !== undefined && f.bField.max !== undefined && f.bField.min > f.bField.max) at([...path, 'bField'], `min ${f.bField.min} is above max ${f.bField.max}`)
    }
    if (f.golden !== undefined) {
      const { value, missing, forbidden } = expandEnv(f.golden, env)
      if (forbidden.length > 0) at([...path, 'golden'], forbiddenText(forbidden))
      else if (missing.length > 0) at([...path, 'golden'], `environment variable ${missing.join(', ')} is not set (use \${VAR:-default} for a default)`)
      else {
        out.golden = joinPath(source.dir, value)
        const real = options.realPath ?? ((p: string) => p)
        const roots = [source.dir, ...(options.goldenRoots ?? [])].filter(r => r.startsWith('/'))
        const golden = real(out.golden)
        if (!roots.some(r => isWithin(out.golden as string, r) && isWithin(golden, real(r)))) {
          at([...path, 'golden'], `the golden JSON must lie in the workflow directory${roots.length > 1 ? ' or the real-data directory (AUTOCAL_REALDATA_DIR)' : ''}`)
          delete out.golden
        } else {
          const problem = options.checkGolden?.(out.golden)
          if (problem !== undefined) at([...path, 'golden'], problem)
        }
      }
    }
    return out
  }

  const conditionOf = (c: NonNullable<z.infer<typeof TaskSchema>['condition']>, path: Path): ConditionDef => {
    const checks: Record<string, string> = {}
    for (const [key, check] of Object.entries(checkNames)) {
      const value = c.checks?.[key as keyof typeof checkNames]
      if (value !== undefined) checks[check] = String(value)
    }
    if (c.checks?.minSizeBytes !== undefined && c.checks.maxSizeBytes !== undefined && c.checks.minSizeBytes > c.checks.maxSizeBytes) at([...path, 'checks', 'maxSizeBytes'], `maxSizeBytes ${c.checks.maxSizeBytes} is below minSizeBytes ${c.checks.minSizeBytes}`)
    if (c.checks?.synchronization !== undefined && c.checks.synchronization !== c.sync) at([...path, 'checks', 'synchronization'], `the check expects synchronization ${c.checks.synchronization} but the condition's sync is ${c.sync}`)
    // a block's first run is a Run since: Time and Lumi payloads keep the sinces of their own IOVs
    const timeType = c.checks?.timeType
    const payloadSinces = timeType === 'Time' || timeType === 'Lumi'
    if (c.since === 'block' && payloadSinces) at([...path, 'since'], `since: block gives the block's first run as the since, but the payload's time type is ${timeType as string}; use since: payload (the IOVs' own sinces)`)
    const def: ConditionDef = {
      tag: c.tag,
      record: c.record,
      sync: c.sync,
      inputTag: c.inputTag ?? '',
      fcsrPolicy: c.fcsrPolicy,
      destinationDatabase: c.destinationDatabase ?? '',
      checks,
      optional: c.optional,
      since: c.since ?? (payloadSinces ? 'payload' : 'block'),
      signOff: c.signOff === 'required'
    }
    if (c.dryRun !== undefined) def.dryRun = c.dryRun
    if (c.validatedBy !== undefined) def.validatedBy = c.validatedBy
    return def
  }

  const names = new Map<string, number>()
  spec.tasks.forEach((t, i) => { if (!names.has(t.name)) names.set(t.name, i) })

  const tasks: TaskDef[] = spec.tasks.map((t, i) => {
    const path: Path = ['tasks', i]
    if (!(backends as readonly string[]).includes(t.backend)) at([...path, 'backend'], `unknown backend '${t.backend}'${didYouMean(t.backend, backends) ?? ''}, expected one of ${backends.join(', ')}`)
    const check = (text: string, where: Path): void => { for (const p of placeholderProblems(text, t.needs.length > 0, t.input !== undefined)) at(where, p) }
    const needs = t.needs.flatMap(n => typeof n === 'string' && !n.includes('/') ? [n] : [])
    const crossNeeds: CrossNeed[] = t.needs.flatMap((n, j): CrossNeed[] => {
      const where = `${source.name}:${positionOf(doc, lineCounter, [...path, 'needs', j])}`
      if (typeof n !== 'string') return [{ kind: 'condition', tag: n.condition, since: n.since, at: where }]
      const p = parseNeedName(n)
      return 'kind' in p && p.kind === 'task' ? [{ ...p, at: where }] : []
    })
    const gates: Gates = { t0StreamDone: list(t.when?.t0StreamDone), t0DatasetDone: list(t.when?.t0DatasetDone) }
    if (t.when?.minDuration !== undefined) gates.minDurationS = parseDuration(t.when.minDuration) as number
    if (t.when?.minLumi !== undefined) gates.minLumiPb = t.when.minLumi
    if (t.when?.http !== undefined) {
      const h = typeof t.when.http === 'string' ? { url: t.when.http, status: 200 } : t.when.http
      const { value, missing, forbidden } = expandEnv(h.url, env)
      if (forbidden.length > 0) at([...path, 'when', 'http'], forbiddenText(forbidden))
      else if (missing.length > 0) at([...path, 'when', 'http'], `environment variable ${missing.join(', ')} is not set`)
      check(h.url.replace(/\$\{[^}]*\}/g, ''), [...path, 'when', 'http'])
      if (!/^https?:\/\//.test(value)) at([...path, 'when', 'http'], 'expected an http(s) URL (after expanding variables)')
      gates.http = { url: value, status: h.status }
    }
    if (t.when?.datasetLocked !== undefined) gates.datasetLocked = t.when.datasetLocked
    if (t.when?.datasetLocked === true && t.input === undefined) at([...path, 'when', 'datasetLocked'], 'datasetLocked waits for the task\'s input dataset, but this task has no `input: { dataset: … }`')
    const perFiles = typeof t.jobs === 'object' && 'perFiles' in t.jobs ? t.jobs.perFiles : undefined
    const perLumis = typeof t.jobs === 'object' && 'perLumis' in t.jobs ? t.jobs.perLumis : undefined
    if (typeof t.jobs === 'object' && t.input === undefined) at([...path, 'jobs'], `jobs: { ${perFiles !== undefined ? 'perFiles' : 'perLumis'}: … } cuts the files of the task's input dataset, but this task has no \`input: { dataset: … }\``)
    if (t.input !== undefined) for (const p of datasetTemplateProblems(t.input.dataset)) at([...path, 'input', 'dataset'], p)
    const timeout = gateTimeoutOf(t.when, gates)
    if (timeout.kind === 'problem') at([...path, 'when', timeout.key], timeout.problem)
    else if (timeout.rule !== undefined) gates.timeout = timeout.rule
    const task: TaskDef = {
      name: t.name,
      subsystem: spec.subsystem,
      workflow: spec.workflow,
      workflowVersion: version,
      workflowBranch: spec.branch ?? '',
      workflowDir: source.dir,
      block: blockRuleOf(t.block),
      filter: filterOf(t.filter, [...path, 'filter']),
      gates,
      needs,
      crossNeeds,
      jobs: typeof t.jobs === 'number' ? t.jobs : 1,
      run: t.run,
      backend: t.backend as Backend,
      env: t.env,
      retries: t.retries,
      retryNever: { exitCodes: (t.retry?.never ?? []).filter((x): x is number => typeof x === 'number'), signals: (t.retry?.never ?? []).filter((x): x is string => typeof x === 'string') },
      infrastructureRetries: t.retry?.infrastructure ?? defaultInfrastructureRetries,
      backoffS: parseDuration(t.backoff) as number,
      timeoutS: t.timeout !== undefined ? parseDuration(t.timeout) as number : jobFlavours[t.batch?.jobFlavour ?? ''] ?? defaultTimeoutS,
      resources: { cpus: t.resources?.cpus ?? 0, memoryMb: mibOf(t.resources?.memory), diskMb: mibOf(t.resources?.disk) },
      batch: { accountingGroup: t.batch?.accountingGroup ?? '', jobFlavour: t.batch?.jobFlavour ?? '' },
      passEnv: t.passEnv
    }
    if (t.input !== undefined) {
      task.input = {
        dataset: t.input.dataset,
        fanOut: perFiles !== undefined ? { per: 'files', n: perFiles } : perLumis !== undefined ? { per: 'lumis', n: perLumis } : { per: 'jobs', n: task.jobs }
      }
    }
    if (t.image !== undefined) task.image = t.image
    if (t.pool !== undefined) task.pool = t.pool
    if (t.concurrency !== undefined) task.concurrency = t.concurrency
    if (t.condition !== undefined) task.condition = conditionOf(t.condition, [...path, 'condition'])
    if (t.backend === 'kubernetes' && t.image === undefined) at([...path, 'image'], 'the kubernetes backend needs an `image`')
    if (t.image !== undefined && t.backend !== 'kubernetes' && t.backend !== 'htcondor') at([...path, 'image'], `the ${t.backend} backend runs no container; \`image\` is for the kubernetes and htcondor backends`)
    if (t.batch !== undefined && t.backend !== 'htcondor') at([...path, 'batch'], `\`batch\` options are HTCondor's; this task runs on the ${t.backend} backend`)
    const flavour = t.batch?.jobFlavour
    if (flavour !== undefined && t.timeout !== undefined && task.timeoutS > (jobFlavours[flavour] ?? Infinity)) {
      at([...path, 'timeout'], `timeout ${t.timeout} is longer than job flavour ${flavour} allows (${(jobFlavours[flavour] ?? 0) / 60} min): HTCondor would remove the job first; choose a longer flavour`)
    }
    return task
  })

  // a task with needs runs on its upstream tasks' blocks, or fans in: its own, coarser block gathers theirs (fan-in.ts)
  const cycle = findCycle(tasks)
  tasks.forEach((t, i) => { if (t.needs.length > 0 && spec.tasks[i]?.block !== undefined) t.fanIn = { allowMissing: spec.tasks[i]?.fanIn?.allowMissing ?? false } })
  tasks.forEach((t, i) => {
    const spec0 = spec.tasks[i]
    if (spec0 === undefined) return
    if (t.needs.length === 0) {
      if (spec0.fanIn !== undefined) at(['tasks', i, 'fanIn'], `task '${t.name}' has no needs; fanIn is for a task that gathers the blocks of the tasks it needs`)
      return
    }
    if (spec0.filter !== undefined) at(['tasks', i, 'filter'], `task '${t.name}' has needs and runs on its upstream tasks' blocks; put run filters on the upstream task`)
    if (cycle !== undefined) return
    const orders = t.needs.flatMap(n => {
      const up = tasks.find(u => u.name === n)
      return up === undefined ? [] : [{ n, upRule: rootRule(up, tasks), order: compareBlocks(t.block, rootRule(up, tasks)) }]
    })
    if (spec0.block === undefined) {
      if (spec0.fanIn !== undefined) at(['tasks', i, 'fanIn'], `task '${t.name}' declares no block of its own; fanIn is for a task whose block is coarser than its needs' (e.g. block: fill on per-run upstream tasks)`)
      return
    }
    for (const { n, upRule, order } of orders) {
      if (order === 'finer') at(['tasks', i, 'block'], `task '${t.name}' needs '${n}' whose block is ${blockRuleText(upRule)}; block ${blockRuleText(t.block)} is finer: one ${blockRuleText(upRule)} block would feed several ${blockRuleText(t.block)} blocks (omit block to run on ${blockRuleText(upRule)} blocks, or use a coarser block to gather them)`)
      if (order === 'incomparable') at(['tasks', i, 'block'], `task '${t.name}' needs '${n}' whose block is ${blockRuleText(upRule)}; block ${blockRuleText(t.block)} does not cover whole ${blockRuleText(upRule)} blocks (their edges do not line up); use ${blockRuleText(upRule)} or a coarser block (era)`)
    }
    if (orders.every(o => o.order === 'same')) {
      delete t.fanIn
      if (spec0.fanIn !== undefined) at(['tasks', i, 'fanIn'], `task '${t.name}' runs on the blocks of its needs (block ${blockRuleText(t.block)} is theirs); fanIn is for a coarser block`)
    }
  })
  if (cycle !== undefined) at(['tasks', names.get(cycle[0] as string) as number, 'needs'], `cycle in needs: ${cycle.join(' → ')}`)
  if (cycle === undefined) {
    for (const t of tasks) if (t.needs.length > 0) t.block = rootRule(t, tasks)
  }

  const runTypes: RunType[] = Object.entries(spec.runTypes ?? { all: { filter: { global: true } } }).map(([rtName, rt]) => {
    const tasksOf = rt.tasks ?? tasks.map(t => t.name)
    return { name: rtName, filter: filterOf(rt.filter, ['runTypes', rtName, 'filter']), tasks: tasksOf }
  })
  const campaigns: CampaignDef[] = spec.campaigns.map((c, i) => {
    const cn = typeof c === 'string' ? c : c.name
    const rts = typeof c === 'string' || c.runTypes === undefined ? runTypes.map(r => r.name) : c.runTypes
    rts.forEach((r, j) => { if (!runTypes.some(x => x.name === r)) at(['campaigns', i, 'runTypes', j], `unknown run type '${r}'${didYouMean(r, runTypes.map(x => x.name)) ?? ''}, expected one of ${runTypes.map(x => x.name).join(', ')}`) })
    const cc = typeof c === 'string' ? undefined : c.conditions
    const conditions: CampaignConditions = { destinationDatabase: cc?.destinationDatabase ?? '', tags: {}, writePromptTags: cc?.writePromptTags ?? false }
    if (cc?.dryRun !== undefined) conditions.dryRun = cc.dryRun
    for (const [tn, target] of Object.entries(cc?.tags ?? {})) {
      const task = tasks.find(x => x.name === tn)
      if (task !== undefined && task.condition === undefined) at(['campaigns', i, 'conditions', 'tags', tn], `campaign '${cn}' gives a tag to task '${tn}', which has no condition`)
      if (task === undefined) continue
      const entry: CampaignConditions['tags'][string] = { tag: target.tag, sync: target.sync }
      if (target.inputTag !== undefined) entry.inputTag = target.inputTag
      if (target.fcsrPolicy !== undefined) entry.fcsrPolicy = target.fcsrPolicy
      conditions.tags[tn] = entry
    }
    const def: CampaignDef = { name: cn, runTypes: rts, conditions, live: typeof c === 'string' || c.live === undefined ? cn === promptCampaign : c.live, shadow: typeof c !== 'string' && c.shadow }
    if (typeof c !== 'string' && c.notify !== undefined) def.notify = c.notify
    for (const p of campaignProblems(def, spec.branch ?? '')) at(['campaigns', i, ...p.key], p.message)
    return def
  })
  checkValidators(tasks, at)
  if (errors.length === 0) {
    // DESIGN §4 rule 9: a campaign never writes to a prompt-like tag unless it says so
    campaigns.forEach((c, i) => {
      if (c.conditions.writePromptTags) return
      const active = new Set(runTypes.filter(r => c.runTypes.includes(r.name)).flatMap(r => r.tasks))
      for (const [uploader, u] of uploadsOf(tasks, c)) {
        if (!active.has(uploader) || u.dryRun || !promptLikeSynchronizations.has(u.sync)) continue
        const where: Path = Object.hasOwn(c.conditions.tags, u.payloadFrom)
          ? ['campaigns', i, 'conditions', 'tags', u.payloadFrom, 'sync']
          : ['tasks', names.get(u.payloadFrom) as number, 'condition', 'sync']
        // the campaign's entry is where the fix goes; a file without `campaigns` (prompt by default) has none
        const campaignPath: Path = doc.getIn(['campaigns', i], true) === undefined ? where : ['campaigns', i]
        at(campaignPath, `campaign '${c.name}' would write task '${u.payloadFrom}' payloads to ${u.sync} tag ${u.tag} (sync at ${positionOf(doc, lineCounter, where)}); ` +
          `give the campaign an offline tag (conditions.tags.${u.payloadFrom}: { tag: …, sync: offline }), make it a dry run (conditions.dryRun: true), or opt in with conditions.writePromptTags: true`)
      }
    })
    // a shadow campaign has no effect on production: every upload it makes is a dry run or goes to a validation tag
    campaigns.forEach((c, i) => {
      if (!c.shadow) return
      const active = new Set(runTypes.filter(r => c.runTypes.includes(r.name)).flatMap(r => r.tasks))
      for (const [uploader, u] of uploadsOf(tasks, { ...c, shadow: false })) {
        const problem = shadowUploadProblem(c, u)
        if (active.has(uploader) && problem !== undefined) at(Object.hasOwn(c.conditions.tags, u.payloadFrom) ? ['campaigns', i, 'conditions', 'tags', u.payloadFrom, 'sync'] : ['campaigns', i, 'shadow'], problem)
      }
    })
  }
  if (errors.length > 0) return { errors }
  const places: Record<string, string> = { branch: `${source.name}:${positionOf(doc, lineCounter, spec.branch === undefined ? [] : ['branch'])}` }
  campaigns.forEach((c, i) => {
    const campaignPath: Path = doc.getIn(['campaigns', i], true) === undefined ? [] : ['campaigns', i]
    places[`campaigns.${i}`] = `${source.name}:${positionOf(doc, lineCounter, campaignPath)}`
    for (const u of uploadsOf(tasks, c).values()) {
      const where: Path = Object.hasOwn(c.conditions.tags, u.payloadFrom) ? ['campaigns', i, 'conditions', 'tags', u.payloadFrom, 'tag'] : ['tasks', names.get(u.payloadFrom) as number, 'condition', 'tag']
      places[`tags.${c.name}.${u.payloadFrom}`] = `${source.name}:${positionOf(doc, lineCounter, where)}`
    }
  })
  return { errors, workflow: { file: source.name, subsystem: spec.subsystem, workflow: spec.workflow, version, branch: spec.branch ?? '', places, campaigns, runTypes, tasks } }
}

/**
 * The uploads of a campaign, keyed by the task that performs each: a task's
 * own condition, or, with `validatedBy`, the validation task that gates it.
 * The campaign's target applies: its tag per task, its destination database,
 * and its dry-run setting (default: false for prompt, true for a reprocessing
 * campaign); a condition that says `dryRun: true` stays a dry run. A shadow
 * campaign's upload is always a dry run unless the campaign gives the task a
 * tag of synchronization `validation` (issue 17: never a production tag).
 */
export function uploadsOf (tasks: readonly TaskDef[], campaign: CampaignDef): Map<string, Upload> {
  const out = new Map<string, Upload>()
  const cc = campaign.conditions
  for (const t of tasks) {
    const c = t.condition
    if (c === undefined) continue
    const target = Object.hasOwn(cc.tags, t.name) ? cc.tags[t.name] : undefined
    out.set(c.validatedBy ?? t.name, {
      payloadFrom: t.name,
      tag: target?.tag ?? c.tag,
      record: c.record,
      sync: target?.sync ?? c.sync,
      inputTag: target?.inputTag ?? c.inputTag,
      fcsrPolicy: target?.fcsrPolicy ?? c.fcsrPolicy,
      // a shadow campaign writes only to a validation tag of its own (workflow-branches.ts checks it is no production tag)
      dryRun: c.dryRun === true || (cc.dryRun ?? campaign.name !== promptCampaign) || (campaign.shadow && target?.sync !== 'validation'),
      destinationDatabase: cc.destinationDatabase !== '' ? cc.destinationDatabase : c.destinationDatabase,
      checks: c.checks,
      optional: c.optional,
      since: c.since,
      signOff: c.signOff
    })
  }
  return out
}

/** Whether `task` needs `upstream`, directly or through other tasks. */
function dependsOn (task: TaskDef, upstream: string, tasks: readonly TaskDef[], seen = new Set<string>()): boolean {
  if (seen.has(task.name)) return false
  seen.add(task.name)
  return task.needs.some(n => {
    if (n === upstream) return true
    const next = tasks.find(t => t.name === n)
    return next !== undefined && dependsOn(next, upstream, tasks, seen)
  })
}

/** `validatedBy`: a task of the file that needs the calibration (directly or not), has no condition of its own and validates one condition. */
function checkValidators (tasks: readonly TaskDef[], at: (path: Path, message: string) => void): void {
  const validating = new Map<string, string>()
  tasks.forEach((t, i) => {
    const v = t.condition?.validatedBy
    if (v === undefined) return
    const path: Path = ['tasks', i, 'condition', 'validatedBy']
    const validator = tasks.find(x => x.name === v)
    if (validator === undefined) at(path, `task '${t.name}' is validated by unknown task '${v}'`)
    else if (v === t.name) at(path, `task '${t.name}' cannot validate its own condition`)
    else if (!dependsOn(validator, t.name, tasks)) at(path, `validation task '${v}' must need '${t.name}' (directly or through other tasks): it runs on the payload before the upload`)
    else if (validator.condition !== undefined) at(path, `validation task '${v}' has a condition of its own; a task uploads one payload`)
    else if (validating.has(v)) at(path, `validation task '${v}' already validates the condition of '${validating.get(v) as string}'`)
    validating.set(v, t.name)
  })
}

/** Block rule of the root upstream task (a task with needs runs on its first upstream's blocks; a fan-in task on its own). */
function rootRule (t: TaskDef, all: TaskDef[], seen = new Set<string>()): BlockRule {
  if (t.needs.length === 0 || t.fanIn !== undefined || seen.has(t.name)) return t.block
  seen.add(t.name)
  const up = all.find(u => u.name === t.needs[0])
  return up === undefined ? t.block : rootRule(up, all, seen)
}

function findCycle (tasks: TaskDef[]): string[] | undefined {
  const byName = new Map(tasks.map(t => [t.name, t]))
  const state = new Map<string, 'visiting' | 'done'>()
  const stack: string[] = []
  const visit = (n: string): string[] | undefined => {
    if (state.get(n) === 'done') return undefined
    if (state.get(n) === 'visiting') return [...stack.slice(stack.indexOf(n)), n]
    state.set(n, 'visiting')
    stack.push(n)
    for (const m of byName.get(n)?.needs ?? []) {
      if (!byName.has(m)) continue
      const c = visit(m)
      if (c !== undefined) return c
    }
    stack.pop()
    state.set(n, 'done')
    return undefined
  }
  for (const t of tasks) {
    const c = visit(t.name)
    if (c !== undefined) return c
  }
  return undefined
}

/**
 * Problems of the placeholders in one argv argument (or URL): an unknown `{name}` (the known ones are
 * {@link placeholders}) or `{inputs}` in a task without `needs`.
 */
function placeholderProblems (text: string, hasNeeds: boolean, hasInput: boolean): string[] {
  const out: string[] = []
  for (const m of text.matchAll(/\{([^{}]*)\}/g)) {
    const p = m[1] as string
    if (!(placeholders as readonly string[]).includes(p)) out.push(`unknown placeholder {${p}}${didYouMean(p, placeholders) ?? ''}, expected one of ${placeholders.map(x => `{${x}}`).join(' ')}`)
    else if (p === 'inputs' && !hasNeeds) out.push('{inputs} are the outputs of the tasks in `needs`, but this task has no needs')
    else if (p === 'files' && !hasInput) out.push('{files} are the job\'s files of the task\'s input dataset, but this task has no `input: { dataset: … }`')
  }
  return out
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
const arrayOf = (v: unknown): unknown[] => Array.isArray(v) ? v : []

/**
 * What a file's names refer to, checked on the parsed YAML whatever its shape, so that one pass reports
 * them beside the schema's errors (issue 15: today's "needs unknown task" appeared only after every other
 * error was fixed): a task name declared twice, a `needs` entry naming an unknown task or the task itself,
 * a placeholder in `run` that does not exist (or `{inputs}` without needs), a run type listing an unknown
 * task, a campaign giving a tag to an unknown task. Values of a wrong type are skipped (the schema names them).
 */
function referenceProblems (js: unknown, at: (path: Path, message: string) => void): void {
  if (!isRecord(js)) return
  const tasks = arrayOf(js.tasks)
  const names = new Map<string, number>()
  tasks.forEach((t, i) => {
    if (!isRecord(t) || typeof t.name !== 'string') return
    if (names.has(t.name)) at(['tasks', i, 'name'], `task '${t.name}' is declared twice (first as tasks.${names.get(t.name) as number})`)
    else names.set(t.name, i)
  })
  const known = [...names.keys()]
  const unknownTask = (n: string): string => `'${n}'${didYouMean(n, known) ?? ''}`
  tasks.forEach((t, i) => {
    if (!isRecord(t)) return
    const self = typeof t.name === 'string' ? t.name : `tasks.${i}`
    const needs = arrayOf(t.needs)
    needs.forEach((n, j) => {
      if (typeof n !== 'string' || n.includes('/')) return // other workflows: checked across files (cross-needs.ts)
      if (!names.has(n)) at(['tasks', i, 'needs', j], `task '${self}' needs unknown task ${unknownTask(n)}`)
      else if (n === self) at(['tasks', i, 'needs', j], `task '${self}' needs itself`)
    })
    arrayOf(t.run).forEach((arg, j) => {
      if (typeof arg === 'string') for (const p of placeholderProblems(arg, needs.length > 0, t.input !== undefined)) at(['tasks', i, 'run', j], p)
    })
  })
  if (isRecord(js.runTypes)) {
    for (const [rtName, rt] of Object.entries(js.runTypes)) {
      if (!isRecord(rt)) continue
      arrayOf(rt.tasks).forEach((tn, j) => {
        if (typeof tn === 'string' && !names.has(tn)) at(['runTypes', rtName, 'tasks', j], `run type '${rtName}' lists unknown task ${unknownTask(tn)}`)
      })
    }
  }
  arrayOf(js.campaigns).forEach((c, i) => {
    if (!isRecord(c) || !isRecord(c.conditions) || !isRecord(c.conditions.tags)) return
    const cn = typeof c.name === 'string' ? c.name : `campaigns.${i}`
    for (const tn of Object.keys(c.conditions.tags)) {
      if (!names.has(tn)) at(['campaigns', i, 'conditions', 'tags', tn], `campaign '${cn}' gives a tag to unknown task ${unknownTask(tn)}`)
    }
  })
}

/**
 * Scripts a task runs from its workflow directory: an argument of `run` that is `{workflowDir}/<path>`
 * with no other placeholder names a file of that directory. Always checked: the path may not climb out
 * of it (`..`). With `exists` (the adapter's, absolute path): the file must exist; with `realPath` too,
 * it may not be a link to a file outside the directory (compared by real paths, as the golden JSON is).
 * The message names the argument as written.
 */
function scriptProblems (js: unknown, dir: string, files: Pick<ValidateOptions, 'scriptExists' | 'realPath'>, at: (path: Path, message: string) => void): void {
  if (!isRecord(js)) return
  const real = files.realPath ?? ((p: string) => p)
  arrayOf(js.tasks).forEach((t, i) => {
    if (!isRecord(t)) return
    arrayOf(t.run).forEach((arg, j) => {
      if (typeof arg !== 'string' || !arg.startsWith('{workflowDir}/')) return
      const rest = arg.slice('{workflowDir}/'.length)
      if (rest === '' || /[{}]/.test(rest)) return
      const path = joinPath(dir, rest)
      if (!isWithin(path, dir)) at(['tasks', i, 'run', j], `${arg}: the path leaves the workflow directory`)
      else if (files.scriptExists !== undefined && !files.scriptExists(path)) at(['tasks', i, 'run', j], `${arg}: no file ${rest} in the workflow directory`)
      else if (files.scriptExists !== undefined && !isWithin(real(path), real(joinPath('/', dir)))) at(['tasks', i, 'run', j], `${arg}: a link to a file outside the workflow directory`)
    })
  })
}

/**
 * `; did you mean 'x'?` when `word` is close to one of `candidates`, else undefined. Close: a Levenshtein
 * distance ≤ 2 (or ≤ a third of the word's length; always below the word's length, so `b` never suggests `a`), or else the candidate sharing the longest common prefix
 * of at least 4 characters (`retry` → `retries`, `minSize` → `minSizeBytes`).
 */
export function didYouMean (word: string, candidates: readonly string[]): string | undefined {
  if (candidates.length === 0) return undefined
  const best = closest(word, candidates as string[])
  if (distance(word, best) <= Math.min(Math.max(2, Math.floor(word.length / 3)), word.length - 1)) return `; did you mean '${best}'?`
  const prefix = (a: string, b: string): number => { let n = 0; while (n < a.length && n < b.length && a[n] === b[n]) n++; return n }
  const byPrefix = [...candidates].sort((a, b) => prefix(word, b) - prefix(word, a))[0] as string
  return prefix(word, byPrefix) >= 4 ? `; did you mean '${byPrefix}'?` : undefined
}

/**
 * Zod's issues with each failed union replaced by the issues of the one branch whose type the value has (a
 * `{ condition: … }` entry of `needs` with a bad `since` names `since`, not "invalid input"); a union whose
 * value fits no branch's type, or several, stays as it is (its message lists the shapes).
 */
function unionBranchIssues (issues: readonly z.core.$ZodIssue[]): z.core.$ZodIssue[] {
  return issues.flatMap(issue => {
    if (issue.code !== 'invalid_union') return [issue]
    const typed = issue.errors.filter(b => !(b.length === 1 && b[0]?.code === 'invalid_type' && b[0].path.length === 0))
    if (typed.length !== 1 || typed[0] === undefined) return [issue]
    return unionBranchIssues(typed[0].map(sub => ({ ...sub, path: [...issue.path, ...sub.path] })))
  })
}

/** The message for a key the schema does not know at this place: the closest known key, or the list of them. */
function unknownKeyText (key: string, known: string[]): string {
  // a key of another form of the same value (block: { lumi, timeout } vs { fill, closeAfter }; jobs: { perFiles } vs { perLumis })
  if (known.includes(key)) return `key '${key}' does not go with the other keys given here: each form of this value has keys of its own (see the workflow reference)`
  const hint = didYouMean(key, known)
  if (hint !== undefined) return `unknown key '${key}'${hint}`
  return known.length > 0 ? `unknown key '${key}', expected one of ${known.join(', ')}` : `unknown key '${key}'`
}

interface SchemaDef { type: string, innerType?: unknown, in?: unknown, options?: unknown[], shape?: Record<string, unknown>, element?: unknown, valueType?: unknown }
const defOf = (schema: unknown): SchemaDef => (schema as { _zod: { def: SchemaDef } })._zod.def

/** The schemas a value may have once optional/default/pipe wrappers are removed and unions split. */
function shapesOf (schema: unknown): unknown[] {
  const d = defOf(schema)
  if (d.type === 'optional' || d.type === 'default' || d.type === 'nullable' || d.type === 'readonly') return shapesOf(d.innerType)
  if (d.type === 'pipe') return shapesOf(d.in)
  if (d.type === 'union') return (d.options ?? []).flatMap(shapesOf)
  return [schema]
}

/** The keys the object schemas at `path` (a zod issue's path) allow, for "did you mean". */
function keysAt (schema: unknown, path: Path): string[] {
  let here = shapesOf(schema)
  for (const seg of path) {
    here = here.flatMap(s => {
      const d = defOf(s)
      if (d.type === 'object' && typeof seg === 'string' && d.shape !== undefined && Object.hasOwn(d.shape, seg)) return shapesOf(d.shape[seg])
      if (d.type === 'array' && typeof seg === 'number') return shapesOf(d.element)
      if (d.type === 'record') return shapesOf(d.valueType)
      return []
    })
  }
  return [...new Set(here.flatMap(s => { const d = defOf(s); return d.type === 'object' && d.shape !== undefined ? Object.keys(d.shape) : [] }))]
}

function positionOf (doc: Document, lc: LineCounter, path: Path): string {
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true)
    const range = (node as { range?: [number, number, number] } | undefined)?.range
    if (range !== undefined && (n > 0 || isCollection(node))) {
      const { line, col } = lc.linePos(range[0])
      return `${line}:${col}`
    }
  }
  return '1:1'
}

/** Validates every file and the rules that span files. */
/**
 * One writer per tag: a tag (in its destination database) that uploads for real in some campaign is written by
 * one task of one workflow and branch, whatever the campaign (the same task in prompt and in a rereco may share
 * it). A second task writing it (another subsystem's workflow writing ECAL's prompt tag, say, even as `sync:
 * offline`) is an error naming both. Dry runs write nothing and are not counted. Rule: a reviewer's finding of
 * 2026-11-30; a CMS tag has one owner group (the conditions upload rules' tag ownership).
 */
function tagOwnerProblems (workflows: readonly Workflow[]): string[] {
  const owners = new Map<string, { who: string, file: string }>()
  const problems: string[] = []
  for (const w of workflows) {
    for (const c of w.campaigns) {
      for (const [task, u] of uploadsOf(w.tasks, c)) {
        if (u.dryRun) continue
        const key = `${u.destinationDatabase}|${u.tag}`
        const who = `${w.subsystem}/${w.workflow}${w.branch === '' ? '' : `@${w.branch}`}/${u.payloadFrom === task ? task : u.payloadFrom}`
        const owner = owners.get(key)
        if (owner === undefined) owners.set(key, { who, file: w.file })
        else if (owner.who !== who) problems.push(`${w.file}:1:1 tasks: task ${who} writes tag ${u.tag}${u.destinationDatabase === '' ? '' : ` in ${u.destinationDatabase}`} in campaign '${c.name}', which ${owner.who} (${owner.file}) writes already; a tag has one writer (give one of them a tag of its own, or a dry run)`)
      }
    }
  }
  return problems
}

export function validateWorkflowSet (sources: WorkflowSource[], env: Env = {}, options: ValidateOptions = {}): { workflows: Workflow[], errors: string[] } {
  const workflows: Workflow[] = []
  const errors: string[] = []
  for (const s of sources) {
    const r = validateWorkflow(s, env, options)
    errors.push(...r.errors)
    if (r.workflow !== undefined) workflows.push(r.workflow)
  }
  const owner = new Map<string, string>()
  // one file per workflow and branch; a branch's campaigns and tags are its own (workflow-branches.ts)
  errors.push(...branchProblems(workflows))
  for (const w of workflows) {
    for (const c of w.campaigns) {
      for (const t of w.tasks) {
        const key = `${c.name}/${t.name}`
        const other = owner.get(key)
        if (other !== undefined) errors.push(`${w.file}:1:1 tasks: task '${t.name}' of campaign '${c.name}' is also declared in ${other}; task names must be unique within a campaign`)
        owner.set(key, w.file)
      }
      if (c.name !== 'prompt') {
        const sub = workflows.find(o => o.subsystem !== w.subsystem && o.campaigns.some(oc => oc.name === c.name))
        if (sub !== undefined) errors.push(`${w.file}:1:1 campaigns: campaign '${c.name}' also belongs to subsystem ${sub.subsystem} (${sub.file}); a reprocessing campaign belongs to one subsystem`)
      }
    }
  }
  errors.push(...tagOwnerProblems(workflows))
  // needs across files: unknown targets, campaigns the target does not run, cycles (domain/cross-needs.ts)
  if (errors.length === 0) errors.push(...crossNeedProblems(workflows, didYouMean))
  return { workflows, errors: [...new Set(errors)] }
}
