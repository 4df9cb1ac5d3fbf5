// The environment a job runs with, built from an allow-list and never from the
// executor's own environment: the few basics the executor passes on by name
// (PATH, LANG, …; never an AUTOCAL_* key, so no service token or password),
// the request's own variables, then the AUTOCAL_* job variables of the
// contract. Pure.
import { passedEnvProblem, type JobRequest } from '@autocal/contracts'

/** Variables of the executor's environment passed to jobs by default (AUTOCAL_EXECUTOR_JOB_ENV). */
export const defaultPassedEnv = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR', 'PYTHONPATH']

/** The allow-listed variables of `env` (the executor's environment) that are set. */
export function baseEnvironment (names: readonly string[], env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const name of names) {
    if (passedEnvProblem(name) !== undefined) continue
    const value = env[name]
    if (value !== undefined) out[name] = value
  }
  return out
}

/**
 * The variables a workflow may ask for by name (StartJob.pass_env) on this
 * executor: the names of AUTOCAL_EXECUTOR_JOB_EXTRA_ENV and the values they
 * have in the executor's environment (from `baseEnvironment`).
 */
export interface ExtraEnv { allowed: readonly string[], values: Record<string, string> }

export const noExtraEnv: ExtraEnv = { allowed: [], values: {} }

/**
 * The variables one job asks for by name, from `extra`. Throws an Error naming
 * the first one this executor does not pass (not in AUTOCAL_EXECUTOR_JOB_EXTRA_ENV)
 * or does not have (allowed but unset in its environment); the job then fails
 * to start with that reason.
 */
export function requestedEnvironment (names: readonly string[], extra: ExtraEnv): Record<string, string> {
  const out: Record<string, string> = {}
  for (const name of names) {
    if (!extra.allowed.includes(name)) throw new Error(`the job asks for environment variable ${name}, which this executor does not pass (AUTOCAL_EXECUTOR_JOB_EXTRA_ENV: ${extra.allowed.join(', ') || 'empty'})`)
    const value = Object.hasOwn(extra.values, name) ? extra.values[name] : undefined
    if (value === undefined) throw new Error(`the job asks for environment variable ${name}, which is allowed but not set on this executor`)
    out[name] = value
  }
  return out
}

/**
 * The whole environment of one job: `baseEnv` (from `baseEnvironment`), the
 * variables it asks for by name (`requestedEnvironment` from `extra`), the
 * request's `env`, then the AUTOCAL_* job variables (which the request cannot
 * override). Throws as `requestedEnvironment` does.
 */
export function jobEnvironment (request: JobRequest, outdir: string, baseEnv: Record<string, string>, extra: ExtraEnv = noExtraEnv): Record<string, string> {
  const start = request.action.case === 'start' ? request.action.value : undefined
  const p = request.provenance
  return {
    ...baseEnv,
    ...requestedEnvironment(start?.passEnv ?? [], extra),
    ...start?.env,
    AUTOCAL_CAMPAIGN: p?.campaign ?? '',
    AUTOCAL_SUBSYSTEM: p?.subsystem ?? '',
    AUTOCAL_WORKFLOW: p?.workflow ?? '',
    AUTOCAL_TASK: p?.task ?? '',
    AUTOCAL_BLOCK: p?.blockId ?? '',
    AUTOCAL_ATTEMPT: String(p?.taskAttempt ?? 1),
    AUTOCAL_RUNS: (p?.inputRuns ?? []).join(','),
    AUTOCAL_JOB: String(request.jobIndex),
    AUTOCAL_NJOBS: String(start?.njobs ?? 1),
    AUTOCAL_INPUTS: (start?.inputs ?? []).join(','),
    AUTOCAL_OUTDIR: outdir,
    AUTOCAL_JOB_ID: request.jobId,
    AUTOCAL_TRY: String(request.try)
  }
}

/** A job id as a file name. */
export const fileSafe = (s: string): string => s.replace(/[^A-Za-z0-9._-]+/g, '_')
