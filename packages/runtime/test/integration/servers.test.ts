// The HTTP and gRPC servers every service has, with their health semantics.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { create } from '@bufbuild/protobuf'
import { AgentService, AgentServiceConnectRequestSchema, ControlService, HealthCheckResponse_ServingStatus, Health, TaskState } from '@autocal/contracts'
import { buildHttp, type Check } from '../../src/http.ts'
import { createMetrics } from '../../src/metrics.ts'
import { connectRedis } from '../../src/redis/connect.ts'
import { startProducer } from '../../src/bus/producer.ts'
import { bearerToken, createGrpcClient, grpc, serve, startGrpc } from '../../src/grpc.ts'
import { AutocalError } from '../../src/errors.ts'
import { lifecycle } from '../../src/shutdown.ts'
import { memoryLogger, testConfig } from '../fixtures.ts'

test('/readyz is 200 when Kafka and Redis answer, 503 naming the failing check otherwise', async () => {
  const config = testConfig()
  const { logger } = memoryLogger()
  await using redis = await connectRedis({ config, logger })
  await using producer = await startProducer({ config, logger, service: 'test' })
  const checks: Check[] = [redis.check, producer.check]
  const metrics = createMetrics({ service: 'test' })
  const app = await buildHttp({ logger, metrics, checks })
  const ok = await app.inject({ method: 'GET', url: '/readyz' })
  assert.equal(ok.statusCode, 200)
  assert.deepEqual(ok.json().checks, { redis: { ok: true }, kafka: { ok: true } })
  checks.push({ name: 'oms', check: async () => { throw new Error('connect ECONNREFUSED 127.0.0.1:1') } })
  const bad = await app.inject({ method: 'GET', url: '/readyz' })
  assert.equal(bad.statusCode, 503)
  assert.equal(bad.json().checks.oms.error, 'connect ECONNREFUSED 127.0.0.1:1')
  assert.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200)
  const m = await app.inject({ method: 'GET', url: '/metrics' })
  assert.equal(m.statusCode, 200)
  assert.match(m.body, /process_cpu_user_seconds_total/)
  assert.match(m.body, /autocal_bus_consumed_total/)
  await app.close()
})

test('/readyz turns 503 while shutting down', async () => {
  const { logger } = memoryLogger()
  const app = await buildHttp({ logger, metrics: createMetrics({ service: 'test' }), checks: [] })
  lifecycle.stopping = true
  try {
    const res = await app.inject({ method: 'GET', url: '/readyz' })
    assert.equal(res.statusCode, 503)
    assert.equal(res.json().checks.shutdown.error, 'shutting down')
  } finally {
    lifecycle.stopping = false
    await app.close()
  }
})

