// Which jobs are still open, from the job topics alone, and what to do with
// each when the executor's job table (Redis) was lost. The topics are the log
// of record (DESIGN §4 rule 1): `jobs.requests` says which (job id, try) were
// asked to start or to be cancelled, `jobs.status` what the executors reported
// of each. A try with a DONE or FAILED status has ended (a redelivered request
// must start nothing: its done mark is restored); any other requested try is
// open and must be followed again, or reported, but never started twice.

export type JobBackend = 'local' | 'agent' | 'htcondor' | 'kubernetes'
export type ReportedPhase = 'queued' | 'running' | 'done' | 'failed'

/** One (job id, try) as the topics tell it; `request` is the start request as it was sent (opaque here). */
export interface JobHistory<R> {
  key: string
  jobId: string
  try: number
  /** The start request; undefined when only a cancel or a status was seen. */
  request?: R
  backend?: JobBackend | string
  cancelled: boolean
  /** The reason of the last cancel request ('' = none given). */
  cancelReason: string
  /** The furthest phase reported: none < queued < running < ended. */
  phase: 'none' | 'queued' | 'running' | 'ended'
  /** The backend's id of the job, from the last status that named one (pid, HTCondor id, Job name, `<agent>/<id>`). */
  backendId: string
}

/** The key of a (job id, try) in the executor's table: `<job id>#<try>`. */
export const jobKey = (jobId: string, tryNo: number): string => `${jobId}#${tryNo}`

const rank = { none: 0, queued: 1, running: 2, ended: 3 } as const

function historyOf<R> (ledger: Map<string, JobHistory<R>>, jobId: string, tryNo: number): JobHistory<R> {
  const key = jobKey(jobId, tryNo)
  let h = ledger.get(key)
  if (h === undefined) {
    h = { key, jobId, try: tryNo, cancelled: false, cancelReason: '', phase: 'none', backendId: '' }
    ledger.set(key, h)
  }
  return h
}

/** Records one message of `jobs.requests`: a start (with its backend, '' = local) or a cancel. */
export function recordRequest<R> (ledger: Map<string, JobHistory<R>>, r: { jobId: string, try: number, action: 'start' | 'cancel', backend?: string, reason?: string, request?: R }): void {
  const h = historyOf(ledger, r.jobId, r.try)
  if (r.action === 'cancel') {
    h.cancelled = true
    h.cancelReason = r.reason ?? ''
    return
  }
  if (r.request !== undefined) h.request = r.request
  h.backend = r.backend === undefined || r.backend === '' ? 'local' : r.backend
}

/** Records one message of `jobs.status`; statuses may come in any order across partitions: the furthest phase wins. */
export function recordStatus<R> (ledger: Map<string, JobHistory<R>>, s: { jobId: string, try: number, phase: ReportedPhase, backendId: string }): void {
  const h = historyOf(ledger, s.jobId, s.try)
  const phase = s.phase === 'done' || s.phase === 'failed' ? 'ended' : s.phase
  if (rank[phase] > rank[h.phase]) h.phase = phase
  if (s.backendId !== '') h.backendId = s.backendId
}

/** Splits the ledger: tries that ended (their done marks), and open tries that have a start request. */
export function settleLedger<R> (ledger: ReadonlyMap<string, JobHistory<R>>): { ended: string[], open: Array<JobHistory<R> & { request: R }> } {
  const ended: string[] = []
  const open: Array<JobHistory<R> & { request: R }> = []
  for (const h of ledger.values()) {
    if (h.phase === 'ended') ended.push(h.key)
    else if (h.request !== undefined) open.push(h as JobHistory<R> & { request: R })
  }
  return { ended, open }
}

/** What this pod's files say of a local job: the wrapper writes its process group id first, its exit status last. */
export interface LocalEvidence {
  /** The pid file's process group id; undefined = the wrapper never ran here. */
  pid?: number | undefined
  /** The process group still has a process. */
  alive: boolean
  /** The exit file's status; undefined = none yet. */
  exitStatus?: number | undefined
}

export type RecoveryDecision =
  /** A local process of this pod (running, or ended with an exit status): followed from its pid and exit file. */
  | { kind: 'follow', pid: number }
  /** Never started where it could be seen, never reported running: queued again under the same try (started once). */
  | { kind: 'queue' }
  /** An agent job an agent holds: assigned to it again (its results are accepted). */
  | { kind: 'assign', agent: string }
  /** A batch job: looked up by its autocal job id and try before anything is submitted (`backendId` when a status named it). */
  | { kind: 'look-up', backendId?: string, runningReported: boolean }
  /** Cannot be followed: reported FAILED with the reason, so that the dispatcher retries with the next try. */
  | { kind: 'fail', reason: string, retryable: boolean }

/**
 * The decision for one open (job id, try) whose entry was lost with the
 * executor's Redis state. `local` = what this pod's files say (local
 * backend); `agentHolding` = the agent connected here that still holds the
 * job, if any. Rules: a process seen here is followed, never started again;
 * a local job reported running but not seen here, or seen without a process
 * or exit status, is failed as retryable (the retry is a new try); a job with
 * no sign of a start is queued again; batch jobs are looked up first (the
 * same rule as a submission recorded as `submittingAtMs`); agent jobs go back
 * to the agent that holds or ran them, else to the queue.
 */
export function recoveryDecision (job: Pick<JobHistory<unknown>, 'backend' | 'phase' | 'backendId'>, local: LocalEvidence, agentHolding?: string): RecoveryDecision {
  switch (job.backend) {
    case undefined:
    case 'local': {
      if (local.pid !== undefined && (local.alive || local.exitStatus !== undefined)) return { kind: 'follow', pid: local.pid }
      if (local.pid !== undefined || local.exitStatus !== undefined) return { kind: 'fail', reason: 'executor state lost (Redis): the job process is gone without an exit status', retryable: true }
      if (job.phase === 'running') return { kind: 'fail', reason: 'executor state lost (Redis): the job was reported running, but its process is not in this pod', retryable: true }
      return { kind: 'queue' }
    }
    case 'agent': {
      if (agentHolding !== undefined) return { kind: 'assign', agent: agentHolding }
      const agent = job.backendId.includes('/') ? job.backendId.slice(0, job.backendId.indexOf('/')) : ''
      if (job.phase === 'running' && agent !== '') return { kind: 'assign', agent }
      return { kind: 'queue' }
    }
    case 'htcondor':
    case 'kubernetes':
      return job.phase === 'running' && job.backendId !== ''
        ? { kind: 'look-up', backendId: job.backendId, runningReported: true }
        : { kind: 'look-up', runningReported: job.phase === 'running' }
    default:
      return { kind: 'fail', reason: `backend '${job.backend}' is not available on this executor`, retryable: false }
  }
}
