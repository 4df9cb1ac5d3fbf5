// Replay of a recorded period into a sandbox campaign (`autocal campaign
// replay`), pure: which recorded runs a period selects and in what order,
// how long to wait before each at a speed, and whether a campaign may take a
// replay. The runs' facts come from the run registry and the runs topic
// (adapters/registry-reader.ts); feeding them is replay-runner.ts.
import { didYouMean, promptCampaign } from './workflow.ts'

/** One end of a period: a time in ms since the epoch (compared with a run's start time) or a run number. */
export type ReplayBound = { kind: 'time', ms: number } | { kind: 'run', run: number }

/** What the selection and the pacing need of a recorded run: its number and start time (ms; undefined when unrecorded). */
export interface RecordedRun { run: number, startMs: number | undefined }

/** A bound as the operator wrote it: `run 357479` or the ISO time (UTC). */
export function boundText (b: ReplayBound): string {
  return b.kind === 'run' ? `run ${b.run}` : new Date(b.ms).toISOString()
}

/** The period in words, for errors and the audit: `2022-07-20T10:00:00.000Z .. 2022-07-20T11:00:00.000Z`. */
export function periodText (from: ReplayBound, to: ReplayBound): string {
  return `${boundText(from)} .. ${boundText(to)}`
}

/**
 * Why a period cannot be replayed, or undefined: `from` after `to` (runs:
 * first > last; times: from not before to — a time period is half-open,
 * [from, to)). Bounds of different kinds are compared through the selection
 * (an inverted mixed period selects nothing and is refused as empty).
 */
export function periodProblem (from: ReplayBound, to: ReplayBound): string | undefined {
  if (from.kind === 'run' && to.kind === 'run' && from.run > to.run) return `--from run ${from.run} is after --to run ${to.run}`
  if (from.kind === 'time' && to.kind === 'time' && from.ms >= to.ms) return `--from ${boundText(from)} is not before --to ${boundText(to)} (a time period is [from, to))`
  return undefined
}

/**
 * The recorded runs of a period in their original order. A run is in it
 * when it is at or after `from` and before `to` for a time bound (its start
 * time; the period is [from, to), so consecutive hours do not overlap), and
 * within from..to (both included) for a run bound. A run without a recorded
 * start time is selected only by run bounds. Order: start time, then run
 * number (a run without start time after those with one).
 */
export function selectReplayRuns<T extends RecordedRun> (runs: readonly T[], from: ReplayBound, to: ReplayBound): T[] {
  const after = (r: T): boolean => from.kind === 'run' ? r.run >= from.run : r.startMs !== undefined && r.startMs >= from.ms
  const before = (r: T): boolean => to.kind === 'run' ? r.run <= to.run : r.startMs !== undefined && r.startMs < to.ms
  return runs.filter(r => after(r) && before(r)).sort((a, b) =>
    (a.startMs ?? Infinity) - (b.startMs ?? Infinity) || a.run - b.run)
}

/**
 * How long to wait (ms, whole) before feeding each run of a replay: 0 for the
 * first, then the gap between its start time and the previous run's divided
 * by `speed` (3600: an hour of recording in a second). `speed` 0 means as
 * fast as possible (every delay 0); a gap with an unknown start time, or a
 * negative one, is 0. Throws RangeError for a negative or non-finite speed.
 */
export function replayDelays (startsMs: ReadonlyArray<number | undefined>, speed: number): number[] {
  if (!Number.isFinite(speed) || speed < 0) throw new RangeError(`replay speed must be a number ≥ 0 (0 = as fast as possible), got ${speed}`)
  return startsMs.map((start, i) => {
    const previous = i === 0 ? undefined : startsMs[i - 1]
    if (speed === 0 || start === undefined || previous === undefined) return 0
    return Math.max(0, Math.round((start - previous) / speed))
  })
}

/** A campaign's condition target, as replay checks it: per task, the tag, database and whether it is a dry run. */
export interface UploadTarget { task: string, tag: string, destinationDatabase: string, dryRun: boolean }

/**
 * Why campaign `name` cannot take a replay, or undefined. Refused: an empty
 * name; `prompt` and any other live campaign (`live`: the campaigns that
 * receive live runs); an unknown campaign (with the closest known name);
 * a campaign a replay is already feeding (`busy`); and a campaign that would
 * write a condition for real to a tag and database where production
 * (`production`: the prompt campaign's targets) writes it — a sandbox's
 * conditions go to a dry run or a target of its own.
 */
export function replayTargetProblem (name: string, known: readonly string[], live: ReadonlySet<string>, busy: ReadonlySet<string>, targets: readonly UploadTarget[], production: readonly UploadTarget[]): string | undefined {
  if (name === '') return 'a campaign to replay into is required (--into)'
  if (name === promptCampaign || live.has(name)) return `campaign '${name}' receives live runs: replay into a sandbox (reprocessing) campaign`
  if (!known.includes(name)) return `unknown campaign '${name}'${didYouMean(name, known) ?? ''}, known: ${known.join(', ')}`
  if (busy.has(name)) return `a replay is already feeding campaign '${name}': cancel it first (autocal campaign replay --cancel ID)`
  for (const t of targets) {
    if (t.dryRun) continue
    const clash = production.find(p => !p.dryRun && p.tag === t.tag && p.destinationDatabase === t.destinationDatabase)
    if (clash !== undefined) return `campaign '${name}' writes task ${t.task}'s conditions to ${t.tag}${t.destinationDatabase === '' ? '' : ` in ${t.destinationDatabase}`}, where production's task ${clash.task} writes: give it a tag or database of its own, or conditions.dryRun: true`
  }
  return undefined
}

/**
 * When to feed each run, in ms after the first one: the running sum of
 * replayDelays (same arguments, same RangeError). Feeding on this schedule
 * keeps the time each feed takes from adding up over a long replay.
 */
export function replayOffsets (startsMs: ReadonlyArray<number | undefined>, speed: number): number[] {
  let at = 0
  return replayDelays(startsMs, speed).map(d => (at += d))
}
