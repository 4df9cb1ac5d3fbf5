// Leases and idempotency keys on the real local Redis.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connectRedis } from '../../src/redis/connect.ts'
import { acquireLease, keepLease, leaseHolder } from '../../src/redis/lease.ts'
import { AutocalError } from '../../src/errors.ts'
import { forget, seenBefore } from '../../src/redis/idempotency.ts'
import { redisScript, runScript } from '../../src/redis/script.ts'
import { randomUUID } from 'node:crypto'
import { memoryLogger, testConfig, until } from '../fixtures.ts'

test('only one of two clients holds a lease, and the other gets it after release', async () => {
  const config = testConfig()
  const { logger } = memoryLogger()
  await using a = await connectRedis({ config, logger })
  await using b = await connectRedis({ config, logger })
  const [la, lb] = await Promise.all([acquireLease(a, 'job:1', 10_000), acquireLease(b, 'job:1', 10_000)])
  assert.equal([la, lb].filter(l => l !== null).length, 1, 'exactly one holder')
  const holder = (la ?? lb)!
  const other = la === null ? a : b
  assert.equal(await acquireLease(other, 'job:1', 10_000), null)
  assert.equal(await leaseHolder(other, 'job:1'), holder.token)
  assert.equal(await holder.release(), true)
  const next = await acquireLease(other, 'job:1', 10_000)
  assert.ok(next !== null)
  assert.equal(await holder.release(), false, 'a released lease cannot release the new holder')
  assert.equal(await holder.extend(10_000), false, 'nor extend it')
  assert.equal(await next.held(), true)
})

test('an expired lease can be taken over and the old holder cannot extend it', async () => {
  const config = testConfig()
  const { logger } = memoryLogger()
  await using a = await connectRedis({ config, logger })
  const first = await acquireLease(a, 'tag:X', 100)
  assert.ok(first !== null)
  assert.equal(await first.extend(150), true)
  const ttl = await a.client.pttl(first.key)
  assert.ok(ttl > 100 && ttl <= 150, `the extension set the key's TTL to 150 ms (PTTL ${ttl})`)
  assert.equal(await acquireLease(a, 'tag:X', 10_000), null, 'not taken over while it lives')
  // the key is really gone (Redis expired it), not merely 300 ms later
  await until('the lease key expired in Redis', async () => await a.client.exists(first.key) === 0, 5_000)
  const second = await acquireLease(a, 'tag:X', 10_000)
  assert.ok(second !== null)
  assert.equal(await first.extend(10_000), false)
  assert.equal(await second.held(), true)
})

test('a kept lease outlives its TTL while work is in flight; when another holder has it, the keeper says so', async () => {
  const config = testConfig()
  const { logger } = memoryLogger()
  await using a = await connectRedis({ config, logger })
  await using b = await connectRedis({ config, logger })
  const ttlMs = 200
  const lease = await acquireLease(a, 'plan:kept', ttlMs)
  assert.ok(lease !== null)
  const started = Date.now()
  const keeper = keepLease(lease, ttlMs)
  // the TTL is seen going up again three times (three extensions), which takes longer than one TTL
  let last = await a.client.pttl(lease.key)
  let extensions = 0
  while (extensions < 3) {
    assert.ok(Date.now() - started < 10_000, 'extended three times within 10 s')
    const ttl = await a.client.pttl(lease.key)
    assert.ok(ttl > 0, 'the key never expires while kept')
    if (ttl > last) extensions++
    last = ttl
    await new Promise(resolve => setTimeout(resolve, 10))
  }
  assert.ok(Date.now() - started > ttlMs, 'kept past its TTL')
  assert.equal(await acquireLease(b, 'plan:kept', 10_000), null, 'no one else takes it meanwhile')
  keeper.check()

  // lost: the key expired (while the holder stalled) and another holder took it
  await a.client.del(lease.key)
  const other = await acquireLease(b, 'plan:kept', 10_000)
  assert.ok(other !== null)
  if (!keeper.signal.aborted) await new Promise(resolve => keeper.signal.addEventListener('abort', resolve, { once: true }))
  assert.throws(() => { keeper.check() }, (err: unknown) => err instanceof AutocalError && err.code === 'AUTOCAL_LEASE_LOST' && err.retryable && err.message.includes(lease.key))
  await keeper.stop()
  assert.equal(await other.held(), true, 'the keeper never extends another holder\'s lease')
})

