// A campaign's own notification channel (workflow YAML `notify:`, carried by
// the task events as notify_channel) on real Kafka and Redis: notifications
// about its tasks go to that channel only, never to the subsystem's routes.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { create } from '@bufbuild/protobuf'
import { TaskEventSchema, topics } from '@autocal/contracts'
import { startProducer } from '@autocal/runtime'
import { startMetricsService } from '../../src/app.ts'
import { conditionOutcome, Outcome, taskEvent, TaskState } from './events.ts'
import { cleanUp, quietLogger, scrape, startWebhookReceiver, sumOf, testConfig, until } from './fixtures.ts'

test("a shadow campaign's failures and rejected uploads go to its own channel only; production's to the subsystem's route", async t => {
  const stack = new AsyncDisposableStack()
  t.after(async () => { await stack.disposeAsync() })
  const fallback = stack.use(await startWebhookReceiver())
  const ecal = stack.use(await startWebhookReceiver())
  const dev = stack.use(await startWebhookReceiver())
  const routes = [
    { name: 'ecal-failures', audiences: ['failures'], subsystems: ['ECAL'], webhook: ecal.url, channel: 'ecal-failures' },
    { name: 'ecal-dev', campaignChannel: true, webhook: dev.url, channel: 'ecal-dev-alerts' }
  ]
  const config = testConfig({ AUTOCAL_MATTERMOST_WEBHOOK_URL: fallback.url, AUTOCAL_MATTERMOST_CHANNEL: 'autocal', AUTOCAL_NOTIFY_RATE_PER_MINUTE: '100', AUTOCAL_NOTIFY_ROUTES: JSON.stringify(routes) })
  const logger = quietLogger()
  stack.defer(async () => { await cleanUp(config, logger) })
  const producer = stack.use(await startProducer({ config, logger, service: 'test' }))
  const service = stack.use(await startMetricsService(config, logger))

  const shadowTask = (task: string, run: number, channel: string) => create(TaskEventSchema, {
    ...taskEvent({ task, run, state: TaskState.FAILED, version: 3, atMs: Date.now(), reason: 'exit 3', campaign: 'timing-dev' }),
    workflowBranch: 'dev',
    notifyChannel: channel
  })
  await producer.publishMany(topics.tasks, [
    taskEvent({ task: 'timing-reco', run: 355100, state: TaskState.FAILED, version: 3, atMs: Date.now(), reason: 'exit 3' }),
    shadowTask('timing-reco', 355100, 'ecal-dev'),
    shadowTask('timing-reco', 355101, 'pps-shadow'),
    create(TaskEventSchema, { ...taskEvent({ task: 'timing-calib', run: 355100, state: TaskState.PROCESSING, version: 2, atMs: Date.now(), campaign: 'timing-dev' }), notifyChannel: 'ecal-dev' })
  ])
  // the rejected upload of the shadow's calibration: its channel is the one its task's events carry
  await until('the four tasks in the read model', async () => sumOf(await scrape(service.url), 'autocal_tasks') === 4)
  const rejected = conditionOutcome('timing-calib', 355100, Outcome.REJECTED, Date.now())
  rejected.requestId = 'timing-dev/run-355100/timing-calib/1'
  if (rejected.provenance !== undefined) rejected.provenance.campaign = 'timing-dev'
  await producer.publish(topics.conditions, rejected)

  await until('four notifications', () => fallback.received.length + ecal.received.length + dev.received.length === 4)
  assert.deepEqual(ecal.received.map(r => [r.channel, /task failed.*prompt · timing-reco on run-355100/.test(r.text)]), [['ecal-failures', true]])
  assert.deepEqual(dev.received.map(r => r.channel), ['ecal-dev-alerts', 'ecal-dev-alerts'])
  assert.equal(dev.received.filter(r => /task failed.*timing-dev · timing-reco on run-355100/.test(r.text)).length, 1)
  assert.equal(dev.received.filter(r => /upload rejected.*timing-dev\/run-355100\/timing-calib\/1/.test(r.text)).length, 1)
  // a channel no route names: the default webhook, posted to the Mattermost channel of that name
  assert.deepEqual(fallback.received.map(r => [r.channel, /task failed.*timing-dev · timing-reco on run-355101/.test(r.text)]), [['pps-shadow', true]])
})
