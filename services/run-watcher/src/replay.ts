// The run-list replay source (and the built-in generator, which replays runs
// it made up): announces runs in run order, all at once (scale 0) or at a
// time scale. Its progress (when the replay began, how many steps are done)
// is kept in Redis so that a restart continues where it stopped;
// re-announcing a step is harmless anyway (unchanged runs announce nothing).
import { AutocalError, type Logger } from '@autocal/runtime'
import { dueSteps, replaySchedule, type ReplayStep } from './domain/replay-schedule.ts'
import type { RunRecord } from './domain/run-record.ts'
import { readRunList, type RunList } from './adapters/run-list-file.ts'
import type { Announcement, Emitter } from './emitter.ts'
import type { KnownRuns } from './adapters/known-runs.ts'

export interface ReplayOptions {
  /** Source name on the events and in /readyz: "replay" or "generator". */
  source: string
  /** What is replayed (a file path, the generator's settings): part of the progress key. */
  id: string
  runs: readonly RunRecord[]
  scale: number
  fromRun?: number | undefined
  toRun?: number | undefined
  /** Tier-0 streams to announce as done when a replayed run ends (the past is fully processed). */
  t0Streams: string[]
  /**
   * Tier-0's prompt delay (ms, 48 h in CMS): when set, the replay also
   * announces the first condition-safe run as Tier-0 would have at each
   * moment of the replayed time (`fcsr` facts, see domain/fcsr.ts).
   */
  fcsrDelayMs?: number | undefined
  emitter: Emitter
  known: KnownRuns
  logger: Logger
}

export interface Replay {
  /** One round: announce what is due; 'done' when the whole list was replayed. */
  work: () => Promise<'again' | 'done'>
  info: () => Record<string, unknown>
}

/** Steps announced per batch (one Kafka send, a few Redis round trips). */
const batchSteps = 250

/**
 * Reads a run list file: its runs and the records it could not read (with
 * line and field; the caller reports them). A file with no run at all is a
 * configuration error (at start).
 */
export async function readReplayFile (file: string): Promise<RunList> {
  const list = await readRunList(file)
  if (list.runs.length === 0) {
    const why = list.problems.slice(0, 3).map(p => `${p.where}${p.field === '' ? '' : ` ${p.field}`}: ${p.message}`).join('; ')
    throw new AutocalError('AUTOCAL_CONFIG_INVALID', `AUTOCAL_REPLAY_FILE ${file} holds no run${why === '' ? '' : ` (${why})`}`)
  }
  return list
}

export async function prepareReplay (options: ReplayOptions): Promise<Replay> {
  const { source } = options
  const log = options.logger.child({ component: source })
  const runs = options.runs.filter(r => (options.fromRun === undefined || r.run >= options.fromRun) && (options.toRun === undefined || r.run <= options.toRun))
  const steps: ReplayStep[] = replaySchedule(runs, options.scale, options.fcsrDelayMs)
  // the steps depend on the prompt delay (lock steps): a replay with another delay starts over
  const progressKey = `${source}:${options.id}:${options.scale}:${options.fromRun ?? ''}-${options.toRun ?? ''}${options.fcsrDelayMs === undefined ? '' : `:fcsr${options.fcsrDelayMs}`}`
  const saved = await options.known.getValue(progressKey)
  const progress = saved === undefined ? { beganMs: Date.now(), done: 0 } : JSON.parse(saved) as { beganMs: number, done: number }
  log.info({ source, runs: runs.length, steps: steps.length, scale: options.scale, resumeAt: progress.done }, 'replay ready')
  return {
    info: () => ({ replaying: options.id, runs: runs.length, stepsDone: progress.done, steps: steps.length, ...(options.fcsrDelayMs === undefined ? {} : { fcsr: steps[progress.done - 1]?.fcsr ?? null }) }),
    work: async () => {
      const due = dueSteps(steps, progress.done, Date.now() - progress.beganMs)
      for (let i = 0; i < due.length; i += batchSteps) {
        const batch = due.slice(i, i + batchSteps)
        const items: Announcement[] = batch.flatMap(step => [
          ...(step.phase === 'lock' ? [] : [{ kind: 'run' as const, record: step.run }]),
          ...(step.phase === 'end' ? options.t0Streams.map(stream => ({ kind: 'fact' as const, fact: { kind: 'stream_done' as const, run: step.run.run, stream, done: true } })) : []),
          // the emitter announces it only when it moved
          ...(step.fcsr === undefined ? [] : [{ kind: 'fact' as const, fact: { kind: 'fcsr' as const, run: step.fcsr } }])
        ])
        await options.emitter.announce(items, { source })
        progress.done += batch.length
        await options.known.setValue(progressKey, JSON.stringify(progress))
      }
      return progress.done >= steps.length ? 'done' : 'again'
    }
  }
}
