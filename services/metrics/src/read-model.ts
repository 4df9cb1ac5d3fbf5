// The consumer that feeds the read model, and its rebuild. The Redis marker
// says that the read model matches the group's committed offsets. When it is
// missing (first start, Redis lost, keys deleted) the model is cleared, the
// group's offsets are deleted so that the consumer starts at the beginning of every topic, and
// replays them all; the tasks topic is compacted and carries whole task states.
// The marker is checked periodically, so a running service rebuilds too.
import { createKafka, startConsumer, type Check, type Consumer, type ConsumerConfig, type Handlers, type Logger, type Metrics, type Producer } from '@autocal/runtime'
import type { ReadModelStore } from './adapters/read-model-store.ts'

export interface ReadModel extends AsyncDisposable {
  check: Check
  /** Resolves once the current consumer has been started (after a rebuild if one was needed). */
  ready: () => Promise<void>
  readonly rebuilds: number
}

export interface ReadModelOptions {
  config: ConsumerConfig
  logger: Logger
  metrics: Metrics
  producer: Producer
  store: ReadModelStore
  handlers: Handlers
  group: string
  markerCheckMs: number
  /** Called before a replay (resets the in-memory histograms). */
  onRebuild: () => void
}

/**
 * Version of the read model's layout. A marker of an older version (or none) means the model lacks
 * keys this code reads (version 2: the console's indexes), so it is rebuilt from Kafka like a lost one.
 */
export const readModelVersion = 2

function isCurrent (marker: string | null): boolean {
  if (marker === null) return false
  try {
    return (JSON.parse(marker) as { model?: number }).model === readModelVersion
  } catch {
    return false
  }
}

export async function startReadModel (options: ReadModelOptions): Promise<ReadModel> {
  const { config, logger, metrics, producer, store, handlers, group } = options
  const log = logger.child({ component: 'read-model' })
  const prefix = config.AUTOCAL_KAFKA_TOPIC_PREFIX
  const groupId = prefix === '' ? group : `${prefix}.${group}`
  let rebuilds = 0
  let consumer: Consumer | undefined
  let stopping = false

  // Deleting the group drops its committed offsets, so the next consumer starts
  // from the beginning of every topic (fromBeginning). Much faster than
  // resetting offsets topic by topic. A group that does not exist is fine.
  async function resetGroup (): Promise<void> {
    const admin = createKafka(config, logger, 'autocal-metrics-rebuild').admin()
    await admin.connect()
    try {
      await admin.deleteGroups([groupId])
    } catch (err) {
      const codes = ((err as { groups?: Array<{ errorCode?: number, error?: { type?: string } }> }).groups ?? []).map(g => g.error?.type)
      if (!codes.every(c => c === 'GROUP_ID_NOT_FOUND')) throw err
    } finally {
      await admin.disconnect()
    }
  }

  async function open (): Promise<Consumer> {
    if (!isCurrent(await store.getMarker())) {
      const deleted = await store.clear()
      options.onRebuild()
      await resetGroup()
      await store.setMarker(JSON.stringify({ group: groupId, since: new Date().toISOString(), model: readModelVersion }))
      rebuilds++
      log.info({ group: groupId, deleted }, 'read model missing: rebuilding from the beginning of every topic')
    }
    return await startConsumer({ config, logger, metrics, producer, handlers, service: 'metrics', group, fromBeginning: true })
  }

  let current: Promise<void> = open().then(c => { consumer = c })
  await current

  const timer = setInterval(() => {
    if (stopping) return
    current = current.then(async () => {
      if (stopping || isCurrent(await store.getMarker())) return
      log.warn('read model marker vanished: restarting the consumer to rebuild')
      await consumer?.[Symbol.asyncDispose]()
      consumer = undefined
      consumer = await open()
    }).catch((err: unknown) => { log.error({ err }, 'read model rebuild failed; will try again') })
  }, options.markerCheckMs)
  timer.unref()

  return {
    get rebuilds () { return rebuilds },
    ready: async () => { await current },
    check: {
      name: `consumer:${group}`,
      check: async () => {
        if (consumer === undefined) throw new Error('read model consumer is (re)starting')
        await consumer.check.check()
      }
    },
    [Symbol.asyncDispose]: async () => {
      stopping = true
      clearInterval(timer)
      await current.catch(() => {})
      await consumer?.[Symbol.asyncDispose]()
    }
  }
}
