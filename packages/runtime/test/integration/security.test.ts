// The bus and the store refuse who they must (issue 12, "Kafka is the trust
// boundary and is unauthenticated"; "Redis has no password either"), on a
// secure Kafka + Redis pair of this test's own (deploy/local/servers.sh
// --secure: SASL_SSL with SCRAM-SHA-512, StandardAuthorizer with the service
// ACLs of packages/runtime/scripts/kafka-acls.ts; Redis with TLS and ACL
// users). A forged job request is the attack: whoever writes
// autocal.jobs.requests.v1 makes the executor run a program.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { create, toBinary } from '@bufbuild/protobuf'
import { DeadLetterSchema, JobRequestSchema, RunEventSchema, TaskEventSchema, topicName, topics } from '@autocal/contracts'
import { Kafka, logLevel } from 'kafkajs'
import { Redis } from 'ioredis'
import { readFileSync } from 'node:fs'
import type { ConnectionOptions } from 'node:tls'
import { loadConfig } from '../../src/config.ts'
import { createKafka, ensureTopics, topicOffsets } from '../../src/bus/kafka.ts'
import { startProducer } from '../../src/bus/producer.ts'
import { connectRedis } from '../../src/redis/connect.ts'
import { openRedriver, readRedrives } from '../../src/bus/dlq-redrive.ts'
import { TestConfig, memoryLogger } from '../fixtures.ts'
import { startSecureServers, type SecureServers } from '../secure-servers.ts'

let servers: SecureServers
const jobRequests = topicName(topics.jobRequests, '')
const forged = create(JobRequestSchema, { jobId: 'prompt/run-355100/timing-reco/1/0', try: 1, jobIndex: 0 })

/** Configuration of one principal on the secure servers, unprefixed topic names (the ones the ACLs name). */
function configOf (env: Record<string, string>): TestConfig {
  return loadConfig(TestConfig, { ...env, AUTOCAL_KAFKA_CREATE_TOPICS: 'false' })
}

async function messagesIn (topic: string): Promise<number> {
  const admin = createKafka(configOf(servers.env), memoryLogger().logger, 'probe').admin()
  await admin.connect()
  try {
    return (await topicOffsets(admin, topic)).reduce((n, p) => n + Number(p.high) - Number(p.low), 0)
  } finally {
    await admin.disconnect()
  }
}

before(async () => {
  servers = await startSecureServers()
  // the registry's topics, created by the admin (super user)
  const admin = createKafka(configOf(servers.env), memoryLogger().logger, 'setup').admin()
  await admin.connect()
  await ensureTopics(admin, '', memoryLogger().logger)
  await admin.disconnect()
}, { timeout: 300_000 })

after(async () => { await servers?.[Symbol.asyncDispose]() })

test('a client without credentials cannot produce a job request: the broker refuses it', async () => {
  const ca = readFileSync(servers.env.AUTOCAL_KAFKA_TLS_CA_FILE as string, 'utf8')
  const brokers = [servers.env.AUTOCAL_KAFKA_BROKERS as string]
  // TLS but no SASL, and plaintext: both are refused before any produce request is read
  const modes: Array<ConnectionOptions | false> = [{ ca: [ca] }, false]
  for (const ssl of modes) {
    const kafka = new Kafka({ clientId: 'intruder', brokers, ssl, connectionTimeout: 2000, requestTimeout: 3000, retry: { retries: 0 }, logLevel: logLevel.NOTHING })
    const producer = kafka.producer()
    await assert.rejects(async () => {
      await producer.connect()
      await producer.send({ topic: jobRequests, messages: [{ value: 'forged' }] })
    }, `a client with ssl=${ssl === false ? 'off' : 'on'} and no SASL is refused`)
    await producer.disconnect().catch(() => undefined)
  }
  // a wrong password fails the SCRAM exchange
  const wrong = new Kafka({ clientId: 'intruder', brokers, ssl: { ca: [ca] }, sasl: { mechanism: 'scram-sha-512', username: 'task-dispatcher', password: 'guessed' }, connectionTimeout: 2000, retry: { retries: 0 }, logLevel: logLevel.NOTHING })
  await assert.rejects(wrong.producer().connect(), /SASL|authentication/i)
  assert.equal(await messagesIn(jobRequests), 0, 'nothing reached autocal.jobs.requests.v1')
})

test('only the task-dispatcher principal may write jobs.requests: the metrics principal is refused by the ACL', async () => {
  const { logger } = memoryLogger()
  await using metrics = await startProducer({ config: configOf(servers.envOf('metrics')), logger, service: 'metrics' })
  await assert.rejects(metrics.publish(topics.jobRequests, forged), /not authorized|authorization/i)
  await using executor = await startProducer({ config: configOf(servers.envOf('job-executor')), logger, service: 'job-executor' })
  await assert.rejects(executor.publish(topics.jobRequests, forged), /not authorized|authorization/i)
  assert.equal(await messagesIn(jobRequests), 0, 'the refused principals wrote nothing')
  // the same request from the dispatcher's principal is accepted: the ACL, not the connection, refused the others
  await using dispatcher = await startProducer({ config: configOf(servers.envOf('task-dispatcher')), logger, service: 'task-dispatcher' })
  await dispatcher.publish(topics.jobRequests, forged)
  assert.equal(await messagesIn(jobRequests), 1)
})

