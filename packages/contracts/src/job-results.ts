// A task's numeric results from its jobs' (JobStatus.results, TaskJob.results),
// as the dispatcher's status API and the metrics service both show them.

/**
 * The numeric results of a task's jobs as one map: a one-job task's as they are; with several jobs, each name
 * of job N as `<name>_j<N>` (still a valid `result` name). Jobs without results add nothing.
 */
export function taskResults (jobs: ReadonlyArray<{ index: number, results?: Readonly<Record<string, number>> | undefined }>): Record<string, number> {
  const out: Record<string, number> = {}
  const several = jobs.length > 1
  for (const j of jobs) for (const [name, value] of Object.entries(j.results ?? {})) out[several ? `${name}_j${j.index}` : name] = value
  return out
}
