// Gates that end (issue 15), through the real dispatcher (a child process) on
// real Kafka and Redis with the real job-executor: a Tier-0 stream that never
// completes holds three tasks of one run block; their gate timeout (2 s, real
// timers, driven by the planner's tick) ends each by its policy: fail, skip,
// run anyway (its jobs run on the executor and the task ends done).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { TaskState, topics } from '@autocal/contracts'
import { realRuns, runEvents, startWorkflowSystem, startedJobs, until, workflowsDir } from './fixtures.ts'

const task = (name: string, policy: string): string => `  - name: ${name}
    block: run
    when: { t0StreamDone: NeverCompletes, timeout: 2s, onTimeout: ${policy} }
    run: [python3, ${workflowsDir}/scripts/process_block.py, --step, ${name}, --runs, "{runs}", --job, "{job}", --out, "{outdir}"]
`
const workflow = `subsystem: ECAL
workflow: gate-timeout-demo
runTypes:
  collisions: { filter: { runClass: collisions2022 } }
tasks:
${task('on-fail', 'fail')}${task('on-skip', 'skip')}${task('on-run', 'run')}`

test('a gate that never opens times out after 2 s with each policy: failed, skipped, run anyway (done on the real executor)', { timeout: 120_000 }, async () => {
  await using system = await startWorkflowSystem('gate-timeout-demo', workflow)
  const { backends, client, producer } = system
  await producer.publishMany(topics.runs, runEvents(realRuns(357401, 357401)))
  const tasks = async () => (await client.listTasks({ selector: { campaign: 'prompt', runs: [357401] } })).tasks
  const byName = async (name: string) => (await tasks()).find(t => t.task === name)

  // before the timeout the three wait on the stream, with the gate clock running
  await until('the tasks wait on the stream', async () => (await tasks()).filter(t => t.state === TaskState.WAITING && t.gates?.waitingSince !== undefined).length === 3 ||
    (await tasks()).some(t => t.gates?.timedOut !== undefined))

  await until('on-fail failed', async () => (await byName('on-fail'))?.state === TaskState.FAILED)
  await until('on-skip skipped', async () => (await byName('on-skip'))?.state === TaskState.SKIPPED)
  await until('on-run done on the executor', async () => (await byName('on-run'))?.state === TaskState.DONE)

  const fail = await byName('on-fail')
  assert.equal(fail?.reason, 'gate t0StreamDone:NeverCompletes timed out after 2s (onTimeout: fail)')
  assert.deepEqual(fail?.gates?.timedOut?.gates, ['t0StreamDone:NeverCompletes'])
  assert.equal(fail?.gates?.timedOut?.policy, 'fail')
  assert.equal(fail?.gates?.timedOut?.afterS, 2)
  const skip = await byName('on-skip')
  assert.equal(skip?.reason, 'gate t0StreamDone:NeverCompletes timed out after 2s (onTimeout: skip)')
  assert.equal(skip?.gates?.timedOut?.policy, 'skip')
  // the run policy: its one job was requested and ran; the record says it ran with the gate not open
  const ran = await byName('on-run')
  assert.equal(ran?.gates?.timedOut?.policy, 'run')
  assert.deepEqual(ran?.gates?.timedOut?.gates, ['t0StreamDone:NeverCompletes'])
  assert.ok((ran?.gates?.timedOut?.at?.seconds ?? 0n) - (ran?.gates?.waitingSince?.seconds ?? 0n) >= 2n, 'timed out at least 2 s after the clock started')
  const started = [...startedJobs(backends)]
  assert.deepEqual(started.filter(j => j.includes('/on-run/')), ['prompt/run-357401/on-run/1/0#1'])
  assert.deepEqual(started.filter(j => !j.includes('/on-run/')), [], 'no job of the failed or skipped task')
})
