// The durable run registry on Kafka (autocal.runs.registry.v1, compacted,
// keyed by run): the run-watcher publishes every run's whole entry after each
// announced change (domain/registry.ts), and reads the topic back to rebuild
// its known runs after a Redis loss, whatever the runs topic still retains.
import { create } from '@bufbuild/protobuf'
import { timestampNow } from '@bufbuild/protobuf/wkt'
import { RegistryEntrySchema, topicName, topics, type RegistryEntry } from '@autocal/contracts'
import { createKafka, readTopic, type KafkaConfig, type Logger, type Producer } from '@autocal/runtime'
import { fromContractRun, toContractRun } from '../run-event.ts'
import type { FactState, MarkName, RegistryItem } from '../domain/registry.ts'

/** Entries per Kafka send. */
const sendChunk = 500

/** The contract message of a registry item. */
export function toRegistryEntry (item: RegistryItem): RegistryEntry {
  const readiness = (table: Record<string, FactState>): Array<{ name: string, done: boolean, sequence: number }> =>
    Object.entries(table).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0).map(([name, s]) => ({ name, done: s.done, sequence: s.sequence }))
  if (item.kind === 'mark') {
    return create(RegistryEntrySchema, { run: item.mark.value, updatedTime: timestampNow(), entry: { case: 'mark', value: item.mark } })
  }
  const e = item.entry
  return create(RegistryEntrySchema, {
    run: e.run,
    updatedTime: timestampNow(),
    entry: {
      case: 'runEntry',
      value: { ...(e.record === undefined ? {} : { run: toContractRun(e.record) }), sequence: e.sequence, streams: readiness(e.streams), datasets: readiness(e.datasets) }
    }
  })
}

/** The registry item of a contract message; undefined for an entry of neither kind or a mark this service does not know. */
export function fromRegistryEntry (m: RegistryEntry): RegistryItem | undefined {
  const entry = m.entry
  switch (entry.case) {
    case 'runEntry': {
      const table = (list: ReadonlyArray<{ name: string, done: boolean, sequence: number }>): Record<string, FactState> =>
        Object.fromEntries(list.map(r => [r.name, { done: r.done, sequence: r.sequence }]))
      const v = entry.value
      return { kind: 'run', entry: { run: m.run, record: v.run === undefined ? undefined : fromContractRun(v.run), sequence: v.sequence, streams: table(v.streams), datasets: table(v.datasets) } }
    }
    case 'mark': {
      const name = entry.value.name
      if (name !== 'fcsr' && name !== 'oms-watermark') return undefined
      return { kind: 'mark', mark: { name: name satisfies MarkName, value: entry.value.value, sequence: entry.value.sequence } }
    }
    case undefined: return undefined
  }
}

/** Publishes registry items (each whole, so the topic's compaction keeps the newest per run). */
export async function publishRegistry (producer: Producer, items: readonly RegistryItem[]): Promise<void> {
  for (let i = 0; i < items.length; i += sendChunk) {
    await producer.publishMany(topics.runRegistry, items.slice(i, i + sendChunk).map(toRegistryEntry))
  }
}

/** The registry reader's consumer group name: it starts with the service's name, as the Kafka ACLs require. */
export const registryReader = 'run-watcher-registry'

/**
 * Reads every entry of the registry topic (when it exists) up to the end each
 * partition had, in offset order per partition, through the runtime's
 * readTopic (a throw-away consumer group; messages the consumers would
 * dead-letter are skipped). Returns how many items were handed to `onItem`.
 */
export async function readRegistry (config: KafkaConfig, logger: Logger, clientId: string, onItem: (item: RegistryItem) => Promise<void>): Promise<number> {
  const topic = topicName(topics.runRegistry, config.AUTOCAL_KAFKA_TOPIC_PREFIX)
  const admin = createKafka(config, logger, clientId).admin()
  await admin.connect()
  try {
    if (!(await admin.listTopics()).includes(topic)) return 0
  } finally {
    await admin.disconnect()
  }
  let n = 0
  await readTopic(config, logger, clientId, topics.runRegistry, async m => {
    const item = fromRegistryEntry(m)
    if (item === undefined) return
    n++
    await onItem(item)
  })
  return n
}
