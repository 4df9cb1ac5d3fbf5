// The synchronization rules of the CMS conditions upload service: which
// since a tag of each synchronization accepts, given the payload file, the
// destination tag's state and the first condition-safe run (FCSR).
//
// Sources (cms-sw/cmssw):
// - CondCore/Utilities/scripts/conditionUploadTest.py, CMS's acceptance test
//   of the service: per synchronization the sequence of uploads and whether
//   each is CREATE, APPEND, INSERT, SYNCHRONIZE (moved to the FCSR) or FAIL;
//   its newer version runs them on Run, Lumi and Time tags (no FCSR-bound
//   synchronizations for Time).
// - CondCore/Utilities/python/CondDBFW/uploads.py, the public upload client:
//   Run sinces sent as `run << 32`; `filter_iovs_by_fcsr` moves a since below
//   the service's FCSR up to it and refuses it for an offline tag; no FCSR
//   for Time tags ("this is also the case on the server side").
// Pure: data in, decision out. Sinces are uint64 BigInts.
import { friendlySince, isSynchronization, type Synchronization } from './conddb-format.ts'
import { startAt, type FcsrPolicyName, type SinceIov } from './since-rules.ts'

/** What a synchronization does with a since below the FCSR. */
export type BelowFcsr = 'no-fcsr' | 'move' | 'refuse'
/** What a synchronization does with a since at or below the tag's last since. */
export type AtOrBelowLast = 'insert' | 'refuse'

export interface SynchronizationRule {
  belowFcsr: BelowFcsr
  atOrBelowLast: AtOrBelowLast
  /** Only the upload that creates the tag may write it. */
  writeOnce: boolean
}

/**
 * The rules table, one row per synchronization (conditionUploadTest.py):
 * - any, validation: since 1 CREATE, 200 APPEND, 100 INSERT, 200 INSERT again.
 * - mc: the creating upload only; since 1 and 200 afterwards FAIL.
 * - runmc, offline: 1000 APPEND, then 500 FAIL and 1000 FAIL, 2000 APPEND.
 * - hlt, express, prompt: 200 and 100 SYNCHRONIZE (moved to the FCSR),
 *   FCSR+200 APPEND, FCSR+100 INSERT.
 * - pcl: 200 (below the FCSR) FAIL, FCSR+200 APPEND, FCSR+100 INSERT.
 */
export const synchronizationRules: Readonly<Record<Synchronization, SynchronizationRule>> = {
  any: { belowFcsr: 'no-fcsr', atOrBelowLast: 'insert', writeOnce: false },
  validation: { belowFcsr: 'no-fcsr', atOrBelowLast: 'insert', writeOnce: false },
  mc: { belowFcsr: 'no-fcsr', atOrBelowLast: 'insert', writeOnce: true },
  runmc: { belowFcsr: 'no-fcsr', atOrBelowLast: 'refuse', writeOnce: false },
  offline: { belowFcsr: 'no-fcsr', atOrBelowLast: 'refuse', writeOnce: false },
  hlt: { belowFcsr: 'move', atOrBelowLast: 'insert', writeOnce: false },
  express: { belowFcsr: 'move', atOrBelowLast: 'insert', writeOnce: false },
  prompt: { belowFcsr: 'move', atOrBelowLast: 'insert', writeOnce: false },
  pcl: { belowFcsr: 'refuse', atOrBelowLast: 'insert', writeOnce: false }
}

export const syncRuleNames = ['before-first-iov', 'write-once', 'append-only', 'fcsr', 'synchronization'] as const
export type SyncRuleName = typeof syncRuleNames[number]

export interface SyncInput<T extends SinceIov> {
  /** Destination tag name (for reasons). */
  tag: string
  /** Synchronization of the destination tag (its own when it exists). */
  synchronization: string
  timeType: string
  /** IOVs to write, sorted by since, already started at the requested since (see startAt). */
  iovs: readonly T[]
  /** The since the request asked for; undefined = the file's own sinces. */
  requestedSince: bigint | undefined
  /** First since of the input tag in the payload file. */
  fileFirstSince: bigint
  /**
   * The destination tag as the target has it; undefined when the caller
   * cannot tell (the upload service before a session): then write-once and
   * append-only are left to the service.
   */
  destination: { exists: boolean, lastSince: bigint | undefined } | undefined
  /** FCSR as a since in the same encoding as the IOVs; undefined = not known yet. */
  fcsr: bigint | undefined
  /** Who said what the FCSR is: Tier-0 facts seen by autocal, or the upload service's get_fcsr. */
  fcsrSource: 'tier0' | 'service'
  /** hlt/express/prompt only: move a since below the FCSR (CMS) or refuse it (stricter). */
  policy: FcsrPolicyName
  /** For FCSR-bound tags while no FCSR is known: accept (noted) or refuse. */
  whenFcsrUnknown: 'accept' | 'reject'
  /** How a since reads in reasons; default friendlySince of the time type. */
  show?: (since: bigint) => string
}

