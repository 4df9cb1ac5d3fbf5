// How a finished process becomes a job outcome. Pure.

export interface ProcessEnd {
  exitCode: number | null
  signal: string
  /** Killed by us because its time ran out. */
  timedOut: boolean
  timeoutS: number
  /** Killed by us on an operator's cancel. */
  cancelled: boolean
  cancelReason: string
  /** Declared outputs that do not exist. */
  missingOutputs: string[]
  /** Why the manifest could not be used, if so. */
  manifestProblem?: string | undefined
}

export interface Outcome {
  phase: 'done' | 'failed'
  reason: string
  /** Running it again may succeed (the dispatcher retries within the task's budget). */
  retryable: boolean
}

export function outcomeOf (end: ProcessEnd): Outcome {
  if (end.cancelled) return { phase: 'failed', reason: `cancelled${end.cancelReason === '' ? '' : `: ${end.cancelReason}`}`, retryable: false }
  if (end.timedOut) return { phase: 'failed', reason: `timeout after ${end.timeoutS} s (process group killed)`, retryable: true }
  if (end.signal !== '') return { phase: 'failed', reason: `killed by ${end.signal}`, retryable: true }
  if (end.exitCode !== 0) return { phase: 'failed', reason: `exit code ${end.exitCode ?? 'unknown'}`, retryable: true }
  if (end.manifestProblem !== undefined) return { phase: 'failed', reason: end.manifestProblem, retryable: false }
  if (end.missingOutputs.length > 0) return { phase: 'failed', reason: `declared output missing: ${end.missingOutputs.join(', ')}`, retryable: false }
  return { phase: 'done', reason: '', retryable: false }
}

/** Exit status as a shell reports it (128 + n for signal n) back to code or signal. */
export function decodeShellStatus (status: number, signals: Record<string, number>): { exitCode: number | null, signal: string } {
  if (status > 128) {
    const name = Object.entries(signals).find(([, n]) => n === status - 128)?.[0]
    if (name !== undefined) return { exitCode: null, signal: name }
  }
  return { exitCode: status, signal: '' }
}
