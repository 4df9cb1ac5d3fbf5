// Messages the dispatcher cannot use go to the DLQ with the reason, over the
// real local Kafka and Redis with the dispatcher built in-process (app.ts):
// one message per kind, each well-formed for the contract but carrying
// nothing the dispatcher can act on; the good run after them is handled.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { create, type MessageShape } from '@bufbuild/protobuf'
import {
  ConditionEventSchema, ControlCommandSchema, JobPhase, JobStatusSchema, Outcome, topicName, topics,
  type DeadLetterSchema
} from '@autocal/contracts'
import { startConsumer, startProducer } from '@autocal/runtime'
import { realRuns, runEvents, silentLogger, startDispatcher, testConfig } from './fixtures.ts'
import { until } from '../../../../test/helpers/until.ts'

const provenance = { subsystem: 'ECAL', campaign: 'prompt', workflow: 'timing', blockId: 'run-357401', task: 'timing-reco', taskAttempt: 1, inputRuns: [357401] }

test('each kind of unusable message is dead-lettered with its reason instead of being committed unseen', { timeout: 120_000 }, async t => {
  const config = testConfig()
  const prefix = config.AUTOCAL_KAFKA_TOPIC_PREFIX
  await using producer = await startProducer({ config, logger: silentLogger, service: 'test' })
  const dispatcher = await startDispatcher(config)
  t.after(async () => { await dispatcher[Symbol.asyncDispose]() })
  const dead: Array<MessageShape<typeof DeadLetterSchema>> = []
  const requested: string[] = []
  await using _watch = await startConsumer({
    config,
    logger: silentLogger,
    service: 'test',
    group: 'unusable-watch',
    producer,
    fromBeginning: true,
    handlers: { dlq: async m => { dead.push(m) }, jobRequests: async r => { requested.push(r.jobId) } }
  })

  const kinds = [
    { topic: topics.jobStatus, reason: /JobStatus: provenance: missing/, send: async () => { await producer.publish(topics.jobStatus, create(JobStatusSchema, { jobId: 'j-1', try: 1, phase: JobPhase.DONE })) } },
    { topic: topics.jobStatus, reason: /job status of job "j-2" has no known phase \(0\)/, send: async () => { await producer.publish(topics.jobStatus, create(JobStatusSchema, { jobId: 'j-2', try: 1, provenance })) } },
    { topic: topics.jobStatus, reason: /names task 'retired' of campaign 'prompt', which no loaded workflow defines/, send: async () => { await producer.publish(topics.jobStatus, create(JobStatusSchema, { jobId: 'j-3', try: 1, phase: JobPhase.DONE, provenance: { ...provenance, task: 'retired' } })) } },
    { topic: topics.conditions, reason: /condition outcome of request "r-1" has no known outcome \(0\)/, send: async () => { await producer.publish(topics.conditions, create(ConditionEventSchema, { requestId: 'r-1', tag: 'EcalTimeCalib_pcl', provenance })) } },
    { topic: topics.conditions, reason: /condition outcome of request "r-2" has no provenance/, send: async () => { await producer.publish(topics.conditions, create(ConditionEventSchema, { requestId: 'r-2', tag: 'EcalTimeCalib_pcl', outcome: Outcome.UPLOADED })) } },
    { topic: topics.control, reason: /control command "c-1" has no action/, send: async () => { await producer.publish(topics.control, create(ControlCommandSchema, { commandId: 'c-1', actor: 'ops', selector: { campaign: 'prompt' } })) } },
    { topic: topics.control, reason: /control command "c-2" \(skip\) has no selector/, send: async () => { await producer.publish(topics.control, create(ControlCommandSchema, { commandId: 'c-2', actor: 'ops', action: { case: 'skip', value: {} } })) } },
    { topic: topics.control, reason: /control command "c-3" \(approveCondition\) does not name its task/, send: async () => { await producer.publish(topics.control, create(ControlCommandSchema, { commandId: 'c-3', actor: 'ops', selector: { campaign: 'prompt' }, action: { case: 'approveCondition', value: { requestId: 'x' } } })) } }
  ]
  for (const k of kinds) await k.send()
  await producer.publishMany(topics.runs, runEvents(realRuns(357401, 357401)))

  await until(`every unusable message dead-lettered (got: ${dead.map(d => d.reason).join(' | ')})`, () => kinds.every(k => dead.some(d => d.topic === topicName(k.topic, prefix) && k.reason.test(d.reason))), 60_000)
  for (const d of dead) {
    assert.equal(d.code, 'AUTOCAL_VALIDATION_FAILED', d.reason)
    assert.equal(d.service, 'task-dispatcher')
    assert.ok(d.attempts <= 1, 'not retried: the reason is the message\'s own')
  }
  assert.equal(dead.length, kinds.length, `only the unusable messages are dead letters: ${dead.map(d => d.reason).join(' | ')}`)
  await until('the good run after them is dispatched', () => requested.some(j => j.startsWith('prompt/run-357401/')), 60_000)
})
