// The one place where the run-watcher announces anything. Every source hands
// its records here, one at a time or as a batch; only what changed is
// published, with an event id made of the run, the change's number in its
// subject's change sequence and the content hash (domain/event-identity.ts),
// so that every distinct change is delivered, even one back to an earlier
// value. Per batch:
//   1. the known content of its runs and facts, and their sequence numbers, are read from Redis in one MULTI,
//   2. the changes are decided in memory, item by item, in order,
//   3. each event id is claimed with SET NX PX (a claim held by a second
//      replica means it is publishing that very event: this one skips it),
//   4. the claimed events are published in one Kafka send (in order),
//   5. the whole registry entry of every run (and FCSR mark) that changed is published on the
//      compacted autocal.runs.registry.v1 (domain/registry.ts), after the events,
//   6. the known state (sequence numbers, registry entries) is written, only after both publishes succeeded.
// A crash between 4 and 6 re-announces the same event ids (same numbers, same content), which consumers
// drop as duplicates; the claim expires so that such an event is not lost.
import type { Logger, Producer, RedisHandle } from '@autocal/runtime'
import { topics, type RunEvent } from '@autocal/contracts'
import { Counter } from 'prom-client'
import type { Registry } from 'prom-client'
import { changesOf } from './domain/changes.ts'
import { fcsrAdvances } from './domain/fcsr.ts'
import { campaignSubject, factSubject, runSubject } from './domain/event-identity.ts'
import type { RunRecord } from './domain/run-record.ts'
import { factEvent, factKey, factValue, runChangeEvent, type Fact, type Origin } from './run-event.ts'
import type { KnownRuns } from './adapters/known-runs.ts'
import { mergeRun, parseFactKey, type RegistryItem, type RunEntry, type SourceMark } from './domain/registry.ts'
import { publishRegistry } from './adapters/run-registry.ts'

export type Announcement = { kind: 'run', record: RunRecord } | { kind: 'fact', fact: Fact }

export interface Emitter {
  /** Announces records and facts in order; returns the number of events published. */
  announce: (items: readonly Announcement[], origin: Origin) => Promise<number>
  /** Announces one run record; returns the number of events published. */
  announceRun: (record: RunRecord, origin: Origin) => Promise<number>
  /** Announces a readiness fact if its value changed; returns 1 if published. */
  announceFact: (fact: Fact, origin: Origin) => Promise<number>
  /** Records a source mark that is no run event (the OMS watermark) in the run registry. */
  recordMark: (mark: SourceMark) => Promise<void>
}

/** How long a claim on an event id keeps other replicas from publishing it. */
const claimTtlMs = 60_000
/** Events per Kafka send. */
const sendChunk = 500

interface Pending { event: RunEvent, eventId: string, change: string, run: number, fields?: string[] }

