// Scenario 5: the job-executor SIGSTOPped for longer than its heartbeat (and
// its Kafka session), then continued. Its jobs go on running meanwhile; its
// consumer group moves on and back. Nothing lost, nothing started twice.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { TaskState } from '@autocal/contracts'
import { assertFigures, printFigures, settle, startFaultSystem, taskStates, scenarioTimeoutMs, drainTimeoutMs } from './harness.ts'

const first = Number(process.env.FAULTS_STOP_FIRST ?? 355100)
const last = Number(process.env.FAULTS_STOP_LAST ?? 357200)
// the executor heartbeats every AUTOCAL_EXECUTOR_RECONCILE_MS (2 s) with a TTL of 4 × that; the session is 10 s
const stoppedMs = Number(process.env.FAULTS_STOP_MS ?? 25_000)

test('an executor SIGSTOPped longer than its heartbeat, then continued, loses no task and starts no job twice', { timeout: scenarioTimeoutMs }, async () => {
  await using fs = await startFaultSystem({ name: 'stop-executor', first, last })
  const third = Math.ceil(fs.expected.tasks.length / 3)
  for (;;) {
    const states = await taskStates(fs)
    if (fs.expected.tasks.filter(k => states.get(k)?.state === TaskState.DONE).length >= third) break
    await new Promise(resolve => setTimeout(resolve, 2000))
  }
  const executor = fs.system.services.get('job-executor')
  assert.ok(executor?.process.pid !== undefined)
  executor.process.kill('SIGSTOP')
  fs.log(`job-executor SIGSTOPped for ${stoppedMs / 1000} s`)
  await new Promise(resolve => setTimeout(resolve, stoppedMs))
  executor.process.kill('SIGCONT')
  fs.log('job-executor continued')
  const recoverMs = [await fs.untilAllReady(120_000)]
  const figures = await settle(fs, 'executor SIGSTOP', [`SIGSTOP job-executor ${stoppedMs / 1000} s`], recoverMs, drainTimeoutMs)
  printFigures(figures, fs.log)
  assertFigures(figures)
})
