// The first condition-safe run (FCSR) as Tier-0 computes it, for sources that
// replay runs without a Tier-0 to ask (the run-list replay, the generator).
//
// Tier-0 holds prompt reconstruction of a run for a delay after the run ends
// (48 h in CMS) so that prompt conditions can still change for it; once the
// delay has passed the run's prompt reconstruction is released and its
// conditions are locked. Tier-0's data service answers `firstconditionsaferun`
// with the lowest run that is not locked among the runs above the highest
// locked run (the `reco_locked` query of T0WmaDataSvc's FirstConditionSafeRun
// entity, dmwm/T0). A run still going on is never locked. When every known
// run is locked there is no FCSR (the service answers null).
//
// With runs that end in run order (as CMS runs do) this is "the first run
// whose end + delay is still in the future".

/** What the FCSR depends on of a run: its number and its times (UTC epoch ms). */
export interface RunSpan {
  run: number
  startMs: number
  /** Unset while the run is ongoing. */
  endMs?: number | undefined
}

/** Tier-0's prompt-reconstruction delay after the end of a run (48 h). */
export const promptDelayMs = 48 * 3600_000

/**
 * The FCSR at time `nowMs` (UTC epoch ms): the lowest run above the highest
 * locked run, where a run is locked once `endMs + delayMs ≤ nowMs`. Only runs
 * that have started by `nowMs` count (Tier-0 does not know the others).
 * Returns undefined when no started run is unlocked above the highest locked
 * one (Tier-0 answers null then).
 */
export function firstConditionSafeRun (runs: readonly RunSpan[], nowMs: number, delayMs: number = promptDelayMs): number | undefined {
  let highestLocked = -Infinity
  for (const r of runs) {
    if (r.startMs <= nowMs && r.endMs !== undefined && r.endMs + delayMs <= nowMs && r.run > highestLocked) highestLocked = r.run
  }
  let fcsr: number | undefined
  for (const r of runs) {
    if (r.startMs <= nowMs && r.run > highestLocked && (fcsr === undefined || r.run < fcsr)) fcsr = r.run
  }
  return fcsr
}

/**
 * Whether an FCSR read now is news after the last one announced: Tier-0's
 * FCSR only moves forward, so a lower value (a run list replayed again, an
 * older answer, a rebuild reading partitions out of order) announces nothing.
 */
export function fcsrAdvances (known: number | undefined, next: number): boolean {
  return known === undefined || Number.isNaN(known) || next > known
}
