// The OMS poller: each round asks OMS for the runs from the watermark minus a
// look-back window (so that late changes of recently ended runs — luminosity
// corrections — are seen), announces what changed, and moves the watermark
// to the highest ended run (kept in Redis and in the run registry). The end of
// each fill of those runs is read from OMS's fills resource and carried by the
// runs (Run.fill_end_time): a fill that ends is announced as an update of its runs.
import type { Logger } from '@autocal/runtime'
import type { Emitter } from './emitter.ts'
import type { RecordReporter } from './refused-records.ts'
import type { KnownRuns } from './adapters/known-runs.ts'
import type { createOmsClient } from './adapters/oms-client.ts'

export interface OmsPollerOptions {
  client: ReturnType<typeof createOmsClient>
  firstRun: number
  lookbackRuns: number
  emitter: Emitter
  reporter: RecordReporter
  known: KnownRuns
  logger: Logger
}

export function createOmsPoller (options: OmsPollerOptions): { work: () => Promise<'again'>, info: () => Record<string, unknown> } {
  let watermark: number | undefined
  return {
    info: () => ({ watermark }),
    work: async () => {
      watermark ??= Number(await options.known.getValue('watermark:oms') ?? options.firstRun)
      const from = Math.max(options.firstRun, watermark - options.lookbackRuns)
      const page = await options.client.runsFrom(from)
      // the fill's end (OMS fills resource) travels with its runs: the dispatcher closes the fill's block on it
      const ends = await options.client.fillEnds([...new Set(page.runs.map(r => r.fill))])
      for (const run of page.runs) {
        const end = ends.get(run.fill)
        if (end !== undefined) run.fillEndMs = end
      }
      // reported once per run and problem, not every round
      await options.reporter.report('oms', page.skipped)
      await options.emitter.announce(page.runs.map(record => ({ kind: 'run', record })), { source: 'oms' })
      let highestEnded = watermark
      for (const run of page.runs) if (run.endMs !== undefined && run.run > highestEnded) highestEnded = run.run
      if (highestEnded !== watermark) {
        watermark = highestEnded
        // in the run registry first: a Redis loss then restarts from it, not from AUTOCAL_OMS_FIRST_RUN
        await options.emitter.recordMark({ name: 'oms-watermark', value: watermark, sequence: 0 })
        await options.known.setValue('watermark:oms', String(watermark))
      }
      return 'again'
    }
  }
}
