// Job failures and condition rejections end to end, with the real job-executor
// and condition-uploader: a failed job is requested
// again with the next try after its backoff; a job that fails beyond its
// budget fails the task and cancels the attempt's other jobs; a rejected
// payload fails the task with the uploader's reason; reprocess starts attempt 2.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { TaskState, topics } from '@autocal/contracts'
import { realRuns, runEvents, startedJobs, startWorkflowSystem, until, workflowsDir } from './fixtures.ts'

// The jobs run for real on the job-executor: their shell decides the failures by run, attempt, job and try
// (AUTOCAL_ATTEMPT and AUTOCAL_TRY are set by the executor). 357401: job 1 fails its first try; 357406: job 0
// fails every try of attempt 1 while job 1 runs on (until it is cancelled); 357438: the calibration's payload
// file is not SQLite, so the real condition-uploader rejects it.
const workflow = `subsystem: ECAL
workflow: retry-demo
runTypes:
  collisions: { filter: { runClass: collisions2022 } }
tasks:
  - name: flaky
    block: run
    jobs: 2
    run:
      - sh
      - -c
      - 'case "$1/$AUTOCAL_ATTEMPT/$2/$AUTOCAL_TRY" in 357401/1/1/1|357406/1/0/*) exit 3;; 357406/1/1/*) exec sleep 300;; esac; exec python3 ${workflowsDir}/scripts/process_block.py --step flaky --runs "$1" --job "$2" --out "$3"'
      - flaky
      - "{run}"
      - "{job}"
      - "{outdir}"
    retries: 1
    backoff: 1s
  - name: calib
    needs: [flaky]
    run:
      - sh
      - -c
      - 'python3 ${workflowsDir}/scripts/write_payload.py --object-type EcalPedestals --tag EcalPedestals_test --since "$1" --out "$2/p.db" && if [ "$1" = 357438 ]; then echo not-sqlite > "$2/p.db"; fi'
      - calib
      - "{run}"
      - "{outdir}"
    condition: { tag: EcalPedestals_test_offline, record: EcalPedestalsRcd, sync: offline }
`

test('failed jobs are retried with backoff within the budget, then fail the task; a rejected payload fails it too', { timeout: 120_000 }, async () => {
  await using system = await startWorkflowSystem('retry-demo', workflow)
  const { backends, client, producer } = system
  await producer.publishMany(topics.runs, runEvents(realRuns(357401, 357438)))

  const cell = async (run: number, task: string) => (await client.getStatus({ selector: { campaign: 'prompt', tasks: [task], runs: [run] } })).cells[0]
  await until('357401 calibrated', async () => (await cell(357401, 'calib'))?.state === TaskState.DONE)
  assert.ok(startedJobs(backends).has('prompt/run-357401/flaky/1/1#2'), 'the failed job was requested again with try 2')
  assert.equal((await cell(357401, 'flaky'))?.state, TaskState.DONE)

  await until('357406 flaky failed', async () => (await cell(357406, 'flaky'))?.state === TaskState.FAILED)
  assert.match((await cell(357406, 'flaky'))?.reason ?? '', /^job 0 try 2 failed: exit code 3\b.*; retries exhausted$/)
  assert.ok(backends.requests.some(r => r.message.jobId === 'prompt/run-357406/flaky/1/1' && r.message.action.case === 'cancel'), 'the other job of the attempt was cancelled')
  assert.ok(!startedJobs(backends).has('prompt/run-357406/flaky/1/0#3'), 'no try beyond the budget')

  await until('357438 calib failed', async () => (await cell(357438, 'calib'))?.state === TaskState.FAILED)
  assert.match((await cell(357438, 'calib'))?.reason ?? '', /^condition rejected: unreadable: payload file \S+\/run-357438\/calib\/\S+\/p\.db is not readable as SQLite/)

  const r = await client.reprocess({ selector: { campaign: 'prompt', tasks: ['flaky'], runs: [357406] }, reason: 'flaky node drained' })
  assert.equal(r.matched, 1)
  await until('attempt 2 done', async () => {
    const c = await cell(357406, 'flaky')
    return c?.state === TaskState.DONE && c.attempt === 2
  })
})

// issue 15: retry policies by cause, through the dispatcher with the real executor. 357401: job exits 3 ("did not
// converge", retry.never) → the task fails at once with budget left; 357406: exits 4 on try 1 → retried, done.
const neverWorkflow = `subsystem: ECAL
workflow: never-demo
runTypes:
  collisions: { filter: { runClass: collisions2022 } }
tasks:
  - name: fit
    block: run
    run: [sh, -c, 'case "$1/$AUTOCAL_TRY" in 357401/*) exit 3;; 357406/1) exit 4;; esac; true', fit, "{run}"]
    retries: 2
    backoff: 1s
    retry: { never: [3] }
`

