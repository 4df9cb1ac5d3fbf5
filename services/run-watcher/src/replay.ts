// The run-list replay source: announces the runs of a file in run order,
// all at once (scale 0) or at a time scale. Its progress (when the replay
// began, how many steps are done) is kept in Redis so that a restart
// continues where it stopped; re-announcing a step is harmless anyway
// (unchanged runs announce nothing).
import type { Logger } from '@autocal/runtime'
import { dueSteps, replaySchedule, type ReplayStep } from './domain/replay-schedule.ts'
import { readRunList } from './adapters/run-list-file.ts'
import type { Emitter } from './emitter.ts'
import type { KnownRuns } from './adapters/known-runs.ts'

export interface ReplayOptions {
  file: string
  scale: number
  fromRun?: number | undefined
  toRun?: number | undefined
  /** Tier-0 streams to announce as done when a replayed run ends (the past is fully processed). */
  t0Streams: string[]
  emitter: Emitter
  known: KnownRuns
  logger: Logger
}

export interface Replay {
  /** One round: announce what is due; 'done' when the whole list was replayed. */
  work: () => Promise<'again' | 'done'>
  info: () => Record<string, unknown>
}

export async function prepareReplay (options: ReplayOptions): Promise<Replay> {
  const log = options.logger.child({ component: 'replay', file: options.file })
  const list = await readRunList(options.file)
  for (const p of list.problems) log.warn({ source: 'replay', record: p.where, field: p.field, problem: p.message }, 'malformed record skipped')
  const runs = list.runs.filter(r => (options.fromRun === undefined || r.run >= options.fromRun) && (options.toRun === undefined || r.run <= options.toRun))
  const steps: ReplayStep[] = replaySchedule(runs, options.scale)
  const progressKey = `replay:${options.file}:${options.scale}:${options.fromRun ?? ''}-${options.toRun ?? ''}`
  const saved = await options.known.getValue(progressKey)
  const progress = saved === undefined ? { beganMs: Date.now(), done: 0 } : JSON.parse(saved) as { beganMs: number, done: number }
  log.info({ runs: runs.length, steps: steps.length, skippedRecords: list.problems.length, scale: options.scale, resumeAt: progress.done }, 'replay ready')
  return {
    info: () => ({ file: options.file, runs: runs.length, stepsDone: progress.done, steps: steps.length }),
    work: async () => {
      const due = dueSteps(steps, progress.done, Date.now() - progress.beganMs)
      for (const step of due) {
        await options.emitter.announceRun(step.run, { source: 'replay' })
        if (step.phase === 'end') {
          for (const stream of options.t0Streams) {
            await options.emitter.announceFact({ kind: 'stream_done', run: step.run.run, stream, done: true }, { source: 'replay' })
          }
        }
        progress.done++
        if (progress.done % 100 === 0 || progress.done === steps.length) await options.known.setValue(progressKey, JSON.stringify(progress))
      }
      return progress.done >= steps.length ? 'done' : 'again'
    }
  }
}
