// Gates that end (issue 15): a task's readiness gates may have a timeout and
// a policy (`when: { timeout: 12h, onTimeout: fail | skip | run }`), and an
// operator may force a gate open (`autocal gate force`). Pure: the pending
// gates (gates.ts) and the task's gate record come in, decisions go out; the
// state machine (task-state.ts) applies them.
//
// The clock: a task's gate timeout counts from `waitingSinceMs`, the moment it
// first waited on readiness gates alone: its block closed and every upstream
// task done (no `block-closed`, `needs:`, `blocked:` or `concurrency:` gate
// pending). Waiting for a block to close or for upstream work is not a gate
// that hangs: the block has its own closing rules (and `autocal block close`),
// upstream tasks their own timeouts and retries.
import { parseDuration } from './duration.ts'

/** What happens to a task whose readiness gates are not all open after the timeout. */
export type GateTimeoutPolicy = 'fail' | 'skip' | 'run'
export const gateTimeoutPolicies: readonly GateTimeoutPolicy[] = ['fail', 'skip', 'run']

/** A task's gate timeout (`when.timeout`, `when.onTimeout`). */
export interface GateTimeoutRule {
  /** Seconds from `waitingSinceMs`. */
  afterS: number
  policy: GateTimeoutPolicy
}

/** One gate forced open by an operator. */
export interface ForcedGate { gate: string, actor: string, reason: string, commandId: string, atMs: number }

/** The gates still closed at the timeout and the policy that applied. */
export interface GateTimedOut { gates: string[], policy: GateTimeoutPolicy, afterS: number, atMs: number }

/** A task's gates over time (TaskGates in tasks/v1/gates.proto); reset by reprocess (a new attempt). */
export interface TaskGateRecord {
  waitingSinceMs?: number
  forced: ForcedGate[]
  timedOut?: GateTimedOut
}

/** Gate kinds (the part of a gate name before ':') that are readiness gates: the ones a timeout ends and an operator may force. */
export const readinessGateKinds: readonly string[] = ['t0StreamDone', 't0DatasetDone', 'minDuration', 'minLumi', 'http']

const kindOf = (gate: string): string => gate.includes(':') ? gate.slice(0, gate.indexOf(':')) : gate

/** Whether `gate` (a name of gates.ts `pendingGates`) is a readiness gate. */
export const isReadinessGate = (gate: string): boolean => readinessGateKinds.includes(kindOf(gate))

/** The pending gates an operator has not forced open (`forced` names exact gate names). */
export function notForced (pending: readonly string[], record: TaskGateRecord | undefined): string[] {
  const forced = new Set((record?.forced ?? []).map(f => f.gate))
  return pending.filter(g => !forced.has(g))
}

/**
 * When the gate clock started, given the gates pending now (after forcing):
 * readiness gates alone → the clock kept from before (`sinceMs`) or `nowMs`;
 * anything else (none pending, or a block, upstream or concurrency gate) → undefined.
 */
export function waitingSince (pending: readonly string[], sinceMs: number | undefined, nowMs: number): number | undefined {
  if (pending.length === 0 || !pending.every(isReadinessGate)) return undefined
  return sinceMs ?? nowMs
}

export type GateTimeoutDecision =
  | { kind: 'wait' }
  | { kind: 'timed-out', gates: string[], policy: GateTimeoutPolicy, afterS: number }

/**
 * Whether the gate timeout has passed: `rule` set, the clock running
 * (`sinceMs`, see waitingSince) and `nowMs − sinceMs ≥ afterS × 1000` → the
 * pending gates timed out under the rule's policy; otherwise wait.
 */
export function gateTimeoutDecision (rule: GateTimeoutRule | undefined, pending: readonly string[], sinceMs: number | undefined, nowMs: number): GateTimeoutDecision {
  if (rule === undefined || sinceMs === undefined || pending.length === 0) return { kind: 'wait' }
  if (nowMs - sinceMs < rule.afterS * 1000) return { kind: 'wait' }
  return { kind: 'timed-out', gates: [...pending], policy: rule.policy, afterS: rule.afterS }
}

/** A duration in seconds as an operator reads it: 12h, 1h30m, 90s, 2d. */
export function durationText (s: number): string {
  const parts: string[] = []
  let left = Math.round(s)
  for (const [unit, size] of [['d', 86_400], ['h', 3600], ['m', 60]] as const) {
    if (left >= size) {
      parts.push(`${Math.floor(left / size)}${unit}`)
      left %= size
    }
  }
  if (left > 0 || parts.length === 0) parts.push(`${left}s`)
  return parts.join('')
}

/** "gate t0StreamDone:Express timed out after 12h" (several: "gates A, B timed out after …"). */
export function gateTimeoutText (gates: readonly string[], afterS: number): string {
  return `gate${gates.length === 1 ? '' : 's'} ${gates.join(', ')} timed out after ${durationText(afterS)}`
}

/**
 * Whether a waiting task's gates at the next evaluation may change it although
 * the same gates are pending: its gate timeout is due (the planner evaluates
 * it then, else it leaves an unchanged waiting task alone).
 */
