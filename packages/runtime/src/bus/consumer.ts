// The typed consumer. One consumer group per service; handlers per registry
// topic. A message is decoded with its topic's schema, handled inside a span
// whose parent is the producer's, and its offset is resolved only after the
// handler resolved: an error is retried in place with backoff (the offset
// stays uncommitted). Two kinds of failure are not the message's fault and are
// retried without limit and without counting attempts: an AUTOCAL_BUSY error
// (back-pressure) and an infrastructure error (Kafka or Redis unreachable or
// not ready, see isInfrastructureError), during which the consumer's readiness
// check fails (/readyz 503). An undecodable message, a non-retryable error or
// exhausted retries send the message to the DLQ with the reason, and the
// consumer moves on. So does a message that breaks the name grammar of
// @autocal/contracts (messageProblem: names, ids and run numbers; a uint32
// wider than 32 bits on the wire), before any handler sees it. A consumer
// that kafkajs cannot restart fails the process's liveness and asks for a shutdown with a non-zero exit.
import { setTimeout as delay } from 'node:timers/promises'
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api'
import { create, fromBinary, fromJsonString, type DescMessage, type MessageShape } from '@bufbuild/protobuf'
import { timestampFromDate } from '@bufbuild/protobuf/wkt'
import { DeadLetterSchema, contentTypes, headers as names, messageProblem, topicName, topics, uint32OverflowProblem, type EventMeta, type TopicId, type Topics } from '@autocal/contracts'
import type { Consumer as KafkaConsumer, EachBatchPayload, KafkaMessage } from 'kafkajs'
import { createKafka, type KafkaConfig } from './kafka.ts'
import { extractContext, headerValue, headersAsStrings } from './headers.ts'
import { AutocalError, errorCode, errorMessage, isInfrastructureError, isRetryable } from '../errors.ts'
import { failProcess } from '../shutdown.ts'
import type { Producer } from './producer.ts'
import type { Logger } from '../logger.ts'
import type { Metrics } from '../metrics.ts'
import type { Check } from '../http.ts'

export type Handler<S extends DescMessage> = (message: MessageShape<S>, meta: EventMeta) => Promise<void>
export type Handlers = { [K in TopicId]?: Handler<Topics[K]['schema']> }

export interface ConsumerConfig extends KafkaConfig {
  AUTOCAL_KAFKA_MAX_ATTEMPTS: number
  AUTOCAL_KAFKA_RETRY_BASE_MS: number
  AUTOCAL_KAFKA_RETRY_MAX_MS: number
  AUTOCAL_KAFKA_PARTITIONS_CONCURRENCY: number
  AUTOCAL_KAFKA_SESSION_TIMEOUT_MS: number
  AUTOCAL_KAFKA_FETCH_PARTITION_BYTES?: number
  AUTOCAL_KAFKA_FETCH_BYTES?: number
}

/** Where a message was read: the registry topic, its partition and offset. */
export interface HandledAt { topic: TopicId, partition: number, offset: string }

export interface ConsumerOptions {
  config: ConsumerConfig
  logger: Logger
  service: string
  /** Consumer group (prefixed like the topics). */
  group: string
  handlers: Handlers
  /** Used to write dead letters. */
  producer: Producer
  metrics?: Metrics
  /** Where a group without committed offsets starts: true (default) = the oldest message. */
  fromBeginning?: boolean
  /**
   * The group belongs to this process alone (a replica's own watch group):
   * deleted from the cluster when the consumer closes, so a stopped process
   * leaves no group behind (default false: a service's shared group stays).
   */
  deleteGroupOnClose?: boolean
  /**
   * Messages of these topics handled at once, at most this many, within one
   * partition's batch (default 1: one after the other). Messages with the same
   * key stay in order; the offset advances only over the start of the batch
   * whose messages are all handled (or dead-lettered), so nothing unhandled is
   * ever committed. For topics whose messages of different keys are independent.
   */
  concurrency?: { [K in TopicId]?: number }
  /**
   * Called for every message once it is handled or dead-lettered, per
   * partition in offset order (never for a message while an earlier one of its
   * partition is still in flight); a throw is retried like a handler's.
   */
  onHandled?: (at: HandledAt) => Promise<void>
}

