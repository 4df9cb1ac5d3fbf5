// Hostile names at every entry of a dispatcher process on real Kafka + Redis:
// its consumers (runs, jobs.status, conditions, control) dead-letter messages
// that break the one name grammar with the field and the escaped value, and
// go on with the next good message; its control API refuses such requests
// with INVALID_ARGUMENT naming the field, before anything is looked up.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { create, toBinary, type MessageShape } from '@bufbuild/protobuf'
import { BinaryWriter } from '@bufbuild/protobuf/wire'
import {
  ConditionEventSchema, ControlCommandSchema, ControlService, JobStatusSchema, Outcome, RunEventSchema, topicName, topics,
  type DeadLetterSchema, type TopicId
} from '@autocal/contracts'
import { createGrpcClient, createKafka, startConsumer, startProducer } from '@autocal/runtime'
import { realRuns, runEvents, silentLogger, spawnDispatcher, stopDispatcher, testConfig, until } from './fixtures.ts'

const provenance = { subsystem: 'ECAL', campaign: 'prompt', workflow: 'timing', blockId: 'run-357401', task: 'timing-reco', taskAttempt: 1, inputRuns: [357401] }
const ended = (era: string) => create(RunEventSchema, { run: 357402, change: { case: 'ended', value: { run: { run: 357402, era, fill: 8102 } } } })

/** [topic, hostile message or raw bytes, the dead letter's reason] */
const hostile: Array<[TopicId, unknown, RegExp]> = [
  ['runs', ended('../../x'), /ended\.run\.era: era "\.\.\/\.\.\/x" is not a valid name/],
  ['runs', ended('Run2022C/x'), /ended\.run\.era: era "Run2022C\/x" is not a valid name/],
  ['runs', new BinaryWriter().tag(1, 0).uint64(2n ** 32n).finish(), /RunEvent: run: 4294967296 does not fit in uint32/],
  ['jobStatus', create(JobStatusSchema, { jobId: 'prompt/run-357401/x/1/0', try: 1, provenance: { ...provenance, task: '__proto__' } }), /provenance\.task: task "__proto__" is not a valid name/],
  ['conditions', create(ConditionEventSchema, { requestId: 'prompt/run-357401/timing-calib/1', outcome: Outcome.UPLOADED, tag: 'EcalTimeCalib\n\u001b[2J', provenance }), /tag: tag "EcalTimeCalib\\n\\u001b\[2J" is not a valid name/],
  ['control', create(ControlCommandSchema, { commandId: 'c-hostile', actor: 'x', selector: { campaign: 'prompt', tasks: ['__proto__'] }, action: { case: 'skip', value: {} } }), /selector\.tasks\[0\]: task "__proto__" is not a valid name/],
  ['control', create(ControlCommandSchema, { commandId: 'c-hostile-2', actor: 'x', selector: { campaign: '../../x' }, action: { case: 'injectRuns', value: { records: [{ run: 357402, era: 'Run\u0007' }] } } }), /selector\.campaign: campaign "\.\.\/\.\.\/x" is not a valid name/]
]

