// Scenario 2: Redis stopped for 90 s mid-replay, then started empty (a Redis
// of the scenario's own, without persistence: what it held is gone). While it
// is down every service's handlers fail on Redis: the bus waits the outage out
// (no attempts counted, /readyz 503), nothing is dead-lettered; once it is
// back the read models are rebuilt from Kafka: the dispatcher's tasks and the
// executor's job table (jobs started or finished during the outage are
// followed and reported), and the dispatcher's watchdog asks again for any job
// request left unanswered.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { TaskState } from '@autocal/contracts'
import { assertFigures, printFigures, serviceNames, settle, startFaultSystem, startOwnServers, taskStates, scenarioTimeoutMs, drainTimeoutMs } from './harness.ts'

const first = Number(process.env.FAULTS_REDIS_FIRST ?? 355100)
const last = Number(process.env.FAULTS_REDIS_LAST ?? 357200)
const outageMs = Number(process.env.FAULTS_REDIS_OUTAGE_MS ?? 90_000)

test('Redis stopped for 90 s mid-replay and started empty loses no task, starts no job twice, writes no IOV twice and dead-letters nothing', { timeout: scenarioTimeoutMs }, async () => {
  await using servers = await startOwnServers()
  await using fs = await startFaultSystem({ name: 'redis-outage', first, last, connection: servers.connection })
  const third = Math.ceil(fs.expected.tasks.length / 3)
  for (;;) {
    const states = await taskStates(fs)
    if (fs.expected.tasks.filter(k => states.get(k)?.state === TaskState.DONE).length >= third) break
    await new Promise(resolve => setTimeout(resolve, 2000))
  }
  await servers.stop('redis')
  fs.log(`Redis stopped with a third of the tasks done; down for ${outageMs / 1000} s`)
  const stoppedAt = Date.now()
  // while it lasts, the services say they are not ready
  const notReady: string[] = []
  while (Date.now() - stoppedAt < outageMs) {
    for (const name of serviceNames) {
      const s = fs.system.services.get(name)
      if (s === undefined || notReady.includes(name)) continue
      const status = await fetch(`${s.httpUrl}/readyz`, { signal: AbortSignal.timeout(3000) }).then(r => r.status, () => 0)
      if (status === 503) notReady.push(name)
    }
    await new Promise(resolve => setTimeout(resolve, 2000))
  }
  await servers.start('redis')
  fs.log(`Redis started again, empty; /readyz 503 seen during the outage on: ${notReady.join(', ')}`)
  const recoverMs = [await fs.untilAllReady(180_000)]
  const figures = await settle(fs, 'Redis down 90 s, back empty', [`Redis stopped ${outageMs / 1000} s, restarted empty`], recoverMs, drainTimeoutMs)
  printFigures(figures, fs.log)
  // every service holds a Redis connection: each must have said so
  assert.deepEqual(notReady.sort(), [...serviceNames].sort(), 'every service answered /readyz 503 during the outage')
  assertFigures(figures)
})
