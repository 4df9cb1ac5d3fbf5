import { test } from 'node:test'
import assert from 'node:assert/strict'
import { z } from 'zod'
import { AutocalError } from '../src/errors.ts'
import { baseShape, httpShape, kafkaShape, loadConfig, redisShape, unknownKeys } from '../src/config.ts'

const Config = z.object({ ...baseShape, ...kafkaShape, ...redisShape, ...httpShape, AUTOCAL_MAX_JOBS: z.coerce.number().int().positive().default(5) })

test('an empty environment gives the embedded local defaults', () => {
  const config = loadConfig(Config, {})
  assert.equal(config.AUTOCAL_KAFKA_BROKERS, '127.0.0.1:9092')
  assert.equal(config.AUTOCAL_REDIS_URL, 'redis://127.0.0.1:6390')
  assert.equal(config.AUTOCAL_KAFKA_TOPIC_PREFIX, '')
  assert.equal(config.AUTOCAL_MAX_JOBS, 5)
  assert.equal(config.AUTOCAL_OTLP_ENDPOINT, undefined)
})

test('values are coerced from strings', () => {
  const config = loadConfig(Config, { AUTOCAL_HTTP_PORT: '9001', AUTOCAL_KAFKA_CREATE_TOPICS: 'false', AUTOCAL_MAX_JOBS: '12' })
  assert.equal(config.AUTOCAL_HTTP_PORT, 9001)
  assert.equal(config.AUTOCAL_KAFKA_CREATE_TOPICS, false)
  assert.equal(config.AUTOCAL_MAX_JOBS, 12)
})

test('every bad key is named in one error', () => {
  assert.throws(() => loadConfig(Config, {
    AUTOCAL_HTTP_PORT: 'eighty',
    AUTOCAL_KAFKA_BROKERS: 'localhost',
    AUTOCAL_REDIS_URL: 'http://x',
    AUTOCAL_MAX_JOBS: '-1',
    AUTOCAL_LOG_LEVEL: 'loud'
  }), (err: unknown) => {
    assert.ok(err instanceof AutocalError)
    assert.equal(err.code, 'AUTOCAL_CONFIG_INVALID')
    assert.equal(err.retryable, false)
    for (const key of ['AUTOCAL_HTTP_PORT', 'AUTOCAL_KAFKA_BROKERS', 'AUTOCAL_REDIS_URL', 'AUTOCAL_MAX_JOBS', 'AUTOCAL_LOG_LEVEL']) {
      assert.match(err.message, new RegExp(key), `message names ${key}`)
    }
    return true
  })
})

test('a missing required key is named', () => {
  const Strict = z.object({ AUTOCAL_OMS_URL: z.url() })
  assert.throws(() => loadConfig(Strict, {}), /AUTOCAL_OMS_URL/)
})

test('an empty value counts as unset and takes the default', () => {
  assert.equal(loadConfig(Config, { AUTOCAL_HTTP_PORT: '' }).AUTOCAL_HTTP_PORT, 8080)
})

test('unknown AUTOCAL_ keys are reported for a warning', () => {
  assert.deepEqual(unknownKeys(Config, { AUTOCAL_HTTP_PROT: '1', AUTOCAL_HTTP_PORT: '2', PATH: '/bin' }), ['AUTOCAL_HTTP_PROT'])
})
