// Consumer lag of the autocal consumer groups: committed offsets (admin
// fetchOffsets) against the topics' high watermarks, summed per group and
// topic. Readings are cached briefly so that scrapes do not load the broker.
import { allTopics, topicName } from '@autocal/contracts'
import { createKafka, type KafkaConfig, type Logger } from '@autocal/runtime'

export interface LagRow {
  group: string
  topic: string
  lag: number
}

export interface LagReader extends AsyncDisposable {
  read: () => Promise<LagRow[]>
}

export function createLagReader (options: { config: KafkaConfig, logger: Logger, groups: string[], cacheMs: number }): LagReader {
  const { config, logger, cacheMs } = options
  const prefix = config.AUTOCAL_KAFKA_TOPIC_PREFIX
  const log = logger.child({ component: 'consumer-lag' })
  const admin = createKafka(config, logger, 'autocal-metrics-lag').admin()
  const groups = [...new Set(options.groups)].map(g => prefix === '' ? g : `${prefix}.${g}`)
  const names = new Map(allTopics.map(t => [topicName(t, prefix), t.name]))
  let connected: Promise<void> | undefined
  let cached: { at: number, rows: LagRow[] } | undefined

  async function measure (): Promise<LagRow[]> {
    connected ??= admin.connect()
    await connected
    const high = new Map<string, Map<number, bigint>>()
    for (const name of names.keys()) {
      const offsets = await admin.fetchTopicOffsets(name).catch(() => [])
      high.set(name, new Map(offsets.map(o => [o.partition, BigInt(o.high)])))
    }
    const rows: LagRow[] = []
    for (const group of groups) {
      const committed = await admin.fetchOffsets({ groupId: group, topics: [...names.keys()] }).catch(() => [])
      for (const t of committed) {
        const partitions = t.partitions.filter(p => BigInt(p.offset) >= 0n)
        if (partitions.length === 0) continue
        let lag = 0n
        for (const p of partitions) {
          const h = high.get(t.topic)?.get(p.partition) ?? 0n
          if (h > BigInt(p.offset)) lag += h - BigInt(p.offset)
        }
        rows.push({ group: prefix === '' ? group : group.slice(prefix.length + 1), topic: names.get(t.topic) ?? t.topic, lag: Number(lag) })
      }
    }
    return rows
  }

  return {
    read: async () => {
      if (cached !== undefined && Date.now() - cached.at < cacheMs) return cached.rows
      try {
        cached = { at: Date.now(), rows: await measure() }
      } catch (err) {
        log.warn({ err }, 'consumer lag not measured')
        return cached?.rows ?? []
      }
      return cached.rows
    },
    [Symbol.asyncDispose]: async () => {
      if (connected !== undefined) await admin.disconnect()
    }
  }
}
