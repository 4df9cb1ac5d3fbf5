import { test } from 'node:test'
import assert from 'node:assert/strict'
import { AutocalError, isInfrastructureError, isRetryable } from '../src/errors.ts'

test('validation and decode failures are not retryable, unknown errors are', () => {
  assert.equal(isRetryable(new AutocalError('AUTOCAL_VALIDATION_FAILED', 'x')), false)
  assert.equal(isRetryable(new AutocalError('AUTOCAL_DECODE_FAILED', 'x')), false)
  assert.equal(isRetryable(new AutocalError('AUTOCAL_LEASE_LOST', 'x')), true)
  assert.equal(isRetryable(new Error('boom')), true)
  assert.equal(isRetryable(new AutocalError('AUTOCAL_VALIDATION_FAILED', 'x', { retryable: true })), true)
})

test('the cause is kept', () => {
  const cause = new Error('inner')
  assert.equal(new AutocalError('AUTOCAL_UPLOAD_FAILED', 'outer', { cause }).cause, cause)
})

test('infrastructure errors are told from faults of the message by kind', async () => {
  const { KafkaJSConnectionError, KafkaJSProtocolError, KafkaJSNumberOfRetriesExceeded, KafkaJSNonRetriableError } = (await import('kafkajs')).default as unknown as Record<string, new (...args: any[]) => Error>
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6390'), { code: 'ECONNREFUSED' })
  const maxRetries = new Error('Reached the max retries per request limit (which is 3).')
  maxRetries.name = 'MaxRetriesPerRequestError'
  const loading = new Error('LOADING Redis is loading the dataset in memory')
  loading.name = 'ReplyError'
  const wrongType = new Error('WRONGTYPE Operation against a key holding the wrong kind of value')
  wrongType.name = 'ReplyError'
  const notLeader = new KafkaJSProtocolError!({ type: 'NOT_LEADER_FOR_PARTITION', code: 6, retriable: true, message: 'not the leader' })
  const tooLarge = new KafkaJSProtocolError!({ type: 'MESSAGE_TOO_LARGE', code: 10, retriable: false, message: 'too large' })
  const cases: Array<[string, unknown, boolean]> = [
    ['AUTOCAL_UNAVAILABLE', new AutocalError('AUTOCAL_UNAVAILABLE', 'redis down'), true],
    ['AUTOCAL_NOT_READY (read model rebuilding)', new AutocalError('AUTOCAL_NOT_READY', 'rebuilding'), true],
    ['a Redis error wrapped by a handler', new AutocalError('AUTOCAL_HANDLER_FAILED', 'write failed', { cause: maxRetries }), true],
    ['ioredis connection closed', new Error('Connection is closed.'), true],
    ['ECONNREFUSED', refused, true],
    ['Redis LOADING', loading, true],
    ['kafkajs connection error', new KafkaJSConnectionError!('Connection error: connect ECONNREFUSED'), true],
    ['kafkajs retriable protocol error', notLeader, true],
    ['kafkajs retries exhausted on a retriable error', new KafkaJSNumberOfRetriesExceeded!(notLeader, { retryCount: 5, retryTime: 100 }), true],
    ['kafkajs non-retriable protocol error', tooLarge, false],
    ['kafkajs non-retriable error', new KafkaJSNonRetriableError!('bad'), false],
    ['Redis WRONGTYPE', wrongType, false],
    ['a validation failure', new AutocalError('AUTOCAL_VALIDATION_FAILED', 'since before FCSR'), false],
    ['a plain error', new Error('boom'), false],
    ['a string', 'boom', false]
  ]
  for (const [what, err, expected] of cases) assert.equal(isInfrastructureError(err), expected, what)
})
