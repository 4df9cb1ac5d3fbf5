// When a replayed run is announced. At scale 0 everything is announced at
// once, in run order. At scale S, a run that started t seconds after the
// first run of the list is announced (started) t/S seconds after the replay
// began, and its end likewise: one year at S = 52560 takes ten minutes.
// With a prompt delay, every step also carries the first condition-safe run
// (FCSR) as Tier-0 would have answered at that moment of the replayed time,
// and at a time scale the moment each run's conditions lock (its end + the
// delay) is a step of its own, so that the FCSR advances as time passes.
import type { RunRecord } from './run-record.ts'
import { firstConditionSafeRun } from './fcsr.ts'

export interface ReplayStep {
  /** Milliseconds after the replay began. */
  atMs: number
  run: RunRecord
  /**
   * What the step reveals: the run as it was at its start, as it ended, or
   * (`lock`) nothing of the run itself: its prompt delay has passed and the
   * FCSR moves past it.
   */
  phase: 'start' | 'end' | 'lock'
  /** The FCSR after this step (replayed time = the time of the step); unset without a prompt delay or when Tier-0 would know none. */
  fcsr?: number | undefined
}

/** The run as seen while ongoing: no end, no final luminosity yet. */
export function ongoing (run: RunRecord): RunRecord {
  return { ...run, endMs: undefined, durationS: 0, lastLumisection: 0, deliveredLumiPb: 0, recordedLumiPb: 0 }
}

/** The replayed (source) time of a step, UTC epoch ms. */
function sourceTime (run: RunRecord, phase: ReplayStep['phase'], delayMs: number): number {
  switch (phase) {
    case 'start': return run.startMs
    case 'end': return run.endMs ?? run.startMs
    case 'lock': return (run.endMs ?? run.startMs) + delayMs
  }
}

/**
 * The steps of a replay, in the order they are announced.
 * `fcsrDelayMs` (e.g. 48 h): the prompt-reconstruction delay of Tier-0; when
 * given, each step carries the FCSR at its replayed time (see domain/fcsr.ts)
 * and, at a time scale, a `lock` step at each run's end + delay.
 */
export function replaySchedule (runs: readonly RunRecord[], scale: number, fcsrDelayMs?: number): ReplayStep[] {
  const sorted = [...runs].sort((a, b) => a.run - b.run)
  const withFcsr = (steps: Array<Omit<ReplayStep, 'fcsr'> & { t: number }>): ReplayStep[] => steps.map(({ t, ...step }) =>
    fcsrDelayMs === undefined ? step : { ...step, fcsr: firstConditionSafeRun(sorted, t, fcsrDelayMs) })
  if (scale <= 0) return withFcsr(sorted.map(run => ({ atMs: 0, run, phase: 'end' as const, t: sourceTime(run, 'end', 0) })))
  const origin = Math.min(...sorted.map(r => r.startMs))
  const steps: Array<Omit<ReplayStep, 'fcsr'> & { t: number }> = []
  const phases: Array<ReplayStep['phase']> = fcsrDelayMs === undefined ? ['start', 'end'] : ['start', 'end', 'lock']
  for (const run of sorted) {
    for (const phase of phases) {
      if (phase !== 'start' && run.endMs === undefined) continue
      const t = sourceTime(run, phase, fcsrDelayMs ?? 0)
      steps.push({ atMs: (t - origin) / scale, run: phase === 'start' ? ongoing(run) : run, phase, t })
    }
  }
  // stable: equal times keep run order, a start before its own end
  return withFcsr(steps.sort((a, b) => a.atMs - b.atMs))
}

/** Steps due at `elapsedMs`, after the first `done` steps. */
export function dueSteps (steps: readonly ReplayStep[], done: number, elapsedMs: number): ReplayStep[] {
  const out: ReplayStep[] = []
  for (let i = done; i < steps.length && steps[i]!.atMs <= elapsedMs; i++) out.push(steps[i]!)
  return out
}
