// Data-aware tasks (issue 15) through the real dispatcher and the real job-executor on real Kafka and Redis, with
// the labelled DBS stand-in (test/helpers/dbs-stand-in.ts) as the file-list source, serving real 2022 runs:
// a task with an input dataset fans out per N files and each job's argv gets its files; a `datasetLocked` task
// waits until the stand-in closes the run's block; a run without files is skipped with the reason; DBS down is
// an infrastructure failure, retried with the reason visible (and the task failed once its budget is spent).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TaskState, topics, type JobRequest } from '@autocal/contracts'
import { startDbsStandIn, type DbsStandIn } from '../../../../test/helpers/dbs-stand-in.ts'
import { realRuns, runEvents, startDispatcher, startWorkflowSystem, testConfig, until } from './fixtures.ts'

const dataset = '/AlCaPhiSym/Run2022C-v1/RAW'
// every argument a job gets must be an LFN of the dataset, else the job fails (exit 7): the executor runs it for real
const checkFiles = 'for f in "$@"; do case "$f" in /store/data/Run2022C/AlCaPhiSym/RAW/v1/*.root) ;; *) exit 7;; esac; done; test $# -ge 1'

/** A dispatcher on one workflow file with the DBS stand-in as its file-list source (fixtures.ts startWorkflowSystem). */
const startSystem = async (name: string, yaml: string, dbs: DbsStandIn) =>
  await startWorkflowSystem(name, yaml, { AUTOCAL_DBS_URL: dbs.url, AUTOCAL_DBS_RECHECK_MS: '500', AUTOCAL_DBS_TIMEOUT_MS: '5000' })

/** The argv of each started job of `task` on `run` (attempt 1, try 1), by job index. */
function argvByJob (requests: Array<{ message: JobRequest }>, task: string, run: number): Map<number, string[]> {
  const out = new Map<number, string[]>()
  for (const { message } of requests) {
    if (message.action.case !== 'start' || message.try !== 1 || !message.jobId.startsWith(`prompt/run-${run}/${task}/1/`)) continue
    out.set(message.jobIndex, message.action.value.argv)
  }
  return out
}

/** An ECAL workflow on the collision runs with these tasks (YAML list items). */
const phisymWorkflow = (name: string, tasks: string): string => `subsystem: ECAL
workflow: ${name}
runTypes:
  collisions: { filter: { runClass: collisions2022 } }
tasks:
${tasks}`

const workflow = phisymWorkflow('phisym-data', `  - name: phisym-files
    block: run
    input: { dataset: "/AlCaPhiSym/{era}-v1/RAW" }
    jobs: { perFiles: 5 }
    run: [sh, -c, '${checkFiles}', phisym, "{files}"]
  - name: phisym-locked
    block: run
    input: { dataset: ${dataset} }
    jobs: { perLumis: 400 }
    when: { datasetLocked: true }
    run: [sh, -c, '${checkFiles}', phisym, "{files}"]
`)

test('an input dataset fans out per N files with each job\'s files in its argv; datasetLocked opens when Tier-0 closes the block; no files skips', { timeout: 180_000 }, async () => {
  // real runs: 355871 (349 s of collisions, no file in the stand-in) and 355872 (28756 s: 1234 lumisections, 13 files of 100)
  await using dbs = await startDbsStandIn({ datasets: [{ dataset, runs: [{ run: 355872, era: 'Run2022C', durationS: 28756 }], lumisPerFile: 100 }] })
  await using system = await startSystem('phisym-data', workflow, dbs)
  const { backends, producer, cell } = system
  await producer.publishMany(topics.runs, runEvents(realRuns(355871, 355872)))

  // per 5 files: 13 files → jobs of 5, 5 and 3, in lumisection order, each job's argv ending with its files
  await until('phisym-files done on 355872', async () => (await cell('phisym-files', 355872))?.state === TaskState.DONE)
  const files = dbs.filesOf(dataset, 355872)
  assert.equal(files.length, 13)
  const argv = argvByJob(backends.requests, 'phisym-files', 355872)
  assert.deepEqual([...argv.keys()].sort(), [0, 1, 2])
  assert.deepEqual([0, 1, 2].map(j => argv.get(j)?.slice(4)), [files.slice(0, 5), files.slice(5, 10), files.slice(10)])

  // no files of the dataset for 355871: skipped with the reason, no job
  await until('phisym-files skipped on 355871', async () => (await cell('phisym-files', 355871))?.state === TaskState.SKIPPED)
  assert.equal((await cell('phisym-files', 355871))?.reason, `no files of ${dataset} for run 355871`)
  assert.equal(argvByJob(backends.requests, 'phisym-files', 355871).size, 0)

  // datasetLocked: the block of 355872 is open for writing → waiting, and the gate says what for
  const locked = await cell('phisym-locked', 355872)
  assert.equal(locked?.state, TaskState.WAITING)
  assert.equal(locked?.waitingFor, `Tier-0 has not closed dataset ${dataset} for run 355872 (a DBS block of it is open for writing, or none is listed yet)`)
  assert.equal(argvByJob(backends.requests, 'phisym-locked', 355872).size, 0)
  dbs.closeBlocks(dataset, 355872)
  await until('phisym-locked done once the block is closed', async () => (await cell('phisym-locked', 355872))?.state === TaskState.DONE)
  // per 400 lumisections: files of 100 → 4 files a job (1234 lumisections: 4 jobs)
  const lockedArgv = argvByJob(backends.requests, 'phisym-locked', 355872)
  assert.deepEqual([0, 1, 2, 3].map(j => lockedArgv.get(j)?.slice(4)), [files.slice(0, 4), files.slice(4, 8), files.slice(8, 12), files.slice(12)])
})