export function createEmitter (deps: { redis: RedisHandle, producer: Producer, known: KnownRuns, logger: Logger, registry: Registry, instance?: string | undefined }): Emitter {
  const { redis, producer, known, logger } = deps
  const log = logger.child({ component: 'emitter' })
  const emitted = new Counter({ name: 'autocal_runs_emitted_total', help: 'Run events published, by change and source', labelNames: ['change', 'source'], registers: [deps.registry] })
  const holder = deps.instance ?? `${process.pid}`
  // one batch at a time in this process: two sources never interleave on one run
  let queue: Promise<unknown> = Promise.resolve()
  async function serial<T> (work: () => Promise<T>): Promise<T> {
    const next = queue.then(work, work)
    queue = next.catch(() => {})
    return await next
  }

  async function claim (ids: string[]): Promise<boolean[]> {
    if (ids.length === 0) return []
    const pipe = redis.client.pipeline()
    for (const id of ids) pipe.set(redis.key('run-watcher', 'claim', id), holder, 'PX', claimTtlMs, 'NX')
    const results = await pipe.exec() ?? []
    return results.map(([err, ok]) => {
      if (err !== null) throw err
      return ok === 'OK'
    })
  }

  async function announceBatch (items: readonly Announcement[], origin: Origin): Promise<number> {
    // a reprocessing injection is announced for its campaign even when the run is known,
    // and leaves the known state of the live runs alone
    const forCampaign = origin.campaign !== undefined && origin.campaign !== ''
    const runNumbers = [...new Set(items.flatMap(i => i.kind === 'run' ? [i.record.run] : []))]
    const factKeys = [...new Set(items.flatMap(i => i.kind === 'fact' ? [factKey(i.fact)] : []))]
    const subjectOfRun = (run: number): string => forCampaign ? campaignSubject(origin.campaign ?? '', run) : runSubject(run)
    // the runs whose registry entries a fact may change (their records and numbers seed an entry not written yet)
    const factRuns = [...new Set(factKeys.flatMap(key => { const f = parseFactKey(key); return f === undefined || f.kind === 'fcsr' ? [] : [f.run] }))]
    const entryRuns = [...new Set([...(forCampaign ? [] : runNumbers), ...factRuns])]
    // one consistent snapshot of what is known (another replica's save lands wholly before or after it)
    const { runs, facts, sequences, entries } = await known.snapshot(forCampaign ? [] : entryRuns, factKeys, [...new Set([...runNumbers.map(subjectOfRun), ...factRuns.map(runSubject), ...factKeys.map(factSubject)])], entryRuns)
    const changedRuns = new Map<number, RunRecord>()
    const changedFacts = new Map<string, string>()
    const changedSequences = new Map<string, number>()
    /** The next number of a subject's change sequence (every distinct change its own event id). */
    const next = (subject: string): number => {
      const n = (sequences.get(subject) ?? 0) + 1
      sequences.set(subject, n)
      changedSequences.set(subject, n)
      return n
    }
    const pending: Pending[] = []
    for (const item of items) {
      if (item.kind === 'run') {
        const changes = changesOf(runs.get(item.record.run), item.record)
        for (const change of changes) {
          const { event, eventId } = runChangeEvent(change, origin, next(subjectOfRun(change.run.run)))
          pending.push({ event, eventId, change: change.kind, run: change.run.run, ...(change.kind === 'updated' ? { fields: change.changedFields } : {}) })
        }
        if (changes.length > 0 && !forCampaign) {
          runs.set(item.record.run, item.record)
          changedRuns.set(item.record.run, item.record)
        }
      } else {
        const key = factKey(item.fact)
        const value = factValue(item.fact)
        const before = facts.get(key)
        if (before === value) continue
        if (item.fact.kind === 'fcsr' && !fcsrAdvances(before === undefined ? undefined : Number(before), item.fact.run)) continue
        facts.set(key, value)
        changedFacts.set(key, value)
        const { event, eventId } = factEvent(item.fact, origin, next(factSubject(key)))
        pending.push({ event, eventId, change: item.fact.kind, run: item.fact.run })
      }
    }
    const claimed = await claim(pending.map(p => p.eventId))
    const mine = pending.filter((_, i) => claimed[i] === true)
    for (let i = 0; i < mine.length; i += sendChunk) {
      const chunk = mine.slice(i, i + sendChunk)
      await producer.publishMany(topics.runs, chunk.map(p => ({ message: p.event, options: { eventId: p.eventId } })))
      for (const p of chunk) {
        emitted.inc({ change: p.change, source: origin.source })
        log.info({ run: p.run, change: p.change, source: origin.source, eventId: p.eventId, ...(p.fields === undefined ? {} : { fields: p.fields }) }, 'run announced')
      }
    }
    const registry = registryItems(changedRuns, changedFacts, changedSequences, { runs, sequences, entries })
    await publishRegistry(producer, registry)
    await known.save([...changedRuns.values()], changedFacts, changedSequences, registry.flatMap(i => i.kind === 'run' ? [i.entry] : []))
    return mine.length
  }

  /**
   * The registry items of a batch's changes: each changed run's entry merged
   * from its last one (or, for a run announced before the registry existed,
   * from its known record and number), and the FCSR mark when it moved.
   */
  function registryItems (changedRuns: ReadonlyMap<number, RunRecord>, changedFacts: ReadonlyMap<string, string>, changedSequences: ReadonlyMap<string, number>,
    known: { runs: ReadonlyMap<number, RunRecord>, sequences: ReadonlyMap<string, number>, entries: ReadonlyMap<number, RunEntry> }): RegistryItem[] {
    const touched = new Set(changedRuns.keys())
    for (const key of changedFacts.keys()) { const f = parseFactKey(key); if (f !== undefined && f.kind !== 'fcsr') touched.add(f.run) }
    const items: RegistryItem[] = []
    for (const run of [...touched].sort((a, b) => a - b)) {
      const previous = known.entries.get(run) ?? mergeRun(undefined, run, { record: known.runs.get(run), sequence: known.sequences.get(runSubject(run)) })
      const entry = mergeRun(previous, run, { record: changedRuns.get(run), sequence: changedSequences.get(runSubject(run)), facts: changedFacts, sequences: changedSequences })
      items.push({ kind: 'run', entry })
    }
    const fcsr = changedFacts.get('fcsr')
    if (fcsr !== undefined) items.push({ kind: 'mark', mark: { name: 'fcsr', value: Number(fcsr), sequence: changedSequences.get(factSubject('fcsr')) ?? 0 } })
    return items
  }

  const announce = async (items: readonly Announcement[], origin: Origin): Promise<number> => items.length === 0 ? 0 : await serial(async () => await announceBatch(items, origin))
  return {
    announce,
    announceRun: async (record, origin) => await announce([{ kind: 'run', record }], origin),
    announceFact: async (fact, origin) => await announce([{ kind: 'fact', fact }], origin),
    recordMark: async mark => { await serial(async () => { await publishRegistry(producer, [{ kind: 'mark', mark }]) }) }
  }
}
