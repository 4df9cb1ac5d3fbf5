// Scenario 4: FLUSHALL of Redis mid-replay (a Redis of the scenario's own:
// never the shared one). Redis holds only what Kafka can rebuild; the services
// rebuild their read models and go on. Then: nothing lost, nothing started
// twice, no IOV twice, nothing dead-lettered.
import { test } from 'node:test'
import { Redis } from 'ioredis'
import { TaskState } from '@autocal/contracts'
import { assertFigures, printFigures, settle, startFaultSystem, startOwnServers, taskStates, scenarioTimeoutMs, drainTimeoutMs } from './harness.ts'

const first = Number(process.env.FAULTS_FLUSH_FIRST ?? 355100)
const last = Number(process.env.FAULTS_FLUSH_LAST ?? 357200)

test('FLUSHALL mid-replay loses no task, starts no job twice, writes no IOV twice and dead-letters nothing', { timeout: scenarioTimeoutMs }, async () => {
  await using servers = await startOwnServers()
  await using fs = await startFaultSystem({ name: 'flushall', first, last, connection: servers.connection })
  // mid-replay: a third of the expected tasks done
  const third = Math.ceil(fs.expected.tasks.length / 3)
  for (;;) {
    const states = await taskStates(fs)
    if (fs.expected.tasks.filter(k => states.get(k)?.state === TaskState.DONE).length >= third) break
    await new Promise(resolve => setTimeout(resolve, 2000))
  }
  const redis = new Redis(servers.redisUrl)
  const keys = await redis.dbsize()
  await redis.flushall()
  await redis.quit()
  fs.log(`FLUSHALL (${keys} keys) with a third of the tasks done`)
  const recoverMs = [await fs.untilAllReady(120_000)]
  const figures = await settle(fs, 'FLUSHALL mid-replay', [`FLUSHALL of ${keys} keys`], recoverMs, drainTimeoutMs)
  printFigures(figures, fs.log)
  assertFigures(figures)
})
