// Reads a topic once from its beginning up to the end it had when called: the
// way a service rebuilds what it kept in Redis from the log of record (DESIGN
// §4 rule 1). A throw-away consumer group of its own, deleted afterwards.
import { randomUUID } from 'node:crypto'
import { fromBinary, fromJsonString, type DescMessage, type MessageShape } from '@bufbuild/protobuf'
import { contentTypes, headers, messageProblem, topicName, topics, uint32OverflowProblem, type Topic, type TopicId } from '@autocal/contracts'
import { createKafka, topicOffsets, type KafkaConfig } from './kafka.ts'
import { headerValue, traceCarrier } from './headers.ts'
import type { Logger } from '../logger.ts'

/**
 * The group id of one throw-away reader: `<prefix>.<reader>-<8 hex>` (no
 * prefix: `<reader>-<8 hex>`). `reader` must start with the reading service's
 * name (`task-dispatcher-recovery`): on secure servers a service's principal
 * may use only the consumer groups that start with its name
 * (packages/runtime/scripts/kafka-acls.ts), so any other name is refused with
 * GROUP_AUTHORIZATION_FAILED.
 */
export function readerGroup (prefix: string, reader: string): string {
  return `${prefix === '' ? '' : prefix + '.'}${reader}-${randomUUID().slice(0, 8)}`
}

/**
 * Calls `onMessage` with every usable message of `topic` (this prefix's) and
 * its event id (the ce_id header, when there is one), partition and offset,
 * from offset 0 of each partition to the partition's end when the call began,
 * and resolves with how many it handed over. A message the live consumer
 * dead-letters (undecodable, a number wider than its field, a name or run
 * that breaks the grammar: the same checks as packages/runtime's consumer)
 * is logged with the reason and skipped. An error of `onMessage` itself (e.g.
 * Redis unreachable) rejects the read: a rebuild never completes with a
 * message left out. `clientId` names the reader and starts with the
 * service's name (its group is `readerGroup(prefix, clientId)`, deleted
 * afterwards). Throws when the broker cannot be reached, the topic has no
 * leaders after ~5 s, or the consumer crashes for good (e.g. its group is not
 * authorized).
 */
/** What a rebuild reader learns of a message besides its content. */
export interface ReadMeta {
  eventId: string | undefined
  partition: number
  offset: string
  /**
   * The producer's W3C trace context (traceparent, tracestate headers; empty when it had none): work that a
   * rebuild takes over continues the message's trace (e.g. a job the executor reinstates after a Redis loss).
   */
  trace: Record<string, string>
}

export async function readTopic<S extends DescMessage> (config: KafkaConfig, logger: Logger, clientId: string, topic: Topic<S>, onMessage: (m: MessageShape<S>, meta: ReadMeta) => Promise<void>): Promise<number> {
  const kafka = createKafka(config, logger, clientId)
  const name = topicName(topic, config.AUTOCAL_KAFKA_TOPIC_PREFIX)
  const id = (Object.keys(topics) as TopicId[]).find(k => (topics[k] as Topic) === (topic as Topic))
  const admin = kafka.admin()
  await admin.connect()
  const groupId = readerGroup(config.AUTOCAL_KAFKA_TOPIC_PREFIX, clientId)
  try {
    // a topic created a moment ago may not have its leaders yet
    const offsets = await topicOffsets(admin, name)
    const remaining = new Map(offsets.filter(o => BigInt(o.high) > BigInt(o.low)).map(o => [o.partition, BigInt(o.high)]))
    if (remaining.size === 0) return 0
    const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 200, sessionTimeout: 10_000 })
    await consumer.connect()
    let count = 0
    try {
      await consumer.subscribe({ topics: [name], fromBeginning: true })
      await new Promise<void>((resolve, reject) => {
        // a crash kafkajs will not restart from (e.g. GROUP_AUTHORIZATION_FAILED) ends the read, instead of a wait for ever
        consumer.on(consumer.events.CRASH, ({ payload }) => {
          if (!payload.restart) reject(new Error(`reading ${name} as ${groupId} failed: ${payload.error.message}`, { cause: payload.error }))
        })
        consumer.run({
          autoCommit: false,
          eachMessage: async ({ partition, message }) => {
            const high = remaining.get(partition)
            if (high === undefined) return
            if (BigInt(message.offset) < high && message.value !== null) {
              const json = headerValue(message.headers, headers.contentType) === contentTypes.json
              let decoded: MessageShape<S> | undefined
              try {
                const overflow = json ? undefined : uint32OverflowProblem(topic.schema, message.value)
                if (overflow !== undefined) throw new Error(overflow)
                decoded = json ? fromJsonString(topic.schema, message.value.toString('utf8')) : fromBinary(topic.schema, message.value)
                const problem = id === undefined ? undefined : messageProblem(id, decoded)
                if (problem !== undefined) throw new Error(problem)
              } catch (err) {
                decoded = undefined
                logger.warn({ err, topic: name, partition, offset: message.offset, reason: (err as Error).message }, 'rebuild skipped a message the live consumer dead-letters')
              }
              if (decoded !== undefined) {
                try {
                  await onMessage(decoded, { eventId: headerValue(message.headers, headers.id), partition, offset: message.offset, trace: traceCarrier(message.headers) })
                } catch (err) {
                  reject(err instanceof Error ? err : new Error(String(err))) // not the message's fault: the whole read fails, nothing is left out
                  return
                }
                count++
              }
            }
            if (BigInt(message.offset) + 1n >= high) {
              remaining.delete(partition)
              if (remaining.size === 0) resolve()
            }
          }
        }).catch(reject)
      })
    } finally {
      await consumer.disconnect()
      await admin.deleteGroups([groupId]).catch(() => undefined)
    }
    return count
  } finally {
    await admin.disconnect()
  }
}
