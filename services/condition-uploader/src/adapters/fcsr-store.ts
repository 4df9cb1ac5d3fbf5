// The first condition-safe run, as the run-watcher announced it on the runs
// topic (`fcsr` facts), kept in Redis: the highest seen (the Tier-0 FCSR only
// moves forward, and facts of different runs arrive on different
// partitions). Rebuildable: when the key is missing at start, it is taken
// from the run registry's FCSR mark (kept whatever the runs topic's
// retention) and the FCSR consumer group is rewound to the beginning of the
// runs topic.
import { topicName, topics } from '@autocal/contracts'
import { createKafka, readTopic, type KafkaConfig, type Logger, type RedisHandle } from '@autocal/runtime'

const offerScript = `local cur = redis.call('get', KEYS[1])
if (not cur) or tonumber(ARGV[1]) > tonumber(cur) then redis.call('set', KEYS[1], ARGV[1]) return 1 end
return 0`

export interface FcsrStore {
  get: () => Promise<number | undefined>
  /** Records an FCSR; true when it raised the stored one. */
  offer: (fcsr: number) => Promise<boolean>
}

export function createFcsrStore (redis: RedisHandle): FcsrStore {
  const key = redis.key('condition-uploader', 'fcsr')
  return {
    get: async () => {
      const v = await redis.client.get(key)
      return v === null ? undefined : Number(v)
    },
    offer: async fcsr => (await redis.client.eval(offerScript, 1, key, String(fcsr))) === 1
  }
}

/**
 * Rewinds a consumer group to the oldest message of the runs topic, so that
 * the FCSR is rebuilt from Kafka. A group that does not exist yet starts
 * from the beginning anyway; a group with active members (another replica)
 * cannot be rewound and is left as it is (the other replica keeps Redis up to date).
 */
export async function rewindRunsGroup (config: KafkaConfig, logger: Logger, group: string): Promise<boolean> {
  const prefix = config.AUTOCAL_KAFKA_TOPIC_PREFIX
  const groupId = prefix === '' ? group : `${prefix}.${group}`
  const admin = createKafka(config, logger, 'autocal-condition-uploader-admin').admin()
  await admin.connect()
  try {
    const topic = topicName(topics.runs, prefix)
    if (!(await admin.listTopics()).includes(topic)) return false
    await admin.resetOffsets({ groupId, topic, earliest: true })
    logger.info({ group: groupId, topic }, 'FCSR unknown in Redis: rewound the runs topic to rebuild it')
    return true
  } catch (err) {
    logger.warn({ err, group: groupId }, 'could not rewind the FCSR consumer group; the FCSR comes from new facts only')
    return false
  } finally {
    await admin.disconnect()
  }
}

/** The FCSR registry reader's consumer group name: it starts with the service's name, as the Kafka ACLs require. */
export const fcsrRegistryReader = 'condition-uploader-fcsr-registry'

/**
 * Offers the run registry's FCSR mark (autocal.runs.registry.v1, key
 * `mark/fcsr`) to the store: the FCSR as last announced, even when the runs
 * topic no longer holds the fact. Returns the FCSR found, or undefined when
 * the registry topic is missing or holds no FCSR.
 */
export async function restoreFcsrFromRegistry (config: KafkaConfig, logger: Logger, fcsr: FcsrStore): Promise<number | undefined> {
  const topic = topicName(topics.runRegistry, config.AUTOCAL_KAFKA_TOPIC_PREFIX)
  const admin = createKafka(config, logger, fcsrRegistryReader).admin()
  await admin.connect()
  try {
    if (!(await admin.listTopics()).includes(topic)) return undefined
  } finally {
    await admin.disconnect()
  }
  let highest: number | undefined
  await readTopic(config, logger, fcsrRegistryReader, topics.runRegistry, async entry => {
    if (entry.entry.case === 'mark' && entry.entry.value.name === 'fcsr' && entry.entry.value.value > (highest ?? 0)) highest = entry.entry.value.value
  })
  if (highest !== undefined && await fcsr.offer(highest)) logger.info({ fcsr: highest, topic }, 'FCSR restored from the run registry')
  return highest
}