test('seenBefore is true only from the second time, across clients', async () => {
  const config = testConfig()
  const { logger } = memoryLogger()
  await using a = await connectRedis({ config, logger })
  await using b = await connectRedis({ config, logger })
  const results = await Promise.all([seenBefore(a, 'ev-1'), seenBefore(b, 'ev-1')])
  assert.deepEqual(results.sort(), [false, true])
  assert.equal(await seenBefore(a, 'ev-1'), true)
  await forget(a, 'ev-1')
  assert.equal(await seenBefore(b, 'ev-1'), false)
  assert.ok(a.key('seen', 'x').startsWith(config.AUTOCAL_REDIS_KEY_PREFIX))
})

test('a script runs by its digest, and is loaded when Redis does not know it', async () => {
  const config = testConfig()
  const { logger } = memoryLogger()
  await using redis = await connectRedis({ config, logger })
  // a text of its own, so that no other test has loaded it already
  const counter = redisScript(`-- ${randomUUID()}\nreturn redis.call('incrby', KEYS[1], ARGV[1])`)
  const key = redis.key('script-test')
  assert.equal(await redis.client.script('EXISTS', counter.sha).then(r => (r as number[])[0]), 0, 'not loaded yet')
  assert.equal(await runScript(redis.client, counter, [key], [2]), 2)
  assert.equal(await redis.client.script('EXISTS', counter.sha).then(r => (r as number[])[0]), 1, 'loaded by the first call')
  assert.equal(await runScript(redis.client, counter, [key], [3]), 5)
  await assert.rejects(runScript(redis.client, redisScript('return redis.call(\'nosuchcommand\')'), [], []), /nosuchcommand|Unknown Redis command/i, 'a script error is not taken for NOSCRIPT')
  await redis.client.del(key)
})

test('scripts run for the first time amid auto-pipelined commands all answer, in order, without upsetting the pipeline', async () => {
  const config = testConfig()
  const { logger } = memoryLogger()
  await using redis = await connectRedis({ config, logger })
  const key = redis.key('script-amid')
  const other = redis.key('script-amid-other')
  // each new script is first run in the same tick as plain commands, so ioredis puts them in one auto-pipeline
  // (a script defined as an ioredis command at that moment crashed the process: ioredis issue #1931)
  const scripts = Array.from({ length: 20 }, () => redisScript(`-- ${randomUUID()}\nreturn redis.call('incrby', KEYS[1], ARGV[1])`))
  const answers = await Promise.all(scripts.flatMap(s => [redis.client.incr(other), runScript(redis.client, s, [key], [1])]))
  assert.deepEqual(answers.filter((_, i) => i % 2 === 0).map(Number).sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i + 1), 'every plain command answered once')
  assert.deepEqual(answers.filter((_, i) => i % 2 === 1).map(Number).sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i + 1), 'every script answered once')
  assert.equal(await redis.client.get(key), '20')
  await redis.client.del(key, other)
})

test('a script run for the first time while other commands are being auto-pipelined runs, and so do they', async () => {
  // ioredis copies a client's defined commands into each auto-pipeline when it
  // creates it: a script defined on first use after a GET had opened the
  // pipeline was queued on one that lacked it ("pipeline[functionName] is not
  // a function"), and the pipeline's reply then crashed the process ("results[i]
  // is not iterable"): seen killing the dispatcher and metrics at start
  await using redis = await connectRedis({ config: testConfig(), logger: memoryLogger().logger })
  const key = `autocal:test:${randomUUID()}`
  const fresh = redisScript(`return redis.call('INCRBY', KEYS[1], ARGV[1]) -- ${randomUUID()}`)
  const [other, first, second] = await Promise.all([
    redis.client.get(`${key}:other`),
    runScript(redis.client, fresh, [key], [2]),
    runScript(redis.client, fresh, [key], [3])
  ])
  assert.deepEqual([other, first, second], [null, 2, 5])
  await redis.client.del(key)
})
