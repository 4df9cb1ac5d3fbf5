// Redis Sentinel: the services' Redis client (connectRedis with
// AUTOCAL_REDIS_SENTINELS / AUTOCAL_REDIS_SENTINEL_NAME) against a real
// primary, replica and Sentinel started here (redis-server, its --sentinel
// mode) on free loopback ports with a temporary state directory. A bus
// consumer that de-duplicates with the Redis idempotency helper keeps
// handling a stream of messages while the Sentinel fails the primary over:
// every message is handled exactly once and the client ends on the new
// primary. Kafka is the test run's broker (connectionEnv).
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { create } from '@bufbuild/protobuf'
import { RunEventSchema, topics } from '@autocal/contracts'
import { Redis } from 'ioredis'
import { connectRedis } from '../../src/redis/connect.ts'
import { seenBefore } from '../../src/redis/idempotency.ts'
import { startProducer } from '../../src/bus/producer.ts'
import { startConsumer } from '../../src/bus/consumer.ts'
import { memoryLogger, testConfig, until } from '../fixtures.ts'
import { freePort } from '../../../../test/helpers/free-port.ts'

const master = 'autocal-test'
let dir = ''
const processes: ChildProcess[] = []
let ports = { primary: 0, replica: 0, sentinel: 0 }

function start (args: string[]): void {
  const child = spawn('redis-server', args, { stdio: 'ignore' })
  child.on('error', err => { throw new Error(`cannot start redis-server (Debian package redis-server): ${err.message}`) })
  processes.push(child)
}

async function answering (port: number): Promise<Redis> {
  const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
  client.on('error', () => undefined)   // refused until the server listens: connect() rejects, which until() retries
  await until(`redis on ${port}`, async () => await client.connect().then(() => true, () => false), 20_000)
  return client
}

async function sentinelPrimary (sentinel: Redis): Promise<number> {
  const [, port] = await sentinel.call('SENTINEL', 'get-master-addr-by-name', master) as [string, string]
  return Number(port)
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'autocal-sentinel-'))
  ports = { primary: await freePort(), replica: await freePort(), sentinel: await freePort() }
  const common = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir]
  start([...common, '--port', String(ports.primary), '--dbfilename', 'primary.rdb'])
  start([...common, '--port', String(ports.replica), '--dbfilename', 'replica.rdb', '--replicaof', '127.0.0.1', String(ports.primary)])
  // Sentinel rewrites its configuration file: it lives in the state directory
  const conf = join(dir, 'sentinel.conf')
  writeFileSync(conf, [
    `port ${ports.sentinel}`, 'bind 127.0.0.1', `dir ${dir}`,
    `sentinel monitor ${master} 127.0.0.1 ${ports.primary} 1`,
    `sentinel down-after-milliseconds ${master} 2000`,
    `sentinel failover-timeout ${master} 10000`, ''
  ].join('\n'))
  start([conf, '--sentinel'])
  const replica = await answering(ports.replica)
  await until('the replica in sync', async () => /master_link_status:up/.test(await replica.info('replication')), 20_000)
  replica.disconnect()
  const sentinel = await answering(ports.sentinel)
  await until('the Sentinel sees the replica', async () => {
    const replicas = await sentinel.call('SENTINEL', 'replicas', master) as unknown[]
    return replicas.length === 1
  }, 20_000)
  sentinel.disconnect()
})

after(() => {
  for (const p of processes) p.kill('SIGKILL')
  rmSync(dir, { recursive: true, force: true })
})

test('through a Sentinel failover mid-stream, a consumer de-duplicating in Redis handles every message exactly once', async t => {
  const config = testConfig({
    AUTOCAL_REDIS_URL: `redis://127.0.0.1:${ports.primary}`,   // scheme and db only: the Sentinels name the primary
    AUTOCAL_REDIS_SENTINELS: `127.0.0.1:${ports.sentinel}`,
    AUTOCAL_REDIS_SENTINEL_NAME: master,
    // the production retry policy: a failover takes seconds
    AUTOCAL_KAFKA_MAX_ATTEMPTS: '8',
    AUTOCAL_KAFKA_RETRY_BASE_MS: '200',
    // the Redis here is this test's own, plaintext and without AUTH (empty = unset)
    AUTOCAL_REDIS_USERNAME: '',
    AUTOCAL_REDIS_PASSWORD: '',
    AUTOCAL_REDIS_PASSWORD_FILE: '',
    AUTOCAL_REDIS_TLS_CA_FILE: '',
    AUTOCAL_REDIS_TLS_CERT_FILE: '',
    AUTOCAL_REDIS_TLS_KEY_FILE: ''
  })
  const { logger } = memoryLogger()
  await using redis = await connectRedis({ config, logger })
  await using producer = await startProducer({ config, logger, service: 'test' })
  const handled: number[] = []
  const deadLetters: string[] = []
  await using consumer = await startConsumer({
    config,
    logger,
    service: 'test',
    group: 'sentinel',
    producer,
    handlers: {
      runs: async (event, meta) => {
        if (await seenBefore(redis, `sentinel:${meta.eventId}`)) return
        handled.push(event.run)
      },
      dlq: async d => { deadLetters.push(d.reason) }
    }
  })
  void consumer
  const sentinel = await answering(ports.sentinel)
  t.after(() => { sentinel.disconnect() })
  assert.equal(await sentinelPrimary(sentinel), ports.primary)
  assert.match(await redis.client.info('server'), new RegExp(`tcp_port:${ports.primary}`), 'connected to the primary the Sentinel names')

  const total = 300
  const runs = Array.from({ length: total }, (_, i) => 355_100 + i)
  let failedOver = false
  for (const run of runs) {
    await producer.publish(topics.runs, create(RunEventSchema, { run, contentHash: `h${run}`, source: 'sentinel-test' }), { eventId: `run-${run}` })
    if (run - runs[0]! === 100) {
      await until('the first hundred handled', () => handled.length >= 90)
      await sentinel.call('SENTINEL', 'FAILOVER', master)
      failedOver = true
    }
    await new Promise(resolve => setTimeout(resolve, 10))   // a stream, not one batch: messages arrive during the failover
  }
  assert.ok(failedOver)
  await until('the Sentinel names the replica as primary', async () => await sentinelPrimary(sentinel) === ports.replica, 30_000)
  // the client switches on the Sentinel's +switch-master, before anything would make it reconnect
  await until('the client on the new primary', async () => (await redis.client.info('server')).includes(`tcp_port:${ports.replica}`), 15_000)
  await until(`all ${total} messages handled`, () => handled.length >= total || deadLetters.length > 0, 60_000)
  assert.deepEqual(deadLetters, [], 'no message given up')
  assert.deepEqual([...handled].sort((a, b) => a - b), runs, 'each message handled once')
  assert.match(await redis.client.info('server'), new RegExp(`tcp_port:${ports.replica}`), 'the client follows the new primary')
  assert.match(await redis.client.info('replication'), /role:master/)
  await redis.client.set(redis.key('after-failover'), 'written')
  const promoted = await answering(ports.replica)
  assert.equal(await promoted.get(redis.key('after-failover')), 'written', 'writes go to the new primary')
  promoted.disconnect()
})
