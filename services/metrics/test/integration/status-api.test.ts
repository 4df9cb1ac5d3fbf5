// The metrics service on the real local Kafka and Redis: events produced with
// the runtime producer show up in the status API and in /metrics, the two
// agree, and the read model is rebuilt from Kafka when its Redis keys vanish.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { topics } from '@autocal/contracts'
import { connectRedis, startProducer } from '@autocal/runtime'
import { startMetricsService } from '../../src/app.ts'
import { conditionOutcome, conditionRequest, deadLetter, jobStart, jobStatus, JobPhase, Outcome, runEnded, taskEvent, TaskState } from './events.ts'
import { cleanUp, getJson, quietLogger, scrape, startWebhookReceiver, sumOf, testConfig, until } from './fixtures.ts'

const hour = 3_600_000

test('the status API and /metrics show what the topics carried, and agree after a rebuild from Kafka', async t => {
  await using webhook = await startWebhookReceiver()
  const config = testConfig({ AUTOCAL_MATTERMOST_WEBHOOK_URL: webhook.url })
  const logger = quietLogger()
  await using producer = await startProducer({ config, logger, service: 'test' })
  let service = await startMetricsService(config, logger)
  t.after(async () => {
    await service[Symbol.asyncDispose]()
    await cleanUp(config, logger)
  })
  const url = service.url

  const now = Date.now()
  const end = now - 2 * hour
  await producer.publish(topics.runs, runEnded(355100, end))
  await producer.publish(topics.runs, runEnded(355101, end + 60_000))
  // the first job request of timing-reco on 355100 comes after its run's ended event
  await until('run 355100 in the read model', async () => (await service.store.getRun(355100))?.endedEventAt !== undefined)
  await producer.publishMany(topics.tasks, [
    taskEvent({ task: 'timing-reco', run: 355100, state: TaskState.WAITING, version: 1, atMs: now - hour, runEndedMs: end }),
    taskEvent({ task: 'timing-reco', run: 355100, state: TaskState.PROCESSING, version: 2, atMs: now - hour, runEndedMs: end }),
    taskEvent({ task: 'timing-reco', run: 355100, state: TaskState.DONE, version: 3, atMs: now - 30 * 60_000, runEndedMs: end }),
    taskEvent({ task: 'timing-calib', run: 355100, state: TaskState.PROCESSING, version: 1, atMs: now - 20 * 60_000, runEndedMs: end, sync: 'prompt' }),
    taskEvent({ task: 'timing-calib', run: 355100, state: TaskState.DONE, version: 2, atMs: now, runEndedMs: end, sync: 'prompt' }),
    taskEvent({ task: 'timing-reco', run: 355101, state: TaskState.PROCESSING, version: 1, atMs: now, runEndedMs: end + 60_000 }),
    taskEvent({ task: 'timing-reco', run: 355101, state: TaskState.FAILED, version: 2, atMs: now, runEndedMs: end + 60_000, reason: 'job 0 failed: exit 1' }),
    taskEvent({ task: 'pedestals', run: 355101, state: TaskState.WAITING, version: 1, atMs: now, subsystem: 'ECAL' })
  ])
  await producer.publish(topics.jobRequests, jobStart('timing-reco', 355100))
  // a job request seen before its run's ended event is measured when the event arrives
  await producer.publish(topics.jobRequests, jobStart('pedestals', 355102))
  await until('pedestals request parked', async () => (await service.store.getJobRequest('prompt/run-355102/pedestals', 'prompt/run-355102/pedestals/1/0#1')) !== undefined)
  await producer.publish(topics.runs, runEnded(355102, end + 120_000))
  await producer.publishMany(topics.jobStatus, [
    jobStatus('timing-reco', 355100, JobPhase.RUNNING),
    jobStatus('timing-reco', 355100, JobPhase.DONE),
    jobStatus('timing-reco', 355101, JobPhase.FAILED, { exitCode: 1, reason: 'exit 1', durationMs: 700n })
  ])
  await producer.publish(topics.conditionRequests, conditionRequest('timing-calib', 355100))
  await producer.publish(topics.conditions, conditionOutcome('timing-calib', 355100, Outcome.UPLOADED, now))
  await producer.publish(topics.dlq, deadLetter(`${config.AUTOCAL_KAFKA_TOPIC_PREFIX}.autocal.runs.v1`, 7))
  // redeliveries change nothing
  await producer.publish(topics.conditions, conditionOutcome('timing-calib', 355100, Outcome.UPLOADED, now))
  await producer.publish(topics.jobStatus, jobStatus('timing-reco', 355101, JobPhase.FAILED, { exitCode: 1, reason: 'exit 1', durationMs: 700n }))

  async function settled (): Promise<boolean> {
    const m = await scrape(url)
    return sumOf(m, 'autocal_tasks') === 4 && sumOf(m, 'autocal_tasks', { state: 'done' }) === 2 &&
      sumOf(m, 'autocal_tasks', { state: 'failed' }) === 1 && sumOf(m, 'autocal_tasks', { state: 'waiting' }) === 1 &&
      sumOf(m, 'autocal_uploads_total') === 1 && sumOf(m, 'autocal_dlq_messages_total') === 1 &&
      sumOf(m, 'autocal_jobs_finished_total') === 2 && sumOf(m, 'autocal_dispatch_latency_seconds_count') === 2 &&
      sumOf(m, 'autocal_job_duration_seconds_count') === 2
  }
  await until('every event applied', settled)

  const campaigns = await getJson(`${url}/api/v1/campaigns`)
  assert.equal(campaigns.status, 200)
  assert.deepEqual(campaigns.body.campaigns, [{ campaign: 'prompt', subsystems: ['ECAL'], tasks: ['pedestals', 'timing-calib', 'timing-reco'], states: { done: 2, failed: 1, waiting: 1 }, total: 4 }])

  const overview = await getJson(`${url}/api/v1/campaigns/prompt/overview`)
  assert.deepEqual(overview.body.runs, [355100, 355101])
  assert.equal(overview.body.cells.length, 4)
  const failed = await getJson(`${url}/api/v1/campaigns/prompt/overview?state=failed`)
  assert.deepEqual(failed.body.cells.map((c: any) => [c.run, c.task, c.state, c.attempt, c.reason]), [[355101, 'timing-reco', 'failed', 1, 'job 0 failed: exit 1']])
  const ranged = await getJson(`${url}/api/v1/campaigns/prompt/overview?fromRun=355101&task=timing-reco,pedestals`)
  assert.deepEqual(ranged.body.cells.map((c: any) => c.task).sort(), ['pedestals', 'timing-reco'])
  assert.equal((await getJson(`${url}/api/v1/campaigns/prompt/overview?state=bogus`)).status, 400)
  assert.equal((await getJson(`${url}/api/v1/campaigns/nope/overview`)).status, 404)

  const run = await getJson(`${url}/api/v1/runs/355100`)
  assert.equal(run.status, 200)
  assert.equal(run.body.record.endTime, new Date(end).toISOString())
  assert.deepEqual(run.body.blocks, [{ campaign: 'prompt', blockId: 'run-355100', blockKind: 'run', runs: [355100] }])
  const reco = run.body.tasks.find((x: any) => x.task === 'timing-reco')
  assert.equal(reco.state, 'done')
  assert.equal(reco.jobRecords.length, 1)
  assert.equal(reco.jobRecords[0].request.backend, 'local')
  assert.equal(reco.jobRecords[0].status.phase, 'done')
  assert.equal(reco.jobRecords[0].status.outputs[0].label, 'condition')
  assert.deepEqual(reco.logLinks, ['http://127.0.0.1:8083/jobs/prompt/run-355100/timing-reco/1/0/log'])
  const calib = run.body.tasks.find((x: any) => x.task === 'timing-calib')
  assert.equal(calib.conditions.requests[0].tag, 'EcalTimeCalibConstants_prompt')
  assert.equal(calib.conditions.outcomes[0].outcome, 'uploaded')
  assert.equal((await getJson(`${url}/api/v1/runs/1`)).status, 404)

  const m = await scrape(url)
  // the /metrics task gauge and the status API count the same tasks
  for (const [state, n] of Object.entries(campaigns.body.campaigns[0].states)) {
    assert.equal(sumOf(m, 'autocal_tasks', { campaign: 'prompt', state }), n, state)
  }
  assert.equal(sumOf(m, 'autocal_tasks', { task: 'timing-reco', state: 'failed' }), 1)
  assert.equal(sumOf(m, 'autocal_uploads_total', { outcome: 'uploaded' }), 1)
  assert.equal(sumOf(m, 'autocal_job_failures_total', { backend: 'local' }), 1)
  assert.equal(sumOf(m, 'autocal_dlq_messages_total', { topic: 'autocal.runs.v1' }), 1)
  assert.equal(sumOf(m, 'autocal_run_end_to_task_done_seconds_count'), 2)
  assert.equal(sumOf(m, 'autocal_run_end_to_condition_uploaded_seconds_count', { tag: 'EcalTimeCalibConstants_prompt' }), 1)
  // uploaded 2 h after the run end: in the 3 h bucket, not in the 1 h one
  assert.equal(sumOf(m, 'autocal_run_end_to_condition_uploaded_seconds_bucket', { le: '3600' }), 0)
  assert.equal(sumOf(m, 'autocal_run_end_to_condition_uploaded_seconds_bucket', { le: '10800' }), 1)
  assert.equal(sumOf(m, 'autocal_dispatch_latency_seconds_count', { subsystem: 'ECAL', task: 'timing-reco' }), 1)
  assert.equal(sumOf(m, 'autocal_dispatch_latency_seconds_count', { subsystem: 'ECAL', task: 'pedestals' }), 1)
  // offsets are committed every second: the lag shows once the group committed on the topic
  await until('lag of the metrics group reported', async () =>
    (await scrape(url)).some(s => s.name === 'autocal_consumer_lag' && s.labels.group === 'metrics' && s.labels.topic === 'autocal.tasks.v1'))
  await until('the failed task and the dead letter notified', () => webhook.received.length === 2)
  assert.equal(webhook.received.filter(r => /task failed.*timing-reco on run-355101.*exit 1/.test(r.text)).length, 1)
  assert.equal(webhook.received.filter(r => /dead letter\*\* from autocal\.runs\.v1/.test(r.text)).length, 1)

  // lose the read model: every key under the prefix goes; the running service rebuilds from Kafka
  const snapshot = { campaigns: campaigns.body, overview: overview.body }
  await using redis = await connectRedis({ config, logger })
  const keys = await redis.client.keys(`${config.AUTOCAL_REDIS_KEY_PREFIX}*`)
  assert.ok(keys.length > 10)
  await redis.client.del(...keys)
  await until('the read model is rebuilt', async () => service.readModel.rebuilds >= 2 && await settled())
  assert.deepEqual((await getJson(`${url}/api/v1/campaigns`)).body, snapshot.campaigns)
  assert.deepEqual((await getJson(`${url}/api/v1/campaigns/prompt/overview`)).body, snapshot.overview)
  await until('the replayed failure and dead letter handled', async () => sumOf(await scrape(url), 'autocal_notifications_total', { outcome: 'replayed' }) === 2)
  const after = await scrape(url)
  assert.equal(sumOf(after, 'autocal_dispatch_latency_seconds_count'), 2, 'histograms are reset before a replay')
  assert.equal(sumOf(after, 'autocal_notifications_total', { outcome: 'sent' }), 2, 'a replayed failure or dead letter does not notify again')
  assert.equal(webhook.received.length, 2)

  // and a restart with an empty Redis rebuilds as well
  await service[Symbol.asyncDispose]()
  await redis.client.del(...await redis.client.keys(`${config.AUTOCAL_REDIS_KEY_PREFIX}*`))
  service = await startMetricsService({ ...config, AUTOCAL_HTTP_PORT: 0 }, logger)
  await until('rebuilt after restart', async () => {
    const o = await getJson(`${service.url}/api/v1/campaigns/prompt/overview`)
    return o.status === 200 && JSON.stringify(o.body) === JSON.stringify(snapshot.overview)
  })
  const restartedUrl = service.url
  await until('counters rebuilt after restart', async () => {
    const restarted = await scrape(restartedUrl)
    return sumOf(restarted, 'autocal_uploads_total') === 1 && sumOf(restarted, 'autocal_job_failures_total') === 1 && sumOf(restarted, 'autocal_dlq_messages_total') === 1
  })
  assert.equal(sumOf(await scrape(restartedUrl), 'autocal_tasks'), 4)
  assert.equal(webhook.received.length, 2)
})

