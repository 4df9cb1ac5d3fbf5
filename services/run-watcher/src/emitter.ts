// The one place where the run-watcher announces anything. Every source hands
// its records here; only what changed is published, with a deterministic
// event id; a short Redis lease per event id keeps a second replica from
// publishing the same event at the same moment, and the known state is
// updated only after the publish succeeded (a crash in between re-announces
// the same event id, which consumers drop as a duplicate).
import { acquireLease, type Logger, type Producer, type RedisHandle } from '@autocal/runtime'
import { topics } from '@autocal/contracts'
import { Counter } from 'prom-client'
import type { Registry } from 'prom-client'
import { changesOf } from './domain/changes.ts'
import type { RunRecord } from './domain/run-record.ts'
import { factEvent, factKey, factValue, runChangeEvent, type Fact, type Origin } from './run-event.ts'
import type { KnownRuns } from './adapters/known-runs.ts'

export interface Emitter {
  /** Announces a run record; returns the number of events published. */
  announceRun: (record: RunRecord, origin: Origin) => Promise<number>
  /** Announces a readiness fact if its value changed; returns 1 if published. */
  announceFact: (fact: Fact, origin: Origin) => Promise<number>
}

export function createEmitter (deps: { redis: RedisHandle, producer: Producer, known: KnownRuns, logger: Logger, registry: Registry }): Emitter {
  const { redis, producer, known, logger } = deps
  const log = logger.child({ component: 'emitter' })
  const emitted = new Counter({ name: 'autocal_runs_emitted_total', help: 'Run events published, by source and kind', labelNames: ['source', 'kind'], registers: [deps.registry] })
  // one run at a time in this process: two sources never interleave on one run
  const chains = new Map<string, Promise<unknown>>()
  async function serial<T> (key: string, work: () => Promise<T>): Promise<T> {
    const previous = chains.get(key) ?? Promise.resolve()
    const next = previous.then(work, work)
    chains.set(key, next)
    try { return await next } finally { if (chains.get(key) === next) chains.delete(key) }
  }

  async function publishOnce (eventId: string, publish: () => Promise<unknown>): Promise<boolean> {
    const claim = await acquireLease(redis, `run-watcher:emit:${eventId}`, 60_000)
    if (claim === null) return false // another replica is publishing this very event
    await publish()
    return true
  }

  return {
    announceRun: async (record, origin) => await serial(`run:${record.run}`, async () => {
      // a reprocessing injection is announced for its campaign even when the run is known
      const previous = origin.campaign !== undefined && origin.campaign !== '' ? undefined : await known.get(record.run)
      const changes = changesOf(previous, record)
      let count = 0
      for (const change of changes) {
        const { event, eventId } = runChangeEvent(change, origin)
        if (await publishOnce(eventId, async () => await producer.publish(topics.runs, event, { eventId }))) {
          emitted.inc({ source: origin.source, kind: change.kind })
          count++
          log.info({ run: record.run, change: change.kind, source: origin.source, eventId, ...(change.kind === 'updated' ? { fields: change.changedFields } : {}) }, 'run announced')
        }
      }
      if (changes.length > 0 && (origin.campaign === undefined || origin.campaign === '')) await known.set(record)
      return count
    }),
    announceFact: async (fact, origin) => await serial(`fact:${factKey(fact)}`, async () => {
      const key = factKey(fact)
      const value = factValue(fact)
      if (await known.getFact(key) === value) return 0
      const { event, eventId } = factEvent(fact, origin)
      const published = await publishOnce(eventId, async () => await producer.publish(topics.runs, event, { eventId }))
      await known.setFact(key, value)
      if (published) {
        emitted.inc({ source: origin.source, kind: fact.kind })
        log.info({ run: fact.run, fact: key, value, source: origin.source }, 'readiness fact announced')
      }
      return published ? 1 : 0
    })
  }
}
