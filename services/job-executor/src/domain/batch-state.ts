// Batch system states → job phases. Pure.
//   HTCondor JobStatus: 1 Idle, 2 Running, 3 Removed, 4 Completed, 5 Held,
//                       6 Transferring Output, 7 Suspended
//   Kubernetes batch/v1 Job: conditions Complete / Failed (reason
//                       DeadlineExceeded, BackoffLimitExceeded, ...), active
//                       pods; a pod evicted by the node (status.reason Evicted)

export interface BatchState {
  phase: 'queued' | 'running' | 'done' | 'failed'
  exitCode?: number
  signal?: string
  reason: string
  retryable: boolean
  /**
   * The failed job still occupies the batch system (a held HTCondor job that
   * the pool may release, a failed or never-starting Kubernetes Job): remove it
   * before the failure is reported, so that no retry runs beside it.
   */
  remove?: true
}

export interface CondorAd {
  JobStatus?: number
  ExitCode?: number
  ExitBySignal?: boolean
  ExitSignal?: number
  HoldReason?: string
  HoldReasonCode?: number
  RemoveReason?: string
}

// hold codes that no retry will fix: held by a user (1), submitted on hold (15), job policy (3, 26: user's own expression)
const permanentHolds = new Set([1, 3, 15, 26])

export function condorState (ad: CondorAd, signalName: (n: number) => string = n => `signal ${n}`): BatchState {
  switch (ad.JobStatus ?? 0) {
    case 1: return { phase: 'queued', reason: '', retryable: false }
    case 2: case 6: case 7: return { phase: 'running', reason: '', retryable: false }
    case 3: return { phase: 'failed', reason: `removed from HTCondor${ad.RemoveReason === undefined ? '' : `: ${ad.RemoveReason}`}`, retryable: false }
    case 4:
      if (ad.ExitBySignal === true) return { phase: 'failed', signal: signalName(ad.ExitSignal ?? 0), reason: `killed by ${signalName(ad.ExitSignal ?? 0)}`, retryable: true }
      if (ad.ExitCode === 0) return { phase: 'done', exitCode: 0, reason: '', retryable: false }
      return { phase: 'failed', exitCode: ad.ExitCode ?? -1, reason: `exit code ${ad.ExitCode ?? 'unknown'}`, retryable: true }
    case 5: return {
      phase: 'failed',
      reason: `held by HTCondor: ${ad.HoldReason ?? 'no reason given'}${ad.HoldReasonCode === undefined ? '' : ` (HoldReasonCode ${ad.HoldReasonCode})`}`,
      retryable: !permanentHolds.has(ad.HoldReasonCode ?? 0),
      remove: true // a held job stays in the queue: released later, it would run beside the retry
    }
    default: return { phase: 'failed', reason: `unknown HTCondor JobStatus ${String(ad.JobStatus)}`, retryable: true }
  }
}

export interface KubeJobStatus {
  active?: number
  succeeded?: number
  failed?: number
  conditions?: Array<{ type: string, status: string, reason?: string, message?: string }>
}

export interface KubePodStatus {
  phase?: string
  reason?: string
  message?: string
  conditions?: Array<{ type: string, status: string, reason?: string, message?: string, lastTransitionTime?: string | Date }>
  containerStatuses?: Array<{ state?: { terminated?: { exitCode: number, signal?: number, reason?: string }, waiting?: { reason?: string, message?: string } } }>
}

// a container waiting for one of these will not start by itself: its image cannot be pulled or its spec is wrong
const neverStarts = new Map([
  ['ErrImagePull', true], ['ImagePullBackOff', true], ['InvalidImageName', false],
  ['CreateContainerConfigError', false], ['CreateContainerError', true]
])

/** How long a pod may stay unschedulable before its job is reported as one that cannot start. */
export const unschedulableAfterMs = 5 * 60_000

/**
 * A Kubernetes Job's state from its status and its pods' statuses. A job that
 * cannot start (an image that cannot be pulled, a bad container spec, a pod
 * unschedulable for longer than `unschedulableMs`) fails with the reason
 * Kubernetes gives, at once rather than at its deadline; every failed Job is
 * to be removed (`remove`).
 */