export function gateTimeoutDue (rule: GateTimeoutRule | undefined, record: TaskGateRecord | undefined, nowMs: number): boolean {
  return rule !== undefined && record?.waitingSinceMs !== undefined && record.timedOut === undefined && nowMs - record.waitingSinceMs >= rule.afterS * 1000
}

export type ForceDecision =
  | { kind: 'force', gates: string[] }
  | { kind: 'refused', reason: string }

/**
 * Which of a task's pending gates an operator's `gate force` opens: `gate`
 * names one (exactly, e.g. `t0StreamDone:Express`, or by kind when only one
 * gate of that kind is pending, e.g. `t0StreamDone`); without it, every pending
 * readiness gate. Refused, with the reason: a task not waiting (`state`), a
 * gate not pending, a gate that is not a readiness gate (`block-closed`:
 * close the block; `needs:`/`blocked:`: the upstream task; `concurrency:`).
 */
export function forceGates (state: string, pending: readonly string[], gate?: string): ForceDecision {
  if (state !== 'waiting') return { kind: 'refused', reason: `the task is ${state}, not waiting on a gate` }
  const readiness = pending.filter(isReadinessGate)
  if (gate === undefined || gate === '') {
    if (readiness.length > 0) return { kind: 'force', gates: readiness }
    return { kind: 'refused', reason: `the task waits on ${pending.join(', ')}: no readiness gate to force (${notReadinessHint(pending[0] ?? '')})` }
  }
  const matches = pending.includes(gate) ? [gate] : pending.filter(g => kindOf(g) === gate)
  if (matches.length === 0) return { kind: 'refused', reason: `the task is not waiting on gate '${gate}' (it waits on ${pending.join(', ')})` }
  if (matches.length > 1) return { kind: 'refused', reason: `gate '${gate}' names ${matches.length} pending gates (${matches.join(', ')}): name one of them` }
  const [only = ''] = matches
  if (!isReadinessGate(only)) return { kind: 'refused', reason: `gate '${only}' cannot be forced: ${notReadinessHint(only)}` }
  return { kind: 'force', gates: [only] }
}

function notReadinessHint (gate: string): string {
  switch (kindOf(gate)) {
    case 'block-closed': return 'the block is open; close it with `autocal block close`'
    case 'needs': return 'an upstream task is not done; it gates this one'
    case 'blocked': return 'an upstream task ended without being done; reprocess it (--cascade)'
    case 'concurrency': return 'a concurrency limit opens by itself when a block of the task ends'
    default: return 'not a readiness gate'
  }
}

/** The YAML of a gate timeout: `when.timeout` (a duration) and `when.onTimeout`. */
const maxTimeoutS = 4_294_967_295

export interface GateTimeoutYaml { timeout?: string | number | undefined, onTimeout?: GateTimeoutPolicy | undefined }

export type GateTimeoutCheck =
  | { kind: 'ok', rule?: GateTimeoutRule }
  /** `key` is the `when` key the problem is reported at (file:line:col of that key). */
  | { kind: 'problem', key: 'timeout' | 'onTimeout', problem: string }

/**
 * The gate timeout of a task's `when` (already type-checked by the schema),
 * given the readiness gates it declares: none without `timeout`; `onTimeout`
 * defaults to fail. Problems: `onTimeout` without `timeout`, a timeout that is
 * not positive, a timeout with no readiness gate to end.
 */
export function gateTimeoutOf (when: GateTimeoutYaml | undefined, gates: { t0StreamDone: readonly string[], t0DatasetDone: readonly string[], minDurationS?: number, minLumiPb?: number, http?: unknown }): GateTimeoutCheck {
  if (when?.timeout === undefined) {
    if (when?.onTimeout !== undefined) return { kind: 'problem', key: 'onTimeout', problem: '`onTimeout` needs `timeout`: how long the readiness gates may stay closed, e.g. timeout: 12h' }
    return { kind: 'ok' }
  }
  const parsed = parseDuration(when.timeout)
  if (parsed === undefined) return { kind: 'ok' } // the schema reported the duration
  // whole seconds, rounded up (GateTimeout.after_s is a uint32 of seconds: 0.5 s would not encode)
  const afterS = Math.ceil(parsed)
  if (afterS <= 0) return { kind: 'problem', key: 'timeout', problem: `a gate timeout must be longer than 0 s (got ${String(when.timeout)})` }
  if (afterS > maxTimeoutS) return { kind: 'problem', key: 'timeout', problem: `a gate timeout must be at most ${maxTimeoutS} s (GateTimeout.after_s is a uint32; got ${String(when.timeout)})` }
  const declared = gates.t0StreamDone.length > 0 || gates.t0DatasetDone.length > 0 || gates.minDurationS !== undefined || gates.minLumiPb !== undefined || gates.http !== undefined
  if (!declared) return { kind: 'problem', key: 'timeout', problem: `a gate timeout needs a readiness gate to end (${readinessGateKinds.join(', ')}); this task declares none` }
  return { kind: 'ok', rule: { afterS, policy: when.onTimeout ?? 'fail' } }
}
