// Since rules: where a set of IOVs starts, given a requested since and the
// first condition-safe run (FCSR). Sinces are uint64 BigInts throughout
// (Time and Lumi sinces exceed 2^53).
import { fcsrSynchronizations, friendlySince, lumiSince } from './conddb-format.ts'

export interface SinceIov {
  since: bigint
  payloadHash: string
}

export type FcsrPolicyName = 'move' | 'reject'

/**
 * Starts the IOVs at `floor` without leaving a hole, as CMS's upload client
 * does: keeps the last IOV at or below the floor and every later one, and
 * moves the kept ones below the floor up to it. IOVs must be sorted by since.
 */
export function startAt<T extends SinceIov> (iovs: readonly T[], floor: bigint): T[] {
  if (iovs.length === 0) return []
  let lastBelow = iovs[0]!.since
  for (const iov of iovs) {
    if (iov.since <= floor && iov.since > lastBelow) lastBelow = iov.since
  }
  return iovs.filter(iov => iov.since >= lastBelow).map(iov => iov.since < floor ? { ...iov, since: floor } : iov)
}

/**
 * The requested since in the tag's time type. A Lumi tag takes a run number
 * (below 2^32) as the run's first lumisection; a Time tag refuses one.
 */
export function requestedSinceFor (timeType: string, since: bigint): { kind: 'since', since: bigint } | { kind: 'rejected', reason: string } {
  if (timeType === 'Lumi' && since < (1n << 32n)) return { kind: 'since', since: lumiSince(since, 1) }
  if (timeType === 'Time' && since < (1n << 32n)) {
    return { kind: 'rejected', reason: `requested since ${since} looks like a run number but the tag's time type is Time ((unix seconds << 32) | sub-second)` }
  }
  return { kind: 'since', since }
}

/** The FCSR as a since of the time type; undefined when the time type has no FCSR (Time, Hash, User). */
export function fcsrSince (timeType: string, fcsr: number): bigint | undefined {
  if (timeType === 'Run') return BigInt(fcsr)
  if (timeType === 'Lumi') return lumiSince(fcsr, 1)
  return undefined
}

export type FcsrDecision<T extends SinceIov> =
  | { kind: 'unchanged', iovs: T[], note: string }
  | { kind: 'moved', iovs: T[], requestedSince: bigint, note: string }
  | { kind: 'rejected', reason: string }

export interface FcsrInput<T extends SinceIov> {
  tag: string
  timeType: string
  synchronization: string
  /** Sorted by since. */
  iovs: readonly T[]
  /** Undefined when no FCSR is known yet. */
  fcsr: number | undefined
  policy: FcsrPolicyName
  /** What to do for an FCSR-bound tag while no FCSR is known. */
  whenUnknown: 'accept' | 'reject'
}

/**
 * Applies the FCSR rule: for hlt/express/prompt/pcl tags, IOVs starting
 * before the FCSR are moved to it (policy move) or refused (policy reject);
 * other synchronizations (offline, any, ...) take any since.
 */
export function applyFcsr<T extends SinceIov> (input: FcsrInput<T>): FcsrDecision<T> {
  const { tag, timeType, synchronization, iovs, fcsr, policy } = input
  if (!fcsrSynchronizations.has(synchronization)) {
    return { kind: 'unchanged', iovs: [...iovs], note: `${synchronization} tag: any since accepted` }
  }
  if (fcsr === undefined) {
    if (input.whenUnknown === 'reject') {
      return { kind: 'rejected', reason: `no first condition-safe run known yet: cannot check the since of ${synchronization} tag '${tag}'` }
    }
    return { kind: 'unchanged', iovs: [...iovs], note: 'no first condition-safe run known yet: since not checked' }
  }
  const floor = fcsrSince(timeType, fcsr)
  if (floor === undefined) return { kind: 'unchanged', iovs: [...iovs], note: `${timeType} tag: no FCSR applies` }
  const first = iovs[0]
  if (first === undefined || first.since >= floor) {
    return { kind: 'unchanged', iovs: [...iovs], note: `since ${first === undefined ? '-' : friendlySince(timeType, first.since)} is at or after FCSR ${fcsr}` }
  }
  const asked = friendlySince(timeType, first.since)
  if (policy === 'reject') {
    return { kind: 'rejected', reason: `since ${asked} is before the first condition-safe run ${fcsr} of ${synchronization} tag '${tag}' (FCSR policy reject)` }
  }
  return {
    kind: 'moved',
    iovs: startAt(iovs, floor),
    requestedSince: first.since,
    note: `since ${asked} moved forward to the first condition-safe run ${fcsr} (FCSR policy move)`
  }
}

/**
 * Applies an FCSR the conditions upload service returned (already a since of
 * the tag's time type), as CMS's upload client does: IOVs before it are
 * moved up to it; an offline tag refuses a since before it; policy reject
 * refuses instead of moving.
 */
export function applyServerFcsr<T extends SinceIov> (input: {
  tag: string
  timeType: string
  synchronization: string
  iovs: readonly T[]
  fcsr: bigint
  policy: FcsrPolicyName
}): FcsrDecision<T> {
  const { tag, timeType, synchronization, iovs, fcsr, policy } = input
  const first = iovs[0]
  if (first === undefined || first.since >= fcsr) {
    return { kind: 'unchanged', iovs: [...iovs], note: `since is at or after the service's FCSR ${friendlySince(timeType, fcsr)}` }
  }
  const asked = friendlySince(timeType, first.since)
  if (synchronization === 'offline') {
    return { kind: 'rejected', reason: `since ${asked} is before the service's FCSR ${friendlySince(timeType, fcsr)}: an offline tag cannot be uploaded below it ('${tag}')` }
  }
  if (policy === 'reject' && fcsrSynchronizations.has(synchronization)) {
    return { kind: 'rejected', reason: `since ${asked} is before the service's FCSR ${friendlySince(timeType, fcsr)} of ${synchronization} tag '${tag}' (FCSR policy reject)` }
  }
  return {
    kind: 'moved',
    iovs: startAt(iovs, fcsr),
    requestedSince: first.since,
    note: `since ${asked} moved forward to the service's FCSR ${friendlySince(timeType, fcsr)}`
  }
}
