// `autocal jobs` and `autocal outputs`: the jobs and outputs of the selected
// tasks (the dispatcher's ListTasks), as tab-separated lines. Pure.
import { JobState, type TaskEvent } from '@autocal/contracts'

const jobStateName: Record<number, string> = { [JobState.UNSPECIFIED]: '?', [JobState.IDLE]: 'idle', [JobState.RUNNING]: 'running', [JobState.DONE]: 'done', [JobState.FAILED]: 'failed' }

/** Job id as the dispatcher gives it to the executor: "<campaign>/<block id>/<task>/<attempt>/<index>". */
export const jobIdOf = (t: Pick<TaskEvent, 'campaign' | 'task' | 'attempt' | 'block'>, index: number): string => `${t.campaign}/${t.block?.id ?? ''}/${t.task}/${t.attempt}/${index}`

export interface JobRow { job: string, runs: number[], state: string, try: number, backend: string, backendId: string, reason: string, log: string }

/**
 * One row per job of each task's current attempt: id, runs, state, try, the backend and its id of the try
 * (local pid, "<agent>/<pid>", HTCondor cluster.proc, Kubernetes Job name; '' until the executor reported it),
 * reason (failed), log link.
 */
export function jobRows (tasks: readonly TaskEvent[]): JobRow[] {
  return tasks.flatMap(t => t.jobs.map(j => ({ job: jobIdOf(t, j.index), runs: t.block?.runs ?? [], state: jobStateName[j.state] ?? '?', try: j.try, backend: j.backend, backendId: j.backendId, reason: j.reason, log: j.logUrl })))
}

/** The rows as tab-separated lines under a header, and a count line. */
export function jobLines (rows: readonly JobRow[]): string[] {
  const failed = rows.filter(r => r.state === 'failed').length
  return ['JOB\tRUNS\tSTATE\tTRY\tBACKEND\tLOG\tREASON', ...rows.map(r => `${r.job}\t${runsText(r.runs)}\t${r.state}\t${r.try}\t${r.backend === '' ? '-' : `${r.backend} ${r.backendId || '-'}`}\t${r.log || '-'}\t${r.reason}`), `${rows.length} job(s), ${failed} failed`]
}

export interface OutputRow { task: string, block: string, runs: number[], path: string, sizeBytes: bigint, sha256: string, label: string }

/** Outputs of the selected tasks (done tasks carry them), optionally of one era only (the block's era). */
export function outputRows (tasks: readonly TaskEvent[], era?: string): OutputRow[] {
  return tasks.filter(t => era === undefined || t.block?.era === era).flatMap(t => t.outputs.map(o => ({ task: t.task, block: t.block?.id ?? '', runs: t.block?.runs ?? [], path: o.path, sizeBytes: o.sizeBytes, sha256: o.sha256, label: o.label })))
}

export function outputLines (rows: readonly OutputRow[]): string[] {
  return ['TASK\tBLOCK\tRUNS\tSIZE\tSHA256\tLABEL\tPATH', ...rows.map(r => `${r.task}\t${r.block}\t${runsText(r.runs)}\t${r.sizeBytes}\t${r.sha256}\t${r.label || '-'}\t${r.path}`), `${rows.length} output(s)`]
}

const runsText = (runs: readonly number[]): string => runs.length <= 3 ? runs.join(',') : `${runs[0] ?? ''}…${runs.at(-1) ?? ''} (${runs.length})`
