// Infrastructure outages against the bus: a Redis of the test's own is
// stopped for longer than the bus's retry budget; the message in flight is
// waited out (not counted, not dead-lettered) and handled once Redis is back,
// with the consumer's readiness failing meanwhile. And a consumer that kafkajs
// cannot restart fails liveness.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { create } from '@bufbuild/protobuf'
import { RunEventSchema, topics, topicName } from '@autocal/contracts'
import { startProducer } from '../../src/bus/producer.ts'
import { startConsumer } from '../../src/bus/consumer.ts'
import { createKafka, topicOffsets } from '../../src/bus/kafka.ts'
import { connectRedis } from '../../src/redis/connect.ts'
import { buildHttp } from '../../src/http.ts'
import { createMetrics } from '../../src/metrics.ts'
import { lifecycle } from '../../src/shutdown.ts'
import { memoryLogger, testConfig, until } from '../fixtures.ts'
import { startOwnRedis } from '../own-redis.ts'

test('a message whose handler meets a Redis outage longer than the retry budget is handled after Redis returns, and nothing is dead-lettered', async () => {
  await using server = await startOwnRedis()
  // retry budget: a single attempt; the outage lasts for several
  const config = testConfig({ ...server.config, AUTOCAL_KAFKA_MAX_ATTEMPTS: '1', AUTOCAL_KAFKA_RETRY_BASE_MS: '50', AUTOCAL_KAFKA_RETRY_MAX_MS: '200' })
  const { logger } = memoryLogger('test', 'error')
  await using redis = await connectRedis({ config, logger })
  await using producer = await startProducer({ config, logger, service: 'test' })
  let failures = 0
  await using consumer = await startConsumer({
    config,
    logger,
    service: 'test',
    group: 'outage',
    producer,
    handlers: {
      runs: async m => {
        try {
          await redis.client.set(redis.key('handled', m.run), 'yes')
        } catch (err) {
          failures++
          throw err
        }
      }
    }
  })
  const app = await buildHttp({ logger, metrics: createMetrics({ service: 'test' }), checks: [consumer.check] })
  const consumerCheck = 'consumer:outage'
  await until('consumer ready', async () => (await app.inject({ method: 'GET', url: '/readyz' })).statusCode === 200)

  await server.stop()
  await producer.publish(topics.runs, create(RunEventSchema, { run: 355100 }))
  // well past the retry budget: the old bus would have dead-lettered by now
  await until('the handler failed three times the attempt limit', () => failures >= 3 * config.AUTOCAL_KAFKA_MAX_ATTEMPTS, 90_000)
  const during = await app.inject({ method: 'GET', url: '/readyz' })
  assert.equal(during.statusCode, 503)
  assert.match(during.json().checks[consumerCheck].error, /waiting out an outage/)

  await server.start()
  await until('the message handled after Redis returned', async () => await redis.client.get(redis.key('handled', 355100)).catch(() => null) === 'yes', 60_000)
  await until('ready again', async () => (await app.inject({ method: 'GET', url: '/readyz' })).statusCode === 200)

  const admin = createKafka(config, logger, 'probe').admin()
  await admin.connect()
  const dlq = await topicOffsets(admin, topicName(topics.dlq, config.AUTOCAL_KAFKA_TOPIC_PREFIX))
  await admin.disconnect()
  assert.equal(dlq.reduce((n, p) => n + Number(p.high), 0), 0, 'no dead letter')
  await app.close()
})

test('a consumer that kafkajs will not restart turns /healthz 503 with the reason', async t => {
  // the broker refuses a session timeout below group.min.session.timeout.ms
  // (INVALID_SESSION_TIMEOUT, non-retriable): a coordinator error at join
  const config = testConfig({ AUTOCAL_KAFKA_SESSION_TIMEOUT_MS: '1000' })
  const { logger } = memoryLogger('test', 'fatal')
  t.after(() => { lifecycle.failed = undefined })
  await using producer = await startProducer({ config, logger, service: 'test' })
  const app = await buildHttp({ logger, metrics: createMetrics({ service: 'test' }), checks: [] })
  assert.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200)
  await using _consumer = await startConsumer({ config, logger, service: 'test', group: 'crash', producer, handlers: { runs: async () => {} } })
  await until('liveness failed', async () => (await app.inject({ method: 'GET', url: '/healthz' })).statusCode === 503)
  const body = (await app.inject({ method: 'GET', url: '/healthz' })).json()
  assert.equal(body.status, 'failed')
  assert.match(body.reason, /crashed and cannot restart: .*session timeout/i)
  await app.close()
})
