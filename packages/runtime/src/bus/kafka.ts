// The kafkajs client of a service and the creation of the registry's topics.
import { readFileSync } from 'node:fs'
import type { ConnectionOptions } from 'node:tls'
import { Kafka, logLevel, type Admin, type LogEntry, type SASLOptions } from 'kafkajs'
import { allTopics, topicName } from '@autocal/contracts'
import { secretOf } from '../config.ts'
import type { Logger } from '../logger.ts'

export interface KafkaConfig {
  AUTOCAL_KAFKA_BROKERS: string
  AUTOCAL_KAFKA_TOPIC_PREFIX: string
  AUTOCAL_KAFKA_TLS?: boolean | undefined
  AUTOCAL_KAFKA_TLS_CA_FILE?: string | undefined
  AUTOCAL_KAFKA_TLS_CERT_FILE?: string | undefined
  AUTOCAL_KAFKA_TLS_KEY_FILE?: string | undefined
  AUTOCAL_KAFKA_SASL_MECHANISM?: 'scram-sha-512' | 'scram-sha-256' | undefined
  AUTOCAL_KAFKA_USERNAME?: string | undefined
  AUTOCAL_KAFKA_PASSWORD?: string | undefined
  AUTOCAL_KAFKA_PASSWORD_FILE?: string | undefined
}

/**
 * The kafkajs `ssl` and `sasl` options of a configuration: TLS when
 * AUTOCAL_KAFKA_TLS or any TLS file is set (CA, client certificate), SCRAM
 * when a mechanism is set. The combinations were checked by loadConfig
 * (connectionProblems), so a half-configured client never gets here; files
 * are read once, at client creation.
 */
export function kafkaSecurity (config: KafkaConfig): { ssl?: ConnectionOptions, sasl?: SASLOptions } {
  const out: { ssl?: ConnectionOptions, sasl?: SASLOptions } = {}
  const ca = config.AUTOCAL_KAFKA_TLS_CA_FILE
  const cert = config.AUTOCAL_KAFKA_TLS_CERT_FILE
  const key = config.AUTOCAL_KAFKA_TLS_KEY_FILE
  if (config.AUTOCAL_KAFKA_TLS === true || ca !== undefined || cert !== undefined || key !== undefined) {
    out.ssl = {
      rejectUnauthorized: true,
      ...(ca === undefined ? {} : { ca: [readFileSync(ca, 'utf8')] }),
      ...(cert === undefined || key === undefined ? {} : { cert: readFileSync(cert, 'utf8'), key: readFileSync(key, 'utf8') })
    }
  }
  const mechanism = config.AUTOCAL_KAFKA_SASL_MECHANISM
  if (mechanism !== undefined) {
    const username = config.AUTOCAL_KAFKA_USERNAME ?? ''
    const password = secretOf(config.AUTOCAL_KAFKA_PASSWORD, config.AUTOCAL_KAFKA_PASSWORD_FILE) ?? ''
    out.sasl = { mechanism, username, password }
  }
  return out
}

const levels: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error', [logLevel.WARN]: 'warn', [logLevel.INFO]: 'info', [logLevel.DEBUG]: 'debug'
}

export function createKafka (config: KafkaConfig, logger: Logger, clientId: string): Kafka {
  const log = logger.child({ component: 'kafkajs' })
  return new Kafka({
    clientId,
    brokers: config.AUTOCAL_KAFKA_BROKERS.split(','),
    ...kafkaSecurity(config),
    connectionTimeout: 3000,
    retry: { initialRetryTime: 200, retries: 8, maxRetryTime: 5000 },
    logLevel: logLevel.WARN,
    logCreator: () => ({ level, log: entry }: { level: number, log: LogEntry['log'] }) => {
      const { message, ...rest } = entry
      // kafkajs reports routine rebalances as errors; they are info for us
      const lvl = /rebalanc/i.test(message) ? 'info' : (levels[level] ?? 'info')
      log[lvl]({ kafka: rest }, message)
    }
  })
}

/**
 * Partition offsets of a topic, retried while a just-created topic has no
 * leader yet ("This server is not the leader for that topic-partition").
 */
export async function topicOffsets (admin: Admin, topic: string): Promise<Array<{ partition: number, low: string, high: string }>> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await admin.fetchTopicOffsets(topic)
    } catch (err) {
      if (attempt >= 20) throw err
      await new Promise(resolve => setTimeout(resolve, 250))
    }
  }
}

/** Creates the registry's topics (with their partitions and configs) that do not exist yet. */
export async function ensureTopics (admin: Admin, prefix: string, logger: Logger): Promise<string[]> {
  const existing = new Set(await admin.listTopics())
  const missing = allTopics.filter(t => !existing.has(topicName(t, prefix)))
  if (missing.length === 0) return []
  await admin.createTopics({
    waitForLeaders: true,
    topics: missing.map(t => ({
      topic: topicName(t, prefix),
      numPartitions: t.settings.partitions,
      replicationFactor: -1,
      configEntries: Object.entries(t.settings.configs).map(([name, value]) => ({ name, value }))
    }))
  }).catch((err: unknown) => {
    // another replica may have created them at the same moment
    if (!(err instanceof Error && /already exists/i.test(err.message))) throw err
  })
  const created = missing.map(t => topicName(t, prefix))
  logger.info({ topics: created }, 'topics created')
  return created
}
