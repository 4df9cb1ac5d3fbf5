// What the run-watcher has already announced, in Redis: the last announced
// content of every run and the value of every readiness fact, and each run's
// registry entry as last published. Rebuilt when Redis lost it from the run
// registry (autocal.runs.registry.v1, compacted: every run ever announced)
// and then autocal.runs.v1 (what its retention still holds).
import { topics, topicName, type RunEvent } from '@autocal/contracts'
import { createKafka, readTopic, type KafkaConfig, type Logger, type Producer, type RedisHandle } from '@autocal/runtime'
import { entriesOfKnownState, knownStateOf, type RegistryItem, type RunEntry } from '../domain/registry.ts'
import { publishRegistry, readRegistry, registryReader } from './run-registry.ts'
import { fromContractRun } from '../run-event.ts'
import type { RunRecord } from '../domain/run-record.ts'
import { fcsrAdvances } from '../domain/fcsr.ts'
import { campaignSubject, factSubject, runSubject, sequenceOf } from '../domain/event-identity.ts'

export interface KnownRuns {
  get: (run: number) => Promise<RunRecord | undefined>
  set: (record: RunRecord) => Promise<void>
  /** Raises a subject's sequence number to at least `n` (the rebuild). */
  raiseSequence: (subject: string, n: number) => Promise<void>
  /**
   * The known content of `runs`, the values of `factKeys` and the sequence
   * numbers of `subjects`, read in one MULTI: a consistent snapshot, never
   * half before and half after another replica's save (which made a replica
   * see a run unknown beside its raised sequence numbers, and publish it again
   * under new event ids).
   */
  snapshot: (runs: readonly number[], factKeys: readonly string[], subjects: readonly string[], entryRuns?: readonly number[]) => Promise<{ runs: Map<number, RunRecord>, facts: Map<string, string>, sequences: Map<string, number>, entries: Map<number, RunEntry> }>
  /** Writes announced runs, fact values, change sequence numbers and the runs' registry entries in one round trip. */
  save: (records: readonly RunRecord[], facts: ReadonlyMap<string, string>, sequences?: ReadonlyMap<string, number>, entries?: readonly RunEntry[]) => Promise<void>
  /** The whole known state (every run, fact, sequence number and the OMS watermark), for writing the registry. */
  everything: () => Promise<{ runs: Map<number, RunRecord>, facts: Map<string, string>, sequences: Map<string, number>, omsWatermark?: number }>
  getFact: (key: string) => Promise<string | undefined>
  setFact: (key: string, value: string) => Promise<void>
  /** Runs known to have ended, highest first, at most `limit`. */
  endedRuns: (limit: number) => Promise<number[]>
  getValue: (name: string) => Promise<string | undefined>
  setValue: (name: string, value: string) => Promise<void>
}

