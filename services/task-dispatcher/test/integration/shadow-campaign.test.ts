// A shadow campaign end to end (issue 17), on real Kafka and Redis: the
// dispatcher (in-process app.ts), the real job-executor running the example
// scripts as processes and the real condition-uploader writing a CondDB
// SQLite file. The same live runs go through the production workflow alone,
// then through the production workflow beside its dev branch: both prompt
// and the shadow campaign get every run, the shadow's payloads go only to its
// validation tag or to a dry run, the production tags' IOVs come only from
// prompt, and prompt's job requests are the same as without the shadow.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startConsumer, startProducer } from '@autocal/runtime'
import { topics, type JobRequest, type TaskEvent } from '@autocal/contracts'
import { realRuns, repo, runEvents, silentLogger, startBackends, startDispatcher, testConfig, until } from './fixtures.ts'

const processBlock = join(repo, 'deploy/workflows/scripts/process_block.py')
const writePayload = join(repo, 'deploy/workflows/scripts/write_payload.py')

/** The ECAL timing workflow of this test: a reconstruction in `jobs` jobs, a timing payload from its outputs, a pedestal payload per run. */
const timing = (head: string, jobs: number, pedestals: string): string => `subsystem: ECAL
workflow: timing
${head}
runTypes:
  collisions: { filter: { runClass: collisions2022, global: true } }
tasks:
  - name: reco
    block: run
    jobs: ${jobs}
    retries: 0
    run: [python3, ${processBlock}, --step, timing-reco, --runs, "{runs}", --job, "{job}", --njobs, "{njobs}", --out, "{outdir}"]
  - name: calib
    needs: [reco]
    retries: 0
    run: [python3, ${writePayload}, --object-type, EcalTimeCalibConstants, --tag, EcalTimeCalibConstants_calib, --since, "{run}", --out, "{outdir}/timing.db", --inputs, "{inputs}"]
    condition: { tag: EcalTimeCalibConstants_itest_offline, record: EcalTimeCalibConstantsRcd, sync: offline }
  - name: pedestals
    block: run
    retries: 0
    run: [python3, ${writePayload}, --object-type, EcalPedestals, --tag, EcalPedestals_calib, --since, "{run}", --out, "{outdir}/pedestals.db"]
    condition: { tag: EcalPedestals_itest_offline, record: EcalPedestalsRcd, sync: offline${pedestals} }
`
const production = timing('campaigns: [prompt]', 2, '')
// the dev branch: 3 reconstruction jobs; its timing payloads go to a validation tag, its pedestals are a dry run
const dev = timing(`branch: dev
campaigns:
  - name: timing-dev
    live: true
    shadow: true
    notify: ecal-dev
    conditions:
      dryRun: false
      tags: { calib: { tag: EcalTimeCalibConstants_itest_dev_validation, sync: validation } }`, 3, ', dryRun: true')

interface Outcome {
  /** The prompt campaign's job start requests, data directory replaced by <data>, sorted. */
  promptJobs: string[]
  /** Job ids of the start requests per campaign. */
  jobIds: Map<string, string[]>
  /** Condition requests as "<request id> <tag> dry-run|upload". */
  conditionRequests: string[]
  /** IOV sinces per tag in the uploader's CondDB, and the requests that wrote them. */
  iovs: Map<string, string[]>
  writers: Map<string, string[]>
  /** Per campaign, the branch and channel its task events carry ("branch/channel"). */
  taskEvents: Map<string, Set<string>>
}

const runs = realRuns(357400, 357480).filter(r => r.runClass === 'collisions2022').slice(0, 3)
const tags = ['EcalTimeCalibConstants_itest_offline', 'EcalPedestals_itest_offline', 'EcalTimeCalibConstants_itest_dev_validation']

