// Topic creation at start by several creators at once on a fresh prefix (the
// services of a deployment starting together): each returns only when every
// registry topic is usable, and none fails on what another created.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { allTopics, topicName } from '@autocal/contracts'
import { createKafka, ensureTopics } from '../../src/bus/kafka.ts'
import { memoryLogger, testConfig } from '../fixtures.ts'

test('several creators started at once on a fresh prefix all succeed, and each sees every partition led when it returns', async () => {
  const { logger } = memoryLogger('test', 'error')
  for (let round = 0; round < 3; round++) {
    const config = testConfig()
    const prefix = config.AUTOCAL_KAFKA_TOPIC_PREFIX
    const admins = Array.from({ length: 6 }, (_, i) => createKafka(config, logger, `creator-${i}`).admin())
    await Promise.all(admins.map(async a => { await a.connect() }))
    try {
      const outcomes = await Promise.allSettled(admins.map(async admin => {
        const created = await ensureTopics(admin, prefix, logger)
        // right when it returns, without retrying: every partition answers its
        // offsets (its leader is elected and known) and has a leader in the metadata
        for (const t of allTopics) await admin.fetchTopicOffsets(topicName(t, prefix))
        const { topics } = await admin.fetchTopicMetadata({ topics: allTopics.map(t => topicName(t, prefix)) })
        return { created, topics }
      }))
      const failed = outcomes.flatMap(o => o.status === 'rejected' ? [String((o.reason as Error).message)] : [])
      assert.deepEqual(failed, [], `round ${round}: every creator succeeds`)
      for (const o of outcomes) {
        if (o.status !== 'fulfilled') continue
        const seen = o.value.topics
        for (const t of allTopics) {
          const got = seen.find(m => m.name === topicName(t, prefix))
          assert.equal(got?.partitions.filter(p => p.leader >= 0).length, t.settings.partitions, `${t.name} led`)
        }
      }
      const created = outcomes.flatMap(o => o.status === 'fulfilled' ? o.value.created : [])
      assert.deepEqual(created.sort(), allTopics.map(t => topicName(t, prefix)).sort(), 'each topic created exactly once')
    } finally {
      await Promise.all(admins.map(async a => { await a.disconnect() }))
    }
  }
})
