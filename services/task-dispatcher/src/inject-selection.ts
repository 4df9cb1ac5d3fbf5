// Which runs an injection names: the runs given one by one, those of the
// records, and the known runs of its ranges (first_run/last_run and ranges,
// e.g. from a run-list file) and of its eras. The control API resolves them
// to check the request and answer with the count; the command's handler
// resolves them again when it applies the command (the same known runs,
// unless the run-watcher reported more in between).
import type { InjectRuns } from '@autocal/contracts'
import type { StateStore } from './adapters/state-store.ts'
import { runsOfRanges, spanOf } from './domain/run-ranges.ts'

export interface InjectSelection {
  /** Every run the injection names, in run order. */
  runs: number[]
  /** Eras of the request no known run belongs to. */
  emptyEras: string[]
  /** Ranges (`first-last`) of the request with no known run. */
  emptyRanges: string[]
}

/**
 * Resolves an injection's runs against the dispatcher's known runs (records
 * from the runs topic and the run registry). A range with first_run or
 * last_run 0 is the legacy "unset" range and names nothing; bounds are
 * checked by messageProblem before this is called.
 */
export async function selectInjectedRuns (inject: InjectRuns, store: Pick<StateStore, 'knownRuns' | 'runsOfEra'>): Promise<InjectSelection> {
  const wanted = new Set<number>([...inject.runs, ...inject.records.map(r => r.run)])
  const emptyRanges: string[] = []
  const ranges = [...(inject.firstRun !== 0 && inject.lastRun !== 0 ? [{ firstRun: inject.firstRun, lastRun: inject.lastRun }] : []), ...inject.ranges]
  // one read of the known runs for every range (a run-list file may give thousands)
  const span = spanOf(ranges)
  const known = span === undefined ? [] : await store.knownRuns(span.firstRun, span.lastRun)
  runsOfRanges(known, ranges).forEach((runs, i) => {
    if (runs.length === 0) emptyRanges.push(`${ranges[i]!.firstRun}-${ranges[i]!.lastRun}`)
    for (const run of runs) wanted.add(run)
  })
  const emptyEras: string[] = []
  for (const era of new Set(inject.eras)) {
    const runs = await store.runsOfEra(era)
    if (runs.length === 0) emptyEras.push(era)
    for (const run of runs) wanted.add(run)
  }
  return { runs: [...wanted].sort((a, b) => a - b), emptyEras, emptyRanges }
}
