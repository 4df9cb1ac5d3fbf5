// The CLI as an operator runs it (a real process, bin/autocal) against the
// real broker: a dead letter whose reason, key and headers carry terminal
// escape sequences (an OSC 52 clipboard write, a screen clear, a carriage
// return) reaches the terminal as visible text, in `dlq list` and `dlq show`.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { promisify } from 'node:util'
import { create } from '@bufbuild/protobuf'
import { DeadLetterSchema, RunEventSchema, topicName, topics } from '@autocal/contracts'
import { z } from 'zod'
import { connectionEnv, createLogger, kafkaShape, loadConfig, startProducer } from '@autocal/runtime'
import { toBinary } from '@bufbuild/protobuf'

const autocal = new URL('../../../../bin/autocal', import.meta.url).pathname
const hostile = 'era \u001b]52;c;ZXZpbA==\u0007 refused\u001b[2J\rfake line\u009b31m'
// what a terminal would act on (tabs and line ends are the CLI's own)
// eslint-disable-next-line no-control-regex -- control characters are what this matches
const live = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e]/u

test('dead letters with escape sequences in reason, key and headers are printed neutralised by the CLI process', { timeout: 120_000 }, async () => {
  const prefix = `t-esc-${randomUUID().slice(0, 8)}`
  const config = { ...loadConfig(z.object(kafkaShape), connectionEnv()), AUTOCAL_KAFKA_TOPIC_PREFIX: prefix, AUTOCAL_KAFKA_CREATE_TOPICS: true }
  const logger = createLogger({ service: 'test', level: 'fatal' })
  {
    await using producer = await startProducer({ config, logger, service: 'test' })
    await producer.publish(topics.dlq, create(DeadLetterSchema, {
      topic: topicName(topics.runs, prefix),
      partition: 0,
      offset: 7n,
      key: Buffer.from('355100\u001b[2J'),
      value: toBinary(RunEventSchema, create(RunEventSchema, { run: 355100, change: { case: 'ended', value: { run: { run: 355100, era: hostile, hltKey: '\u001b]0;owned\u0007' } } } })),
      headers: { 'ce_source\u001b[31m': `autocal/x\r${hostile}` },
      code: 'AUTOCAL_VALIDATION_FAILED',
      reason: hostile,
      service: 'task-dispatcher\u0007',
      attempts: 0
    }))
  }
  const env = { ...process.env, ...connectionEnv(), AUTOCAL_KAFKA_TOPIC_PREFIX: prefix, NO_COLOR: '1' }
  const run = async (...argv: string[]): Promise<string> => (await promisify(execFile)(autocal, argv, { env, timeout: 60_000 })).stdout
  const list = await run('dlq', 'list', '--prefix', prefix)
  const show = await run('dlq', 'show', '0/0', '--prefix', prefix)
  for (const [name, text] of [['list', list], ['show', show]] as const) {
    assert.doesNotMatch(text, live, `${name}: ${JSON.stringify(text)}`)
    assert.doesNotMatch(text, /\r/, name)
    // `dlq list` shows a reason on one line (its CR as a space)
    assert.match(text, /era \\u001b\]52;c;ZXZpbA==\\u0007 refused\\u001b\[2J(\\r| )fake line\\u009b31m/, name)
  }
  assert.match(show, /key {8}355100\\u001b\[2J/)
  assert.match(show, /header {5}ce_source\\u001b\[31m: autocal\/x\\rera/)
})
