// An HTCondor submit description for one job. Pure. Arguments and environment
// use HTCondor's "new syntax": the whole value in double quotes, items
// separated by spaces, an item with spaces or quotes in single quotes, a single
// quote doubled inside it, a double quote doubled everywhere. condor_submit
// expands $(NAME) macros in every value, so each $ is written as $(DOLLAR)
// (HTCondor manual, "Submit description file commands: macros"); a value that
// holds a line break, '$$' or '$(DOLLAR)' cannot be written and is refused.
// The tests check every description with HTCondor's own parser (the htcondor2
// and classad2 bindings).

import type { JobRequest, StartJob } from '@autocal/contracts'

function quoteItem (item: string): string {
  const escaped = item.replace(/"/g, '""')
  return /[\s']/.test(item) || item === '' ? `'${escaped.replace(/'/g, "''")}'` : escaped
}

export const condorArguments = (args: string[]): string => `"${args.map(quoteItem).join(' ')}"`

export const condorEnvironment = (env: Record<string, string>): string =>
  `"${Object.entries(env).map(([k, v]) => quoteItem(`${k}=${v}`)).join(' ')}"`

/** A ClassAd string literal: in double quotes, backslash and double quote escaped with a backslash. */
export const classAdString = (s: string): string => `"${s.replace(/[\\"]/g, c => `\\${c}`)}"`

/**
 * The constraint that finds the HTCondor job of one (autocal job id, try),
 * from the attributes every submit description carries: how an executor that
 * took over a job whose submission was never recorded learns whether it was
 * submitted, before submitting it again.
 */
export const condorConstraint = (jobId: string, attempt: number): string => `AutocalJobId == ${classAdString(jobId)} && AutocalTry == ${attempt}`

export interface CondorJobSpec {
  jobId: string
  /** The try of the job (a new try is a new HTCondor job). */
  try: number
  argv: string[]
  env: Record<string, string>
  outdir: string
  stdout: string
  stderr: string
  eventLog: string
  timeoutS: number
  cpus: number
  memoryMb: number
  diskMb: number
  /** Further job ClassAd attributes, values as ClassAd expressions (strings quoted by the caller). */
  attributes?: Record<string, string>
  /** Container image: the job runs in HTCondor's container universe, its executable a path inside the image. */
  image?: string
  /** `accounting_group` of the job; '' or absent = the schedd's default. */
  accountingGroup?: string
  /** CERN batch job flavour (`+JobFlavour`), e.g. "longlunch"; '' or absent = none. */
  jobFlavour?: string
}

/**
 * The HTCondor job of one start request (the executor's htcondor backend and an agent submitting to its
 * schedd): argv, resources, image and batch options from the request, the environment built by the caller
 * (jobEnvironment), stdout and stderr both into `logFile`.
 */
export function condorJobOf (request: JobRequest, start: StartJob, outdir: string, logFile: string, env: Record<string, string>): Omit<CondorJobSpec, 'eventLog'> {
  return {
    jobId: request.jobId,
    try: request.try,
    argv: start.argv,
    env,
    outdir,
    stdout: logFile,
    stderr: logFile,
    timeoutS: start.timeoutS,
    cpus: start.resources?.cpus ?? 0,
    memoryMb: start.resources?.memoryMb ?? 0,
    diskMb: start.resources?.diskMb ?? 0,
    image: start.image,
    accountingGroup: start.accountingGroup,
    jobFlavour: start.jobFlavour
  }
}

/**
 * Why `value` cannot go into a submit description, or undefined when it can:
 * a line break ends the submit command; `$$` is HTCondor's match-time
 * substitution (`$$(Memory)`), kept or replaced whatever is written; and
 * `$(DOLLAR)` (in any case) is the macro that writes a `$`, collapsed to `$`
 * wherever it appears. Every other value is read back exactly once its `$`
 * are written as `$(DOLLAR)` (checked against HTCondor's parser over every
 * string of up to four symbols of `$ ( ) DOLLAR dollar ' "` and space, in the
 * tests). `what` names the value in the message, e.g. "argument 2".
 */
export function submitValueProblem (value: string, what: string): string | undefined {
  const shown = JSON.stringify(value.slice(0, 60))
  if (/[\r\n\0]/.test(value)) return `${what} ${shown} holds a line break or NUL, which a submit description cannot hold`
  if (value.includes('$$')) return `${what} ${shown} holds '$$', which HTCondor keeps for its match-time $$( substitution and cannot write literally`
  if (/\$\(dollar\)/i.test(value)) return `${what} ${shown} holds '$(DOLLAR)', HTCondor's macro for '$', which it cannot write literally`
  return undefined
}

/** A value as condor_submit must read it: every $ as the $(DOLLAR) macro, so that no macro of the value is expanded. */
const literal = (value: string): string => value.replace(/\$/g, '$(DOLLAR)')

/**
 * The submit description of one job (one `queue 1`), every value written so
 * that condor_submit reads exactly it back. Throws an Error naming the value
 * when one cannot be written (see submitValueProblem).
 */
export function submitDescription (s: CondorJobSpec): string {
  const problems = [
    ...s.argv.map((a, i) => submitValueProblem(a, i === 0 ? 'the executable' : `argument ${i}`)),
    ...Object.entries(s.env).map(([k, v]) => submitValueProblem(`${k}=${v}`, `environment variable ${k}`)),
    ...[s.outdir, s.stdout, s.stderr, s.eventLog, s.jobId].map(v => submitValueProblem(v, 'the value')),
    ...[['the image', s.image], ['the accounting group', s.accountingGroup], ['the job flavour', s.jobFlavour]].map(([what, v]) => v === undefined ? undefined : submitValueProblem(v, what as string))
  ].filter(p => p !== undefined)
  if (problems.length > 0) throw new Error(`cannot write the HTCondor submit description of job ${s.jobId}: ${problems.join('; ')}`)
  const lines = [
    '# written by the autocal job-executor',
    ...(s.image === undefined || s.image === ''
      ? ['universe = vanilla']
      : ['universe = container', `container_image = ${literal(s.image)}`, 'transfer_executable = false']),
    `executable = ${literal(s.argv[0] ?? '')}`,
    `arguments = ${literal(condorArguments(s.argv.slice(1)))}`,
    `environment = ${literal(condorEnvironment(s.env))}`,
    `initialdir = ${literal(s.outdir)}`,
    `output = ${literal(s.stdout)}`,
    `error = ${literal(s.stderr)}`,
    `log = ${literal(s.eventLog)}`,
    'getenv = false',
    'should_transfer_files = NO',
    `+AutocalJobId = ${literal(classAdString(s.jobId))}`,
    `+AutocalTry = ${s.try}`
  ]
  if (s.jobFlavour !== undefined && s.jobFlavour !== '') lines.push(`+JobFlavour = ${literal(classAdString(s.jobFlavour))}`)
  if (s.accountingGroup !== undefined && s.accountingGroup !== '') lines.push(`accounting_group = ${literal(s.accountingGroup)}`)
  for (const [k, v] of Object.entries(s.attributes ?? {})) lines.push(`+${k} = ${literal(v)}`)
  if (s.cpus > 0) lines.push(`request_cpus = ${s.cpus}`)
  if (s.memoryMb > 0) lines.push(`request_memory = ${s.memoryMb}`)
  if (s.diskMb > 0) lines.push(`request_disk = ${s.diskMb * 1024}`) // KiB
  if (s.timeoutS > 0) lines.push(`allowed_execute_duration = ${s.timeoutS}`)
  lines.push('queue 1', '')
  return lines.join('\n')
}

/** `condor_submit -terse` prints "<cluster>.<first proc> - <cluster>.<last proc>". */
export function parseTerseSubmit (stdout: string): string | undefined {
  return /^\s*(\d+\.\d+)\s*-\s*\d+\.\d+\s*$/m.exec(stdout)?.[1]
}
