// An HTCondor submit description for one job. Pure. Arguments and environment
// use HTCondor's "new syntax": the whole value in double quotes, items
// separated by spaces, an item with spaces or quotes in single quotes, a single
// quote doubled inside it, a double quote doubled everywhere.

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
}

export function submitDescription (s: CondorJobSpec): string {
  const lines = [
    '# written by the autocal job-executor',
    'universe = vanilla',
    `executable = ${s.argv[0]}`,
    `arguments = ${condorArguments(s.argv.slice(1))}`,
    `environment = ${condorEnvironment(s.env)}`,
    `initialdir = ${s.outdir}`,
    `output = ${s.stdout}`,
    `error = ${s.stderr}`,
    `log = ${s.eventLog}`,
    'getenv = false',
    'should_transfer_files = NO',
    `+AutocalJobId = ${classAdString(s.jobId)}`,
    `+AutocalTry = ${s.try}`
  ]
  for (const [k, v] of Object.entries(s.attributes ?? {})) lines.push(`+${k} = ${v}`)
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
