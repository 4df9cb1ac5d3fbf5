import { test } from 'node:test'
import assert from 'node:assert/strict'
import { AutocalError, isRetryable } from '../src/errors.ts'

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
