// `autocal dlq list | show | redrive` on the real local broker: a message
// dead-lettered by a service's consumer is listed, shown decoded, sent back
// once to its source topic with its original key, value and headers (and
// handled there), and every redrive is audited with its actor.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { create, fromBinary } from '@bufbuild/protobuf'
import { AuditRecordSchema, RunEventSchema, topicName, topics, type EventMeta } from '@autocal/contracts'
import { z } from 'zod'
import { AutocalError, connectionEnv, createKafka, createLogger, kafkaShape, loadConfig, startConsumer, startProducer } from '@autocal/runtime'
import { runCli } from '../../src/cli.ts'
import { readAll } from '../../src/dlq.ts'
import { until } from '../../../../test/helpers/until.ts'

const logger = createLogger({ service: 'test', level: 'fatal' })

async function cli (prefix: string, ...argv: string[]): Promise<{ code: number, out: string, err: string }> {
  let out = ''
  let err = ''
  const code = await runCli(argv, { stdout: { write: s => { out += s } }, stderr: { write: s => { err += s } }, env: { ...connectionEnv(), AUTOCAL_KAFKA_TOPIC_PREFIX: prefix } })
  return { code, out, err }
}

test('a dead letter is listed, shown, redriven once to its source with its key, value and headers, and audited', { timeout: 120_000 }, async () => {
  const prefix = `t-cli-${randomUUID().slice(0, 8)}`
  const config = {
    ...loadConfig(z.object(kafkaShape), connectionEnv()), // the test run's broker and credentials (secure under test/run.sh)
    AUTOCAL_KAFKA_TOPIC_PREFIX: prefix,
    AUTOCAL_KAFKA_CREATE_TOPICS: true,
    AUTOCAL_KAFKA_MAX_ATTEMPTS: 2,
    AUTOCAL_KAFKA_RETRY_BASE_MS: 50,
    AUTOCAL_KAFKA_RETRY_MAX_MS: 200,
    AUTOCAL_KAFKA_PARTITIONS_CONCURRENCY: 3,
    AUTOCAL_KAFKA_SESSION_TIMEOUT_MS: 10_000
  }
  await using producer = await startProducer({ config, logger, service: 'run-watcher' })
  // the handler refuses the run until its cause is "fixed"
  let fixed = false
  const handled: EventMeta[] = []
  await using _consumer = await startConsumer({
    config,
    logger,
    service: 'task-dispatcher',
    group: 'task-dispatcher',
    producer,
    handlers: {
      runs: async (m, meta) => {
        if (!fixed) throw new AutocalError('AUTOCAL_VALIDATION_FAILED', `run ${m.run}: era 'Run2022X' is unknown`)
        handled.push(meta)
      }
    }
  })
  const eventId = await producer.publish(topics.runs, create(RunEventSchema, { run: 357401, contentHash: 'h1', source: 'replay' }))
  const dlqName = topicName(topics.dlq, prefix)
  const kafka = createKafka(config, logger, 'probe')
  const admin = kafka.admin()
  await admin.connect()
  const total = async (topic: string): Promise<number> => (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high), 0)
  try {
    await until('dead-lettered', async () => await total(dlqName) === 1)

    const list = await cli(prefix, 'dlq', 'list')
    assert.equal(list.code, 0, list.err)
    const row = list.out.split('\n').find(l => l.includes(`${topicName(topics.runs, prefix)}[`))
    assert.ok(row !== undefined, list.out)
    const [id, , , service, code, redriven] = row.split('\t')
    assert.match(id ?? '', /^\d+\/0$/)
    assert.deepEqual([service, code, redriven], ['task-dispatcher', 'AUTOCAL_VALIDATION_FAILED', 'no'])

    const show = await cli(prefix, 'dlq', 'show', id as string)
    assert.equal(show.code, 0, show.err)
    assert.match(show.out, /reason +run 357401: era 'Run2022X' is unknown/)
    assert.match(show.out, /value +\{"run":357401,"contentHash":"h1","source":"replay"\}/)
    assert.match(show.out, new RegExp(`header +ce_id: ${eventId}`))

    fixed = true
    const first = await cli(prefix, 'dlq', 'redrive', id as string, '--reason', 'era list updated', '--actor', 'alice')
    assert.equal(first.code, 0, first.err)
    await until('handled after the redrive', () => handled.length === 1)
    assert.equal(handled[0]?.eventId, eventId, 'the original headers (same event id)')
    assert.equal(handled[0]?.key, '357401', 'the original key')
    assert.equal(handled[0]?.source, 'autocal/run-watcher')

    const again = await cli(prefix, 'dlq', 'redrive', id as string, '--reason', 'once more', '--actor', 'bob')
    assert.equal(again.code, 1)
    assert.match(again.err, /already redriven by alice/)
    assert.equal(await total(topicName(topics.runs, prefix)), 2, 'the original and one redrive on the source topic')

    const audit = (await readAll({ brokers: config.AUTOCAL_KAFKA_BROKERS, prefix, logger, config }, topicName(topics.audit, prefix)))
      .map(r => fromBinary(AuditRecordSchema, r.value as Buffer))
    assert.deepEqual(audit.map(a => [a.action, a.principal, a.accepted, a.target, a.service]), [
      ['dlq.redrive', 'alice', true, `${dlqName}/${id}`, 'autocal/cli'],
      ['dlq.redrive', 'bob', false, `${dlqName}/${id}`, 'autocal/cli']
    ])
    assert.equal(audit[0]?.reason, 'era list updated')
    assert.equal(audit[0]?.details.source_topic, topicName(topics.runs, prefix))

    const after = await cli(prefix, 'dlq', 'list')
    assert.match(after.out, /\tyes\t/)
    assert.match(after.out, /1 dead letter\(s\), 0 not redriven/)
    assert.equal((await cli(prefix, 'dlq', 'redrive', '--all', '--reason', 'x')).out.trim(), 'nothing to redrive')
  } finally {
    await admin.disconnect()
  }
})

test('dlq usage errors exit 2 with a clear line', async () => {
  const missing = await cli('x', 'dlq', 'redrive', '0/0')
  assert.equal(missing.code, 2)
  assert.match(missing.err, /--reason is required/)
  const unknown = await cli('x', 'dlq', 'purge')
  assert.equal(unknown.code, 2)
  assert.match(unknown.err, /unknown dlq command 'purge'/)
})
