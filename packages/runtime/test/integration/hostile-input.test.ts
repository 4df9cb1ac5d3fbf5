// Hostile names on every consumed topic, on the real broker: each breaks the
// one name grammar (@autocal/contracts messageProblem), goes to the DLQ with a
// reason naming the field and the escaped value before any handler sees it,
// and the consumer handles the good message published after it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { create, equals, toBinary, type MessageShape } from '@bufbuild/protobuf'
import { BinaryWriter } from '@bufbuild/protobuf/wire'
import {
  ConditionEventSchema, ConditionRequestSchema, ControlCommandSchema, type DeadLetterSchema, JobRequestSchema, JobStatusSchema,
  RunEventSchema, TaskEventSchema, topics, topicName, type TopicId
} from '@autocal/contracts'
import { createKafka } from '../../src/bus/kafka.ts'
import { startProducer } from '../../src/bus/producer.ts'
import { startConsumer, type Handlers } from '../../src/bus/consumer.ts'
import { readTopic } from '../../src/bus/read-topic.ts'
import { memoryLogger, testConfig, until } from '../fixtures.ts'

const provenance = { subsystem: 'ECAL', campaign: 'prompt', workflow: 'timing', blockId: 'run-355100', task: 'timing-reco', taskAttempt: 1, inputRuns: [355100] }
const runEnded = (era: string, run = 355100) => create(RunEventSchema, { run, change: { case: 'ended', value: { run: { run, era } } } })

/** [topic, hostile message (or raw bytes), the reason expected, a good message after it] */
const cases: Array<[TopicId, unknown, RegExp, unknown]> = [
  ['runs', runEnded('../../x'), /autocal\.runs\.v1\.RunEvent: ended\.run\.era: era "\.\.\/\.\.\/x" is not a valid name/, runEnded('Run2022C', 1)],
  ['runs', runEnded('Run2022C/x'), /ended\.run\.era: era "Run2022C\/x"/, runEnded('Run2022C', 2)],
  // run 2^32 on the wire: the decoder alone would read run 0
  ['runs', new BinaryWriter().tag(1, 0).uint64(2n ** 32n).finish(), /autocal\.runs\.v1\.RunEvent: run: 4294967296 does not fit in uint32/, runEnded('Run2022C', 3)],
  ['jobStatus', create(JobStatusSchema, { jobId: 'j', try: 1, provenance: { ...provenance, task: '__proto__' } }), /provenance\.task: task "__proto__" is not a valid name/,
    create(JobStatusSchema, { jobId: 'j', try: 1, provenance: { ...provenance, task: 'constructor' } })],
  ['conditionRequests', create(ConditionRequestSchema, { requestId: 'prompt/run-1/t/1', destinationTag: 'Ecal\nPedestals\u001b[2J', provenance }),
    /destination_tag: tag "Ecal\\nPedestals\\u001b\[2J" is not a valid name/,
    create(ConditionRequestSchema, { requestId: 'prompt/run-1/t/1', destinationTag: 'EcalPedestals_pcl', provenance })],
  ['conditions', create(ConditionEventSchema, { requestId: 'prompt/run-1/t/1', tag: 'T\r', provenance }), /tag: tag "T\\r"/,
    create(ConditionEventSchema, { requestId: 'prompt/run-1/t/1', tag: 'T', provenance })],
  ['control', create(ControlCommandSchema, { commandId: 'c1', selector: { campaign: 'prompt', tasks: ['constructor', '__proto__'] }, action: { case: 'skip', value: {} } }),
    /selector\.tasks\[1\]: task "__proto__"/, create(ControlCommandSchema, { commandId: 'c2', selector: { campaign: 'prompt', tasks: ['constructor'] }, action: { case: 'skip', value: {} } })],
  ['tasks', create(TaskEventSchema, { subsystem: 'ECAL', campaign: 'prompt', task: 't', block: { id: 'era-x', era: '../../../../etc/cron.d/x' } }), /block\.era: era "\.\.\/\.\.\/\.\.\/\.\.\/etc\/cron\.d\/x"/,
    create(TaskEventSchema, { subsystem: 'ECAL', campaign: 'prompt', task: 't', block: { id: 'era-Run2022C', era: 'Run2022C' } })],
  ['jobRequests', create(JobRequestSchema, { jobId: 'prompt/run-1/../../x/1/0', try: 1, provenance }), /job_id: id "prompt\/run-1\/\.\.\/\.\.\/x\/1\/0" is not valid/,
    create(JobRequestSchema, { jobId: 'prompt/run-1/t/1/0', try: 1, provenance })]
]