// issue 15: numeric results of done tasks, as gauges for trend and anomaly checks
test('a done task\'s numeric results are exported as the latest run\'s, and a reprocessed older run does not replace them', async t => {
  const config = testConfig()
  const logger = quietLogger()
  await using producer = await startProducer({ config, logger, service: 'test' })
  const service = await startMetricsService(config, logger)
  t.after(async () => {
    await service[Symbol.asyncDispose]()
    await cleanUp(config, logger)
  })
  const now = Date.now()
  await producer.publishMany(topics.tasks, [
    taskEvent({ task: 'pps-timing', run: 357401, state: TaskState.DONE, version: 1, atMs: now, subsystem: 'PPS', jobResults: [{ chi2_ndf: 1.07, hits: 40210 }] }),
    taskEvent({ task: 'pps-timing', run: 357406, state: TaskState.DONE, version: 1, atMs: now, subsystem: 'PPS', jobResults: [{ chi2_ndf: 1.12, hits: 38000 }] }),
    // an older run done later (a reprocessing): kept in the task's view, not as the latest result
    taskEvent({ task: 'pps-timing', run: 357330, state: TaskState.DONE, version: 1, atMs: now, subsystem: 'PPS', jobResults: [{ chi2_ndf: 9.5, hits: 10 }] }),
    // two jobs: each result named per job
    taskEvent({ task: 'ecal-fit', run: 357406, state: TaskState.DONE, version: 1, atMs: now, jobResults: [{ chi2_ndf: 1.5 }, { chi2_ndf: 2.5 }] })
  ])
  const labels = { subsystem: 'PPS', campaign: 'prompt', task: 'pps-timing' }
  // the four events are on different partitions, applied in any order: wait until every one is in the read model
  const keys = ['prompt/run-357401/pps-timing', 'prompt/run-357406/pps-timing', 'prompt/run-357330/pps-timing', 'prompt/run-357406/ecal-fit']
  await until('every task applied', async () => (await Promise.all(keys.map(async k => await service.store.getTask(k)))).every(v => v?.state === 'done'))
  // its results are written right after each task: the newest run's must be the ones shown (an older run over it never is)
  await until('the newest run\'s results', async () => {
    const m = await scrape(service.url)
    return sumOf(m, 'autocal_task_result_run', { ...labels, result: 'chi2_ndf' }) === 357406 && sumOf(m, 'autocal_task_result', { task: 'ecal-fit', result: 'chi2_ndf_j1' }) === 2.5
  })
  const m = await scrape(service.url)
  assert.equal(sumOf(m, 'autocal_task_result', { ...labels, result: 'chi2_ndf' }), 1.12)
  assert.equal(sumOf(m, 'autocal_task_result', { ...labels, result: 'hits' }), 38000)
  assert.equal(sumOf(m, 'autocal_task_result_run', { ...labels, result: 'chi2_ndf' }), 357406)
  assert.equal(sumOf(m, 'autocal_task_result', { task: 'ecal-fit', result: 'chi2_ndf_j0' }), 1.5)
  // and per run in the task's view (the console's run page and /api/v1)
  const view = await service.store.getTask('prompt/run-357330/pps-timing')
  assert.deepEqual(view?.jobs[0]?.results, { chi2_ndf: 9.5, hits: 10 })
})
