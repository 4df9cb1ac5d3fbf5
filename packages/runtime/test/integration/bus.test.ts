// The typed Kafka bus against the real local broker.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { create, equals, type DescMessage, type MessageShape } from '@bufbuild/protobuf'
import { timestampFromDate } from '@bufbuild/protobuf/wkt'
import {
  ConditionEventSchema, ConditionRequestSchema, ControlCommandSchema, DeadLetterSchema, JobRequestSchema, JobStatusSchema,
  RunEventSchema, TaskEventSchema, TaskState, JobPhase, Outcome, BlockKind, topics, topicName, type EventMeta, type TopicId
} from '@autocal/contracts'
import { trace } from '@opentelemetry/api'
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base'
import { createKafka } from '../../src/bus/kafka.ts'
import { startProducer } from '../../src/bus/producer.ts'
import { startConsumer, type Handlers } from '../../src/bus/consumer.ts'
import { startTelemetry } from '../../src/telemetry.ts'
import { createMetrics } from '../../src/metrics.ts'
import { AutocalError } from '../../src/errors.ts'
import { memoryLogger, testConfig, until } from '../fixtures.ts'

const provenance = { subsystem: 'ECAL', campaign: 'prompt', workflow: 'timing', blockId: 'run-355100', task: 'timing-reco', taskAttempt: 1, inputRuns: [355100] }
const samples = {
  runs: create(RunEventSchema, { run: 355100, contentHash: 'abc', source: 'replay', change: { case: 'ended', value: { run: { run: 355100, fill: 7920, era: 'Run2022C', recordedLumiPb: 12.5, endTime: timestampFromDate(new Date('2022-07-10T10:00:00Z')) } } } }),
  tasks: create(TaskEventSchema, { subsystem: 'ECAL', campaign: 'prompt', workflow: 'timing', task: 'timing-reco', block: { id: 'run-355100', kind: BlockKind.RUN, runs: [355100] }, state: TaskState.PROCESSING, attempt: 1, version: 3n }),
  jobRequests: create(JobRequestSchema, { jobId: 'prompt/run-355100/timing-reco/1/0', try: 1, provenance, action: { case: 'start', value: { argv: ['python3', 'x.py', '--run', '355100'], backend: 'local' } } }),
  jobStatus: create(JobStatusSchema, { jobId: 'prompt/run-355100/timing-reco/1/0', try: 1, provenance, phase: JobPhase.DONE, exitCode: 0, outputs: [{ path: '/x/y.root', sizeBytes: 10n, sha256: 'ff' }] }),
  conditionRequests: create(ConditionRequestSchema, { requestId: 'prompt/run-355100/timing-calib/1', provenance, destinationTag: 'EcalTimeCalibConstants_prompt', since: 355100n, payloadFile: '/x/timing.db' }),
  conditions: create(ConditionEventSchema, { requestId: 'prompt/run-355100/timing-calib/1', outcome: Outcome.UPLOADED, tag: 'EcalTimeCalibConstants_prompt', since: (355100n << 32n) | 7n, payloadHash: 'a'.repeat(40) }),
  control: create(ControlCommandSchema, { commandId: 'c1', actor: 'alice', subsystem: 'ECAL', reason: 'bad pedestals', selector: { campaign: 'prompt', runs: [355100] }, action: { case: 'reprocess', value: {} } }),
  dlq: create(DeadLetterSchema, { topic: 'autocal.runs.v1', partition: 1, offset: 42n, code: 'AUTOCAL_DECODE_FAILED', reason: 'bad' })
}

test('every registry topic round-trips its typed message with key and headers', async t => {
  const config = testConfig()
  const { logger } = memoryLogger()
  await using producer = await startProducer({ config, logger, service: 'test' })
  const received = new Map<string, { message: unknown, meta: EventMeta }>()
  const handlers: Handlers = {}
  for (const id of Object.keys(samples) as TopicId[]) {
    (handlers as Record<string, unknown>)[id] = async (message: unknown, meta: EventMeta) => { received.set(id, { message, meta }) }
  }
  await using consumer = await startConsumer({ config, logger, service: 'test', group: 'roundtrip', handlers, producer })
  for (const [id, message] of Object.entries(samples) as Array<[TopicId, MessageShape<DescMessage>]>) {
    await producer.publish(topics[id] as any, message, { eventId: `ev-${id}` })
  }
  await until('all topics received', () => received.size === Object.keys(samples).length)
  for (const [id, message] of Object.entries(samples) as Array<[TopicId, MessageShape<DescMessage>]>) {
    const got = received.get(id)
    assert.ok(got !== undefined)
    assert.ok(equals(topics[id].schema as DescMessage, got.message as MessageShape<DescMessage>, message), `${id} message equal`)
    assert.equal(got.meta.eventId, `ev-${id}`)
    assert.equal(got.meta.source, 'autocal/test')
    assert.equal(got.meta.type, topics[id].schema.typeName)
    assert.equal(got.meta.topic, topics[id].name)
    assert.equal(got.meta.key, (topics[id].key as (m: unknown) => string)(message))
  }
  assert.equal(received.get('tasks')?.meta.key, 'prompt/run-355100/timing-reco')
  void consumer; void t
})

