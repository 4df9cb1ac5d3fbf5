// The creation request of the registry's topics under a topic policy (pure).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { allTopics, topics } from '@autocal/contracts'
import { rebuildTopics, topicCreations, topicPolicy } from '../src/bus/kafka.ts'

test('the production policy: 3 replicas, min.insync.replicas 2 everywhere, rebuild topics kept forever, registry configs kept', () => {
  const requests = new Map(topicCreations(allTopics, 'p', { replicationFactor: 3, minInsyncReplicas: 2, rebuildRetentionMs: -1 }).map(r => [r.topic, r]))
  assert.equal(requests.size, allTopics.length)
  for (const t of allTopics) {
    const r = requests.get(`p.${t.name}`)!
    const configs = Object.fromEntries((r.configEntries ?? []).map(e => [e.name, e.value]))
    assert.equal(r.replicationFactor, 3)
    assert.equal(r.numPartitions, t.settings.partitions)
    assert.equal(configs['min.insync.replicas'], '2', t.name)
    for (const [k, v] of Object.entries(t.settings.configs)) if (k !== 'retention.ms') assert.equal(configs[k], v, `${t.name} ${k}`)
    const expected = rebuildTopics.includes(t) ? '-1' : t.settings.configs['retention.ms']
    assert.equal(configs['retention.ms'], expected, t.name)
  }
  assert.deepEqual(rebuildTopics.map(t => t.name), [topics.runs.name, topics.tasks.name, topics.conditions.name])
})

test('no policy: the broker decides (replication factor -1, no extra configs); min.insync.replicas above the replication factor is refused', () => {
  const [runs] = topicCreations([topics.runs], '')
  assert.deepEqual(runs, { topic: 'autocal.runs.v1', numPartitions: 6, replicationFactor: -1, configEntries: [] })
  assert.throws(() => topicCreations([topics.runs], '', { replicationFactor: 2, minInsyncReplicas: 3 }), /AUTOCAL_KAFKA_MIN_INSYNC_REPLICAS=3 is above AUTOCAL_KAFKA_REPLICATION_FACTOR=2/)
  assert.deepEqual(topicPolicy({ AUTOCAL_KAFKA_BROKERS: 'b:1', AUTOCAL_KAFKA_TOPIC_PREFIX: '', AUTOCAL_KAFKA_REPLICATION_FACTOR: 3, AUTOCAL_KAFKA_MIN_INSYNC_REPLICAS: 2, AUTOCAL_KAFKA_REBUILD_RETENTION_MS: -1 }),
    { replicationFactor: 3, minInsyncReplicas: 2, rebuildRetentionMs: -1 })
})