const downWorkflow = phisymWorkflow('phisym-down', `  - name: phisym-patient
    block: run
    input: { dataset: ${dataset} }
    jobs: { perFiles: 2 }
    backoff: 1s
    run: [sh, -c, '${checkFiles}', phisym, "{files}"]
  - name: phisym-fragile
    block: run
    input: { dataset: ${dataset} }
    backoff: 1s
    retry: { infrastructure: 1 }
    run: [sh, -c, '${checkFiles}', phisym, "{files}"]
`)

test('DBS down is an infrastructure failure: the task waits with DBS\'s error and retries, or fails once retry.infrastructure is spent', { timeout: 180_000 }, async () => {
  // real run 355892: 4725 s of collisions (203 lumisections: 3 files of 100)
  await using dbs = await startDbsStandIn({ datasets: [{ dataset, runs: [{ run: 355892, era: 'Run2022C', durationS: 4725 }], lumisPerFile: 100, open: false }] })
  dbs.setDown(true)
  await using system = await startSystem('phisym-down', downWorkflow, dbs)
  const { backends, producer, cell } = system
  await producer.publishMany(topics.runs, runEvents(realRuns(355892, 355892)))

  await until('phisym-patient waits on DBS', async () => /^waiting on dbs:\/AlCaPhiSym\/Run2022C-v1\/RAW \(file list of \/AlCaPhiSym\/Run2022C-v1\/RAW not read from DBS: DBS datasets\?\S+ answered HTTP 503: .*; infrastructure failure \d of 5, retry in \d+ s\)$/.test((await cell('phisym-patient', 355892))?.reason ?? ''))
  assert.equal((await cell('phisym-patient', 355892))?.state, TaskState.WAITING)
  await until('phisym-fragile failed', async () => (await cell('phisym-fragile', 355892))?.state === TaskState.FAILED)
  assert.match((await cell('phisym-fragile', 355892))?.reason ?? '', /^file list of \/AlCaPhiSym\/Run2022C-v1\/RAW not read from DBS: DBS \S+ answered HTTP 503: .*; infrastructure retries exhausted \(retry\.infrastructure: 1\)$/)

  dbs.setDown(false)
  await until('phisym-patient done once DBS answers', async () => (await cell('phisym-patient', 355892))?.state === TaskState.DONE)
  const argv = argvByJob(backends.requests, 'phisym-patient', 355892)
  const files = dbs.filesOf(dataset, 355892)
  assert.deepEqual([0, 1].map(j => argv.get(j)?.slice(4)), [files.slice(0, 2), files.slice(2)])
  assert.equal(argvByJob(backends.requests, 'phisym-fragile', 355892).size, 0, 'the failed task started no job')
})

test('a workflow with an input dataset and no AUTOCAL_DBS_URL stops the dispatcher at start, naming the tasks', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'autocal-wf-'))
  writeFileSync(join(dir, 'phisym-data.yaml'), workflow)
  await assert.rejects(startDispatcher(testConfig(), { AUTOCAL_WORKFLOWS_DIR: dir }), (err: Error & { code?: string }) =>
    err.code === 'AUTOCAL_CONFIG_INVALID' && err.message === 'AUTOCAL_DBS_URL is not set, but tasks read an input dataset from DBS (phisym-data.yaml: phisym-files, phisym-data.yaml: phisym-locked)')
})