export function createKnownRuns (redis: RedisHandle): KnownRuns {
  const runsKey = redis.key('run-watcher', 'runs')
  const endedKey = redis.key('run-watcher', 'ended')
  const factsKey = redis.key('run-watcher', 'facts')
  const valuesKey = redis.key('run-watcher', 'values')
  const sequencesKey = redis.key('run-watcher', 'sequences')
  const entriesKey = redis.key('run-watcher', 'registry')
  return {
    get: async run => {
      const text = await redis.client.hget(runsKey, String(run))
      return text === null ? undefined : JSON.parse(text) as RunRecord
    },
    set: async record => {
      const multi = redis.client.multi().hset(runsKey, String(record.run), JSON.stringify(record))
      if (record.endMs !== undefined) multi.zadd(endedKey, record.run, String(record.run))
      await multi.exec()
    },
    snapshot: async (runs, factKeys, subjects, entryRuns = []) => {
      const multi = redis.client.multi()
      // HMGET needs a field: a placeholder that is never a field keeps the replies aligned
      multi.hmget(runsKey, ...(runs.length === 0 ? ['-'] : runs.map(String)))
      multi.hmget(factsKey, ...(factKeys.length === 0 ? ['-'] : factKeys))
      multi.hmget(sequencesKey, ...(subjects.length === 0 ? ['-'] : subjects))
      multi.hmget(entriesKey, ...(entryRuns.length === 0 ? ['-'] : entryRuns.map(String)))
      const replies = await multi.exec()
      if (replies === null) throw new Error('the known-runs snapshot was aborted')
      const values = replies.map(([err, v]) => { if (err !== null) throw err; return v as Array<string | null> })
      const out = { runs: new Map<number, RunRecord>(), facts: new Map<string, string>(), sequences: new Map<string, number>(), entries: new Map<number, RunEntry>() }
      runs.forEach((run, i) => { const t = values[0]?.[i]; if (t !== null && t !== undefined) out.runs.set(run, JSON.parse(t) as RunRecord) })
      factKeys.forEach((key, i) => { const v = values[1]?.[i]; if (v !== null && v !== undefined) out.facts.set(key, v) })
      subjects.forEach((subject, i) => { const v = values[2]?.[i]; if (v !== null && v !== undefined) out.sequences.set(subject, Number(v)) })
      entryRuns.forEach((run, i) => { const t = values[3]?.[i]; if (t !== null && t !== undefined) out.entries.set(run, JSON.parse(t) as RunEntry) })
      return out
    },
    raiseSequence: async (subject, n) => {
      const current = Number(await redis.client.hget(sequencesKey, subject) ?? 0)
      if (n > current) await redis.client.hset(sequencesKey, subject, String(n))
    },
    save: async (records, facts, sequences = new Map(), entries = []) => {
      if (records.length === 0 && facts.size === 0 && sequences.size === 0 && entries.length === 0) return
      const multi = redis.client.multi()
      if (entries.length > 0) multi.hset(entriesKey, Object.fromEntries(entries.map(e => [String(e.run), JSON.stringify(e)])))
      if (sequences.size > 0) multi.hset(sequencesKey, Object.fromEntries([...sequences].map(([k, v]) => [k, String(v)])))
      for (const record of records) {
        multi.hset(runsKey, String(record.run), JSON.stringify(record))
        if (record.endMs !== undefined) multi.zadd(endedKey, record.run, String(record.run))
      }
      if (facts.size > 0) multi.hset(factsKey, Object.fromEntries(facts))
      await multi.exec()
    },
    everything: async () => {
      const [runs, facts, sequences, watermark] = await Promise.all([
        redis.client.hgetall(runsKey), redis.client.hgetall(factsKey), redis.client.hgetall(sequencesKey), redis.client.hget(valuesKey, 'watermark:oms')
      ])
      return {
        runs: new Map(Object.entries(runs).map(([run, text]) => [Number(run), JSON.parse(text) as RunRecord])),
        facts: new Map(Object.entries(facts)),
        sequences: new Map(Object.entries(sequences).map(([subject, n]) => [subject, Number(n)])),
        ...(watermark === null ? {} : { omsWatermark: Number(watermark) })
      }
    },
    getFact: async key => await redis.client.hget(factsKey, key) ?? undefined,
    setFact: async (key, value) => { await redis.client.hset(factsKey, key, value) },
    endedRuns: async limit => (await redis.client.zrevrange(endedKey, 0, limit - 1)).map(Number),
    getValue: async name => await redis.client.hget(valuesKey, name) ?? undefined,
    setValue: async (name, value) => { await redis.client.hset(valuesKey, name, value) }
  }
}

/** The rebuild's reader: its consumer group starts with the service's name, as the Kafka ACLs require (see readerGroup). */
export const rebuildReader = 'run-watcher-rebuild'

/**
 * Refills the known state when its marker is missing (first start, or Redis
 * lost its data): first from the run registry (every run ever announced, its
 * facts, change numbers, the FCSR and the OMS watermark, whatever the runs
 * topic's retention), then from the runs topic, every usable message up to
 * the end each partition had (what the registry may lack: changes announced
 * before it existed, or one whose entry a crash kept from it). Both through
 * the runtime's readTopic (throw-away consumer groups, deleted afterwards;
 * messages the consumers dead-letter are skipped; a Redis error fails the
 * rebuild, which the caller retries). Then the registry is written again from
 * the rebuilt state (writeRegistry). Returns how many registry entries and
 * run events were applied.
 */
