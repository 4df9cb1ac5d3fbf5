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
      retryable: !permanentHolds.has(ad.HoldReasonCode ?? 0)
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
  containerStatuses?: Array<{ state?: { terminated?: { exitCode: number, signal?: number, reason?: string } } }>
}

export function kubeState (job: KubeJobStatus, pods: KubePodStatus[] = []): BatchState {
  const condition = (type: string) => job.conditions?.find(c => c.type === type && c.status === 'True')
  const terminated = pods.map(p => p.containerStatuses?.[0]?.state?.terminated).find(t => t !== undefined)
  const evicted = pods.find(p => p.reason === 'Evicted')
  if (condition('Complete') !== undefined) return { phase: 'done', exitCode: 0, reason: '', retryable: false }
  const failed = condition('Failed')
  if (failed !== undefined) {
    if (evicted !== undefined) return { phase: 'failed', reason: `pod evicted: ${evicted.message ?? 'no message'}`, retryable: true }
    if (failed.reason === 'DeadlineExceeded') return { phase: 'failed', reason: `timeout: ${failed.message ?? 'activeDeadlineSeconds exceeded'}`, retryable: true }
    return {
      phase: 'failed',
      ...(terminated === undefined ? {} : { exitCode: terminated.exitCode }),
      reason: `kubernetes job failed: ${failed.reason ?? 'unknown'}${terminated === undefined ? '' : ` (exit code ${terminated.exitCode})`}`,
      retryable: true
    }
  }
  if (evicted !== undefined && (job.active ?? 0) === 0) return { phase: 'failed', reason: `pod evicted: ${evicted.message ?? 'no message'}`, retryable: true }
  if ((job.active ?? 0) > 0) return { phase: 'running', reason: '', retryable: false }
  return { phase: 'queued', reason: '', retryable: false }
}
