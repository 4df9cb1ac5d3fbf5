// Since rules: where a set of IOVs starts, given a requested since and the
// first condition-safe run (FCSR; its rules are in sync-rules.ts). Sinces are uint64 BigInts throughout
// (Time and Lumi sinces exceed 2^53).
import { lumiSince } from './conddb-format.ts'

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

/**
 * The FCSR (a run number) as a since of the time type: the run for Run tags,
 * its first lumisection for Lumi tags; undefined when the time type has no
 * FCSR (Time, Hash, User).
 */
export function fcsrSince (timeType: string, fcsr: number): bigint | undefined {
  if (timeType === 'Run') return BigInt(fcsr)
  if (timeType === 'Lumi') return lumiSince(fcsr, 1)
  return undefined
}