test('a JSON-form message is read like a binary one', async () => {
  const config = testConfig()
  const { logger } = memoryLogger()
  await using producer = await startProducer({ config, logger, service: 'test' })
  const got: bigint[] = []
  await using _consumer = await startConsumer({ config, logger, service: 'test', group: 'json', producer, handlers: { conditions: async m => { got.push(m.since) } } })
  await producer.publish(topics.conditions, samples.conditions, { json: true })
  await until('json message', () => got.length === 1)
  assert.equal(got[0], (355100n << 32n) | 7n)
})

test('the consumer span is a child of the producer span', async () => {
  const exporter = new InMemorySpanExporter()
  await using _telemetry = startTelemetry({ service: 'test', exporter })
  const config = testConfig()
  const { logger } = memoryLogger()
  await using producer = await startProducer({ config, logger, service: 'test' })
  let handlerTrace: string | undefined
  await using _consumer = await startConsumer({
    config,
    logger,
    service: 'test',
    group: 'trace',
    producer,
    handlers: { runs: async () => { handlerTrace = trace.getActiveSpan()?.spanContext().traceId } }
  })
  await producer.publish(topics.runs, samples.runs)
  await until('traced message', () => handlerTrace !== undefined)
  await until('spans exported', () => exporter.getFinishedSpans().some(s => s.name.startsWith('process ')))
  const spans = exporter.getFinishedSpans()
  const send = spans.find(s => s.name === `send ${topicName(topics.runs, config.AUTOCAL_KAFKA_TOPIC_PREFIX)}`)
  const process = spans.find(s => s.name === `process ${topicName(topics.runs, config.AUTOCAL_KAFKA_TOPIC_PREFIX)}`)
  assert.ok(send !== undefined && process !== undefined)
  assert.equal(process.spanContext().traceId, send.spanContext().traceId)
  assert.equal(process.parentSpanContext?.spanId, send.spanContext().spanId)
  assert.equal(handlerTrace, send.spanContext().traceId)
})

test('a poison message goes to the DLQ with its reason and later messages are still handled', async () => {
  const config = testConfig()
  const { logger } = memoryLogger()
  const metrics = createMetrics({ service: 'test' })
  await using producer = await startProducer({ config, logger, service: 'test' })
  const runs: number[] = []
  const dead: Array<MessageShape<typeof DeadLetterSchema>> = []
  await using _consumer = await startConsumer({ config, logger, service: 'test', group: 'poison', producer, metrics, handlers: { runs: async m => { runs.push(m.run) } } })
  await using _dlq = await startConsumer({ config, logger, service: 'test', group: 'dlq-reader', producer, handlers: { dlq: async m => { dead.push(m) } } })
  // a raw producer writes garbage that claims to be a RunEvent
  const kafka = createKafka(config, logger, 'raw')
  const raw = kafka.producer()
  await raw.connect()
  const runsTopic = topicName(topics.runs, config.AUTOCAL_KAFKA_TOPIC_PREFIX)
  await raw.send({ topic: runsTopic, messages: [{ key: '1', value: Buffer.from([0xff, 0xff, 0xff, 0x07]), headers: { ce_id: 'poison-1' } }] })
  await raw.send({ topic: runsTopic, messages: [{ key: '1', value: Buffer.from('{}'), headers: { ce_type: 'autocal.tasks.v1.TaskEvent' } }] })
  await raw.disconnect()
  await producer.publish(topics.runs, create(RunEventSchema, { run: 1 }))
  await producer.publish(topics.runs, create(RunEventSchema, { run: 2 }))
  await until('good messages handled', () => runs.length === 2)
  await until('two dead letters', () => dead.length === 2)
  assert.deepEqual(runs.sort(), [1, 2])
  assert.ok(dead.every(d => d.topic === runsTopic && d.code === 'AUTOCAL_DECODE_FAILED'))
  assert.ok(dead.some(d => /cannot decode as autocal.runs.v1.RunEvent/.test(d.reason)), dead.map(d => d.reason).join('; '))
  assert.ok(dead.some(d => /does not belong on this topic/.test(d.reason)))
  assert.equal(dead[0]?.consumerGroup, `${config.AUTOCAL_KAFKA_TOPIC_PREFIX}.poison`)
  const text = await metrics.registry.getSingleMetricAsString('autocal_bus_dead_lettered_total')
  assert.match(text, /autocal_bus_dead_lettered_total\{.*\} 2/)
})

