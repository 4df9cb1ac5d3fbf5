// Notifications to a Mattermost incoming webhook (a local HTTP receiver here):
// one per failure, de-duplicated in Redis, no more than the rate limit, prompt
// hold deadlines near, executors/agents lost and dead-letter floods.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { topics } from '@autocal/contracts'
import { startProducer } from '@autocal/runtime'
import { startMetricsService } from '../../src/app.ts'
import { conditionOutcome, deadLetter, jobStatus, JobPhase, Outcome, taskEvent, TaskState } from './events.ts'
import { cleanUp, quietLogger, scrape, startWebhookReceiver, sumOf, testConfig, until } from './fixtures.ts'

const hour = 3_600_000

async function setup (t: { after: (fn: () => Promise<void>) => void }, overrides: Record<string, string>) {
  const webhook = await startWebhookReceiver()
  const config = testConfig({ AUTOCAL_MATTERMOST_WEBHOOK_URL: webhook.url, AUTOCAL_MATTERMOST_CHANNEL: 'ecal-alerts', ...overrides })
  const logger = quietLogger()
  // released in reverse order, each even when a later one fails to start (a dangling receiver would keep the file running)
  const stack = new AsyncDisposableStack()
  t.after(async () => { await stack.disposeAsync() })
  stack.defer(async () => { await cleanUp(config, logger) })
  stack.use(webhook)
  const producer = stack.use(await startProducer({ config, logger, service: 'test' }))
  // a fixed clock: all sends fall in one rate-limit minute
  const clock = Date.now()
  const service = stack.use(await startMetricsService(config, logger, { now: () => clock }))
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

test('no more notifications than the rate limit go out in a minute; the rest come as one digest, not dropped', async t => {
  const { webhook, producer, service } = await setup(t, { AUTOCAL_NOTIFY_RATE_PER_MINUTE: '2' })
  await producer.publishMany(topics.tasks, [355100, 355101, 355102, 355103, 355104].map(run =>
    taskEvent({ task: 'timing-reco', run, state: TaskState.FAILED, version: 3, atMs: Date.now(), reason: 'exit 1' })))
  await until('all failures handled', async () => sumOf(await scrape(service.url), 'autocal_notifications_total', { kind: 'task-failed' }) === 5)
  const m = await scrape(service.url)
  assert.equal(sumOf(m, 'autocal_notifications_total', { outcome: 'sent' }), 2)
  assert.equal(sumOf(m, 'autocal_notifications_total', { outcome: 'digested' }), 3)
  assert.equal(webhook.received.length, 2)
  assert.equal(await service.notifier.flushDigests(), 1)
  assert.equal(webhook.received.length, 3)
  const digest = webhook.received[2]?.text ?? ''
  assert.match(digest, /^:bookmark_tabs: \*\*digest\*\*: 3 notifications held back by the rate limit\n/)
  const sentRuns = webhook.received.slice(0, 2).map(r => /run-(\d+)/.exec(r.text)?.[1])
  const digestRuns = [...digest.matchAll(/run-(\d+)/g)].map(x => x[1])
  assert.deepEqual([...sentRuns, ...digestRuns].sort(), ['355100', '355101', '355102', '355103', '355104'])
  assert.equal(await service.notifier.flushDigests(), 0) // taken once
  assert.equal(sumOf(await scrape(service.url), 'autocal_notifications_total', { kind: 'digest', outcome: 'sent' }), 1)
})

test('a prompt task still not done near its 48 h hold warns once, one past it once; each dead letter and a flood notify once', async t => {
  const { webhook, producer, service, clock, config } = await setup(t, { AUTOCAL_DEADLINE_WARN_HOURS: '6', AUTOCAL_DLQ_FLOOD_PER_MINUTE: '3' })
  await producer.publishMany(topics.tasks, [
    taskEvent({ task: 'timing-calib', run: 355100, state: TaskState.PROCESSING, version: 2, atMs: clock, runEndedMs: clock - 45 * hour, sync: 'prompt' }),
    taskEvent({ task: 'timing-calib', run: 355101, state: TaskState.WAITING, version: 2, atMs: clock, runEndedMs: clock - 10 * hour, sync: 'prompt' }),
    taskEvent({ task: 'timing-calib', run: 355102, state: TaskState.DONE, version: 2, atMs: clock, runEndedMs: clock - 45 * hour, sync: 'prompt' }),
    taskEvent({ task: 'phisym', run: 355103, state: TaskState.WAITING, version: 2, atMs: clock, runEndedMs: clock - 45 * hour, sync: 'offline' }),
    taskEvent({ task: 'timing-calib', run: 355104, state: TaskState.FAILED, version: 2, atMs: clock - 2 * hour, runEndedMs: clock - 50 * hour, sync: 'prompt' })
  ])
  await until('tasks applied', async () => sumOf(await scrape(service.url), 'autocal_tasks') === 5)
  assert.deepEqual(await service.deadlines.scanAll(), { atRisk: 1, missed: 1 })
  assert.deepEqual(await service.deadlines.scanAll(), { atRisk: 1, missed: 1 })
  await until('deadline notifications', () => webhook.received.length === 2)
  const [near, missed] = [/prompt hold ends/, /prompt hold missed/].map(re => webhook.received.filter(r => re.test(r.text)))
  assert.equal(near?.length, 1)
  assert.match(near?.[0]?.text ?? '', /prompt hold ends in 3\.0 h.*timing-calib on run-355100.*processing/)
  assert.equal(missed?.length, 1)
  assert.match(missed?.[0]?.text ?? '', /prompt hold missed\*\* 2\.0 h ago .*timing-calib on run-355104 \(run 355104\) is failed/)
  const gauges = await scrape(service.url)
  assert.equal(sumOf(gauges, 'autocal_prompt_deadline_at_risk'), 1)
  assert.equal(sumOf(gauges, 'autocal_prompt_deadline_missed'), 1)

  // three dead letters within one minute (the threshold) notify once
  const minute = Math.ceil(clock / 60_000) * 60_000 + 1000
  await producer.publishMany(topics.dlq, [1, 2, 3, 4].map(offset => ({
    message: deadLetter(`${config.AUTOCAL_KAFKA_TOPIC_PREFIX}.autocal.jobs.status.v1`, offset),
    options: { time: new Date(minute) }
  })))
  await until('dead letters counted', async () => sumOf(await scrape(service.url), 'autocal_dlq_messages_total', { topic: 'autocal.jobs.status.v1' }) === 4)
  await until('flood and entry notifications', () => webhook.received.length === 2 + 1 + 4)
  assert.equal(webhook.received.filter(r => /dead-letter flood.*3 messages/.test(r.text)).length, 1)
  assert.equal(webhook.received.filter(r => /dead letter\*\* from autocal\.jobs\.status\.v1/.test(r.text)).length, 4)
})

test('routes send a subsystem\'s failures and rejected uploads to its channel, low-level events to the experts, the rest to the default', async t => {
  const ecal = await startWebhookReceiver()
  const experts = await startWebhookReceiver()
  t.after(async () => {
    await ecal[Symbol.asyncDispose]()
    await experts[Symbol.asyncDispose]()
  })
  const routes = [
    { name: 'ecal-failures', audiences: ['failures'], subsystems: ['ECAL'], webhook: ecal.url, channel: 'ecal-failures' },
    { name: 'experts', audiences: ['experts'], webhook: experts.url, channel: 'autocal-experts' }
  ]
  const { webhook, producer, service, config } = await setup(t, { AUTOCAL_NOTIFY_RATE_PER_MINUTE: '100', AUTOCAL_NOTIFY_ROUTES: JSON.stringify(routes) })
  await producer.publishMany(topics.tasks, [
    taskEvent({ task: 'timing-reco', run: 355100, state: TaskState.FAILED, version: 3, atMs: Date.now(), reason: 'exit 3' }),
    taskEvent({ task: 'hcal-pedestals', run: 355100, state: TaskState.FAILED, version: 3, atMs: Date.now(), reason: 'exit 4', subsystem: 'HCAL' })
  ])
  await producer.publish(topics.conditions, conditionOutcome('timing-calib', 355100, Outcome.REJECTED, Date.now()))
  await producer.publish(topics.dlq, deadLetter(`${config.AUTOCAL_KAFKA_TOPIC_PREFIX}.autocal.runs.v1`, 1))
  await until('four notifications', () => ecal.received.length + experts.received.length + webhook.received.length === 4)
  assert.deepEqual(ecal.received.map(r => r.channel), ['ecal-failures', 'ecal-failures'])
  assert.equal(ecal.received.filter(r => /task failed.*timing-reco/.test(r.text)).length, 1)
  assert.equal(ecal.received.filter(r => /upload rejected\*\* ECAL tag/.test(r.text)).length, 1)
  assert.deepEqual(experts.received.map(r => [r.channel, /dead letter\*\* from autocal\.runs\.v1 \(group task-dispatcher\): cannot decode/.test(r.text)]), [['autocal-experts', true]])
  assert.deepEqual(webhook.received.map(r => [r.channel, /task failed\*\* HCAL prompt · hcal-pedestals/.test(r.text)]), [['ecal-alerts', true]])
  assert.equal(sumOf(await scrape(service.url), 'autocal_uploads_total', { outcome: 'rejected' }), 1)
})
