import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { z } from 'zod'
import { AutocalError } from '../src/errors.ts'
import { baseShape, connectionEnv, httpShape, kafkaShape, loadConfig, redisShape, unknownKeys } from '../src/config.ts'
import { kafkaSecurity } from '../src/bus/kafka.ts'
import { redisSecurity, redisTarget } from '../src/redis/connect.ts'

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

test('the connection keys are copied from an environment and nothing else', () => {
  assert.deepEqual(connectionEnv({ AUTOCAL_KAFKA_BROKERS: 'k:1', AUTOCAL_KAFKA_USERNAME: 'u', AUTOCAL_HTTP_PORT: '1', AUTOCAL_REDIS_URL: '', PATH: '/bin' }),
    { AUTOCAL_KAFKA_BROKERS: 'k:1', AUTOCAL_KAFKA_USERNAME: 'u' })
})

test('a complete SASL_SSL and Redis AUTH/TLS configuration loads and reads its secrets from files', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'autocal-config-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const file = (name: string, text: string): string => { writeFileSync(join(dir, name), text); return join(dir, name) }
  const config = loadConfig(Config, {
    AUTOCAL_KAFKA_SASL_MECHANISM: 'scram-sha-512',
    AUTOCAL_KAFKA_USERNAME: 'task-dispatcher',
    AUTOCAL_KAFKA_PASSWORD_FILE: file('kafka-password', 'k-secret\n'),
    AUTOCAL_KAFKA_TLS_CA_FILE: file('ca.crt', 'CA PEM'),
    AUTOCAL_REDIS_URL: 'rediss://127.0.0.1:6390',
    AUTOCAL_REDIS_USERNAME: 'task-dispatcher',
    AUTOCAL_REDIS_PASSWORD_FILE: file('redis-password', 'r-secret\n'),
    AUTOCAL_REDIS_TLS_CA_FILE: join(dir, 'ca.crt')
  })
  const kafka = kafkaSecurity(config)
  assert.deepEqual(kafka.sasl, { mechanism: 'scram-sha-512', username: 'task-dispatcher', password: 'k-secret' })
  assert.deepEqual(kafka.ssl, { rejectUnauthorized: true, ca: ['CA PEM'] })
  const redis = redisSecurity(config)
  assert.equal(redis.username, 'task-dispatcher')
  assert.equal(redis.password, 'r-secret')
  assert.deepEqual(redis.tls, { rejectUnauthorized: true, ca: ['CA PEM'] })
})

test('without security keys the clients are plaintext and unauthenticated, as on the embedded local servers', () => {
  const config = loadConfig(Config, {})
  assert.deepEqual(kafkaSecurity(config), {})
  assert.deepEqual(redisSecurity(config), {})
})

// each row: a half-configured connection and the keys its error must name
const halfConfigured: Array<[string, Record<string, string>, string[]]> = [
  ['a Kafka user without a password', { AUTOCAL_KAFKA_SASL_MECHANISM: 'scram-sha-512', AUTOCAL_KAFKA_USERNAME: 'u', AUTOCAL_KAFKA_TLS: 'true' }, ['AUTOCAL_KAFKA_USERNAME', 'AUTOCAL_KAFKA_PASSWORD_FILE']],
  ['a Kafka mechanism without a user', { AUTOCAL_KAFKA_SASL_MECHANISM: 'scram-sha-512', AUTOCAL_KAFKA_PASSWORD: 'p', AUTOCAL_KAFKA_TLS: 'true' }, ['AUTOCAL_KAFKA_USERNAME', 'AUTOCAL_KAFKA_PASSWORD']],
  ['a Kafka user without a mechanism', { AUTOCAL_KAFKA_USERNAME: 'u', AUTOCAL_KAFKA_PASSWORD: 'p' }, ['AUTOCAL_KAFKA_SASL_MECHANISM']],
  ['SASL without TLS', { AUTOCAL_KAFKA_SASL_MECHANISM: 'scram-sha-512', AUTOCAL_KAFKA_USERNAME: 'u', AUTOCAL_KAFKA_PASSWORD: 'p' }, ['AUTOCAL_KAFKA_SASL_MECHANISM', 'AUTOCAL_KAFKA_TLS']],
  ['a password given twice', { AUTOCAL_KAFKA_SASL_MECHANISM: 'scram-sha-512', AUTOCAL_KAFKA_USERNAME: 'u', AUTOCAL_KAFKA_PASSWORD: 'p', AUTOCAL_KAFKA_PASSWORD_FILE: '/etc/hostname', AUTOCAL_KAFKA_TLS: 'true' }, ['AUTOCAL_KAFKA_PASSWORD', 'AUTOCAL_KAFKA_PASSWORD_FILE']],
  ['a Kafka CA file that does not exist', { AUTOCAL_KAFKA_TLS_CA_FILE: '/nonexistent/ca.crt' }, ['AUTOCAL_KAFKA_TLS_CA_FILE', '/nonexistent/ca.crt']],
  ['half a Kafka client certificate', { AUTOCAL_KAFKA_TLS_CERT_FILE: '/etc/hostname' }, ['AUTOCAL_KAFKA_TLS_CERT_FILE', 'AUTOCAL_KAFKA_TLS_KEY_FILE']],
  ['a Redis user without a password', { AUTOCAL_REDIS_USERNAME: 'u' }, ['AUTOCAL_REDIS_USERNAME', 'AUTOCAL_REDIS_PASSWORD']],
  ['a Redis CA file with a plaintext URL', { AUTOCAL_REDIS_TLS_CA_FILE: '/etc/hostname' }, ['AUTOCAL_REDIS_TLS_CA_FILE', 'AUTOCAL_REDIS_URL']],
  ['a Redis password file that does not exist', { AUTOCAL_REDIS_PASSWORD_FILE: '/nonexistent/pw' }, ['AUTOCAL_REDIS_PASSWORD_FILE']],
  ['an empty password file', { AUTOCAL_REDIS_PASSWORD_FILE: '/dev/null' }, ['AUTOCAL_REDIS_PASSWORD_FILE', 'empty']],
  ['Redis credentials in the URL and in a key', { AUTOCAL_REDIS_URL: 'redis://u:p@127.0.0.1:6390', AUTOCAL_REDIS_PASSWORD: 'p' }, ['AUTOCAL_REDIS_URL', 'AUTOCAL_REDIS_PASSWORD']]
]