test('the control and condition request topics are the dispatcher\'s too; a service writes its own topic', async () => {
  const { logger } = memoryLogger()
  await using watcher = await startProducer({ config: configOf(servers.envOf('run-watcher')), logger, service: 'run-watcher' })
  const kafka = createKafka(configOf(servers.envOf('run-watcher')), logger, 'raw')
  const raw = kafka.producer()
  await raw.connect()
  try {
    for (const topic of [topics.control, topics.conditionRequests]) {
      await assert.rejects(raw.send({ topic: topicName(topic, ''), messages: [{ value: 'x' }] }), /not authorized|authorization/i, topic.name)
    }
  } finally {
    await raw.disconnect()
  }
  await watcher.publish(topics.runs, create(topics.runs.schema, { run: 355100 }))
  assert.equal(await messagesIn(topicName(topics.runs, '')), 1)
})

test('the metrics principal sends a dead letter back to runs and audits it (the console\'s redrive), but the broker refuses it the task states', async () => {
  const { logger } = memoryLogger()
  const metricsConfig = configOf(servers.envOf('metrics'))
  // two dead letters as the dispatcher's consumer writes them: a run, and a task state
  await using dispatcher = await startProducer({ config: configOf(servers.envOf('task-dispatcher')), logger, service: 'task-dispatcher' })
  const run = create(RunEventSchema, { run: 355200, contentHash: 'h', source: 'replay' })
  const task = create(TaskEventSchema, { subsystem: 'ECAL', campaign: 'prompt', task: 't' })
  for (const [topic, value] of [[topicName(topics.runs, ''), toBinary(RunEventSchema, run)], [topicName(topics.tasks, ''), toBinary(TaskEventSchema, task)]] as const) {
    await dispatcher.publish(topics.dlq, create(DeadLetterSchema, { topic, partition: 0, offset: 0n, key: Buffer.from('k'), value, code: 'AUTOCAL_VALIDATION_FAILED', reason: 'not yet', service: 'task-dispatcher' }))
  }
  const runsBefore = await messagesIn(topicName(topics.runs, ''))
  const tasksBefore = await messagesIn(topicName(topics.tasks, ''))
  await using auditor = await startProducer({ config: metricsConfig, logger, service: 'metrics' })
  // its throw-away reader groups start with its name (metrics-redrive-…), as the ACLs require
  await using redriver = await openRedriver({ config: metricsConfig, logger, clientId: 'metrics-redrive', auditor, service: 'autocal/metrics' })
  const [runLetter, taskLetter] = redriver.letters.slice(-2)
  const sent = await redriver.redrive({ id: runLetter?.id as string, principal: 'alice', peer: 'ipv4:127.0.0.1:1', reason: 'fixed' })
  assert.equal(sent.kind, 'redriven')
  await assert.rejects(redriver.redrive({ id: taskLetter?.id as string, principal: 'alice', peer: 'ipv4:127.0.0.1:1', reason: 'fixed' }), /not authorized|authorization/i)
  assert.equal(await messagesIn(topicName(topics.runs, '')), runsBefore + 1)
  assert.equal(await messagesIn(topicName(topics.tasks, '')), tasksBefore, 'no task state written by metrics')
  // both attempts are on the audit topic; only the run's is an accepted redrive
  const done = await readRedrives(metricsConfig, logger, 'metrics-test')
  assert.deepEqual([...done.keys()], [runLetter?.id])
  // and still none of the topics that make things happen
  const raw = createKafka(metricsConfig, logger, 'metrics-raw').producer()
  await raw.connect()
  try {
    for (const topic of [topics.control, topics.conditionRequests, topics.jobRequests]) {
      await assert.rejects(raw.send({ topic: topicName(topic, ''), messages: [{ value: 'x' }] }), /not authorized|authorization/i, topic.name)
    }
  } finally {
    await raw.disconnect()
  }
})

test('Redis refuses a connection without the password, a wrong password and plaintext', async () => {
  const port = Number(new URL(servers.env.AUTOCAL_REDIS_URL as string).port)
  const ca = readFileSync(servers.env.AUTOCAL_REDIS_TLS_CA_FILE as string, 'utf8')
  const attempts: Array<[string, Redis]> = [
    ['no password', new Redis({ port, host: '127.0.0.1', tls: { ca: [ca] }, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })],
    ['wrong password', new Redis({ port, host: '127.0.0.1', tls: { ca: [ca] }, username: 'task-dispatcher', password: 'guessed', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })],
    ['plaintext', new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 2000 })]
  ]
  for (const [what, client] of attempts) {
    client.on('error', () => undefined)
    await assert.rejects(async () => {
      await client.connect()
      await client.set('autocal:forged', '1')
    }, what)
    client.disconnect()
  }
  // the runtime's client with the service's own user works, within its keys and commands only
  const { logger } = memoryLogger()
  await using redis = await connectRedis({ config: configOf(servers.envOf('task-dispatcher')), logger })
  await redis.client.set('autocal:probe', '1')
  assert.equal(await redis.client.get('autocal:probe'), '1')
  await assert.rejects(redis.client.set('other:probe', '1'), /NOPERM/)
  await assert.rejects(redis.client.flushall(), /NOPERM/)
  await using admin = await connectRedis({ config: configOf(servers.env), logger })
  assert.equal(await admin.client.exists('autocal:forged'), 0, 'nothing was written by the refused clients')
})
