// The watchdog for job requests nobody answers, end to end with the dispatcher
// process on real Kafka + Redis: a request lost on the way is requested again
// with the same job id and try; one that stays unanswered has its try failed
// and retried; a job the executor answered QUEUED and holds (a slow backend)
// is left alone. The job-executor here is a FAULT INJECTOR, not the real one:
// losing a request or never answering it on demand is what the real executor
// cannot be made to do; it answers over Kafka as the executor does.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { create } from '@bufbuild/protobuf'
import { timestampFromDate } from '@bufbuild/protobuf/wkt'
import { ControlService, JobPhase, JobStatusSchema, TaskState, topics, type JobRequest } from '@autocal/contracts'
import { createGrpcClient, startConsumer, startProducer } from '@autocal/runtime'
import { realRuns, runEvents, silentLogger, spawnDispatcher, stopDispatcher, testConfig, until, workflowsDir } from './fixtures.ts'

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
  // the fault injector: every start request recorded; answered DONE unless `lose` says it is lost (no answer)
  const requests: Array<{ message: JobRequest, eventId: string }> = []
  const deliveries = (r: JobRequest): number => requests.filter(x => x.message.jobId === r.jobId && x.message.try === r.try && x.message.action.case === 'start').length
  const silentTry1 = new Set([silent])
  const lose = (r: JobRequest): boolean => (r.jobId === lost && r.try === 1) ? deliveries(r) < 2 : (silentTry1.has(r.jobId) && r.try === 1)
  await using injector = await startProducer({ config, logger: silentLogger, service: 'test-fault-injector' })
  const answer = async (r: JobRequest, phase: JobPhase): Promise<void> => {
    await injector.publish(topics.jobStatus, create(JobStatusSchema, { jobId: r.jobId, try: r.try, provenance: r.provenance, jobIndex: r.jobIndex, phase, backend: 'htcondor', executor: 'test-fault-injector', at: timestampFromDate(new Date()) }), { eventId: `jobs/${r.jobId}/${r.try}/${phase}` })
  }
  let slowQueued: () => void = () => {}
  const slowAnswered = new Promise<void>(resolve => { slowQueued = resolve })
  await using executor = await startConsumer({
    config,
    logger: silentLogger,
    service: 'test-fault-injector',
    group: 'fault-injector',
    producer: injector,
    handlers: {
      jobRequests: async (r, meta) => {
        if (r.action.case !== 'start') return
        requests.push({ message: r, eventId: meta.eventId })
        if (lose(r)) return
        if (r.jobId === slow) {
          // a slow backend: the executor answers QUEUED at once and runs the job later
          await answer(r, JobPhase.QUEUED)
          slowQueued()
          void slowReleased.then(async () => { await answer(r, JobPhase.DONE) })
          return
        }
        await answer(r, JobPhase.DONE)
      }
    }
  })
  void executor
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
  const starts = (jobId: string): Array<[number, string]> => requests.filter(r => r.message.jobId === jobId && r.message.action.case === 'start').map(r => [r.message.try, r.eventId])

  await until('the lost request answered once asked again', async () => (await cell(357401))?.state === TaskState.DONE)
  assert.deepEqual(starts(lost), [[1, `jobs.requests/${lost}/1/start`], [1, `jobs.requests/${lost}/1/start`]], 'requested twice, same job id, try and event id')

  await until('the silent try failed and retried', async () => (await cell(357406))?.state === TaskState.DONE)
  assert.deepEqual(starts(silent).map(([tryNo]) => tryNo), [1, 1, 2], 'try 1 requested twice (the allowed re-request), then try 2')

  // the slow job was answered QUEUED: never requested again. The positive marker that the watchdog looked at it past
  // its timeout: a job requested after the slow one's QUEUED answer, never answered, is requested again (so its
  // timeout, later than the slow job's, has passed and the watchdog acted on it)
  await slowAnswered
  const later = realRuns(357439, 357620).find(r => r.runClass === 'collisions2022')
  assert.ok(later !== undefined)
  const marker = `prompt/run-${later.run}/watched/1/0`
  silentTry1.add(marker)
  await producer.publishMany(topics.runs, runEvents([later]))
  await until('the marker job requested again by the watchdog', () => starts(marker).length >= 2)
  assert.equal((await cell(357438))?.state, TaskState.PROCESSING)
  releaseSlow()
  await until('the slow job done', async () => (await cell(357438))?.state === TaskState.DONE)
  assert.deepEqual(starts(slow).map(([tryNo]) => tryNo), [1], 'requested once')
})