for (const [what, env, keys] of halfConfigured) {
  test(`half-configured security fails at start naming the keys: ${what}`, () => {
    assert.throws(() => loadConfig(Config, env), (err: unknown) => {
      assert.ok(err instanceof AutocalError)
      assert.equal(err.code, 'AUTOCAL_CONFIG_INVALID')
      for (const key of keys) assert.ok(err.message.includes(key), `message names ${key}: ${err.message}`)
      return true
    })
  })
}

test('the Redis target: the URL\'s host, or the Sentinels and the primary\'s name with the URL\'s scheme and db', () => {
  const base = { AUTOCAL_REDIS_KEY_PREFIX: 'autocal:' }
  const table: Array<[Record<string, string>, Record<string, unknown>]> = [
    [{ AUTOCAL_REDIS_URL: 'redis://autocal-redis:6379' }, { host: 'autocal-redis', port: 6379, db: 0 }],
    [{ AUTOCAL_REDIS_URL: 'redis://h/2' }, { host: 'h', port: 6379, db: 2 }],
    [{ AUTOCAL_REDIS_URL: 'redis://u:p%40ss@h:1' }, { host: 'h', port: 1, db: 0, username: 'u', password: 'p@ss' }],
    [{ AUTOCAL_REDIS_URL: 'redis://ignored:6379/1', AUTOCAL_REDIS_SENTINELS: 's1:26379,10.0.0.2:26380', AUTOCAL_REDIS_SENTINEL_NAME: 'autocal' },
      { sentinels: [{ host: 's1', port: 26379 }, { host: '10.0.0.2', port: 26380 }], name: 'autocal', db: 1, failoverDetector: true }],
    [{ AUTOCAL_REDIS_URL: 'rediss://x', AUTOCAL_REDIS_SENTINELS: 's:26379', AUTOCAL_REDIS_SENTINEL_NAME: 'm' },
      { sentinels: [{ host: 's', port: 26379 }], name: 'm', db: 0, failoverDetector: true, enableTLSForSentinelMode: true }]
  ]
  for (const [env, expected] of table) assert.deepEqual(redisTarget({ ...base, ...env } as any), expected, JSON.stringify(env))
  assert.throws(() => loadConfig(Config, { AUTOCAL_REDIS_SENTINELS: 's:26379' }), /AUTOCAL_REDIS_SENTINELS is set without AUTOCAL_REDIS_SENTINEL_NAME/)
  assert.throws(() => loadConfig(Config, { AUTOCAL_REDIS_SENTINEL_NAME: 'm' }), /AUTOCAL_REDIS_SENTINEL_NAME is set without AUTOCAL_REDIS_SENTINELS/)
  assert.throws(() => loadConfig(Config, { AUTOCAL_REDIS_SENTINELS: 's1,s2', AUTOCAL_REDIS_SENTINEL_NAME: 'm' }), /host:port\[,host:port…\][\s\S]*AUTOCAL_REDIS_SENTINELS/)
  assert.deepEqual(connectionEnv({ AUTOCAL_REDIS_SENTINELS: 's:1', AUTOCAL_REDIS_SENTINEL_NAME: 'm', OTHER: 'x' }), { AUTOCAL_REDIS_SENTINELS: 's:1', AUTOCAL_REDIS_SENTINEL_NAME: 'm' })
})