test('hostile names go to the DLQ with the field and value from every dispatcher consumer, the next good message is handled, and the control API refuses them', { timeout: 180_000 }, async t => {
  const config = testConfig()
  const prefix = config.AUTOCAL_KAFKA_TOPIC_PREFIX
  await using producer = await startProducer({ config, logger: silentLogger, service: 'test' })
  const dispatcher = await spawnDispatcher(config, { AUTOCAL_CONTROL_TOKENS: JSON.stringify({ 'admin-token-1': { principal: 'ops', subsystems: '*' } }) })
  t.after(async () => { await stopDispatcher(dispatcher) })
  // the dispatcher has made the topics: the test reads its dead letters and job requests
  const dead: Array<MessageShape<typeof DeadLetterSchema>> = []
  const requested: string[] = []
  await using _watch = await startConsumer({
    config: { ...config, AUTOCAL_KAFKA_MAX_ATTEMPTS: 2, AUTOCAL_KAFKA_RETRY_BASE_MS: 50, AUTOCAL_KAFKA_RETRY_MAX_MS: 200, AUTOCAL_KAFKA_PARTITIONS_CONCURRENCY: 3 },
    logger: silentLogger,
    service: 'test',
    group: 'hostile-watch',
    producer,
    handlers: { dlq: async m => { dead.push(m) }, jobRequests: async r => { requested.push(r.jobId) } }
  })

  // grammar-valid names that are JavaScript's own property names: handled as unknown, not as the prototype's
  await producer.publish(topics.jobStatus, create(JobStatusSchema, { jobId: 'prompt/run-357401/constructor/1/0', try: 1, provenance: { ...provenance, task: 'constructor' } }))
  await producer.publish(topics.control, create(ControlCommandSchema, { commandId: 'c-constructor', actor: 'x', selector: { campaign: 'constructor', tasks: ['toString'] }, action: { case: 'skip', value: {} } }))
  const raw = createKafka(config, silentLogger, 'raw').producer()
  await raw.connect()
  for (const [id, message] of hostile) {
    const value = message instanceof Uint8Array ? message : toBinary(topics[id].schema, message as never)
    await raw.send({ topic: topicName(topics[id], prefix), messages: [{ key: 'k', value: Buffer.from(value), headers: { ce_type: topics[id].schema.typeName } }] })
  }
  await raw.disconnect()
  // the good run after them all
  await producer.publishMany(topics.runs, runEvents(realRuns(357401, 357401)))

  await until(`every hostile message dead-lettered (got: ${dead.map(d => d.reason).join(' | ')})`, () => hostile.every(([id, , reason]) => dead.some(d => d.topic === topicName(topics[id], prefix) && reason.test(d.reason))), 60_000)
  // the job status for task 'constructor' (no phase, a task no workflow defines) is unusable: dead-lettered by the handler
  await until('the status of the unknown task \'constructor\' dead-lettered', () => dead.some(d => /^job status of job "prompt\/run-357401\/constructor\/1\/0"/.test(d.reason)), 60_000)
  for (const d of dead) assert.equal(d.code, 'AUTOCAL_VALIDATION_FAILED', d.reason)
  assert.equal(dead.length, hostile.length + 1, `only the hostile messages and the unknown task's status are dead letters: ${dead.map(d => d.reason).join(' | ')}`)
  assert.ok(dead.every(d => d.service === 'task-dispatcher' && d.attempts <= 1))
  await until('the good run after them is dispatched', () => requested.some(j => j.startsWith('prompt/run-357401/')), 60_000)
  assert.ok(!requested.some(j => j.includes('357402')), 'nothing was dispatched for the refused run')
  assert.equal(dispatcher.proc.exitCode, null, 'the dispatcher is still running')

  const client = createGrpcClient(ControlService, `127.0.0.1:${dispatcher.grpcPort}`, { token: 'admin-token-1' })
  t.after(() => { client.close() })
  const refusals: Array<[string, () => Promise<unknown>, RegExp]> = [
    ['status of a traversal campaign', async () => await client.getStatus({ selector: { campaign: '../../x' } }), /campaign: campaign "\.\.\/\.\.\/x" is not a valid name/],
    ['reprocess of task __proto__', async () => await client.reprocess({ selector: { campaign: 'prompt', tasks: ['__proto__'] }, reason: 'r' }), /selector\.tasks\[0\]: task "__proto__" is not a valid name/],
    ['skip of a block id with a slash', async () => await client.skip({ selector: { campaign: 'prompt', blockIds: ['run-1/../../x'] }, reason: 'r' }), /selector\.block_ids\[0\]: block "run-1\/\.\.\/\.\.\/x" is not a valid name/],
    ['cancel of run 0', async () => await client.cancel({ selector: { campaign: 'prompt', runs: [357401, 0] }, reason: 'r' }), /selector\.runs\[1\]: run 0 is out of range/],
    ['injection of a record with a control character in its era', async () => await client.injectRuns({ campaign: 'prompt', reason: 'r', runs: { records: [{ run: 357401, era: 'Run2022C\u001b]52;c;eA==\u0007' }] } }), /inject_runs\.records\[0\]\.era: era "Run2022C\\u001b\]52;c;eA==\\u0007" is not a valid name/],
    ['pending conditions of a bad subsystem', async () => await client.listPendingConditions({ subsystem: 'ECAL\n' }), /subsystem: subsystem "ECAL\\n" is not a valid name/],
    ['reprocess with an escape sequence in its reason', async () => await client.reprocess({ selector: { campaign: 'prompt', runs: [357401] }, reason: 'fixed\u001b[2J' }), /reason: contains the control character U\+001B at position 6/],
    ['cancel with a bidi override in its reason', async () => await client.cancel({ selector: { campaign: 'prompt', runs: [357401] }, reason: 'ok \u202edesrever' }), /reason: contains the control character U\+202E/],
    ['approval of a request id naming campaign __proto__', async () => await client.approveCondition({ requestId: '__proto__/run-1/t/1', reason: 'r' }), /campaign "__proto__" is not a valid name/]
  ]
  for (const [what, call, reason] of refusals) {
    await assert.rejects(call, (err: { code?: number, details?: string }) => {
      assert.equal(err.code, 3, `${what}: INVALID_ARGUMENT, got ${String(err.code)} ${err.details ?? ''}`)
      assert.match(err.details ?? '', reason, what)
      return true
    })
  }
  await assert.rejects(client.getStatus({ selector: { campaign: 'constructor' } }), (err: { code?: number, details?: string }) => err.code === 5 && /unknown campaign "constructor"/.test(err.details ?? ''))
})
