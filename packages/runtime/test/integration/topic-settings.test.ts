// Topic settings for a multi-broker cluster, on the test run's broker (one
// broker here): the creation asks for the configured replication factor,
// min.insync.replicas and the rebuild topics' retention, and the broker holds
// them; a replication factor the cluster cannot give fails with an error
// naming the key, and creates nothing.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import kafkajs from 'kafkajs'
import { allTopics, topicName, topics } from '@autocal/contracts'
import { createKafka, ensureTopics } from '../../src/bus/kafka.ts'
import { memoryLogger, testConfig, until } from '../fixtures.ts'

/** `call` once the broker answers it (a topic created a moment ago may not have its metadata everywhere yet). */
async function settled<T> (what: string, call: () => Promise<T>): Promise<T> {
  let out: T | undefined
  await until(what, async () => await call().then(r => { out = r; return true }, () => false), 15_000)
  return out!
}

test('the broker holds the replication factor, min.insync.replicas and rebuild retention the creation asked for', async () => {
  const config = testConfig()
  const { logger } = memoryLogger()
  const admin = createKafka(config, logger, 'topic-settings').admin()
  await admin.connect()
  try {
    const prefix = config.AUTOCAL_KAFKA_TOPIC_PREFIX
    const created = await ensureTopics(admin, prefix, logger, { replicationFactor: 1, minInsyncReplicas: 1, rebuildRetentionMs: -1 })
    assert.equal(created.length, allTopics.length)
    const names = [topics.runs, topics.tasks, topics.conditions, topics.jobRequests].map(t => topicName(t, prefix))
    const described = await settled('topic configs', async () => await admin.describeConfigs({
      includeSynonyms: false,
      resources: names.map(name => ({ type: kafkajs.ConfigResourceTypes.TOPIC, name, configNames: ['retention.ms', 'min.insync.replicas'] }))
    }))
    const byTopic = new Map(described.resources.map(r => [r.resourceName, Object.fromEntries(r.configEntries.map(e => [e.configName, { value: e.configValue, isDefault: e.isDefault }]))]))
    for (const name of names.slice(0, 3)) {
      assert.deepEqual(byTopic.get(name)?.['retention.ms'], { value: '-1', isDefault: false }, `${name}: kept forever for rebuilds`)
    }
    assert.equal(byTopic.get(names[3]!)?.['retention.ms']?.isDefault, true, 'jobs.requests keeps the broker default retention')
    for (const name of names) assert.deepEqual(byTopic.get(name)?.['min.insync.replicas'], { value: '1', isDefault: false }, name)
    const metadata = await settled('topic metadata', async () => await admin.fetchTopicMetadata({ topics: [topicName(topics.runs, prefix)] }))
    assert.deepEqual(metadata.topics[0]?.partitions.map(p => p.replicas.length), Array(topics.runs.settings.partitions).fill(1))
    await admin.deleteTopics({ topics: created })
  } finally {
    await admin.disconnect()
  }
})

test('a replication factor above the brokers available fails naming AUTOCAL_KAFKA_REPLICATION_FACTOR and creates nothing', async () => {
  const config = testConfig()
  const { logger } = memoryLogger()
  const admin = createKafka(config, logger, 'topic-settings').admin()
  await admin.connect()
  try {
    const prefix = config.AUTOCAL_KAFKA_TOPIC_PREFIX
    await assert.rejects(ensureTopics(admin, prefix, logger, { replicationFactor: 3, minInsyncReplicas: 2 }),
      /AUTOCAL_KAFKA_REPLICATION_FACTOR=3.*fewer brokers than replicas/)
    const left = (await admin.listTopics()).filter(t => t.startsWith(`${prefix}.`))
    assert.deepEqual(left, [])
  } finally {
    await admin.disconnect()
  }
})