export async function rebuildIfEmpty (redis: RedisHandle, known: KnownRuns, config: KafkaConfig, logger: Logger, producer?: Producer): Promise<number> {
  const marker = redis.key('run-watcher', 'rebuilt')
  if (await redis.client.exists(marker) === 1) {
    if (producer !== undefined) await writeRegistry(redis, known, producer, logger, false)
    return 0
  }
  const log = logger.child({ component: 'rebuild' })
  const entries = await readRegistry(config, logger, registryReader, async item => { await applyEntry(known, item) })
  const topic = topicName(topics.runs, config.AUTOCAL_KAFKA_TOPIC_PREFIX)
  const admin = createKafka(config, logger, rebuildReader).admin()
  await admin.connect()
  let exists: boolean
  try {
    exists = (await admin.listTopics()).includes(topic)
  } finally {
    await admin.disconnect()
  }
  const applied = exists ? await readTopic(config, logger, rebuildReader, topics.runs, async (event, meta) => { await apply(known, event, meta.eventId) }) : 0
  await redis.client.set(marker, new Date().toISOString())
  log.info({ entries, events: applied }, 'known runs rebuilt from the run registry and the runs topic')
  if (producer !== undefined) await writeRegistry(redis, known, producer, logger, true)
  return entries + applied
}

/**
 * Publishes the registry entry of every known run (and the marks) and keeps
 * them as the runs' last entries, when `always` or when the
 * `run-watcher:registry-written` marker is missing (runs announced before the
 * registry existed get their entries once). Returns how many items were
 * published.
 */
export async function writeRegistry (redis: RedisHandle, known: KnownRuns, producer: Producer, logger: Logger, always: boolean): Promise<number> {
  const marker = redis.key('run-watcher', 'registry-written')
  if (!always && await redis.client.exists(marker) === 1) return 0
  const items = entriesOfKnownState(await known.everything())
  await publishRegistry(producer, items)
  await known.save([], new Map(), new Map(), items.flatMap(i => i.kind === 'run' ? [i.entry] : []))
  await redis.client.set(marker, new Date().toISOString())
  logger.info({ component: 'registry', items: items.length }, 'run registry written from the known runs')
  return items.length
}

/** Puts a registry item back into the known state: sequence numbers only raised, the FCSR and the watermark only moved forward. */
async function applyEntry (known: KnownRuns, item: RegistryItem): Promise<void> {
  const state = knownStateOf(item)
  for (const [subject, n] of state.sequences) await known.raiseSequence(subject, n)
  if (state.record !== undefined) await known.set(state.record)
  for (const [key, value] of state.facts) {
    if (key === 'fcsr') {
      const before = await known.getFact('fcsr')
      if (fcsrAdvances(before === undefined ? undefined : Number(before), Number(value))) await known.setFact('fcsr', value)
    } else await known.setFact(key, value)
  }
  if (state.omsWatermark !== undefined) {
    const before = Number(await known.getValue('watermark:oms') ?? 0)
    if (state.omsWatermark > before) await known.setValue('watermark:oms', String(state.omsWatermark))
  }
}

async function apply (known: KnownRuns, event: RunEvent, eventId: string | undefined): Promise<void> {
  const change = event.change
  const sequence = eventId === undefined ? undefined : sequenceOf(eventId)
  if (sequence !== undefined) {
    const subject = change.case === 'streamDone'
      ? factSubject(`${event.run}:stream:${change.value.stream}`)
      : change.case === 'datasetDone'
        ? factSubject(`${event.run}:dataset:${change.value.primaryDataset}`)
        : change.case === 'fcsr'
          ? factSubject('fcsr')
          : event.campaign === '' ? runSubject(event.run) : campaignSubject(event.campaign, event.run)
    await known.raiseSequence(subject, sequence)
  }
  if (change.case === 'started' || change.case === 'updated' || change.case === 'ended') {
    if (change.value.run !== undefined && event.campaign === '') await known.set(fromContractRun(change.value.run))
  } else if (change.case === 'streamDone') {
    await known.setFact(`${event.run}:stream:${change.value.stream}`, String(change.value.done))
  } else if (change.case === 'datasetDone') {
    await known.setFact(`${event.run}:dataset:${change.value.primaryDataset}`, String(change.value.done))
  } else if (change.case === 'fcsr') {
    // partitions are read in any order: keep the highest (the FCSR only moves forward)
    const before = await known.getFact('fcsr')
    if (fcsrAdvances(before === undefined ? undefined : Number(before), change.value.fcsr)) await known.setFact('fcsr', String(change.value.fcsr))
  }
}
