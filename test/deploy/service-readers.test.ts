// The rebuilds that read a topic from its beginning (after a Redis loss, or on
// a first start with data) run as the service's own principal on the secure
// servers (AUTOCAL_SECURE=1 bash deploy/run.sh): each must be allowed by that
// principal's ACLs (packages/runtime/scripts/kafka-acls.ts), its throw-away
// consumer group included. Before this test the dispatcher's and executor's
// groups were named `autocal-<service>-recovery-…` (outside the principal's
// group prefix) and the executor could not read jobs.status: the secure local
// system died at start with GROUP_AUTHORIZATION_FAILED. The dispatcher's read of
// the runtime campaigns (autocal.campaigns.v1) at start is one of them.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { CampaignDefinitionSchema, JobRequestSchema, JobStatusSchema, RunEventSchema, TaskEventSchema, topicName, topics, type Topic } from '@autocal/contracts'
import { connectRedis, createKafka, ensureTopics, loadConfig, readTopic } from '@autocal/runtime'
import { create, toBinary, type DescMessage } from '@bufbuild/protobuf'
import { TestConfig, memoryLogger } from '../../packages/runtime/test/fixtures.ts'
import { startSecureServers, type SecureServers } from '../../packages/runtime/test/secure-servers.ts'
import { recoveryReader } from '../../services/task-dispatcher/src/recovery.ts'
import { campaignsReader } from '../../services/task-dispatcher/src/adapters/campaign-store.ts'
import { jobRecoveryReader } from '../../services/job-executor/src/job-recovery.ts'
import { createKnownRuns, rebuildIfEmpty } from '../../services/run-watcher/src/adapters/known-runs.ts'

let servers: SecureServers

/** A principal's configuration on the secure servers, with the plain topic names the ACLs name. */
function configOf (env: Record<string, string>): TestConfig {
  return loadConfig(TestConfig, { ...env, AUTOCAL_KAFKA_CREATE_TOPICS: 'false' })
}

before(async () => {
  servers = await startSecureServers()
  const { logger } = memoryLogger()
  const admin = createKafka(configOf(servers.env), logger, 'setup').admin()
  await admin.connect()
  await ensureTopics(admin, '', logger)
  await admin.disconnect()
  // one usable message on each topic a rebuild reads (an empty topic is read without a consumer group; a
  // message breaking the name grammar would be skipped, as the live consumers dead-letter it)
  const provenance = { subsystem: 'ECAL', campaign: 'prompt', workflow: 'timing', blockId: 'run-355100', task: 't', taskAttempt: 1, inputRuns: [355100] }
  const messages: Array<[Topic<DescMessage>, Uint8Array]> = [
    [topics.tasks, toBinary(TaskEventSchema, create(TaskEventSchema, { subsystem: 'ECAL', campaign: 'prompt', task: 't', block: { id: 'run-355100', runs: [355100] } }))],
    [topics.runs, toBinary(RunEventSchema, create(RunEventSchema, { run: 355100 }))],
    [topics.jobRequests, toBinary(JobRequestSchema, create(JobRequestSchema, { jobId: 'prompt/run-355100/t/1/0', try: 1, provenance }))],
    [topics.jobStatus, toBinary(JobStatusSchema, create(JobStatusSchema, { jobId: 'prompt/run-355100/t/1/0', try: 1, provenance }))],
    [topics.campaigns, toBinary(CampaignDefinitionSchema, create(CampaignDefinitionSchema, { name: 'timing-2023', subsystems: ['ECAL'], revision: 1 }))]
  ]
  const producer = createKafka(configOf(servers.env), logger, 'setup').producer()
  await producer.connect()
  for (const [topic, value] of messages) {
    await producer.send({ topic: topicName(topic, ''), messages: [{ key: 'k', value: Buffer.from(value) }] })
  }
  await producer.disconnect()
}, { timeout: 300_000 })

after(async () => { await servers?.[Symbol.asyncDispose]() })

const readers: Array<{ principal: string, reader: string, topic: Topic<DescMessage> }> = [
  { principal: 'task-dispatcher', reader: recoveryReader, topic: topics.tasks },
  { principal: 'task-dispatcher', reader: recoveryReader, topic: topics.runs },
  // the runtime campaigns, read whole at the dispatcher's start (adapters/campaign-store.ts)
  { principal: 'task-dispatcher', reader: campaignsReader, topic: topics.campaigns },
  { principal: 'job-executor', reader: jobRecoveryReader, topic: topics.jobRequests },
  { principal: 'job-executor', reader: jobRecoveryReader, topic: topics.jobStatus }
]

for (const { principal, reader, topic } of readers) {
  test(`${principal} reads ${topic.name} as ${reader} under its own ACLs`, { timeout: 60_000 }, async () => {
    const count = await readTopic(configOf(servers.envOf(principal)), memoryLogger().logger, reader, topic, async () => {})
    assert.equal(count, 1)
  })
}

test('run-watcher rebuilds its known runs from the runs topic under its own ACLs', { timeout: 60_000 }, async () => {
  const config = configOf(servers.envOf('run-watcher'))
  await using redis = await connectRedis({ config, logger: memoryLogger().logger })
  assert.equal(await rebuildIfEmpty(redis, createKnownRuns(redis), config, memoryLogger().logger), 1)
})