export type SyncDecision<T extends SinceIov> =
  | {
    kind: 'allowed'
    iovs: T[]
    /** Set when the first since was moved up to the FCSR: the since it had. */
    movedFrom?: bigint
    /** What was decided, in words. */
    notes: string[]
  }
  | { kind: 'rejected', rule: SyncRuleName, reason: string }

/** Time types that have an FCSR (uploads.py skips FCSR filtering for Time tags; Hash and User have no runs). */
export function hasFcsr (timeType: string): boolean {
  return timeType === 'Run' || timeType === 'Lumi'
}

/**
 * Applies the synchronization rules of the CMS conditions upload service to
 * one upload. Checks, in order: a requested since before the payload file's
 * first IOV (every synchronization: nothing in the file covers it); mc
 * write-once; the FCSR (hlt/express/prompt move up to it or, with policy
 * reject, refuse; pcl always refuses; an offline tag refuses a since below
 * the service's FCSR, as uploads.py does; none for Time tags); runmc/offline
 * append-only (since > last since). Never throws.
 */
export function checkSynchronization<T extends SinceIov> (input: SyncInput<T>): SyncDecision<T> {
  const { tag, timeType, iovs, destination, fcsr } = input
  const sync = input.synchronization.toLowerCase()
  const show = input.show ?? ((s: bigint) => friendlySince(timeType, s))
  if (!isSynchronization(sync)) {
    return { kind: 'rejected', rule: 'synchronization', reason: `synchronization '${input.synchronization}' of tag '${tag}' is not one of any, validation, mc, runmc, hlt, express, prompt, pcl, offline` }
  }
  const rule = synchronizationRules[sync]
  const first = iovs[0]
  if (first === undefined) return { kind: 'allowed', iovs: [], notes: ['no IOV to write'] }
  const notes: string[] = []

  if (input.requestedSince !== undefined && input.requestedSince < input.fileFirstSince) {
    return {
      kind: 'rejected',
      rule: 'before-first-iov',
      reason: `requested since ${show(input.requestedSince)} of ${sync} tag '${tag}' is before the first IOV ${show(input.fileFirstSince)} of the payload file: nothing in the file covers it`
    }
  }

  if (rule.writeOnce && destination?.exists === true) {
    const last = destination.lastSince === undefined ? 'none' : show(destination.lastSince)
    return {
      kind: 'rejected',
      rule: 'write-once',
      reason: `since ${show(first.since)}: mc tag '${tag}' already exists (last since ${last}); an mc tag is written only by the upload that creates it`
    }
  }

  let out: T[] = [...iovs]
  let movedFrom: bigint | undefined
  const fcsrLabel = input.fcsrSource === 'service' ? "the service's first condition-safe run" : 'the first condition-safe run'
  const fcsrBound = rule.belowFcsr !== 'no-fcsr'
  if (!hasFcsr(timeType)) {
    if (fcsrBound) notes.push(`${timeType} tag: no FCSR applies`)
  } else if (fcsrBound || (sync === 'offline' && input.fcsrSource === 'service')) {
    if (fcsr === undefined) {
      if (fcsrBound && input.whenFcsrUnknown === 'reject') {
        return { kind: 'rejected', rule: 'fcsr', reason: `since ${show(first.since)} of ${sync} tag '${tag}': no first condition-safe run known yet, the since cannot be checked` }
      }
      if (fcsrBound) notes.push('no first condition-safe run known yet: since not checked')
    } else if (first.since < fcsr) {
      const at = `since ${show(first.since)} of ${sync} tag '${tag}' is before ${fcsrLabel} ${show(fcsr)}`
      if (sync === 'offline') {
        return { kind: 'rejected', rule: 'fcsr', reason: `${at}: an offline tag cannot be uploaded below it` }
      }
      if (rule.belowFcsr === 'refuse') {
        return { kind: 'rejected', rule: 'fcsr', reason: `${at}: a pcl tag refuses it (moving it would apply this calibration to later runs)` }
      }
      if (input.policy === 'reject') {
        return { kind: 'rejected', rule: 'fcsr', reason: `${at} (FCSR policy reject)` }
      }
      out = startAt(out, fcsr)
      movedFrom = first.since
      notes.push(`since ${show(first.since)} moved forward to ${fcsrLabel} ${show(fcsr)}`)
    } else {
      notes.push(`since ${show(first.since)} is at or after ${fcsrLabel} ${show(fcsr)}`)
    }
  }

  const head = out[0]!
  if (rule.atOrBelowLast === 'refuse' && destination?.lastSince !== undefined && head.since <= destination.lastSince) {
    return {
      kind: 'rejected',
      rule: 'append-only',
      reason: `since ${show(head.since)} of ${sync} tag '${tag}' is not after its last since ${show(destination.lastSince)}: ${sync === 'offline' ? 'an' : 'a'} ${sync} tag only takes appends`
    }
  }
  if (rule.atOrBelowLast === 'insert' && destination?.lastSince !== undefined && head.since <= destination.lastSince) {
    notes.push(`since ${show(head.since)} inserted at or below the last since ${show(destination.lastSince)}`)
  }
  return { kind: 'allowed', iovs: out, ...(movedFrom === undefined ? {} : { movedFrom }), notes }
}
