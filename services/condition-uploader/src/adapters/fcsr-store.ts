// The first condition-safe run, as the run-watcher announced it on the runs
// topic (`fcsr` facts), kept in Redis: the highest seen (the Tier-0 FCSR only
// moves forward, and facts of different runs arrive on different
// partitions). Rebuildable: when the key is missing at start, the FCSR
// consumer group is rewound to the beginning of the runs topic.
import { topicName, topics } from '@autocal/contracts'
import { createKafka, type KafkaConfig, type Logger, type RedisHandle } from '@autocal/runtime'

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