test('an exit code of retry.never fails the task at once; another is retried', { timeout: 120_000 }, async () => {
  await using system = await startWorkflowSystem('never-demo', neverWorkflow)
  const { backends, client, producer } = system
  await producer.publishMany(topics.runs, runEvents(realRuns(357401, 357406)))
  const cell = async (run: number) => (await client.getStatus({ selector: { campaign: 'prompt', tasks: ['fit'], runs: [run] } })).cells[0]
  await until('357401 failed', async () => (await cell(357401))?.state === TaskState.FAILED)
  assert.match((await cell(357401))?.reason ?? '', /^job 0 try 1 failed: exit code 3\b.*; never retried \(retry\.never\)$/)
  await until('357406 done', async () => (await cell(357406))?.state === TaskState.DONE)
  assert.ok(startedJobs(backends).has('prompt/run-357406/fit/1/0#2'), 'exit code 4 was retried with try 2')
  // positive marker: everything the dispatcher and the executor were sent is handled, and 357401 got no try 2
  await until('at rest', backends.atRest)
  assert.ok(!startedJobs(backends).has('prompt/run-357401/fit/1/0#2'), 'exit code 3 was not retried')
})

// issue 15: upstream outcomes. split fails for good on attempt 1; merge, which needs it, is blocked (not waiting for
// ever) and says why; reprocess --cascade of split reruns both, and both end done.
const cascadeWorkflow = `subsystem: ECAL
workflow: cascade-demo
runTypes:
  collisions: { filter: { runClass: collisions2022 } }
tasks:
  - name: split
    block: run
    run: [sh, -c, 'if [ "$AUTOCAL_ATTEMPT" = 1 ]; then exit 5; fi; true']
    retries: 0
  - name: merge
    needs: [split]
    run: ["true"]
  - name: publish
    needs: [merge]
    run: ["true"]
`

test('a task whose upstream failed is blocked and says why; reprocess --cascade reruns it with its upstream', { timeout: 120_000 }, async () => {
  await using system = await startWorkflowSystem('cascade-demo', cascadeWorkflow)
  const { client, producer } = system
  await producer.publishMany(topics.runs, runEvents(realRuns(357401, 357401)))
  const cell = async (task: string) => (await client.getStatus({ selector: { campaign: 'prompt', tasks: [task], runs: [357401] } })).cells[0]
  await until('split failed', async () => (await cell('split'))?.state === TaskState.FAILED)
  await until('merge blocked', async () => (await cell('merge'))?.waitingFor.startsWith('blocked:') === true)
  assert.equal((await cell('merge'))?.state, TaskState.WAITING)
  assert.equal((await cell('merge'))?.waitingFor, 'blocked: upstream task split failed (reprocess it, or reprocess it with --cascade to rerun this task too)')
  await until('publish blocked in turn', async () => (await cell('publish'))?.waitingFor === 'blocked: upstream task merge is blocked itself')

  const r = await client.reprocess({ selector: { campaign: 'prompt', tasks: ['split'], runs: [357401] }, reason: 'input fixed', cascade: true })
  assert.deepEqual([r.matched, r.cascadedTasks], [3, ['merge', 'publish']])
  await until('all three done in attempt 2', async () => {
    const cells = await Promise.all(['split', 'merge', 'publish'].map(cell))
    return cells.every(c => c?.state === TaskState.DONE && c.attempt === 2)
  })
  await assert.rejects(client.reprocess({ selector: { campaign: 'prompt', runs: [357401] }, reason: 'x', cascade: true }), /cascade needs a selector that names tasks/)
})

// issue 15: numeric results, from the job's manifest through the real executor to the status API
const resultsWorkflow = `subsystem: PPS
workflow: results-demo
runTypes:
  collisions: { filter: { runClass: collisions2022 } }
tasks:
  - name: timing-fit
    block: run
    # dict(...), not {...}: braces in an argument are placeholders
    run: [python3, -c, "import json, sys; json.dump(dict(outputs=[], results=dict(chi2_ndf=1.07, run_parity=int(sys.argv[1]) % 2)), open('outputs.json', 'w'))", "{run}"]
`

test('a job\'s numeric results are stored with its task and returned by the status API', { timeout: 120_000 }, async () => {
  await using system = await startWorkflowSystem('results-demo', resultsWorkflow)
  const { client, producer } = system
  await producer.publishMany(topics.runs, runEvents(realRuns(357401, 357401)))
  const cell = async () => (await client.getStatus({ selector: { campaign: 'prompt', tasks: ['timing-fit'], runs: [357401] } })).cells[0]
  await until('done', async () => (await cell())?.state === TaskState.DONE)
  assert.deepEqual((await cell())?.results, { chi2_ndf: 1.07, run_parity: 1 })
  const listed = await client.listTasks({ selector: { campaign: 'prompt', tasks: ['timing-fit'] } })
  assert.deepEqual(listed.tasks[0]?.jobs[0]?.results, { chi2_ndf: 1.07, run_parity: 1 })
})
