// Offsets of the runs topic for the grouping order (domain/grouping-order.ts):
// its partitions' end offsets now, and the offsets the dispatcher's consumer
// group (all replicas) has committed on it. One admin client, connected on
// first use and disconnected on dispose.
import { topicName, topics } from '@autocal/contracts'
import { createKafka, topicOffsets, type KafkaConfig, type Logger } from '@autocal/runtime'
import type { PartitionEnd } from '../domain/grouping-order.ts'

export interface RunsOffsets extends AsyncDisposable {
  /** End offsets of every partition of the runs topic, fetched now. */
  ends: () => Promise<PartitionEnd[]>
  /** Committed offsets of `group` (partition → next offset to consume; "-1" = none) on the runs topic. */
  committed: () => Promise<Map<number, string>>
}

/**
 * `group` is the consumer group that handles run events, unprefixed
 * (`task-dispatcher`); the topic prefix of `config` is applied to it and to the topic.
 */
export function createRunsOffsets (config: KafkaConfig, logger: Logger, group: string): RunsOffsets {
  const prefix = config.AUTOCAL_KAFKA_TOPIC_PREFIX
  const topic = topicName(topics.runs, prefix)
  const groupId = prefix === '' ? group : `${prefix}.${group}`
  const admin = createKafka(config, logger, 'task-dispatcher-grouping').admin()
  let connected: Promise<void> | undefined
  const connect = async (): Promise<void> => {
    connected ??= admin.connect().catch((err: unknown) => { connected = undefined; throw err })
    await connected
  }
  return {
    ends: async () => {
      await connect()
      return await topicOffsets(admin, topic)
    },
    committed: async () => {
      await connect()
      const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] })
      return new Map((offsets?.partitions ?? []).map(p => [p.partition, p.offset]))
    },
    [Symbol.asyncDispose]: async () => { if (connected !== undefined) await admin.disconnect().catch(() => undefined) }
  }
}
