// The durable run registry (autocal.runs.registry.v1) on real Kafka and Redis:
// a run that only the registry still holds — the runs topic's old records
// deleted, as retention deletes them — is known again after a Redis loss, so
// a correction of it is an update of the known run, with its era, fill and
// Tier-0 facts, not a new run.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { topicName, topics } from '@autocal/contracts'
import { connectRedis, createKafka, loadConfig } from '@autocal/runtime'
import { Config } from '../../src/config.ts'
import { createKnownRuns } from '../../src/adapters/known-runs.ts'
import { readRegistry } from '../../src/adapters/run-registry.ts'
import { allDelivered, collectRuns, finishedCount, quietLogger, realdata, startWatcher, testEnv, until } from '../helpers/harness.ts'

const csv = join(realdata, 'Runs2022-hltmode.csv')
const adminToken = 'registry-admin-token'
const injectTokens = JSON.stringify({ [adminToken]: { principal: 'run-coordinator', subsystems: '*' } })

/** Deletes every record of the prefix's runs topic (what retention does to old segments). */
async function emptyRunsTopic (env: Record<string, string>): Promise<void> {
  const config = loadConfig(Config, env)
  const { logger } = quietLogger()
  const admin = createKafka(config, logger, 'test-retention').admin()
  await admin.connect()
  try {
    const topic = topicName(topics.runs, config.AUTOCAL_KAFKA_TOPIC_PREFIX)
    const offsets = await admin.fetchTopicOffsets(topic)
    await admin.deleteTopicRecords({ topic, partitions: offsets.map(o => ({ partition: o.partition, offset: o.high })) })
    const after = await admin.fetchTopicOffsets(topic)
    assert.ok(after.every(o => o.low === o.high), 'the runs topic retains nothing')
  } finally {
    await admin.disconnect()
  }
}

/** Deletes every Redis key of the prefix (a Redis that lost its data). */
async function wipeRedis (env: Record<string, string>): Promise<void> {
  const { logger } = quietLogger()
  await using redis = await connectRedis({ config: loadConfig(Config, env), logger })
  const keys = await redis.client.keys(`${env.AUTOCAL_REDIS_KEY_PREFIX}*`)
  if (keys.length > 0) await redis.client.del(...keys)
}

test('a run only the registry still holds is known again after a Redis wipe: its correction is an update with its era, fill and Tier-0 facts', async () => {
  const { logger, lines } = quietLogger()
  const env = testEnv({ AUTOCAL_INJECT_TOKENS: injectTokens, AUTOCAL_REPLAY_FILE: csv, AUTOCAL_REPLAY_FROM_RUN: '355100', AUTOCAL_REPLAY_TO_RUN: '355120' })
  await using collected = await collectRuns(env, logger)
  {
    await using _watcher = await startWatcher(env, logger)
    await until('run 355100 ended and the FCSR announced', () => collected.events.some(e => e.event.run === 355100 && e.event.change.case === 'ended') && collected.events.some(e => e.event.change.case === 'fcsr'))
    await allDelivered(collected, 'the replay finished', () => finishedCount(lines, 'replay') === 1)
  }
  const before = collected.events.find(e => e.event.run === 355100 && e.event.change.case === 'ended')
  assert.ok(before !== undefined && before.event.change.case === 'ended')
  const run = before.event.change.value.run!
  const fcsrBefore = Math.max(...collected.events.flatMap(e => e.event.change.case === 'fcsr' ? [e.event.change.value.fcsr] : []))

  // the registry holds every run's latest facts
  const registry = new Map<string, unknown>()
  await readRegistry(loadConfig(Config, env), logger, 'run-watcher-test-read', async item => { registry.set(item.kind === 'run' ? String(item.entry.run) : item.mark.name, item) })
  const entry = registry.get('355100') as { entry: { record?: { era: string }, sequence: number, streams: Record<string, { done: boolean }> } } | undefined
  assert.equal(entry?.entry.record?.era, run.era)
  assert.equal(entry.entry.sequence, 2, 'started and ended: two changes')
  assert.equal(entry.entry.streams.Express?.done, true)
  assert.ok(registry.has('fcsr'), 'the FCSR mark')

  await emptyRunsTopic(env)
  await wipeRedis(env)

  // the restarted watcher rebuilds from the registry; no source but injection
  const injectOnly = { ...env }
  delete injectOnly.AUTOCAL_REPLAY_FILE
  const seen = collected.events.length
  await using watcher = await startWatcher(injectOnly, logger)
  {
    await using redis = await connectRedis({ config: loadConfig(Config, env), logger })
    const known = createKnownRuns(redis)
    assert.equal((await known.get(355100))?.era, run.era, 'the run is known again')
    assert.equal(await known.getFact('355100:stream:Express'), 'true', 'its Tier-0 facts too')
    assert.equal(await known.getFact('fcsr'), String(fcsrBefore), 'and the FCSR')
  }
  const res = await fetch(`http://127.0.0.1:${watcher.port}/api/v1/runs`, {
    method: 'POST', body: JSON.stringify({ run_number: 355100, recorded_lumi: run.recordedLumiPb + 1 }), headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` }
  })
  assert.equal(res.status, 202)
  assert.deepEqual(await res.json(), { runs: 1, events: 1 })
  // the route answers once the correction is sent: the topic holds it now
  await allDelivered(collected, 'the correction delivered', () => collected.events.length > seen)
  const after = collected.events.slice(seen)
  assert.equal(after.length, 1, after.map(e => e.meta.eventId).join(' '))
  const correction = after[0]!
  assert.equal(correction.event.change.case, 'updated', 'an update of the known run, not a new run')
  assert.ok(correction.event.change.case === 'updated')
  assert.deepEqual(correction.event.change.value.changedFields, ['recorded_lumi_pb'])
  assert.equal(correction.event.change.value.run?.era, run.era)
  assert.equal(correction.event.change.value.run?.fill, run.fill)
  assert.match(correction.meta.eventId, /^runs\/355100\/3\/updated\//, 'the third change of the run: its number came back from the registry')
})
