// When a replayed run is announced. At scale 0 everything is announced at
// once, in run order. At scale S, a run that started t seconds after the
// first run of the list is announced (started) t/S seconds after the replay
// began, and its end likewise: one year at S = 52560 takes ten minutes.
import type { RunRecord } from './run-record.ts'

export interface ReplayStep {
  /** Milliseconds after the replay began. */
  atMs: number
  run: RunRecord
  /** What the step reveals: the run as it was at its start, or as it ended. */
  phase: 'start' | 'end'
}

/** The run as seen while ongoing: no end, no final luminosity yet. */
export function ongoing (run: RunRecord): RunRecord {
  return { ...run, endMs: undefined, durationS: 0, lastLumisection: 0, deliveredLumiPb: 0, recordedLumiPb: 0 }
}

export function replaySchedule (runs: readonly RunRecord[], scale: number): ReplayStep[] {
  const sorted = [...runs].sort((a, b) => a.run - b.run)
  if (scale <= 0) return sorted.map(run => ({ atMs: 0, run, phase: 'end' as const }))
  const origin = Math.min(...sorted.map(r => r.startMs))
  const steps: ReplayStep[] = []
  for (const run of sorted) {
    steps.push({ atMs: (run.startMs - origin) / scale, run: ongoing(run), phase: 'start' })
    if (run.endMs !== undefined) steps.push({ atMs: (run.endMs - origin) / scale, run, phase: 'end' })
  }
  // stable: equal times keep run order, a start before its own end
  return steps.sort((a, b) => a.atMs - b.atMs)
}

/** Steps due at `elapsedMs`, after the first `done` steps. */
export function dueSteps (steps: readonly ReplayStep[], done: number, elapsedMs: number): ReplayStep[] {
  const out: ReplayStep[] = []
  for (let i = done; i < steps.length && steps[i]!.atMs <= elapsedMs; i++) out.push(steps[i]!)
  return out
}
