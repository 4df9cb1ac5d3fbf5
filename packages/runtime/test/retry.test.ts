import { test } from 'node:test'
import assert from 'node:assert/strict'
import { policies, retry, retryDelay, retryPolicy } from '../src/retry.ts'

test('each named policy waits the schedule it names before retry n', () => {
  const cases: Array<[keyof typeof policies, number, number | undefined]> = [
    ['dropboxStep', 1, 1000], ['dropboxStep', 2, 2000], ['dropboxStep', 3, 4000], ['dropboxStep', 4, undefined],
    ['topicLeader', 1, 250], ['topicLeader', 19, 250], ['topicLeader', 20, undefined],
    ['topicsReady', 1, 100], ['topicsReady', 4, 800], ['topicsReady', 5, 1000],
    ['rebuildMarker', 1, 100], ['rebuildMarker', 599, 100], ['rebuildMarker', 600, undefined],
    ['leaseWait', 1, 200], ['leaseWait', 1000, 200],
    ['agentReconnect', 1, 500], ['agentReconnect', 3, 2000], ['agentReconnect', 7, 30_000], ['agentReconnect', 100, 30_000],
    ['sourceBackoff', 1, 1000], ['sourceBackoff', 6, 32_000], ['sourceBackoff', 7, 60_000],
    ['dropboxStep', 0, undefined], ['dropboxStep', 1.5, undefined]
  ]
  for (const [name, n, want] of cases) assert.equal(retryDelay(policies[name], n), want, `${name} retry ${n}`)
})

test('a policy narrowed by configuration keeps its shape', () => {
  const p = { ...policies.dropboxStep, retries: 1, minDelayMs: 10 }
  assert.deepEqual([1, 2].map(n => retryDelay(p, n)), [10, undefined])
  assert.deepEqual(retryPolicy({ retries: 2, minDelayMs: 5 }), { retries: 2, minDelayMs: 5, factor: 1, maxDelayMs: 5, maxTotalMs: Infinity })
})

test('retry gives up after the policy\'s attempts with the last error, and passes the attempt number', async () => {
  const seen: number[] = []
  await assert.rejects(retry(async attempt => { seen.push(attempt); throw new Error(`fail ${attempt}`) }, retryPolicy({ retries: 2, minDelayMs: 1 })), /fail 3/)
  assert.deepEqual(seen, [1, 2, 3])
  assert.equal(await retry(async attempt => { if (attempt < 2) throw new Error('once'); return 'ok' }, retryPolicy({ retries: 2, minDelayMs: 1 })), 'ok')
})

test('shouldRetry false rethrows at once; onFailedAttempt hears each failure with its wait', async () => {
  const heard: Array<[number, number]> = []
  let calls = 0
  await assert.rejects(retry(async () => { calls++; throw new Error('refused') }, retryPolicy({ retries: 5, minDelayMs: 1 }), { shouldRetry: () => false }), /refused/)
  assert.equal(calls, 1)
  await assert.rejects(retry(async () => { throw new Error('x') }, retryPolicy({ retries: 2, minDelayMs: 1, factor: 3, maxDelayMs: 100 }), {
    onFailedAttempt: f => { heard.push([f.attempt, f.retryInMs]) }
  }))
  assert.deepEqual(heard, [[1, 1], [2, 3], [3, 0]])
})

test('an abort during the wait stops retrying with the signal\'s reason, without waiting out the delay', { timeout: 10_000 }, async () => {
  // the delay is ten minutes: the test's deadline fails it unless the abort ends the wait
  const stop = new AbortController()
  const pending = retry(async () => { throw new Error('down') }, retryPolicy({ retries: 5, minDelayMs: 600_000 }), {
    signal: stop.signal,
    onFailedAttempt: () => { stop.abort(new Error('shutting down')) }
  })
  await assert.rejects(pending, /shutting down/)
})
