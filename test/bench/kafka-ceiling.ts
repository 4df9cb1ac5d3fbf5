// The ceiling: raw kafkajs produce → consume throughput on the same broker,
// with messages of the sizes autocal's own messages have. Whatever autocal
// does on top can only be slower than this.
import { randomUUID } from 'node:crypto'
import type { Kafka } from 'kafkajs'
import { waitForTopics } from '@autocal/runtime'

export interface CeilingResult {
  sizeBytes: number
  messages: number
  produceSeconds: number
  endToEndSeconds: number
  messagesPerSecond: number
}

/** Produces `messages` messages of `sizeBytes` through `kafka` (a client on the broker under test, connected as the services are) and times them until consumed. */
export async function measureCeiling (kafka: Kafka, sizeBytes: number, messages: number, batch = 500): Promise<CeilingResult> {
  const topic = `bench-ceiling-${randomUUID().slice(0, 8)}`
  const admin = kafka.admin()
  await admin.connect()
  // not kafkajs' waitForLeaders: it can throw UNKNOWN_TOPIC_OR_PARTITION outside the returned promise right after creation
  await admin.createTopics({ waitForLeaders: false, topics: [{ topic, numPartitions: 6, replicationFactor: 1 }] })
  await waitForTopics(admin, [{ name: topic, partitions: 6 }], 60_000)
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
  const consumer = kafka.consumer({ groupId: `${topic}-g`, maxWaitTimeInMs: 100 })
  await producer.connect()
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  let received = 0
  let done: () => void = () => {}
  const allReceived = new Promise<void>(resolve => { done = resolve })
  await consumer.run({
    eachBatch: async ({ batch }) => {
      received += batch.messages.length
      if (received >= messages) done()
    }
  })
  const value = Buffer.alloc(sizeBytes, 7)
  const started = performance.now()
  for (let sent = 0; sent < messages; sent += batch) {
    const n = Math.min(batch, messages - sent)
    await producer.send({ topic, acks: -1, messages: Array.from({ length: n }, (_, i) => ({ key: String((sent + i) % 997), value })) })
  }
  const produced = performance.now()
  await allReceived
  const finished = performance.now()
  await consumer.disconnect()
  await producer.disconnect()
  await admin.deleteTopics({ topics: [topic] }).catch(() => {})
  await admin.disconnect()
  const endToEndSeconds = (finished - started) / 1000
  return { sizeBytes, messages, produceSeconds: (produced - started) / 1000, endToEndSeconds, messagesPerSecond: messages / endToEndSeconds }
}
