// Consumer lag of the autocal consumer groups: committed offsets (admin
// fetchOffsets) against the topics' high watermarks, summed per group and
// topic over every partition (a partition the group has not committed on yet
// counts from its low watermark) of the topics the group committed on. Readings are cached briefly so that scrapes do not load the broker.
import { allTopics, topicName } from '@autocal/contracts'
import { createKafka, type KafkaConfig, type Logger } from '@autocal/runtime'

export interface LagRow {
  group: string
  topic: string
  lag: number
  /** Sum of the committed offsets over the same partitions (moves when the group consumes). */
  committed: number
}

export interface LagReader extends AsyncDisposable {
  read: () => Promise<LagRow[]>
}

export interface LagOptions {
  config: KafkaConfig
  logger: Logger
  /** Groups always reported (unprefixed names). */
  groups: string[]
  /** Also report every group of this deployment the broker lists: "<prefix>.<name>" (or a name without '.' when there is no prefix). */
  discover: boolean
  cacheMs: number
}

/** Whether a listed group belongs to this deployment; returns its unprefixed name. */
export function deploymentGroup (groupId: string, prefix: string): string | undefined {
  const name = prefix === '' ? groupId : (groupId.startsWith(`${prefix}.`) ? groupId.slice(prefix.length + 1) : undefined)
  return name === undefined || name === '' || name.includes('.') ? undefined : name
}

export function createLagReader (options: LagOptions): LagReader {
  const { config, logger, cacheMs } = options
  const prefix = config.AUTOCAL_KAFKA_TOPIC_PREFIX
  const log = logger.child({ component: 'consumer-lag' })
  const admin = createKafka(config, logger, 'autocal-metrics-lag').admin()
  const fullName = (g: string): string => prefix === '' ? g : `${prefix}.${g}`
  const topicNames = new Map(allTopics.map(t => [topicName(t, prefix), t.name]))
  let connected: Promise<void> | undefined
  let cached: { at: number, rows: LagRow[] } | undefined

  async function measure (): Promise<LagRow[]> {
    connected ??= admin.connect()
    await connected
    const high = new Map<string, Map<number, { high: bigint, low: bigint }>>()
    // only topics that exist: asking for the offsets of a missing one would have the broker auto-create it
    // (with its default partition count) before the services create it
    const existing = new Set(await admin.listTopics())
    for (const topic of topicNames.keys()) {
      if (!existing.has(topic)) continue
      const offsets = await admin.fetchTopicOffsets(topic).catch(() => [])
      high.set(topic, new Map(offsets.map(o => [o.partition, { high: BigInt(o.high), low: BigInt(o.low) }])))
    }
    const names = new Set(options.groups)
    if (options.discover) {
      for (const g of (await admin.listGroups()).groups) {
        const name = deploymentGroup(g.groupId, prefix)
        if (name !== undefined) names.add(name)
      }
    }
    const rows: LagRow[] = []
    for (const name of [...names].sort()) {
      const group = fullName(name)
      const committed = await admin.fetchOffsets({ groupId: group, topics: [...topicNames.keys()].filter(t => existing.has(t)) }).catch(() => [])
      for (const t of committed) {
        // a group that committed on none of the topic's partitions does not consume it: no row
        if (!t.partitions.some(p => BigInt(p.offset) >= 0n)) continue
        let lag = 0n
        let committedSum = 0n
        for (const [partition, w] of high.get(t.topic) ?? new Map<number, { high: bigint, low: bigint }>()) {
          const offset = BigInt(t.partitions.find(p => p.partition === partition)?.offset ?? -1)
          // a partition the group has not committed on yet: everything still there is behind
          const from = offset >= 0n ? offset : w.low
          if (offset >= 0n) committedSum += offset
          if (w.high > from) lag += w.high - from
        }
        rows.push({ group: name, topic: topicNames.get(t.topic) ?? t.topic, lag: Number(lag), committed: Number(committedSum) })
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
