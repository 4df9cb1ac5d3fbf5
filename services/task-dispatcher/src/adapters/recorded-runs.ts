// The recorded runs a replay chooses from: every run of the durable run
// registry (autocal.runs.registry.v1, compacted: the latest facts of every run
// the run-watcher announced, whatever the runs topic still retains), read from
// its beginning, merged with the runs the dispatcher's read model took from the
// runs topic (a run the registry lacks, e.g. announced before the registry
// existed, and Tier-0 facts the registry does not have yet).
import { topicName, topics, type Run } from '@autocal/contracts'
import { createKafka, readTopic, type KafkaConfig, type Logger } from '@autocal/runtime'
import type { StateStore } from './state-store.ts'

/** One recorded run: its record as last announced and the Tier-0 streams and primary datasets done for it. */
export interface RecordedRunFacts { run: Run, streams: Set<string>, datasets: Set<string> }

/** The reader's consumer group: it starts with the service's name, as the Kafka ACLs require (see readerGroup). */
export const replayReader = 'task-dispatcher-replay'

/**
 * Every recorded run with its facts, by run: the registry's entries (the
 * newest of each run: one key, one partition, offset order), then the read
 * model's runs — a run only there is added, and its streams and datasets done
 * are added to a registry entry's. Entries without a run record (only Tier-0
 * facts known) are left out: a replay feeds runs. Throws when Kafka cannot be
 * read (readTopic) or Redis fails.
 */
export async function readRecordedRuns (config: KafkaConfig, logger: Logger, store: Pick<StateStore, 'knownRuns' | 'runFacts'>): Promise<Map<number, RecordedRunFacts>> {
  const out = new Map<number, RecordedRunFacts>()
  const admin = createKafka(config, logger, replayReader).admin()
  await admin.connect()
  let exists: boolean
  try {
    exists = (await admin.listTopics()).includes(topicName(topics.runRegistry, config.AUTOCAL_KAFKA_TOPIC_PREFIX))
  } finally {
    await admin.disconnect()
  }
  if (exists) {
    await readTopic(config, logger, replayReader, topics.runRegistry, async entry => {
      if (entry.entry.case !== 'runEntry') return
      const v = entry.entry.value
      if (v.run === undefined) return
      out.set(entry.run, {
        run: v.run,
        streams: new Set(v.streams.filter(s => s.done).map(s => s.name)),
        datasets: new Set(v.datasets.filter(d => d.done).map(d => d.name))
      })
    })
  }
  const known = await store.knownRuns(0, 0)
  for (let i = 0; i < known.length; i += 1000) {
    for (const [run, facts] of await store.runFacts(known.slice(i, i + 1000))) {
      const recorded = out.get(run)
      if (recorded === undefined) {
        out.set(run, { run: facts.run, streams: new Set(facts.streams), datasets: new Set(facts.datasets) })
        continue
      }
      for (const s of facts.streams) recorded.streams.add(s)
      for (const d of facts.datasets) recorded.datasets.add(d)
    }
  }
  return out
}
