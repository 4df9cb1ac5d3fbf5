// The kafkajs client of a service and the creation of the registry's topics.
import { readFileSync } from 'node:fs'
import type { ConnectionOptions } from 'node:tls'
import { Kafka, logLevel, type Admin, type ITopicConfig, type LogEntry, type SASLOptions } from 'kafkajs'
import { allTopics, topicName, topics, type Topic } from '@autocal/contracts'
import { secretOf } from '../config.ts'
import type { Logger } from '../logger.ts'
import { AutocalError, errorMessage } from '../errors.ts'
import { policies, retry } from '../retry.ts'

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
      // kafkajs reports routine rebalances as errors; they are info for us, and
      // a partition whose leader is being elected (waitForTopics probes it) is debug
      const lvl = /rebalanc/i.test(message)
        ? 'info'
        : /not the leader|LEADER_NOT_AVAILABLE|leader is not available/i.test(String(rest.error)) ? 'debug' : (levels[level] ?? 'info')
      log[lvl]({ kafka: rest }, message)
    }
  })
}

/**
 * Partition offsets of a topic, retried while a just-created topic has no
 * leader yet ("This server is not the leader for that topic-partition").
 */
export async function topicOffsets (admin: Admin, topic: string, signal?: AbortSignal): Promise<Array<{ partition: number, low: string, high: string }>> {
  return await retry(async () => await admin.fetchTopicOffsets(topic), policies.topicLeader, { signal })
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
 * `policy`) that do not exist yet, then waits until every registry topic is
 * usable: known to the broker with all its partitions led. Another replica (or
 * another service) may create the same topics at the same moment: a topic that
 * "already exists" is fine, and the wait covers the topics it created and
 * whose leaders are not elected yet (the UNKNOWN_TOPIC_OR_PARTITION a service
 * met right after start). Returns the names this call created. Throws an error
 * naming AUTOCAL_KAFKA_REPLICATION_FACTOR when the cluster has fewer brokers
 * than replicas asked for, AUTOCAL_UNAVAILABLE naming the topics still
 * unusable after `waitMs` (default 30 s), and rethrows any other creation error.
 */
export async function ensureTopics (admin: Admin, prefix: string, logger: Logger, policy: TopicPolicy = {}, waitMs = 30_000): Promise<string[]> {
  const existing = new Set(await admin.listTopics())
  const missing = allTopics.filter(t => !existing.has(topicName(t, prefix)))
  let created: string[] = []
  if (missing.length > 0) {
    const names = missing.map(t => topicName(t, prefix))
    try {
      // false: every one of them already existed (kafkajs swallows that case)
      const madeAll = await admin.createTopics({ waitForLeaders: false, topics: topicCreations(missing, prefix, policy) })
      created = madeAll ? names : []
    } catch (err) {
      const all = [err, ...((err as { errors?: unknown[] }).errors ?? [])] as Array<{ type?: string, message?: string }>
      const invalid = all.find(e => e.type === 'INVALID_REPLICATION_FACTOR' || /replication factor/i.test(e.message ?? ''))
      if (invalid !== undefined) {
        throw new AutocalError('AUTOCAL_CONFIG_INVALID', `cannot create topics with AUTOCAL_KAFKA_REPLICATION_FACTOR=${policy.replicationFactor ?? 'broker default'}: ${invalid.message ?? invalid.type} (the cluster has fewer brokers than replicas asked for)`, { cause: err })
      }
      // the broker answers per topic: the ones another creator made first say
      // TOPIC_ALREADY_EXISTS; any other answer is a real failure
      const errors = (err as { errors?: Array<{ type?: string, topic?: string, message?: string }> }).errors
      if (!Array.isArray(errors)) throw err
      const others = errors.filter(e => e.type !== 'TOPIC_ALREADY_EXISTS')
      if (others.length > 0) {
        throw new AutocalError('AUTOCAL_CONFIG_INVALID', `the broker refused to create topics: ${others.map(e => `${e.topic ?? '?'}: ${e.message ?? e.type ?? '?'}`).join('; ')}`, { cause: err })
      }
      const theirs = new Set(errors.map(e => e.topic))
      created = names.filter(n => !theirs.has(n))
    }
    if (created.length > 0) logger.info({ topics: created }, 'topics created')
  }
  await waitForTopics(admin, allTopics.map(t => ({ name: topicName(t, prefix), partitions: t.settings.partitions })), waitMs)
  return created
}

/**
 * Resolves when each topic is known to the broker with at least `partitions`
 * partitions, each led by a broker that answers for it: metadata alone can
 * name a leader that has not taken the partition over yet ("This server is
 * not the leader for that topic-partition"), so the wait also lists every
 * partition's offsets. Polls 100 ms → 1 s apart; throws AUTOCAL_UNAVAILABLE
 * naming what is missing after `waitMs`.
 */
export async function waitForTopics (admin: Admin, wanted: Array<{ name: string, partitions: number }>, waitMs: number, signal?: AbortSignal): Promise<void> {
  let pending = wanted
  async function check (): Promise<void> {
    let problem: string
    try {
      const { topics } = await admin.fetchTopicMetadata({ topics: pending.map(w => w.name) })
      const byName = new Map(topics.map(t => [t.name, t.partitions]))
      const unusable: string[] = []
      const next: typeof wanted = []
      for (const w of pending) {
        const led = (byName.get(w.name) ?? []).filter(p => p.leader >= 0 && p.partitionErrorCode === 0).length
        if (led < w.partitions) {
          unusable.push(`${w.name} (${led} of ${w.partitions} partitions led)`)
          next.push(w)
          continue
        }
        try {
          await admin.fetchTopicOffsets(w.name)
        } catch (err) {
          unusable.push(`${w.name} (${errorMessage(err)})`)
          next.push(w)
        }
      }
      pending = next
      if (pending.length === 0) return
      problem = unusable.join(', ')
    } catch (err) {
      problem = errorMessage(err)
    }
    throw new AutocalError('AUTOCAL_UNAVAILABLE', `topics not usable after ${waitMs} ms: ${problem}`)
  }
  await retry(check, { ...policies.topicsReady, maxTotalMs: waitMs }, { signal })
}
