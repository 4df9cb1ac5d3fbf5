// The watchdog for job requests nobody answers, end to end with the dispatcher
// process on real Kafka + Redis (the job-executor is the labelled stand-in of
// fixtures.ts): a request lost on the way is requested again with the same
// job id and try; one that stays unanswered has its try failed and retried;
// a job the executor answered QUEUED and holds (a slow backend) is left alone.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { create } from '@bufbuild/protobuf'
import { timestampFromDate } from '@bufbuild/protobuf/wkt'
import { ControlService, JobPhase, JobStatusSchema, TaskState, topics, type JobRequest } from '@autocal/contracts'
import { createGrpcClient, startProducer } from '@autocal/runtime'
import { realRuns, runEvents, silentLogger, spawnDispatcher, startStandIns, stopDispatcher, testConfig, until, workflowsDir } from './fixtures.ts'

const workflow = `subsystem: ECAL
workflow: watchdog-demo
runTypes:
  collisions: { filter: { runClass: collisions2022 } }
tasks:
  - name: watched
    block: run
    run: [python3, ${workflowsDir}/scripts/process_block.py, --step, watched, --runs, "{runs}", --job, "{job}", --out, "{outdir}"]
    retries: 1
    backoff: 1s
`

const lost = 'prompt/run-357401/watched/1/0' // its first request is lost: the repeated one is answered
const silent = 'prompt/run-357406/watched/1/0' // try 1 is never answered: failed by the watchdog, try 2 answered
const slow = 'prompt/run-357438/watched/1/0' // answered QUEUED at once, held past the timeout, then run

test('an unanswered job request is requested again with the same try, then its try is failed and retried; a job answered QUEUED is not requested again', { timeout: 120_000 }, async t => {
  const config = testConfig()
  const dir = mkdtempSync(join(tmpdir(), 'autocal-wf-'))
  writeFileSync(join(dir, 'watchdog-demo.yaml'), workflow)
  const timeoutMs = 1500
  let releaseSlow: () => void = () => {}
  const slowReleased = new Promise<void>(resolve => { releaseSlow = resolve })
  const deliveries = (r: JobRequest): number => standIns.requests.filter(x => x.message.jobId === r.jobId && x.message.try === r.try && x.message.action.case === 'start').length
  const standIns = await startStandIns(config, {
    answer: r => (r.jobId === lost && r.try === 1) ? deliveries(r) >= 2 : !(r.jobId === silent && r.try === 1),
    hold: r => {
      if (r.jobId !== slow) return undefined
      // a slow backend: the executor answers QUEUED at once and runs the job later
      return standIns.producer.publish(topics.jobStatus, create(JobStatusSchema, { jobId: r.jobId, try: r.try, provenance: r.provenance, jobIndex: r.jobIndex, phase: JobPhase.QUEUED, backend: 'htcondor', executor: 'test-stand-in', at: timestampFromDate(new Date()) }), { eventId: `jobs/${r.jobId}/${r.try}/queued` })
        .then(async () => { await slowReleased })
    }
  })
  t.after(async () => { await standIns[Symbol.asyncDispose]() })
  const dispatcher = await spawnDispatcher(config, {
    AUTOCAL_WORKFLOWS_DIR: dir,
    AUTOCAL_JOB_ANSWER_TIMEOUT_MS: String(timeoutMs),
    AUTOCAL_JOB_ANSWER_REREQUESTS: '1',
    AUTOCAL_CONTROL_TOKENS: JSON.stringify({ 'admin-token-1': { principal: 'ops', subsystems: '*' } })
  })
  t.after(async () => { await stopDispatcher(dispatcher) })
  const client = createGrpcClient(ControlService, `127.0.0.1:${dispatcher.grpcPort}`, { token: 'admin-token-1' })
  t.after(() => { client.close() })
  await using producer = await startProducer({ config, logger: silentLogger, service: 'test-run-watcher' })
  await producer.publishMany(topics.runs, runEvents(realRuns(357401, 357438)))
  const cell = async (run: number) => (await client.getStatus({ selector: { campaign: 'prompt', tasks: ['watched'], runs: [run] } })).cells[0]
  const starts = (jobId: string): Array<[number, string]> => standIns.requests.filter(r => r.message.jobId === jobId && r.message.action.case === 'start').map(r => [r.message.try, r.eventId])

  await until('the lost request answered once asked again', async () => (await cell(357401))?.state === TaskState.DONE)
  assert.deepEqual(starts(lost), [[1, `jobs.requests/${lost}/1/start`], [1, `jobs.requests/${lost}/1/start`]], 'requested twice, same job id, try and event id')

  await until('the silent try failed and retried', async () => (await cell(357406))?.state === TaskState.DONE)
  assert.deepEqual(starts(silent).map(([tryNo]) => tryNo), [1, 1, 2], 'try 1 requested twice (the allowed re-request), then try 2')

  // the slow job was answered QUEUED: held for 3 timeouts, never requested again
  await new Promise(resolve => setTimeout(resolve, 3 * timeoutMs))
  assert.equal((await cell(357438))?.state, TaskState.PROCESSING)
  releaseSlow()
  await until('the slow job done', async () => (await cell(357438))?.state === TaskState.DONE)
  assert.deepEqual(starts(slow).map(([tryNo]) => tryNo), [1], 'requested once')
})