export function kubeState (job: KubeJobStatus, pods: KubePodStatus[] = [], nowMs = Date.now(), unschedulableMs = unschedulableAfterMs): BatchState {
  const condition = (type: string) => job.conditions?.find(c => c.type === type && c.status === 'True')
  const terminated = pods.map(p => p.containerStatuses?.[0]?.state?.terminated).find(t => t !== undefined)
  const evicted = pods.find(p => p.reason === 'Evicted')
  if (condition('Complete') !== undefined) return { phase: 'done', exitCode: 0, reason: '', retryable: false }
  const failed = condition('Failed')
  if (failed !== undefined) {
    if (evicted !== undefined) return { phase: 'failed', reason: `pod evicted: ${evicted.message ?? 'no message'}`, retryable: true, remove: true }
    if (failed.reason === 'DeadlineExceeded') return { phase: 'failed', reason: `timeout: ${failed.message ?? 'activeDeadlineSeconds exceeded'}`, retryable: true, remove: true }
    return {
      phase: 'failed',
      ...(terminated === undefined ? {} : { exitCode: terminated.exitCode }),
      reason: `kubernetes job failed: ${failed.reason ?? 'unknown'}${terminated === undefined ? '' : ` (exit code ${terminated.exitCode})`}`,
      retryable: true,
      remove: true
    }
  }
  if (evicted !== undefined && (job.active ?? 0) === 0) return { phase: 'failed', reason: `pod evicted: ${evicted.message ?? 'no message'}`, retryable: true, remove: true }
  for (const pod of pods) {
    const waiting = pod.containerStatuses?.map(c => c.state?.waiting).find(w => w?.reason !== undefined && neverStarts.has(w.reason))
    if (waiting !== undefined) {
      return { phase: 'failed', reason: `cannot start: ${waiting.reason!}${waiting.message === undefined ? '' : `: ${waiting.message}`}`, retryable: neverStarts.get(waiting.reason!)!, remove: true }
    }
    const unschedulable = pod.conditions?.find(c => c.type === 'PodScheduled' && c.status === 'False' && c.reason === 'Unschedulable')
    const since = unschedulable?.lastTransitionTime === undefined ? undefined : new Date(unschedulable.lastTransitionTime).getTime()
    if (unschedulable !== undefined && since !== undefined && nowMs - since >= unschedulableMs) {
      return { phase: 'failed', reason: `cannot start: unschedulable for ${Math.round((nowMs - since) / 1000)} s: ${unschedulable.message ?? 'no message'}`, retryable: true, remove: true }
    }
  }
  if ((job.active ?? 0) > 0) return { phase: 'running', reason: '', retryable: false }
  return { phase: 'queued', reason: '', retryable: false }
}

/** A job's declared outputs as the executor found them (adapters/local-process.ts readOutputs). */
export interface OutputsFound<O> { outputs: O[], missing: string[], problem: string | undefined, results?: Record<string, number> }

/** How a batch job that has ended is reported: done with its outputs, or failed with a reason. */
export type BatchEnd<O> =
  | { phase: 'done', exitCode: 0, outputs: O[], results: Record<string, number> }
  | { phase: 'failed', reason: string, retryable: boolean, exitCode?: number, signal?: string }

/**
 * The end of a batch job (HTCondor, Kubernetes; the executor's batch jobs and an agent that submits to
 * its schedd): a job the batch system finished with exit code 0 is done only when its outputs manifest
 * reads and every declared output exists (else failed, not retryable: a new try writes the same manifest);
 * a failed one keeps the batch system's reason, exit code and signal. `found` is read by the caller once
 * `state.phase` is 'done' (it is ignored otherwise). Undefined while the job is queued or running.
 */
export function batchEnd<O> (state: BatchState, found: OutputsFound<O> | undefined): BatchEnd<O> | undefined {
  if (state.phase === 'failed') {
    return { phase: 'failed', reason: state.reason, retryable: state.retryable, ...(state.exitCode === undefined ? {} : { exitCode: state.exitCode }), ...(state.signal === undefined ? {} : { signal: state.signal }) }
  }
  if (state.phase !== 'done') return undefined
  if (found === undefined) return { phase: 'failed', reason: 'outputs not read', retryable: true, exitCode: 0 }
  if (found.problem !== undefined) return { phase: 'failed', reason: found.problem, retryable: false, exitCode: 0 }
  if (found.missing.length > 0) return { phase: 'failed', reason: `declared output missing: ${found.missing.join(', ')}`, retryable: false, exitCode: 0 }
  return { phase: 'done', exitCode: 0, outputs: found.outputs, results: found.results ?? {} }
}
