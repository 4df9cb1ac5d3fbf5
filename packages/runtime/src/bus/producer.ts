// The typed producer. `publish(topics.runs, runEvent)` serialises the message
// with its schema, keys it with the registry's key function, stamps the
// headers and trace context, and waits for all in-sync replicas (idempotent
// producer: a retried send is written once). Concurrent publishes share
// requests to the broker (see enqueue).
import { randomUUID } from 'node:crypto'
import { SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api'
import { toBinary, toJsonString, type DescMessage, type MessageShape } from '@bufbuild/protobuf'
import { contentTypes, topicName, type Topic } from '@autocal/contracts'
import { CompressionTypes, type Producer as KafkaProducer, type Message } from 'kafkajs'
import { createKafka, ensureTopics, topicPolicy, type KafkaConfig } from './kafka.ts'
import { eventHeaders, injectContext } from './headers.ts'
import { AutocalError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import type { Metrics } from '../metrics.ts'
import type { Check } from '../http.ts'

export interface ProducerConfig extends KafkaConfig {
  AUTOCAL_KAFKA_CREATE_TOPICS: boolean
}

export interface PublishOptions {
  /** Deterministic event id for idempotent consumers; a random UUID otherwise. */
  eventId?: string
  /** Overrides the registry's key function. */
  key?: string
  /** Write the proto3 JSON form instead of protobuf binary (consumers accept both). */
  json?: boolean
  time?: Date
}

export interface Producer extends AsyncDisposable {
  publish: <S extends DescMessage>(topic: Topic<S>, message: MessageShape<S>, options?: PublishOptions) => Promise<string>
  publishMany: <S extends DescMessage>(topic: Topic<S>, messages: Array<MessageShape<S> | { message: MessageShape<S>, options: PublishOptions }>) => Promise<string[]>
  check: Check
  /** The Kafka topic name of a registry topic under this deployment's prefix. */
  nameOf: (topic: Topic<any>) => string
}

export interface ProducerOptions {
  config: ProducerConfig
  logger: Logger
  /** Service name, e.g. "run-watcher"; becomes ce_source "autocal/<service>". */
  service: string
  metrics?: Metrics
  /**
   * Topics this service writes on its hot path (e.g. the dispatcher's tasks
   * and job requests): their metadata is fetched before startProducer
   * returns, so that the first publish after the service is ready does not
   * wait for it (15–30 ms each, measured as the slowest run of `pnpm bench`'s
   * latency row, the first after a start). Topics that do not exist yet are
   * left to the first publish.
   */
  warm?: Array<Topic<any>>
}

const tracer = trace.getTracer('@autocal/runtime')

// Broker answers that leave an idempotent producer unable to send again: its
// producer id or sequence numbers no longer match the broker's (seen after a
// broker restart with a send in flight: every later send failed with
// OUT_OF_ORDER_SEQUENCE_NUMBER). kafkajs does not recover from them; a new
// producer (a new producer id) does. Kafka protocol error names.
const producerStateErrors = new Set(['OUT_OF_ORDER_SEQUENCE_NUMBER', 'UNKNOWN_PRODUCER_ID', 'INVALID_PRODUCER_EPOCH', 'INVALID_PRODUCER_ID_MAPPING', 'PRODUCER_FENCED'])

/** The Kafka protocol error type of `err` or of an error in its cause chain, when it is one of producerStateErrors. */
export function producerStateError (err: unknown): string | undefined {
  const seen = new Set<unknown>()
  for (let e: unknown = err; typeof e === 'object' && e !== null && !seen.has(e); e = (e as { cause?: unknown, originalError?: unknown }).cause ?? (e as { originalError?: unknown }).originalError) {
    seen.add(e)
    const type = (e as { type?: unknown }).type
    if (typeof type === 'string' && producerStateErrors.has(type)) return type
  }
  return undefined
}

export async function startProducer (options: ProducerOptions): Promise<Producer> {
  const { config, logger, service, metrics } = options
  const log = logger.child({ component: 'producer' })
  const kafka = createKafka(config, logger, `autocal-${service}`)
  const newProducer = (): KafkaProducer => kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false })
  let producer = newProducer()
  let needsConnect = false // a replaced producer connects at its first send
  const admin = kafka.admin()
  await producer.connect()
  await admin.connect()
  if (config.AUTOCAL_KAFKA_CREATE_TOPICS) await ensureTopics(admin, config.AUTOCAL_KAFKA_TOPIC_PREFIX, log, topicPolicy(config))
  const source = `autocal/${service}`
  const nameOf = (t: Topic<any>): string => topicName(t, config.AUTOCAL_KAFKA_TOPIC_PREFIX)
  if (options.warm !== undefined && options.warm.length > 0) {
    const existing = new Set(await admin.listTopics())
    const names = options.warm.map(nameOf).filter(name => existing.has(name))
    // a send without messages loads the topics' metadata and produces nothing (kafkajs sendMessages: no partition, no request)
    if (names.length > 0) await producer.sendBatch({ acks: -1, topicMessages: names.map(topic => ({ topic, messages: [] })) })
  }

  function encode<S extends DescMessage> (topic: Topic<S>, message: MessageShape<S>, opts: PublishOptions = {}): { msg: Message, eventId: string } {
    const eventId = opts.eventId ?? randomUUID()
    const json = opts.json === true
    const value = json ? Buffer.from(toJsonString(topic.schema, message)) : Buffer.from(toBinary(topic.schema, message))
    const headers = eventHeaders({
      eventId,
      source,
      type: topic.schema.typeName,
      time: opts.time ?? new Date(),
      contentType: json ? contentTypes.json : contentTypes.protobuf
    })
    return { msg: { key: opts.key ?? topic.key(message), value, headers }, eventId }
  }

  // Sends are coalesced: while one request is in flight, the messages of
  // every publish that comes meanwhile wait and go out together in the next
  // request (one in flight, so the order of messages on a partition is the
  // order of the publish calls). No delay is added to a lone publish.
  interface Pending { topic: string, messages: Message[], done: (err?: unknown) => void }
  let queue: Pending[] = []
  let flushing = false

  async function flush (): Promise<void> {
    flushing = true
    while (queue.length > 0) {
      const batch = queue
      queue = []
      const byTopic = new Map<string, Message[]>()
      for (const p of batch) {
        const list = byTopic.get(p.topic)
        if (list === undefined) byTopic.set(p.topic, [...p.messages])
        else for (const m of p.messages) list.push(m) // in place: copying per publish made a large coalesced batch quadratic
      }
      try {
        if (needsConnect) {
          await producer.connect() // a connection error is an outage (isInfrastructureError): the next send tries again
          needsConnect = false
        }
        await producer.sendBatch({ acks: -1, compression: CompressionTypes.None, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) })
        for (const p of batch) p.done()
      } catch (err) {
        const state = producerStateError(err)
        if (state === undefined) {
          for (const p of batch) p.done(err)
          continue
        }
        // the broker no longer knows this producer's sequence: a new producer (new producer id) sends the retries.
        // The batch may have been written before the error; its event ids let consumers drop the copy (DESIGN rule 2).
        log.warn({ err, kafkaError: state }, 'idempotent producer out of step with the broker; replacing it')
        const old = producer
        producer = newProducer()
        needsConnect = true
        await old.disconnect().catch(() => undefined)
        const outage = new AutocalError('AUTOCAL_UNAVAILABLE', `Kafka refused the producer's sequence (${state}); the producer was replaced, send again`, { retryable: true, cause: err })
        for (const p of batch) p.done(outage)
      }
    }
    flushing = false
  }

  async function enqueue (topic: string, messages: Message[]): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      queue.push({ topic, messages, done: err => { if (err === undefined) resolve(); else reject(err) } })
      if (!flushing) void flush()
    })
  }

  /**
   * One `send <topic>` span per message, even in a batch: each message starts
   * (or continues) its own trace, so a batch of run events does not fold
   * unrelated runs into one trace.
   */
  async function send (topic: Topic<any>, encoded: Array<{ msg: Message, eventId: string }>): Promise<string[]> {
    const name = nameOf(topic)
    const parent = context.active()
    const spans = encoded.map(e => {
      const span = tracer.startSpan(`send ${name}`, {
        kind: SpanKind.PRODUCER,
        attributes: { 'messaging.system': 'kafka', 'messaging.destination.name': name, 'messaging.message.id': e.eventId, 'messaging.operation.type': 'send', 'messaging.kafka.message.key': String(e.msg.key ?? '') }
      }, parent)
      // the send span is the parent of every consumer's process span
      injectContext(e.msg.headers as Record<string, string>, trace.setSpan(parent, span))
      return span
    })
    try {
      await enqueue(name, encoded.map(e => e.msg))
      metrics?.produced.inc({ topic: topic.name }, encoded.length)
      return encoded.map(e => e.eventId)
    } catch (err) {
      for (const span of spans) {
        span.recordException(err as Error)
        span.setStatus({ code: SpanStatusCode.ERROR })
      }
      throw err
    } finally {
      for (const span of spans) span.end()
    }
  }

  return {
    nameOf,
    publish: async (topic, message, opts) => {
      const [id] = await send(topic, [encode(topic, message, opts)])
      return id as string
    },
    publishMany: async (topic, messages) => {
      if (messages.length === 0) return []
      return await send(topic, messages.map(m => {
        if (typeof m === 'object' && m !== null && 'options' in m && 'message' in m && !('$typeName' in m)) {
          return encode(topic, m.message, m.options)
        }
        return encode(topic, m as MessageShape<typeof topic.schema>)
      }))
    },
    check: {
      name: 'kafka',
      check: async () => { await admin.describeCluster() }
    },
    [Symbol.asyncDispose]: async () => {
      await producer.disconnect()
      await admin.disconnect()
      log.debug('producer disconnected')
    }
  }
}
