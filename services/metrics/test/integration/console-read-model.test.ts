// The console's indexes are part of the read model: rebuilt from Kafka with the
// rest, also when the marker was written by a version of the service without them.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { topics } from '@autocal/contracts'
import { connectRedis, startProducer } from '@autocal/runtime'
import { startMetricsService } from '../../src/app.ts'
import { deadLetter, taskEvent, TaskState } from './events.ts'
import { cleanUp, getJson, quietLogger, testConfig, until } from './fixtures.ts'

test('the console pages runs newest first with and without filters; a marker of the layout before the console makes the running service rebuild, and the console answers the same afterwards', { timeout: 120_000 }, async t => {
  const config = testConfig()
  const logger = quietLogger()
  const producer = await startProducer({ config, logger, service: 'test' })
  const service = await startMetricsService(config, logger)
  const redis = await connectRedis({ config, logger })
  t.after(async () => {
    await service[Symbol.asyncDispose]()
    await producer[Symbol.asyncDispose]()
    await redis[Symbol.asyncDispose]()
    await cleanUp(config, logger)
  })
  const now = Date.now()
  for (const [i, run] of [356381, 356382, 356383].entries()) {
    await producer.publish(topics.tasks, taskEvent({ task: 'timing-reco', run, state: TaskState.WAITING, version: 1, atMs: now + i }))
    await producer.publish(topics.tasks, taskEvent({ task: 'timing-reco', run, state: run === 356382 ? TaskState.FAILED : TaskState.DONE, version: 2, atMs: now + i, reason: 'exit code 3; retries exhausted' }))
  }
  await producer.publish(topics.dlq, deadLetter('autocal.runs.v1', 7))
  const overview = async () => (await getJson(`${service.url}/console/api/overview?campaign=prompt`)).body
  await until('three runs', async () => (await overview()).rows.length === 3)
  await until('the dead letter', async () => (await getJson(`${service.url}/console/api/health`)).body.deadLetters.length === 1)
  const before = await overview()
  const history = (await getJson(`${service.url}/console/api/tasks/history?key=${encodeURIComponent('prompt/run-356382/timing-reco')}`)).body
  assert.deepEqual(before.rows.map((r: any) => [r.run, r.cells[0].state]), [[356383, 'done'], [356382, 'failed'], [356381, 'done']])
  assert.deepEqual(history.transitions.map((x: any) => [x.version, x.state]), [[1, 'waiting'], [2, 'failed']])

  // paging and run ranges, with and without a filter that scans the campaign
  const page = async (q: string) => (await getJson(`${service.url}/console/api/overview?campaign=prompt&${q}`)).body
  const runsOf = (body: any) => [body.rows.map((r: any) => r.run), body.next]
  assert.deepEqual(runsOf(await page('limit=1')), [[356383], 356383])
  assert.deepEqual(runsOf(await page('limit=1&before=356383')), [[356382], 356382])
  assert.deepEqual(runsOf(await page('limit=2&before=356382')), [[356381], null])
  assert.deepEqual(runsOf(await page('fromRun=356382&toRun=356382')), [[356382], null])
  assert.deepEqual(runsOf(await page('state=done&limit=1')), [[356383], 356383])
  assert.deepEqual(runsOf(await page('state=done&limit=1&before=356383')), [[356381], null])
  assert.deepEqual(runsOf(await page('state=done&toRun=356382')), [[356381], null])
  assert.equal((await fetch(`${service.url}/console/api/overview?limit=0`)).status, 400)
  assert.equal((await fetch(`${service.url}/console/api/overview?before=x`)).status, 400)
  assert.equal((await fetch(`${service.url}/console/api/overview?state=lost`)).status, 400)

  // what the service before the console wrote: a marker without the layout version
  const rebuilds = service.readModel.rebuilds
  await redis.client.set(`${config.AUTOCAL_REDIS_KEY_PREFIX}metrics:marker`, JSON.stringify({ group: 'metrics', since: new Date().toISOString() }))
  await until('a rebuild', () => service.readModel.rebuilds === rebuilds + 1)
  await until('three runs again', async () => (await overview()).rows.length === 3)
  await until('the dead letter again', async () => (await getJson(`${service.url}/console/api/health`)).body.deadLetters.length === 1)
  assert.deepEqual((await overview()).rows, before.rows)
  assert.deepEqual((await getJson(`${service.url}/console/api/tasks/history?key=${encodeURIComponent('prompt/run-356382/timing-reco')}`)).body, history)
})
