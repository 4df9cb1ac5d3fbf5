// Recovery of the Redis read model from Kafka, when its marker is missing (a
// fresh Redis, or a FLUSHALL): the compacted tasks topic gives the latest
// version of every task (and so every block and which runs were grouped); the
// runs topic gives the run records, Tier-0 facts and the ended runs of each
// campaign, which go back to pending (runs already in a block are skipped by
// the grouping). Before the runs topic, the run registry (compacted: every run
// ever announced, whatever the runs topic still retains) gives each run's
// latest record and Tier-0 facts, so that a past run can still be injected
// into a campaign after a Redis loss. What is left of the old model is deleted first: a partial
// loss (keys deleted one by one while the dispatcher writes) can leave a task
// without its set memberships. One replica rebuilds under a lease; the others
// wait, and live transitions are refused until the marker is back. The lease
// is kept alive while the rebuild runs; one that lost it sets no marker.
import { topics, type ConditionEvent, type RegistryEntry, type RunEvent, type TaskEvent } from '@autocal/contracts'
import { AutocalError, acquireLease, keepLease, policies, readTopic, retry, type KafkaConfig, type Logger, type RedisHandle } from '@autocal/runtime'
import type { Catalog } from './domain/catalog.ts'
import type { StateStore } from './adapters/state-store.ts'
import { fromTaskEvent } from './task-event.ts'

/** The read-model rebuild's reader: its consumer group starts with the service's name, as the Kafka ACLs require (see readerGroup). */
export const recoveryReader = 'task-dispatcher-recovery'

/**
 * Puts a run registry entry's facts into the read model: the run record (for
 * injections and gates; the run is not made pending, only runs events do
 * that) and its streams and datasets done. Marks (FCSR, OMS watermark) are
 * not the dispatcher's.
 */
export async function restoreRunFacts (store: Pick<StateStore, 'saveRun' | 'setRunFact'>, entry: RegistryEntry): Promise<void> {
  if (entry.entry.case !== 'runEntry') return
  const v = entry.entry.value
  if (v.run !== undefined) await store.saveRun(v.run)
  for (const s of v.streams) await store.setRunFact(entry.run, 'streams', s.name, s.done)
  for (const d of v.datasets) await store.setRunFact(entry.run, 'datasets', d.name, d.done)
}

export interface RecoveryDeps {
  config: KafkaConfig
  logger: Logger
  store: StateStore
  redis: RedisHandle
  catalog: Catalog
  /** Applies one run event to the read model (the same code as the live consumer). */
  applyRun: (ev: RunEvent) => Promise<void>
  /** Learns a condition event's IOV (cross-needs.ts): the IOVs per tag are rebuilt from the conditions topic. */
  learnCondition?: (ev: ConditionEvent) => Promise<unknown>
  /** TTL of the rebuild's lease, kept alive while it runs (default 15 s): a replica that dies mid-rebuild blocks the others only this long. */
  rebuildLeaseMs?: number
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
      const building = new AutocalError('AUTOCAL_NOT_READY', 'the read model is being rebuilt by another replica', { retryable: true })
      await retry(async () => { if (!await store.hasMarker()) throw building }, policies.rebuildMarker, { shouldRetry: err => err === building })
      return
    }
    const started = Date.now()
    // kept while the topics are read (a long log can outlast the lease); a rebuild that lost it sets no marker
    const keeper = keepLease(lease, leaseMs)
    try {
      const cleared = await store.clearModel()
      const latest = new Map<string, TaskEvent>()
      const tasks = await readTopic(config, deps.logger, recoveryReader, topics.tasks, async ev => {
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
      const registry = await readTopic(config, deps.logger, recoveryReader, topics.runRegistry, async entry => { await restoreRunFacts(store, entry) })
      keeper.check()
      const runs = await readTopic(config, deps.logger, recoveryReader, topics.runs, deps.applyRun)
      keeper.check()
      const learn = deps.learnCondition
      const conditions = learn === undefined ? 0 : await readTopic(config, deps.logger, recoveryReader, topics.conditions, async ev => { await learn(ev) })
      keeper.check()
      await store.setMarker()
      log.info({ clearedKeys: cleared, taskMessages: tasks, tasks: latest.size, registryEntries: registry, runMessages: runs, conditionMessages: conditions, ms: Date.now() - started }, 'read model rebuilt from kafka')
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