test('a non-retryable handler error dead-letters at once with the handler reason', async () => {
  const config = testConfig()
  const { logger } = memoryLogger()
  await using producer = await startProducer({ config, logger, service: 'test' })
  let calls = 0
  const dead: string[] = []
  await using _c = await startConsumer({
    config,
    logger,
    service: 'test',
    group: 'invalid',
    producer,
    handlers: { runs: async () => { calls++; throw new AutocalError('AUTOCAL_VALIDATION_FAILED', 'run 355100: era Run2022X is unknown', { retryable: false }) } }
  })
  await using _d = await startConsumer({ config, logger, service: 'test', group: 'dlq', producer, handlers: { dlq: async m => { dead.push(`${m.code}: ${m.reason}`) } } })
  await producer.publish(topics.runs, create(RunEventSchema, { run: 355100 }))
  await until('dead letter', () => dead.length === 1)
  assert.equal(calls, 1)
  assert.deepEqual(dead, ['AUTOCAL_VALIDATION_FAILED: run 355100: era Run2022X is unknown'])
})

async function committedOffset (config: ReturnType<typeof testConfig>, group: string, topic: string): Promise<number> {
  const admin = createKafka(config, memoryLogger().logger, 'probe').admin()
  await admin.connect()
  try {
    const offsets = await admin.fetchOffsets({ groupId: `${config.AUTOCAL_KAFKA_TOPIC_PREFIX}.${group}`, topics: [topicName(topics.runs, config.AUTOCAL_KAFKA_TOPIC_PREFIX)] })
    return offsets[0]?.partitions.reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0) ?? 0
  } finally {
    await admin.disconnect()
    void topic
  }
}

test('a throwing handler is retried and its message is not committed until it succeeds', async () => {
  const config = testConfig({ AUTOCAL_KAFKA_MAX_ATTEMPTS: '50', AUTOCAL_KAFKA_RETRY_BASE_MS: '100', AUTOCAL_KAFKA_RETRY_MAX_MS: '200' })
  const { logger } = memoryLogger()
  await using producer = await startProducer({ config, logger, service: 'test' })
  let healthy = false
  const attempts: number[] = [] // when each attempt began (ms)
  let done = false
  await using _c = await startConsumer({
    config,
    logger,
    service: 'test',
    group: 'retry',
    producer,
    handlers: { runs: async () => { attempts.push(Date.now()); if (!healthy) throw new Error('redis down'); done = true } }
  })
  await producer.publish(topics.runs, create(RunEventSchema, { run: 7 }))
  // the positive marker: the handler has been failing for longer than the auto-commit interval (1 s), as its
  // attempts show; an offset resolved meanwhile would have been committed by now
  await until('attempts over more than 1.5 s', () => attempts.length > 1 && (attempts.at(-1) as number) - (attempts[0] as number) > 1500)
  assert.equal(await committedOffset(config, 'retry', 'runs'), 0, `nothing committed after ${attempts.length} failed attempts`)
  healthy = true
  await until('handled', () => done)
  await until('committed', async () => await committedOffset(config, 'retry', 'runs') === 1)
})

test('a busy handler is offered the message again past the attempt limit, and nothing is dead-lettered', async () => {
  const config = testConfig({ AUTOCAL_KAFKA_MAX_ATTEMPTS: '2', AUTOCAL_KAFKA_RETRY_BASE_MS: '20' })
  const { logger } = memoryLogger()
  await using producer = await startProducer({ config, logger, service: 'test' })
  let offers = 0
  let done = false
  const dead: string[] = []
  await using _d = await startConsumer({ config, logger, service: 'test', group: 'dlq-busy', producer, handlers: { dlq: async m => { dead.push(m.reason) } } })
  await using _c = await startConsumer({
    config,
    logger,
    service: 'test',
    group: 'busy',
    producer,
    handlers: {
      runs: async () => {
        if (++offers <= 10) throw new AutocalError('AUTOCAL_BUSY', 'queue full')
        done = true
      }
    }
  })
  await producer.publish(topics.runs, create(RunEventSchema, { run: 8 }))
  await until('handled after 10 busy answers', () => done)
  assert.equal(offers, 11)
  await until('committed', async () => await committedOffset(config, 'busy', 'runs') === 1)
  assert.deepEqual(dead, [], 'busy is not a failure: nothing in the DLQ')
})