export interface Consumer extends AsyncDisposable {
  check: Check
  /** The kafkajs consumer, for tests and for seeking. */
  readonly kafka: KafkaConsumer
  readonly groupId: string
}

const tracer = trace.getTracer('@autocal/runtime')

export async function startConsumer (options: ConsumerOptions): Promise<Consumer> {
  const { config, logger, service, handlers, producer, metrics } = options
  const prefix = config.AUTOCAL_KAFKA_TOPIC_PREFIX
  const groupId = prefix === '' ? options.group : `${prefix}.${options.group}`
  const log = logger.child({ component: 'consumer', group: groupId })
  const kafka = createKafka(config, logger, `autocal-${service}`)
  const consumer = kafka.consumer({
    groupId,
    sessionTimeout: config.AUTOCAL_KAFKA_SESSION_TIMEOUT_MS,
    heartbeatInterval: Math.min(3000, Math.floor(config.AUTOCAL_KAFKA_SESSION_TIMEOUT_MS / 3)),
    allowAutoTopicCreation: false,
    // a short long-poll: stopping waits for the fetch in flight, so this bounds shutdown time
    maxWaitTimeInMs: 500,
    // small batches: the next fetch of every partition waits for the slowest batch of this one
    maxBytesPerPartition: config.AUTOCAL_KAFKA_FETCH_PARTITION_BYTES ?? 128 * 1024,
    maxBytes: config.AUTOCAL_KAFKA_FETCH_BYTES ?? 4 * 1024 * 1024,
    retry: { initialRetryTime: 300, retries: 10 }
  })

  const byName = new Map<string, { id: TopicId, handler: Handler<any> }>()
  for (const [id, handler] of Object.entries(handlers) as Array<[TopicId, Handler<any>]>) {
    byName.set(topicName(topics[id], prefix), { id, handler })
  }

  let joined = false
  let crashed: string | undefined
  // partitions whose message in flight waits out an outage: topic/partition → reason
  const outages = new Map<string, string>()
  consumer.on(consumer.events.GROUP_JOIN, () => { joined = true; crashed = undefined })
  consumer.on(consumer.events.CRASH, e => {
    crashed = errorMessage(e.payload.error)
    if (!e.payload.restart) {
      // kafkajs gave up on this consumer (e.g. a coordinator error during a
      // broker roll): a live process that consumes nothing must not look
      // healthy; fail liveness and let the service close and exit non-zero
      log.error({ err: e.payload.error }, 'consumer crashed and will not restart')
      failProcess(`consumer ${groupId} crashed and cannot restart: ${crashed}`)
    }
  })

  await consumer.connect()
  await consumer.subscribe({ topics: [...byName.keys()], fromBeginning: options.fromBeginning ?? true })

  async function deadLetter (topic: string, partition: number, message: KafkaMessage, code: string, reason: string, attempts: number): Promise<void> {
    if (topic === topicName(topics.dlq, prefix)) {
      log.error({ partition, offset: message.offset, reason }, 'a dead letter could not be handled; skipped')
      return
    }
    await producer.publish(topics.dlq, create(DeadLetterSchema, {
      topic,
      partition,
      offset: BigInt(message.offset),
      key: message.key ?? new Uint8Array(),
      value: message.value ?? new Uint8Array(),
      headers: headersAsStrings(message.headers),
      code,
      reason,
      consumerGroup: groupId,
      service,
      attempts,
      at: timestampFromDate(new Date())
    }), { eventId: `dlq/${groupId}/${topic}/${partition}/${message.offset}` })
    metrics?.deadLettered.inc({ topic, group: groupId, code })
    log.warn({ topic, partition, offset: message.offset, code, reason }, 'message sent to the dead-letter topic')
  }

  function decode (schema: DescMessage, message: KafkaMessage): MessageShape<DescMessage> {
    const type = headerValue(message.headers, names.type)
    if (type !== undefined && type !== schema.typeName) {
      throw new AutocalError('AUTOCAL_DECODE_FAILED', `message type ${type} does not belong on this topic (expected ${schema.typeName})`)
    }
    if (message.value === null) throw new AutocalError('AUTOCAL_DECODE_FAILED', 'message has no value')
    const json = headerValue(message.headers, names.contentType) === contentTypes.json
    let decoded: MessageShape<DescMessage>
    try {
      decoded = json ? fromJsonString(schema, message.value.toString('utf8')) : fromBinary(schema, message.value)
    } catch (err) {
      throw new AutocalError('AUTOCAL_DECODE_FAILED', `cannot decode as ${schema.typeName}: ${errorMessage(err)}`, { cause: err })
    }
    // the binary decoder keeps the low 32 bits of a too-wide uint32 (JSON refuses it)
    const overflow = json ? undefined : uint32OverflowProblem(schema, message.value)
    if (overflow !== undefined) throw new AutocalError('AUTOCAL_VALIDATION_FAILED', `${schema.typeName}: ${overflow}`)
    return decoded
  }

  /** The one name grammar, on every message before a handler sees it (ids, keys and paths are made of these fields). */
  function validate (id: TopicId, decoded: MessageShape<DescMessage>): void {
    const problem = messageProblem(id, decoded)
    if (problem !== undefined) throw new AutocalError('AUTOCAL_VALIDATION_FAILED', `${topics[id].schema.typeName}: ${problem}`)
  }

  async function handleOne (payload: EachBatchPayload, message: KafkaMessage): Promise<void> {
    const { topic, partition } = payload.batch
    const entry = byName.get(topic)
    if (entry === undefined) return
    const meta: EventMeta = {
      eventId: headerValue(message.headers, names.id) ?? `${topic}/${partition}/${message.offset}`,
      source: headerValue(message.headers, names.source) ?? 'unknown',
      time: new Date(headerValue(message.headers, names.time) ?? Number(message.timestamp)),
      topic: entry.id === undefined ? topic : topics[entry.id].name,
      partition,
      offset: message.offset,
      key: message.key?.toString('utf8') ?? '',
      type: headerValue(message.headers, names.type) ?? ''
    }
    let decoded: MessageShape<DescMessage>
    try {
      decoded = decode(topics[entry.id].schema, message)
      validate(entry.id, decoded)
    } catch (err) {
      await deadLetter(topic, partition, message, errorCode(err), errorMessage(err), 0)
      return
    }
    const parent = extractContext(message.headers)
    const handler = entry.handler
    const where = `${topic}/${partition}`
    let busyWaits = 0
    let outageWaits = 0
    try {
      await attemptUntilDone()
    } finally {
      outages.delete(where)
    }

    async function attemptUntilDone (): Promise<void> {
      for (let attempt = 1; ; attempt++) {
        const started = performance.now()
        const outcome = await tracer.startActiveSpan(`process ${topic}`, {
          kind: SpanKind.CONSUMER,
          attributes: {
            'messaging.system': 'kafka',
            'messaging.destination.name': topic,
            'messaging.consumer.group.name': groupId,
            'messaging.destination.partition.id': String(partition),
            'messaging.kafka.offset': Number(message.offset),
            'messaging.message.id': meta.eventId,
            'messaging.kafka.message.key': meta.key,
            'messaging.operation.type': 'process'
          }
        }, parent, async span => {
          try {
            await handler(decoded, meta)
            return undefined
          } catch (err) {
            span.recordException(err as Error)
            span.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage(err) })
            return err
          } finally {
            span.end()
          }
        })
        metrics?.handlerSeconds.observe({ topic: meta.topic, group: groupId }, (performance.now() - started) / 1000)
        if (outcome === undefined) {
          metrics?.consumed.inc({ topic: meta.topic, group: groupId })
          if (outageWaits > 0) log.info({ topic, partition, offset: message.offset, outageWaits }, 'outage over; message handled')
          return
        }
        if (isInfrastructureError(outcome)) {
          // an outage of Kafka or Redis, not a fault of this message: wait it
          // out as long as it lasts (readiness 503 meanwhile), attempts not counted
          attempt--
          outageWaits++
          outages.set(where, errorMessage(outcome))
          const delay = Math.min(config.AUTOCAL_KAFKA_RETRY_MAX_MS, 5000, config.AUTOCAL_KAFKA_RETRY_BASE_MS * 2 ** Math.min(outageWaits - 1, 10))
          if (outageWaits === 1 || outageWaits % 20 === 0) {
            log.warn({ err: outcome, topic, partition, offset: message.offset, outageWaits, retryInMs: delay }, 'infrastructure unavailable; waiting it out')
          }
          await pauseWithHeartbeat(payload, delay)
          continue
        }
        if (errorCode(outcome) === 'AUTOCAL_BUSY') {
          // back-pressure, not a failure: wait (heartbeating) and offer the
          // message again, as long as it takes; the offset stays uncommitted
          attempt--
          busyWaits++
          if (busyWaits === 1) log.debug({ topic, partition, offset: message.offset, reason: errorMessage(outcome) }, 'handler busy; waiting')
          await pauseWithHeartbeat(payload, Math.min(1000, config.AUTOCAL_KAFKA_RETRY_BASE_MS * busyWaits))
          continue
        }
        if (errorCode(outcome) === 'AUTOCAL_SHUTTING_DOWN') {
          // the service is stopping and cancelled the handler: neither a failure nor a DLQ case; the offset stays uncommitted
          throw outcome
        }
        metrics?.handlerErrors.inc({ topic: meta.topic, group: groupId })
        const retryable = isRetryable(outcome)
        if (!retryable || attempt >= config.AUTOCAL_KAFKA_MAX_ATTEMPTS) {
          const why = retryable ? `gave up after ${attempt} attempts: ${errorMessage(outcome)}` : errorMessage(outcome)
          await deadLetter(topic, partition, message, errorCode(outcome), why, attempt)
          return
        }
        const delay = Math.min(config.AUTOCAL_KAFKA_RETRY_MAX_MS, config.AUTOCAL_KAFKA_RETRY_BASE_MS * 2 ** (attempt - 1))
        log.warn({ err: outcome, topic, partition, offset: message.offset, attempt, retryInMs: delay }, 'handler failed; retrying')
        await pauseWithHeartbeat(payload, delay)
      }
    }
  }

  async function pauseWithHeartbeat (payload: EachBatchPayload, ms: number): Promise<void> {
    const until = Date.now() + ms
    while (Date.now() < until) {
      if (!payload.isRunning() || payload.isStale()) {
        throw new AutocalError('AUTOCAL_SHUTTING_DOWN', 'consumer stopping during a retry; the message stays uncommitted')
      }
      await delay(Math.min(500, until - Date.now()))
      await payload.heartbeat()
    }
  }

  /** onHandled, retried while it fails (a Redis outage): the offset does not advance past the message meanwhile. */
  async function noteHandled (payload: EachBatchPayload, at: HandledAt): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await options.onHandled?.(at)
        return
      } catch (err) {
        if (attempt === 1 || attempt % 20 === 0) log.warn({ err, ...at, attempt }, 'noting a handled message failed; retrying')
        await pauseWithHeartbeat(payload, Math.min(config.AUTOCAL_KAFKA_RETRY_MAX_MS, 5000, config.AUTOCAL_KAFKA_RETRY_BASE_MS * 2 ** Math.min(attempt - 1, 10)))
      }
    }
  }

  /**
   * Handles a batch `limit` messages at a time, messages of one key in order;
   * `handled` runs in offset order over the start of the batch that is done.
   * Stops starting messages when the consumer stops or a message fails (the
   * failure is thrown once the messages in flight settled; later offsets stay
   * uncommitted).
   */
  async function handleConcurrently (payload: EachBatchPayload, limit: number, handled: (m: KafkaMessage) => Promise<void>): Promise<void> {
    const messages = payload.batch.messages
    const done = new Array<boolean>(messages.length).fill(false)
    const lastOfKey = new Map<string, Promise<void>>()
    const inFlight = new Set<Promise<void>>()
    let failure: { err: unknown } | undefined
    let next = 0
    let advancing = Promise.resolve()
    const advance = (): Promise<void> => {
      advancing = advancing.then(async () => {
        for (; next < messages.length && done[next] === true; next++) {
          if (failure !== undefined) return
          await handled(messages[next] as KafkaMessage)
        }
      }).catch((err: unknown) => { failure ??= { err } })
      return advancing
    }
    for (let i = 0; i < messages.length; i++) {
      if (!payload.isRunning() || payload.isStale() || failure !== undefined) break
      while (inFlight.size >= limit) await Promise.race(inFlight)
      if (failure !== undefined) break
      const message = messages[i] as KafkaMessage
      const key = message.key?.toString('latin1') ?? ''
      const before = lastOfKey.get(key)
      const run = (async () => {
        await before
        if (failure !== undefined) return
        await handleOne(payload, message)
        done[i] = true
        await advance()
        await payload.heartbeat()
      })().catch((err: unknown) => { failure ??= { err } })
      lastOfKey.set(key, run)
      const tracked: Promise<void> = run.finally(() => {
        inFlight.delete(tracked)
        if (lastOfKey.get(key) === run) lastOfKey.delete(key)
      })
      inFlight.add(tracked)
    }
    await Promise.all(inFlight)
    await advance()
    if (failure !== undefined) throw failure.err
  }

  await consumer.run({
    autoCommit: true,
    autoCommitInterval: 1000,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: config.AUTOCAL_KAFKA_PARTITIONS_CONCURRENCY,
    eachBatch: async payload => {
      const { batch } = payload
      const entry = byName.get(batch.topic)
      const limit = entry === undefined ? 1 : options.concurrency?.[entry.id] ?? 1
      const handled = async (message: KafkaMessage): Promise<void> => {
        if (entry !== undefined && options.onHandled !== undefined) await noteHandled(payload, { topic: entry.id, partition: batch.partition, offset: message.offset })
        payload.resolveOffset(message.offset)
      }
      if (limit <= 1) {
        for (const message of batch.messages) {
          if (!payload.isRunning() || payload.isStale()) break
          await handleOne(payload, message)
          await handled(message)
          await payload.heartbeat()
        }
      } else {
        await handleConcurrently(payload, limit, handled)
      }
      await payload.commitOffsetsIfNecessary()
      metrics?.consumerLag.set({ topic: batch.topic, partition: String(batch.partition), group: groupId }, Number(batch.offsetLag()))
    }
  })
  log.info({ topics: [...byName.keys()] }, 'consuming')

  return {
    kafka: consumer,
    groupId,
    check: {
      name: `consumer:${options.group}`,
      check: async () => {
        if (crashed !== undefined) throw new Error(`consumer crashed: ${crashed}`)
        if (!joined) throw new Error('consumer has not joined its group yet')
        if (outages.size > 0) {
          const some = [...outages].slice(0, 3).map(([at, reason]) => `${at}: ${reason}`).join('; ')
          throw new Error(`waiting out an outage on ${outages.size} partition(s) (${some})`)
        }
      }
    },
    [Symbol.asyncDispose]: async () => {
      // stops between messages, commits what was handled, leaves the group
      await consumer.disconnect()
      log.info('consumer stopped')
      if (options.deleteGroupOnClose === true) {
        const admin = kafka.admin()
        try {
          await admin.connect()
          await admin.deleteGroups([groupId])
          log.info('consumer group deleted')
        } catch (err) {
          log.warn({ err }, 'consumer group not deleted; it expires with the broker\'s offsets retention')
        } finally {
          await admin.disconnect()
        }
      }
    }
  }
}
