// Runs of an injection's ranges, from one read of the known runs: a run-list
// file of thousands of ranges costs one Redis call, not one per range. Pure.

export interface RunRange { firstRun: number, lastRun: number }

/** The smallest range holding every range given ({firstRun, lastRun}), or undefined for none. */
export function spanOf (ranges: readonly RunRange[]): RunRange | undefined {
  if (ranges.length === 0) return undefined
  let firstRun = Infinity
  let lastRun = 0
  for (const r of ranges) {
    firstRun = Math.min(firstRun, r.firstRun)
    lastRun = Math.max(lastRun, r.lastRun)
  }
  return { firstRun, lastRun }
}

/**
 * Splits known runs among ranges: for each range (inclusive bounds, in the order given) the known runs it holds.
 * `known` must be sorted ascending (as Redis' ZRANGEBYSCORE returns them); a range whose first run is above
 * its last holds none. O((known + ranges) · log known).
 */
export function runsOfRanges (known: readonly number[], ranges: readonly RunRange[]): number[][] {
  const lowerBound = (value: number): number => {
    let lo = 0
    let hi = known.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (known[mid]! < value) lo = mid + 1
      else hi = mid
    }
    return lo
  }
  return ranges.map(r => r.firstRun > r.lastRun ? [] : known.slice(lowerBound(r.firstRun), lowerBound(r.lastRun + 1)))
}
