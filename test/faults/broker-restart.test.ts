// Scenario 3: the broker (a Kafka of the scenario's own, with its own Redis)
// stopped and restarted mid-replay. Producers and consumers wait for it;
// nothing is lost or done twice.
import { test } from 'node:test'
import { TaskState } from '@autocal/contracts'
import { assertFigures, printFigures, settle, startFaultSystem, startOwnServers, taskStates, scenarioTimeoutMs, drainTimeoutMs } from './harness.ts'

const first = Number(process.env.FAULTS_BROKER_FIRST ?? 356300)
const last = Number(process.env.FAULTS_BROKER_LAST ?? 356750)
const downMs = Number(process.env.FAULTS_BROKER_DOWN_MS ?? 20_000)

test('the broker stopped and restarted mid-replay loses no task, starts no job twice, writes no IOV twice and dead-letters nothing', { timeout: scenarioTimeoutMs }, async () => {
  await using servers = await startOwnServers({ kafka: true })
  await using fs = await startFaultSystem({ name: 'broker', first, last, connection: servers.connection })
  const third = Math.ceil(fs.expected.tasks.length / 3)
  for (;;) {
    const states = await taskStates(fs)
    if (fs.expected.tasks.filter(k => states.get(k)?.state === TaskState.DONE).length >= third) break
    await new Promise(resolve => setTimeout(resolve, 2000))
  }
  await servers.stop('kafka')
  fs.log(`broker stopped with a third of the tasks done; down for ${downMs / 1000} s`)
  await new Promise(resolve => setTimeout(resolve, downMs))
  await servers.start('kafka')
  fs.log('broker started again')
  const recoverMs = [await fs.untilAllReady(180_000)]
  const figures = await settle(fs, 'broker restart', [`broker stopped ${downMs / 1000} s and restarted`], recoverMs, drainTimeoutMs)
  printFigures(figures, fs.log)
  assertFigures(figures, { restartsAllowed: true }) // a consumer kafkajs will not restart after the outage exits 1 and is restarted, as designed
})