/** Runs the live runs through a dispatcher loading `files`, with the real executor and uploader, until the system is at rest. */
async function runThrough (files: Record<string, string>, expectedConditionRequests: number): Promise<Outcome> {
  const config = testConfig()
  const dir = mkdtempSync(join(tmpdir(), 'autocal-wf-'))
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content)
  await using backends = await startBackends(config)
  await using producer = await startProducer({ config, logger: silentLogger, service: 'test-run-watcher' })
  const events: TaskEvent[] = []
  await using observer = await startConsumer({ config, logger: silentLogger, service: 'test-observer', producer, group: 'test-observer', handlers: { tasks: async e => { events.push(e) } } })
  void observer
  await using dispatcher = await startDispatcher(config, { AUTOCAL_WORKFLOWS_DIR: dir })
  void dispatcher
  // live runs: run events without a campaign, as the run-watcher publishes them
  await producer.publishMany(topics.runs, runEvents(runs))
  await until('every condition request answered and the system at rest', async () => {
    if (backends.conditionRequests.length < expectedConditionRequests) return false
    const uploads = await (await fetch(`${backends.uploaderUrl}/api/v1/uploads?limit=1000`)).json() as { uploads: unknown[] }
    return uploads.uploads.length >= expectedConditionRequests && await backends.atRest()
  }, 180_000, 500)
  const starts = backends.requests.map(r => r.message).filter((m): m is JobRequest & { action: { case: 'start' } } => m.action.case === 'start')
  const data = (s: string): string => s.split(config.AUTOCAL_DATA_DIR).join('<data>')
  const jobIds = new Map<string, string[]>()
  for (const m of starts) jobIds.set(m.provenance?.campaign ?? '', [...(jobIds.get(m.provenance?.campaign ?? '') ?? []), m.jobId].sort())
  const iovs = new Map<string, string[]>()
  const writers = new Map<string, string[]>()
  for (const tag of tags) {
    const res = await fetch(`${backends.uploaderUrl}/api/v1/tags/${tag}/iovs`)
    iovs.set(tag, res.status === 404 ? [] : ((await res.json()) as { iovs: Array<{ since: string }> }).iovs.map(i => i.since))
    const uploads = await (await fetch(`${backends.uploaderUrl}/api/v1/uploads?tag=${tag}&limit=1000`)).json() as { uploads: Array<{ requestId: string, outcome: string }> }
    writers.set(tag, uploads.uploads.filter(u => u.outcome === 'UPLOADED').map(u => u.requestId).sort())
  }
  const taskEvents = new Map<string, Set<string>>()
  for (const e of events) taskEvents.set(e.campaign, (taskEvents.get(e.campaign) ?? new Set()).add(`${e.workflowBranch}/${e.notifyChannel}`))
  return {
    promptJobs: starts.filter(m => m.provenance?.campaign === 'prompt').map(m => data(JSON.stringify({
      jobId: m.jobId,
      try: m.try,
      index: m.jobIndex,
      version: m.provenance?.workflowVersion,
      runs: m.provenance?.inputRuns,
      argv: m.action.value.argv,
      env: m.action.value.env,
      outdir: m.action.value.outdir,
      inputs: m.action.value.inputs,
      njobs: m.action.value.njobs
    }))).sort(),
    jobIds,
    conditionRequests: backends.conditionRequests.map(r => `${r.requestId} ${r.destinationTag} ${r.dryRun ? 'dry-run' : 'upload'}`).sort(),
    iovs,
    writers,
    taskEvents
  }
}

test('live runs reach prompt and the shadow campaign; the shadow never writes a production tag and leaves prompt\'s jobs as they were', { timeout: 600_000 }, async t => {
  assert.equal(runs.length, 3)
  const numbers = runs.map(r => String(r.run))
  const alone = await runThrough({ 'timing.yaml': production }, 2 * runs.length)
  const beside = await runThrough({ 'timing.yaml': production, 'timing-dev.yaml': dev }, 4 * runs.length)
  const jobIdsOf = (campaign: string, jobs: number): string[] => runs.flatMap(r => [
    ...Array.from({ length: jobs }, (_, j) => `${campaign}/run-${r.run}/reco/1/${j}`),
    `${campaign}/run-${r.run}/calib/1/0`,
    `${campaign}/run-${r.run}/pedestals/1/0`
  ]).sort()

  await t.test('every live run reaches both live campaigns, each with its own version of the tasks', () => {
    assert.deepEqual([...beside.jobIds.keys()].sort(), ['prompt', 'timing-dev'])
    assert.deepEqual(beside.jobIds.get('prompt'), jobIdsOf('prompt', 2))
    assert.deepEqual(beside.jobIds.get('timing-dev'), jobIdsOf('timing-dev', 3))
  })

  await t.test("prompt's job requests are the same with the shadow beside it as without", () => {
    assert.equal(alone.promptJobs.length, 4 * runs.length)
    assert.deepEqual(beside.promptJobs, alone.promptJobs)
    assert.deepEqual([...alone.jobIds.keys()], ['prompt'])
  })

  await t.test("the production tags' IOVs come only from prompt; the shadow's go to its validation tag or a dry run", () => {
    for (const o of [alone, beside]) {
      assert.deepEqual(o.iovs.get('EcalTimeCalibConstants_itest_offline'), numbers)
      assert.deepEqual(o.iovs.get('EcalPedestals_itest_offline'), numbers)
      assert.deepEqual(o.writers.get('EcalTimeCalibConstants_itest_offline'), runs.map(r => `prompt/run-${r.run}/calib/1`))
      assert.deepEqual(o.writers.get('EcalPedestals_itest_offline'), runs.map(r => `prompt/run-${r.run}/pedestals/1`))
    }
    assert.deepEqual(alone.iovs.get('EcalTimeCalibConstants_itest_dev_validation'), [])
    assert.deepEqual(beside.iovs.get('EcalTimeCalibConstants_itest_dev_validation'), numbers)
    assert.deepEqual(beside.writers.get('EcalTimeCalibConstants_itest_dev_validation'), runs.map(r => `timing-dev/run-${r.run}/calib/1`))
    assert.deepEqual(beside.conditionRequests.filter(r => r.startsWith('timing-dev/')), runs.flatMap(r => [
      `timing-dev/run-${r.run}/calib/1 EcalTimeCalibConstants_itest_dev_validation upload`,
      `timing-dev/run-${r.run}/pedestals/1 EcalPedestals_itest_offline dry-run`
    ]).sort())
  })

  await t.test("task events carry the shadow's branch and notification channel; prompt's carry none", () => {
    assert.deepEqual([...beside.taskEvents.get('timing-dev') ?? []], ['dev/ecal-dev'])
    assert.deepEqual([...beside.taskEvents.get('prompt') ?? []], ['/'])
  })
})
