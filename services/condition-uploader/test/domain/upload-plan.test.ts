import { test } from 'node:test'
import assert from 'node:assert/strict'
import { planUpload } from '../../src/domain/upload-plan.ts'

const a = 'a'.repeat(40)
const b = 'b'.repeat(40)

test('an IOV with the same since and payload hash is never appended twice', () => {
  const plan = planUpload([{ since: 10n, payloadHash: a }], [{ since: 10n, payloadHash: a }], new Set([a]))
  assert.deepEqual(plan.append, [])
  assert.deepEqual(plan.alreadyPresent, [{ since: 10n, payloadHash: a }])
  assert.deepEqual(plan.payloadsToStore, [])
})

test('a new payload at an existing since supersedes it and is appended, storing only the missing payload', () => {
  const plan = planUpload([{ since: 10n, payloadHash: b }, { since: 20n, payloadHash: a }], [{ since: 10n, payloadHash: a }], new Set([a]))
  assert.deepEqual(plan.append, [{ since: 10n, payloadHash: b }, { since: 20n, payloadHash: a }])
  assert.deepEqual(plan.payloadsToStore, [b])
})

test('duplicates inside one request are appended once', () => {
  const plan = planUpload([{ since: 10n, payloadHash: a }, { since: 10n, payloadHash: a }], [], new Set())
  assert.equal(plan.append.length, 1)
  assert.deepEqual(plan.payloadsToStore, [a])
})