test('closing the consumer commits the offsets of the messages it handled', async () => {
  const config = testConfig()
  const { logger } = memoryLogger()
  await using producer = await startProducer({ config, logger, service: 'test' })
  const seen: number[] = []
  const consumer = await startConsumer({ config, logger, service: 'test', group: 'close', producer, handlers: { runs: async m => { seen.push(m.run) } } })
  await producer.publishMany(topics.runs, [1, 2, 3, 4, 5].map(run => create(RunEventSchema, { run })))
  await until('five handled', () => seen.length === 5)
  await consumer[Symbol.asyncDispose]()
  assert.equal(await committedOffset(config, 'close', 'runs'), 5)
})

test('concurrent publishes share requests and keep their order per key', async () => {
  const config = testConfig()
  const { logger } = memoryLogger()
  await using producer = await startProducer({ config, logger, service: 'test' })
  const got = new Map<number, number[]>()
  await using _consumer = await startConsumer({
    config,
    logger,
    service: 'test',
    group: 'coalesced',
    producer,
    handlers: { runs: async m => { got.set(m.run, [...(got.get(m.run) ?? []), Number(m.contentHash)]) } }
  })
  // 10 runs (keys) × 50 versions each, published without waiting for one another
  const sends: Array<Promise<string>> = []
  for (let v = 0; v < 50; v++) {
    for (let run = 1; run <= 10; run++) sends.push(producer.publish(topics.runs, create(RunEventSchema, { run, contentHash: String(v), source: 'test' })))
  }
  assert.equal(new Set(await Promise.all(sends)).size, 500, 'each publish resolves with its own event id')
  await until('500 messages', () => [...got.values()].reduce((n, v) => n + v.length, 0) >= 500)
  for (let run = 1; run <= 10; run++) assert.deepEqual(got.get(run), Array.from({ length: 50 }, (_, v) => v), `run ${run} in publish order`)
})

test('a topic with concurrency handles several messages at once, each key in order, and notes them handled in offset order', async () => {
  const config = testConfig()
  const { logger } = memoryLogger()
  await using producer = await startProducer({ config, logger, service: 'test' })
  // 12 runs (keys) × 20 versions each, in one publish: each partition's batch holds many keys
  const messages = []
  for (let v = 0; v < 20; v++) for (let run = 1; run <= 12; run++) messages.push(create(RunEventSchema, { run, contentHash: String(v), source: 'test' }))
  await producer.publishMany(topics.runs, messages)
  const got = new Map<number, number[]>()
  const finished = new Set<string>()
  const noted: Array<{ partition: number, offset: string, handledBefore: boolean }> = []
  const inFlight = new Map<number, number>() // per partition
  let most = 0
  await using _consumer = await startConsumer({
    config,
    logger,
    service: 'test',
    group: 'concurrent',
    producer,
    concurrency: { runs: 4 },
    onHandled: async at => { noted.push({ partition: at.partition, offset: at.offset, handledBefore: finished.has(`${at.partition}/${at.offset}`) }) },
    handlers: {
      runs: async (m, meta) => {
        inFlight.set(meta.partition, (inFlight.get(meta.partition) ?? 0) + 1)
        most = Math.max(most, inFlight.get(meta.partition) ?? 0)
        // a handler that waits on I/O (as the dispatcher's do): the others of the batch go on meanwhile
        await new Promise(resolve => setImmediate(resolve))
        await new Promise(resolve => setTimeout(resolve, (m.run * 7) % 5))
        got.set(m.run, [...(got.get(m.run) ?? []), Number(m.contentHash)])
        finished.add(`${meta.partition}/${meta.offset}`)
        inFlight.set(meta.partition, (inFlight.get(meta.partition) ?? 0) - 1)
      }
    }
  })
  await until('240 noted', () => noted.length >= 240)
  for (let run = 1; run <= 12; run++) assert.deepEqual(got.get(run), Array.from({ length: 20 }, (_, v) => v), `run ${run} in publish order`)
  assert.ok(most > 1 && most <= 4, `between 2 and 4 messages of a partition in flight at once (saw ${most})`)
  assert.ok(noted.every(n => n.handledBefore), 'noted only after its handler finished')
  const byPartition = new Map<number, number[]>()
  for (const n of noted) byPartition.set(n.partition, [...(byPartition.get(n.partition) ?? []), Number(n.offset)])
  for (const [partition, offsets] of byPartition) assert.deepEqual(offsets, offsets.map((_, i) => i + (offsets[0] ?? 0)), `partition ${partition} noted in offset order`)
})
