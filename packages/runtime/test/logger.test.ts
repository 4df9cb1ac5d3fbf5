import { test } from 'node:test'
import assert from 'node:assert/strict'
import { memoryLogger } from './fixtures.ts'

test('secrets are redacted from log lines', () => {
  const { logger, lines } = memoryLogger()
  logger.info({ oms: { token: 'abc', clientSecret: 's3cr3t', url: 'https://oms' }, req: { headers: { authorization: 'Bearer xyz' } }, password: 'pw' }, 'polled')
  const line = JSON.stringify(lines[0])
  assert.doesNotMatch(line, /abc|s3cr3t|xyz|"pw"/)
  assert.equal(lines[0]?.oms.token, '[redacted]')
  assert.equal(lines[0]?.oms.url, 'https://oms')
  assert.equal(lines[0]?.msg, 'polled')
  assert.equal(lines[0]?.service, 'test')
})

test('Kafka and Redis passwords in a logged configuration are redacted', () => {
  const { logger, lines } = memoryLogger()
  logger.info({ config: { AUTOCAL_KAFKA_PASSWORD: 'kafka-pw', AUTOCAL_REDIS_PASSWORD: 'redis-pw', AUTOCAL_KAFKA_USERNAME: 'metrics' }, kafka: { sasl: { password: 'sasl-pw' } } }, 'started')
  const line = JSON.stringify(lines[0])
  assert.doesNotMatch(line, /kafka-pw|redis-pw|sasl-pw/)
  assert.equal(lines[0]?.config.AUTOCAL_KAFKA_USERNAME, 'metrics')
})