test('a message breaking the name grammar on any consumed topic is dead-lettered with the field and the escaped value; the next one is handled', async () => {
  const config = testConfig()
  const { logger } = memoryLogger()
  await using producer = await startProducer({ config, logger, service: 'test' })
  const handled: Array<[TopicId, unknown]> = []
  const dead: Array<MessageShape<typeof DeadLetterSchema>> = []
  const handlers: Handlers = {}
  for (const id of new Set(cases.map(c => c[0]))) (handlers as Record<string, unknown>)[id] = async (m: unknown) => { handled.push([id, m]) }
  await using _consumer = await startConsumer({ config, logger, service: 'test', group: 'hostile', producer, handlers })
  await using _dlq = await startConsumer({ config, logger, service: 'test', group: 'hostile-dlq', producer, handlers: { dlq: async m => { dead.push(m) } } })
  const raw = createKafka(config, logger, 'raw').producer()
  await raw.connect()
  for (const [id, hostile, , good] of cases) {
    const t = topics[id]
    const value = hostile instanceof Uint8Array ? hostile : toBinary(t.schema, hostile as never)
    await raw.send({ topic: topicName(t, config.AUTOCAL_KAFKA_TOPIC_PREFIX), messages: [{ key: 'k', value: Buffer.from(value), headers: { ce_type: t.schema.typeName } }] })
    await producer.publish(t as never, good as never)
  }
  await raw.disconnect()
  await until('every good message handled', () => handled.length === cases.length)
  await until('every hostile message dead-lettered', () => dead.length === cases.length)
  for (const [id, , reason, good] of cases) {
    const letter = dead.find(d => d.topic === topicName(topics[id], config.AUTOCAL_KAFKA_TOPIC_PREFIX) && reason.test(d.reason))
    assert.ok(letter !== undefined, `${id}: no dead letter matching ${String(reason)}; got ${dead.map(d => d.reason).join(' | ')}`)
    assert.equal(letter.code, 'AUTOCAL_VALIDATION_FAILED')
    assert.equal(letter.attempts, 0, 'refused before any handler attempt')
    assert.ok(handled.some(([h, m]) => h === id && equals(topics[id].schema as never, m as never, good as never)), `${id}: the good message after it was handled`)
  }
  assert.equal(handled.length, cases.length, 'no hostile message reached a handler')
})

test('a rebuild (readTopic) skips what the live consumer dead-letters and fails whole when its handler fails', async () => {
  const config = testConfig()
  const { logger, lines } = memoryLogger()
  await using producer = await startProducer({ config, logger, service: 'test' })
  const raw = createKafka(config, logger, 'raw').producer()
  await raw.connect()
  const runs = topicName(topics.runs, config.AUTOCAL_KAFKA_TOPIC_PREFIX)
  await producer.publish(topics.runs, runEnded('Run2022C', 1))
  for (const hostile of [toBinary(RunEventSchema, runEnded('../../x', 2)), new BinaryWriter().tag(1, 0).uint64(2n ** 32n).finish(), Buffer.from('not protobuf \u00ff\u00fe')]) {
    await raw.send({ topic: runs, messages: [{ key: '2', value: Buffer.from(hostile), headers: { ce_type: topics.runs.schema.typeName } }] })
  }
  await producer.publish(topics.runs, runEnded('Run2022C', 3))
  await raw.disconnect()
  const read: number[] = []
  assert.equal(await readTopic(config, logger, 'rebuild-test', topics.runs, async m => { read.push(m.run) }), 2)
  assert.deepEqual(read.sort((a, b) => a - b), [1, 3], 'only the usable runs')
  const skipped = lines.filter(l => l.msg === 'rebuild skipped a message the live consumer dead-letters').map(l => String(l.reason))
  assert.equal(skipped.length, 3, skipped.join(' | '))
  assert.ok(skipped.some(r => /era "\.\.\/\.\.\/x" is not a valid name/.test(r)), 'the grammar reason is logged')
  assert.ok(skipped.some(r => /does not fit in uint32/.test(r)), 'the overflow is logged')
  // a failing handler (not the message's fault) fails the read instead of leaving the message out
  await assert.rejects(readTopic(config, logger, 'rebuild-test', topics.runs, async m => { if (m.run === 3) throw new Error('Redis went away') }), /Redis went away/)
})
