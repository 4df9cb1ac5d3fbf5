// Figures, not a test: the console's overview on a campaign of 10,000 runs (one
// task event per run through the real Kafka into the read model), first page,
// a deep page and a filtered page, each timed over 20 requests.
//   node services/metrics/test/bench/console-overview.ts [runs]
import { topics } from '@autocal/contracts'
import { startProducer } from '@autocal/runtime'
import { startMetricsService } from '../../src/app.ts'
import { taskEvent, TaskState } from '../integration/events.ts'
import { cleanUp, getJson, quietLogger, testConfig, until } from '../integration/fixtures.ts'

const runs = Number(process.argv[2] ?? 10_000)
const config = testConfig()
const logger = quietLogger()
const producer = await startProducer({ config, logger, service: 'bench' })
const service = await startMetricsService(config, logger)
try {
  const first = 300000
  const now = Date.now()
  const loaded = Date.now()
  const sends = []
  for (let i = 0; i < runs; i++) {
    const run = first + i
    sends.push(producer.publish(topics.tasks, taskEvent({ task: 'timing-reco', run, state: i % 997 === 0 ? TaskState.FAILED : TaskState.DONE, version: 1, atMs: now })))
  }
  await Promise.all(sends)
  await until('every run in the read model', async () => (await getJson(`${service.url}/console/api/overview?campaign=prompt&limit=1`)).body.totalRuns === runs, 600_000)
  console.log(`${runs} task events consumed into the read model in ${((Date.now() - loaded) / 1000).toFixed(1)} s`)
  for (const [name, query] of [['first page (50 runs)', 'campaign=prompt'], ['page below run 305000', 'campaign=prompt&before=305000'], ['state=failed (scans the runs)', 'campaign=prompt&state=failed']] as const) {
    const times: number[] = []
    let rows = 0
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now()
      rows = (await getJson(`${service.url}/console/api/overview?${query}`)).body.rows.length
      times.push(performance.now() - t0)
    }
    times.sort((a, b) => a - b)
    console.log(`${name}: ${rows} rows, median ${times[10]!.toFixed(1)} ms, max ${times.at(-1)!.toFixed(1)} ms`)
  }
} finally {
  await service[Symbol.asyncDispose]()
  await producer[Symbol.asyncDispose]()
  await cleanUp(config, logger)
}
