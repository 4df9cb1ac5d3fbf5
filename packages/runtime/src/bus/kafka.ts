// The kafkajs client of a service and the creation of the registry's topics.
import { readFileSync } from 'node:fs'
import type { ConnectionOptions } from 'node:tls'
import { Kafka, logLevel, type Admin, type ITopicConfig, type LogEntry, type SASLOptions } from 'kafkajs'
import { allTopics, topicName, topics, type Topic } from '@autocal/contracts'
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
  AUTOCAL_KAFKA_REPLICATION_FACTOR?: number | undefined
  AUTOCAL_KAFKA_MIN_INSYNC_REPLICAS?: number | undefined
  AUTOCAL_KAFKA_REBUILD_RETENTION_MS?: number | undefined
}

/** The topic policy of a configuration. */
export function topicPolicy (config: KafkaConfig): TopicPolicy {
  return {
    replicationFactor: config.AUTOCAL_KAFKA_REPLICATION_FACTOR,
    minInsyncReplicas: config.AUTOCAL_KAFKA_MIN_INSYNC_REPLICAS,
    rebuildRetentionMs: config.AUTOCAL_KAFKA_REBUILD_RETENTION_MS
  }
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

/**
 * How topics are created on a multi-broker cluster (AUTOCAL_KAFKA_REPLICATION_FACTOR,
 * AUTOCAL_KAFKA_MIN_INSYNC_REPLICAS, AUTOCAL_KAFKA_REBUILD_RETENTION_MS); unset
 * = the broker's defaults (default.replication.factor, min.insync.replicas,
 * log.retention.*).
 */
export interface TopicPolicy {
  replicationFactor?: number | undefined
  minInsyncReplicas?: number | undefined
  /** retention.ms of the topics that rebuilds read from the beginning (rebuildTopics); -1 = forever. */
  rebuildRetentionMs?: number | undefined
}

/**
 * The topics read from their beginning to rebuild state: runs (the
 * run-watcher's known runs, the uploader's FCSR), tasks (the dispatcher's
 * recovery; compacted), conditions (the metrics read model with the other
 * topics). Their retention bounds how far back a rebuild reaches.
 */
export const rebuildTopics: readonly Topic[] = [topics.runs, topics.tasks, topics.conditions]

/**
 * The kafkajs creation request of registry topics under a policy: the
 * registry's partitions and configs, the replication factor (-1 = the
 * broker's default), min.insync.replicas on every topic, and the rebuild
 * retention on rebuildTopics. Throws when min.insync.replicas exceeds the
 * replication factor (no write could ever be acknowledged with acks=all).
 */
export function topicCreations (wanted: readonly Topic[], prefix: string, policy: TopicPolicy = {}): ITopicConfig[] {
  const { replicationFactor, minInsyncReplicas, rebuildRetentionMs } = policy
  if (replicationFactor !== undefined && minInsyncReplicas !== undefined && minInsyncReplicas > replicationFactor) {
    throw new Error(`AUTOCAL_KAFKA_MIN_INSYNC_REPLICAS=${minInsyncReplicas} is above AUTOCAL_KAFKA_REPLICATION_FACTOR=${replicationFactor}: no write could be acknowledged`)
  }
  return wanted.map(t => {
    const configs: Record<string, string> = { ...t.settings.configs }
    if (minInsyncReplicas !== undefined) configs['min.insync.replicas'] = String(minInsyncReplicas)
    if (rebuildRetentionMs !== undefined && rebuildTopics.includes(t)) configs['retention.ms'] = String(rebuildRetentionMs)
    return {
      topic: topicName(t, prefix),
      numPartitions: t.settings.partitions,
      replicationFactor: replicationFactor ?? -1,
      configEntries: Object.entries(configs).map(([name, value]) => ({ name, value }))
    }
  })
}

/**
 * Creates the registry's topics (with their partitions and configs, under
 * `policy`) that do not exist yet. A replication factor above the brokers
 * available fails with an error naming AUTOCAL_KAFKA_REPLICATION_FACTOR.
 */
export async function ensureTopics (admin: Admin, prefix: string, logger: Logger, policy: TopicPolicy = {}): Promise<string[]> {
  const existing = new Set(await admin.listTopics())
  const missing = allTopics.filter(t => !existing.has(topicName(t, prefix)))
  if (missing.length === 0) return []
  await admin.createTopics({ waitForLeaders: true, topics: topicCreations(missing, prefix, policy) }).catch((err: unknown) => {
    const errors = [err, ...((err as { errors?: unknown[] }).errors ?? [])] as Array<{ type?: string, message?: string }>
    const invalid = errors.find(e => e.type === 'INVALID_REPLICATION_FACTOR' || /replication factor/i.test(e.message ?? ''))
    if (invalid !== undefined) {
      throw new Error(`cannot create topics with AUTOCAL_KAFKA_REPLICATION_FACTOR=${policy.replicationFactor ?? 'broker default'}: ${invalid.message ?? invalid.type} (the cluster has fewer brokers than replicas asked for)`)
    }
    // another replica may have created them at the same moment
    if (!(err instanceof Error && /already exists/i.test(err.message))) throw err
  })
  const created = missing.map(t => topicName(t, prefix))
  logger.info({ topics: created }, 'topics created')
  return created
}
