// The Tier-0 poller: for the most recent ended runs, asks whether each
// configured stream and primary dataset is done, and reads the first
// condition-safe run. Facts are announced only when they change, and a run
// whose facts are all done is not asked again.
import type { Logger } from '@autocal/runtime'
import type { Emitter } from './emitter.ts'
import type { KnownRuns } from './adapters/known-runs.ts'
import type { createT0Client } from './adapters/t0-client.ts'

export interface T0PollerOptions {
  client: ReturnType<typeof createT0Client>
  streams: string[]
  datasets: string[]
  /** How many of the latest ended runs to ask about. */
  windowRuns: number
  emitter: Emitter
  known: KnownRuns
  logger: Logger
}

export function createT0Poller (options: T0PollerOptions): { work: () => Promise<'again'>, info: () => Record<string, unknown> } {
  let fcsr: number | undefined
  let asked = 0
  return {
    info: () => ({ fcsr, runsAsked: asked }),
    work: async () => {
      const next = await options.client.firstConditionSafeRun()
      if (next !== undefined) {
        fcsr = next
        await options.emitter.announceFact({ kind: 'fcsr', run: next }, { source: 't0' })
      }
      asked = 0
      for (const run of await options.known.endedRuns(options.windowRuns)) {
        for (const stream of options.streams) {
          if (await options.known.getFact(`${run}:stream:${stream}`) === 'true') continue
          asked++
          const done = await options.client.streamDone(run, stream)
          await options.emitter.announceFact({ kind: 'stream_done', run, stream, done }, { source: 't0' })
        }
        for (const dataset of options.datasets) {
          if (await options.known.getFact(`${run}:dataset:${dataset}`) === 'true') continue
          asked++
          const done = await options.client.datasetDone(run, dataset)
          await options.emitter.announceFact({ kind: 'dataset_done', run, dataset, done }, { source: 't0' })
        }
      }
      return 'again'
    }
  }
}
