// Recovery of the Redis read model from Kafka, when its marker is missing (a
// fresh Redis, or a FLUSHALL): the compacted tasks topic gives the latest
// version of every task (and so every block and which runs were grouped); the
// runs topic gives the run records, Tier-0 facts and the ended runs of each
// campaign, which go back to pending (runs already in a block are skipped by
// the grouping). What is left of the old model is deleted first: a partial
// loss (keys deleted one by one while the dispatcher writes) can leave a task
// without its set memberships. One replica rebuilds under a lease; the others
// wait, and live transitions are refused until the marker is back. The lease
// is kept alive while the rebuild runs; one that lost it sets no marker.
import { randomUUID } from 'node:crypto'
import { fromBinary, fromJsonString, type DescMessage, type MessageShape } from '@bufbuild/protobuf'
import { contentTypes, headers, topicName, topics, type RunEvent, type TaskEvent, type Topic } from '@autocal/contracts'
import { AutocalError, acquireLease, createKafka, headerValue, keepLease, type Logger, type RedisHandle } from '@autocal/runtime'
import type { Catalog } from './domain/catalog.ts'
import type { StateStore } from './adapters/state-store.ts'
import { fromTaskEvent } from './task-event.ts'

export interface RecoveryDeps {
  config: { AUTOCAL_KAFKA_BROKERS: string, AUTOCAL_KAFKA_TOPIC_PREFIX: string }
  logger: Logger
  store: StateStore
  redis: RedisHandle
  catalog: Catalog
  /** Applies one run event to the read model (the same code as the live consumer). */
  applyRun: (ev: RunEvent) => Promise<void>
  /** TTL of the rebuild's lease, kept alive while it runs (default 15 s): a replica that dies mid-rebuild blocks the others only this long. */
  rebuildLeaseMs?: number
}

/** Reads a topic from its beginning up to the end it had when called. */
export async function readTopic<S extends DescMessage> (config: RecoveryDeps['config'], logger: Logger, topic: Topic<S>, onMessage: (m: MessageShape<S>) => Promise<void>): Promise<number> {
  const kafka = createKafka(config, logger, 'autocal-task-dispatcher-recovery')
  const name = topicName(topic, config.AUTOCAL_KAFKA_TOPIC_PREFIX)
  const admin = kafka.admin()
  await admin.connect()
  const groupId = `${config.AUTOCAL_KAFKA_TOPIC_PREFIX === '' ? '' : config.AUTOCAL_KAFKA_TOPIC_PREFIX + '.'}task-dispatcher-recovery-${randomUUID().slice(0, 8)}`
  try {
    let offsets: Awaited<ReturnType<typeof admin.fetchTopicOffsets>> = []
    for (let i = 1; ; i++) {
      try {
        offsets = await admin.fetchTopicOffsets(name)
        break
      } catch (err) {
        // a topic created a moment ago may not have its leaders yet
        if (i >= 20) throw err
        await new Promise(resolve => setTimeout(resolve, 250))
      }
    }
    const remaining = new Map(offsets.filter(o => BigInt(o.high) > BigInt(o.low)).map(o => [o.partition, BigInt(o.high)]))
    if (remaining.size === 0) return 0
    const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 200, sessionTimeout: 10_000 })
    await consumer.connect()
    let count = 0
    try {
      await consumer.subscribe({ topics: [name], fromBeginning: true })
      await new Promise<void>((resolve, reject) => {
        consumer.run({
          autoCommit: false,
          eachMessage: async ({ partition, message }) => {
            const high = remaining.get(partition)
            if (high === undefined) return
            if (BigInt(message.offset) < high && message.value !== null) {
              const json = headerValue(message.headers, headers.contentType) === contentTypes.json
              try {
                const decoded = json ? fromJsonString(topic.schema, message.value.toString('utf8')) : fromBinary(topic.schema, message.value)
                await onMessage(decoded)
                count++
              } catch (err) {
                logger.warn({ err, topic: name, partition, offset: message.offset }, 'recovery skipped an undecodable message')
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

export function createRecovery (deps: RecoveryDeps) {
  const { store, redis, catalog, config } = deps
  const log = deps.logger.child({ component: 'recovery' })
  let running: Promise<void> | undefined

  async function rebuild (): Promise<void> {
    const leaseMs = deps.rebuildLeaseMs ?? 15_000
    const lease = await acquireLease(redis, 'td:rebuild', leaseMs)
    if (lease === null) {
      // another replica rebuilds: wait for its marker
      for (let i = 0; i < 600; i++) {
        if (await store.hasMarker()) return
        await new Promise(resolve => setTimeout(resolve, 100))
      }
      throw new AutocalError('AUTOCAL_NOT_READY', 'the read model is being rebuilt by another replica', { retryable: true })
    }
    const started = Date.now()
    // kept while the topics are read (a long log can outlast the lease); a rebuild that lost it sets no marker
    const keeper = keepLease(lease, leaseMs)
    try {
      const cleared = await store.clearModel()
      const latest = new Map<string, TaskEvent>()
      const tasks = await readTopic(config, deps.logger, topics.tasks, async ev => {
        const key = topics.tasks.key(ev)
        const cur = latest.get(key)
        if (cur === undefined || cur.version <= ev.version) latest.set(key, ev)
      })
      for (const ev of latest.values()) {
        const t = fromTaskEvent(ev)
        await store.restoreTask(t)
        const c = catalog.campaigns.get(t.campaign)
        if (c?.roots.some(r => r.name === t.task) === true) await store.saveBlock(t.campaign, t.task, t.block)
      }
      keeper.check()
      const runs = await readTopic(config, deps.logger, topics.runs, deps.applyRun)
      keeper.check()
      await store.setMarker()
      log.info({ clearedKeys: cleared, taskMessages: tasks, tasks: latest.size, runMessages: runs, ms: Date.now() - started }, 'read model rebuilt from kafka')
    } finally {
      await keeper.stop()
      await lease.release().catch(() => false)
    }
  }

  /** Resolves once the read model is complete; rebuilds it first when its marker is missing. */
  async function ensureState (): Promise<void> {
    if (await store.hasMarker()) return
    running ??= rebuild().finally(() => { running = undefined })
    await running
  }

  return { ensureState }
}
