// Notifications to a Mattermost incoming webhook (a local HTTP receiver here):
// one per failure, de-duplicated in Redis, no more than the rate limit, prompt
// hold deadlines near, executors/agents lost and dead-letter floods.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { topics } from '@autocal/contracts'
import { startProducer } from '@autocal/runtime'
import { startMetricsService } from '../../src/app.ts'
import { deadLetter, jobStatus, JobPhase, taskEvent, TaskState } from './events.ts'
import { cleanUp, quietLogger, scrape, startWebhookReceiver, sumOf, testConfig, until } from './fixtures.ts'

const hour = 3_600_000

async function setup (t: { after: (fn: () => Promise<void>) => void }, overrides: Record<string, string>) {
  const webhook = await startWebhookReceiver()
  const config = testConfig({ AUTOCAL_MATTERMOST_WEBHOOK_URL: webhook.url, AUTOCAL_MATTERMOST_CHANNEL: 'ecal-alerts', ...overrides })
  const logger = quietLogger()
  const producer = await startProducer({ config, logger, service: 'test' })
  // a fixed clock: all sends fall in one rate-limit minute
  const clock = Date.now()
  const service = await startMetricsService(config, logger, { now: () => clock })
  t.after(async () => {
    await service[Symbol.asyncDispose]()
    await producer[Symbol.asyncDispose]()
    await webhook[Symbol.asyncDispose]()
    await cleanUp(config, logger)
  })
  return { webhook, producer, service, clock, config }
}

test('each failed task notifies once, and a lost agent once however many of its jobs report it', async t => {
  const { webhook, producer, service } = await setup(t, { AUTOCAL_NOTIFY_RATE_PER_MINUTE: '100' })
  const failed = (run: number, version: number) => taskEvent({ task: 'timing-reco', run, state: TaskState.FAILED, version, atMs: Date.now(), reason: `job 0 failed: exit ${version}` })
  await producer.publishMany(topics.tasks, [failed(355100, 4), failed(355100, 5), failed(355101, 4), failed(355102, 4), failed(355102, 6)])
  await producer.publish(topics.tasks, failed(355101, 4)) // a redelivery
  const lost = { reason: 'agent lost: no heartbeat for 30 s', executor: 'agent-7' }
  await producer.publishMany(topics.jobStatus, [
    jobStatus('timing-reco', 355103, JobPhase.FAILED, lost),
    jobStatus('pedestals', 355103, JobPhase.FAILED, lost)
  ])
  await until('notifications handled', async () => {
    const m = await scrape(service.url)
    return sumOf(m, 'autocal_notifications_total', { kind: 'task-failed' }) === 3 && sumOf(m, 'autocal_notifications_total', { kind: 'executor-lost' }) === 2
  })
  const texts = webhook.received.map(r => r.text).sort()
  assert.equal(texts.length, 4)
  assert.equal(texts.filter(x => /task failed/.test(x)).length, 3)
  for (const run of [355100, 355101, 355102]) assert.equal(texts.filter(x => x.includes(`run-${run}`)).length, 1, `run ${run}`)
  assert.equal(texts.filter(x => /executor\/agent lost.*agent-7/.test(x)).length, 1)
  assert.deepEqual(new Set(webhook.received.map(r => `${r.username}/${r.channel}`)), new Set(['autocal/ecal-alerts']))
  const m = await scrape(service.url)
  assert.equal(sumOf(m, 'autocal_notifications_total', { kind: 'executor-lost', outcome: 'duplicate' }), 1)
})

test('no more notifications than the rate limit go out in a minute', async t => {
  const { webhook, producer, service } = await setup(t, { AUTOCAL_NOTIFY_RATE_PER_MINUTE: '2' })
  await producer.publishMany(topics.tasks, [355100, 355101, 355102, 355103, 355104].map(run =>
    taskEvent({ task: 'timing-reco', run, state: TaskState.FAILED, version: 3, atMs: Date.now(), reason: 'exit 1' })))
  await until('all failures handled', async () => sumOf(await scrape(service.url), 'autocal_notifications_total', { kind: 'task-failed' }) === 5)
  const m = await scrape(service.url)
  assert.equal(sumOf(m, 'autocal_notifications_total', { outcome: 'sent' }), 2)
  assert.equal(sumOf(m, 'autocal_notifications_total', { outcome: 'rate-limited' }), 3)
  assert.equal(webhook.received.length, 2)
})

test('a prompt task still not done near its 48 h hold warns once; a dead-letter flood warns once', async t => {
  const { webhook, producer, service, clock, config } = await setup(t, { AUTOCAL_DEADLINE_WARN_HOURS: '6', AUTOCAL_DLQ_FLOOD_PER_MINUTE: '3' })
  await producer.publishMany(topics.tasks, [
    taskEvent({ task: 'timing-calib', run: 355100, state: TaskState.PROCESSING, version: 2, atMs: clock, runEndedMs: clock - 45 * hour, sync: 'prompt' }),
    taskEvent({ task: 'timing-calib', run: 355101, state: TaskState.WAITING, version: 2, atMs: clock, runEndedMs: clock - 10 * hour, sync: 'prompt' }),
    taskEvent({ task: 'timing-calib', run: 355102, state: TaskState.DONE, version: 2, atMs: clock, runEndedMs: clock - 45 * hour, sync: 'prompt' }),
    taskEvent({ task: 'phisym', run: 355103, state: TaskState.WAITING, version: 2, atMs: clock, runEndedMs: clock - 45 * hour, sync: 'offline' }),
    taskEvent({ task: 'timing-calib', run: 355104, state: TaskState.FAILED, version: 2, atMs: clock - 2 * hour, runEndedMs: clock - 50 * hour, sync: 'prompt' })
  ])
  await until('tasks applied', async () => sumOf(await scrape(service.url), 'autocal_tasks') === 5)
  assert.equal(await service.deadlines.scan(), 1)
  assert.equal(await service.deadlines.scan(), 1)
  await until('deadline notification', () => webhook.received.length === 1)
  assert.match(webhook.received[0]?.text ?? '', /prompt hold ends in 3\.0 h.*timing-calib on run-355100.*processing/)
  assert.equal(sumOf(await scrape(service.url), 'autocal_prompt_deadline_at_risk'), 1)

  // three dead letters within one minute (the threshold) notify once
  const minute = Math.ceil(clock / 60_000) * 60_000 + 1000
  await producer.publishMany(topics.dlq, [1, 2, 3, 4].map(offset => ({
    message: deadLetter(`${config.AUTOCAL_KAFKA_TOPIC_PREFIX}.autocal.jobs.status.v1`, offset),
    options: { time: new Date(minute) }
  })))
  await until('dead letters counted', async () => sumOf(await scrape(service.url), 'autocal_dlq_messages_total', { topic: 'autocal.jobs.status.v1' }) === 4)
  await until('flood notification', () => webhook.received.length === 2)
  assert.match(webhook.received[1]?.text ?? '', /dead-letter flood.*3 messages/)
})
