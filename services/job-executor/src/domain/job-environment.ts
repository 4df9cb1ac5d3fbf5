// The environment a job runs with: the executor's base environment, the
// request's own variables, then the AUTOCAL_* variables of the contract. Pure.
import type { JobRequest } from '@autocal/contracts'

export function jobEnvironment (request: JobRequest, outdir: string, baseEnv: Record<string, string>): Record<string, string> {
  const start = request.action.case === 'start' ? request.action.value : undefined
  const p = request.provenance
  return {
    ...baseEnv,
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
