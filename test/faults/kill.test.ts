// Scenario 1: SIGKILL of a random service every ~15 s while real 2022 runs are
// replayed through the example workflows; each killed service is started
// again at once. At least 10 kills, every one of the five services killed at
// least twice (the order is a shuffle of two rounds). Then: nothing lost,
// nothing started twice, no IOV twice, nothing dead-lettered.
import { test } from 'node:test'
import { assertFigures, printFigures, serviceNames, settle, startFaultSystem, type ServiceName, scenarioTimeoutMs, drainTimeoutMs } from './harness.ts'

const first = Number(process.env.FAULTS_KILL_FIRST ?? 355100)
const last = Number(process.env.FAULTS_KILL_LAST ?? 357200)
const kills = Number(process.env.FAULTS_KILLS ?? 10)
const everyMs = Number(process.env.FAULTS_KILL_EVERY_MS ?? 15_000)

function shuffled<T> (items: readonly T[]): T[] {
  const a = [...items]
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j] as T, a[i] as T]
  }
  return a
}

test('SIGKILL of a random service every ~15 s (10 kills, all five services) loses no task, starts no job twice, writes no IOV twice and dead-letters nothing', { timeout: scenarioTimeoutMs }, async () => {
  await using fs = await startFaultSystem({ name: 'kill', first, last })
  const order: ServiceName[] = []
  while (order.length < kills) order.push(...shuffled(serviceNames))
  const recoverMs: number[] = []
  const faults: string[] = []
  // the first kill comes while the replay is being planned, the last while jobs still run
  for (const name of order.slice(0, Math.max(kills, 10))) {
    await new Promise(resolve => setTimeout(resolve, everyMs * (0.7 + 0.6 * Math.random())))
    const ms = await fs.restart(name, 'SIGKILL')
    recoverMs.push(ms + await fs.untilAllReady(120_000))
    faults.push(`SIGKILL ${name}`)
    fs.log(`SIGKILL ${name}; ready again in ${(recoverMs.at(-1)! / 1000).toFixed(1)} s`)
  }
  const figures = await settle(fs, 'SIGKILL every ~15 s', faults, recoverMs, drainTimeoutMs)
  printFigures(figures, fs.log)
  assertFigures(figures)
})
