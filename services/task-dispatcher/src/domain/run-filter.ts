// Run filters: whether a run belongs to a run type / task. A filter on a value
// the run does not report (stable beams, B field unknown) excludes the run:
// a calibration must not run on data nobody vouched for.
import type { Run } from '@autocal/contracts'
import type { RunFilter } from './workflow.ts'

/** Certified runs of a golden JSON, by absolute path. */
export type GoldenRuns = ReadonlyMap<string, ReadonlySet<number>>

export type FilterDecision = { ok: true } | { ok: false, reason: string }

export function matchesFilter (run: Run, filter: RunFilter, golden: GoldenRuns): FilterDecision {
  const no = (reason: string): FilterDecision => ({ ok: false, reason })
  if (filter.runClass.length > 0 && !filter.runClass.includes(run.runClass.toLowerCase())) {
    return no(`run class ${run.runClass || '(none)'} not in ${filter.runClass.join(',')}`)
  }
  if (filter.global !== undefined && run.global !== filter.global) return no(run.global ? 'global run' : 'not a global run')
  if (filter.eras.length > 0 && !filter.eras.includes(run.era)) return no(`era ${run.era} not in ${filter.eras.join(',')}`)
  if (filter.minDurationS !== undefined && run.durationS < filter.minDurationS) return no(`duration ${run.durationS} s < ${filter.minDurationS} s`)
  if (filter.minRecordedLumi !== undefined && run.recordedLumiPb < filter.minRecordedLumi) {
    return no(`recorded ${run.recordedLumiPb} /pb < ${filter.minRecordedLumi} /pb`)
  }
  if (filter.stableBeams !== undefined) {
    if (run.stableBeam === undefined) return no('stable beams unknown')
    if (run.stableBeam !== filter.stableBeams) return no(run.stableBeam ? 'stable beams' : 'no stable beams')
  }
  if (filter.bField !== undefined) {
    const b = run.bFieldT
    if (b === undefined) return no('B field unknown')
    if (filter.bField.min !== undefined && b < filter.bField.min) return no(`B field ${b} T < ${filter.bField.min} T`)
    if (filter.bField.max !== undefined && b > filter.bField.max) return no(`B field ${b} T > ${filter.bField.max} T`)
  }
  if (filter.golden !== undefined) {
    const certified = golden.get(filter.golden)
    if (certified === undefined) return no(`golden JSON ${filter.golden} not loaded`)
    if (!certified.has(run.run)) return no('not in the golden JSON')
  }
  return { ok: true }
}

/** Runs of a certification JSON `{ "355374": [[59, 84]], ... }`; a run with no lumisection ranges is not certified. */
export function goldenRunsOf (json: unknown): Set<number> | string {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return 'expected an object {run: [[first_ls, last_ls], ...]}'
  const runs = new Set<number>()
  for (const [k, v] of Object.entries(json as Record<string, unknown>)) {
    const run = Number(k)
    if (!Number.isInteger(run) || run <= 0) return `key '${k}' is not a run number`
    if (!Array.isArray(v)) return `run ${k}: expected a list of [first_ls, last_ls]`
    if (v.length > 0) runs.add(run)
  }
  return runs
}