test('a gRPC service from the contracts serves typed calls, maps errors and answers grpc.health.v1', async () => {
  const { logger } = memoryLogger()
  let ready = true
  let watchFails = false
  await using server = await startGrpc({
    host: '127.0.0.1',
    port: 0,
    logger,
    checks: [{ name: 'kafka', check: async () => { if (!ready) throw new Error('down') } }],
    services: [serve(ControlService, {
      injectRuns: async () => ({}),
      reprocess: async (request, call) => {
        if (bearerToken(call.metadata) !== 'ecal-token') throw new AutocalError('AUTOCAL_UNAUTHENTICATED', 'unknown token')
        return { commandId: 'c-1', matched: request.selector?.runs.length ?? 0 }
      },
      skip: async () => { throw new AutocalError('AUTOCAL_FORBIDDEN', 'token of PPS cannot act on ECAL') },
      cancel: async () => ({}),
      getStatus: async () => ({ campaign: 'prompt', runs: [1], tasks: ['t'], cells: [{ run: 1, task: 't', state: TaskState.DONE }] }),
      listWorkflows: async () => ({}),
      validateWorkflows: async () => ({ ok: true }),
      listPendingConditions: async () => ({}),
      listTasks: async () => ({}),
      approveCondition: async () => ({}),
      rejectCondition: async () => ({}),
      promoteCondition: async () => ({}),
      resubmitFailedJobs: async () => ({}),
      startReplay: async () => ({}),
      getReplay: async () => ({}),
      listReplays: async () => ({}),
      cancelReplay: async () => ({}),
      createCampaign: async () => ({}),
      listCampaigns: async () => ({}),
      changeCampaignState: async () => ({}),
      createRunType: async () => ({}),
      updateRunType: async () => ({}),
      closeBlock: async () => ({}),
      forceGate: async () => ({}),
      watchTasks: async function * () {
        for (let version = 1n; version <= 3n; version++) yield { event: { task: 't', version } }
        if (watchFails) throw new AutocalError('AUTOCAL_NOT_FOUND', 'campaign gone')
      }
    })]
  })
  const address = `127.0.0.1:${server.port}`
  const good = createGrpcClient(ControlService, address, { token: 'ecal-token' })
  const anonymous = createGrpcClient(ControlService, address)
  try {
    const answer = await good.reprocess({ selector: { campaign: 'prompt', runs: [1, 2] }, reason: 'bad run' })
    assert.equal(answer.commandId, 'c-1')
    assert.equal(answer.matched, 2)
    await assert.rejects(anonymous.reprocess({}), (err: grpc.ServiceError) => err.code === grpc.status.UNAUTHENTICATED && /unknown token/.test(err.details))
    await assert.rejects(good.skip({}), (err: grpc.ServiceError) => err.code === grpc.status.PERMISSION_DENIED)
    const status = await good.getStatus({})
    assert.equal(status.cells[0]?.state, TaskState.DONE)
    const versions: bigint[] = []
    for await (const r of good.watchTasks({})) versions.push(r.event?.version ?? 0n)
    assert.deepEqual(versions, [1n, 2n, 3n])
    // a stream that fails after some messages ends with the error's status (the client would otherwise wait for ever)
    watchFails = true
    const seen: bigint[] = []
    const failing = good.watchTasks({})
    failing.on('data', r => { seen.push(r.event?.version ?? 0n) })
    const [failed] = await Promise.race([
      once(failing, 'error') as Promise<[grpc.ServiceError]>,
      new Promise<never>((_resolve, reject) => setTimeout(() => { failing.cancel(); reject(new Error('no status after 5 s')) }, 5000).unref())
    ])
    assert.equal(failed.code, grpc.status.NOT_FOUND)
    assert.equal(failed.details, 'campaign gone')
    assert.deepEqual(seen, [1n, 2n, 3n])

    const health = createGrpcClient(Health, address)
    assert.equal((await health.check({})).status, HealthCheckResponse_ServingStatus.SERVING)
    ready = false
    assert.equal((await health.check({})).status, HealthCheckResponse_ServingStatus.NOT_SERVING)
    health.close()
  } finally {
    good.close()
    anonymous.close()
  }
})

test('a bidi-streaming handler that throws ends the stream with its gRPC status', async () => {
  const { logger } = memoryLogger()
  let plainError = false
  await using server = await startGrpc({
    host: '127.0.0.1',
    port: 0,
    logger,
    services: [serve(AgentService, {
      connect: async call => {
        await once(call, 'data') // fails on the first message, as a handler checking it would
        if (plainError) throw new Error('disk full')
        throw new AutocalError('AUTOCAL_VALIDATION_FAILED', 'first message must be register')
      }
    })]
  })
  const client = createGrpcClient(AgentService, `127.0.0.1:${server.port}`)
  // the error the client's stream ends with; a stream that ends without one fails the test instead of hanging it
  const streamError = async (): Promise<grpc.ServiceError> => {
    const stream = client.connect()
    stream.on('data', () => {})
    stream.write(create(AgentServiceConnectRequestSchema, { message: { case: 'heartbeat', value: {} } }))
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => { stream.cancel(); reject(new Error('no status after 5 s')) }, 5000)
      stream.on('error', err => { clearTimeout(timer); resolve(err as grpc.ServiceError) })
      stream.on('end', () => { clearTimeout(timer); reject(new Error('stream ended without an error status')) })
    })
  }
  try {
    const invalid = await streamError()
    assert.equal(invalid.code, grpc.status.INVALID_ARGUMENT)
    assert.equal(invalid.details, 'first message must be register')
    plainError = true
    const internal = await streamError()
    assert.equal(internal.code, grpc.status.INTERNAL)
    assert.equal(internal.details, 'disk full')
  } finally {
    client.close()
  }
})
