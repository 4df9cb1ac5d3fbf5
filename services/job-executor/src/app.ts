// The job-executor's parts, started in order and closed in reverse.
import { readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { AgentService } from '@autocal/contracts'
import { buildHttp, connectRedis, createMetrics, grpc, serve, startConsumer, startGrpc, startProducer, type Logger } from '@autocal/runtime'
import { createAgentHub, type AgentHub } from './agent-hub.ts'
import { createStatusPublisher } from './status-publisher.ts'
import { createBatchJobs } from './batch-jobs.ts'
import { batchBackends } from './backends.ts'
import type { Config } from './config.ts'
import { createJobStore } from './adapters/job-store.ts'
import { createExecutor } from './executor.ts'
import { createAgentMetrics, createExecutorMetrics } from './metrics.ts'
import { logRoutes } from './routes.ts'

export const service = 'job-executor'

export async function startJobExecutor (config: Config, logger: Logger): Promise<AsyncDisposable & { port: number, grpcPort: number | undefined, instance: string }> {
  const stack = new AsyncDisposableStack()
  try {
    const instance = config.AUTOCAL_INSTANCE_ID ?? `${hostname()}-${process.pid}`
    const metrics = createMetrics({ service })
    const redis = stack.use(await connectRedis({ config, logger }))
    const producer = stack.use(await startProducer({ config, logger, service, metrics }))
    const store = createJobStore(redis, instance)
    const http = await buildHttp({ logger, metrics, checks: [redis.check, producer.check] })
    await http.register(logRoutes, { dataDir: config.AUTOCAL_DATA_DIR, store })
    await http.listen({ host: config.AUTOCAL_HTTP_HOST, port: config.AUTOCAL_HTTP_PORT })
    stack.defer(async () => { await http.close() })
    const address = http.server.address()
    const port = typeof address === 'object' && address !== null ? address.port : 0
    const statuses = createStatusPublisher({ producer, instance, publicUrl: config.AUTOCAL_EXECUTOR_PUBLIC_URL ?? `http://${config.AUTOCAL_HTTP_HOST}:${port}` })
    let hub: AgentHub | undefined
    let grpcPort: number | undefined
    if (config.AUTOCAL_AGENT_TOKENS.length > 0) {
      const agentHub = createAgentHub({
        tokens: config.AUTOCAL_AGENT_TOKENS,
        heartbeatMs: config.AUTOCAL_AGENT_HEARTBEAT_MS,
        lostAfterMs: config.AUTOCAL_AGENT_LOST_AFTER_MS,
        store,
        statuses,
        logger,
        metrics: createAgentMetrics(metrics.registry)
      })
      hub = agentHub
      const tls = config.AUTOCAL_AGENT_TLS_CERT_FILE !== undefined && config.AUTOCAL_AGENT_TLS_KEY_FILE !== undefined
        ? grpc.ServerCredentials.createSsl(null, [{ cert_chain: readFileSync(config.AUTOCAL_AGENT_TLS_CERT_FILE), private_key: readFileSync(config.AUTOCAL_AGENT_TLS_KEY_FILE) }], false)
        : undefined
      const server = stack.use(await startGrpc({
        host: config.AUTOCAL_GRPC_HOST,
        port: config.AUTOCAL_GRPC_PORT,
        logger,
        checks: [redis.check, producer.check],
        ...(tls === undefined ? {} : { credentials: tls }),
        services: [serve(AgentService, { connect: async call => { await agentHub.connect(call) } })]
      }))
      stack.defer(() => { agentHub.stop() }) // ends the agents' streams before the server shuts down
      grpcPort = server.port
      const tick = setInterval(() => { agentHub.reconcile().catch(err => { logger.warn({ err }, 'agent reconcile failed') }) }, config.AUTOCAL_EXECUTOR_RECONCILE_MS)
      stack.defer(() => { clearInterval(tick) })
    }
    const baseEnv = Object.fromEntries(['PATH', 'HOME', 'LANG', 'TMPDIR', 'PYTHONPATH'].flatMap(k => process.env[k] === undefined ? [] : [[k, process.env[k]!]]))
    const batch = createBatchJobs({ backends: batchBackends(config, baseEnv), store, statuses, logger, instance })
    const executor = createExecutor({
      instance,
      batch,
      slots: config.AUTOCAL_EXECUTOR_SLOTS,
      maxQueued: config.AUTOCAL_EXECUTOR_MAX_QUEUED,
      dataDir: config.AUTOCAL_DATA_DIR,
      publicUrl: config.AUTOCAL_EXECUTOR_PUBLIC_URL ?? `http://${config.AUTOCAL_HTTP_HOST}:${port}`,
      killGraceMs: config.AUTOCAL_EXECUTOR_KILL_GRACE_MS,
      reconcileMs: config.AUTOCAL_EXECUTOR_RECONCILE_MS,
      store,
      redis,
      statuses,
      logger,
      onAgentJob: () => { void hub?.assign() },
      metrics: createExecutorMetrics(metrics.registry),
      baseEnv
    })
    stack.defer(async () => { await executor.stop() })
    await executor.startReconciling()
    const consumer = stack.use(await startConsumer({
      config,
      logger,
      service,
      group: 'job-executor',
      producer,
      metrics,
      handlers: {
        jobRequests: async request => {
          if (request.action.case === 'cancel') {
            await executor.cancel(request)
            await hub?.reconcile()
          } else await executor.accept(request)
        }
      }
    }))
    void consumer
    logger.info({ executor: instance, slots: config.AUTOCAL_EXECUTOR_SLOTS, backends: config.AUTOCAL_EXECUTOR_BACKENDS, agentPort: grpcPort }, 'job-executor started')
    const moved = stack.move()
    return { port, grpcPort, instance, [Symbol.asyncDispose]: async () => { await moved.disposeAsync() } }
  } catch (err) {
    await stack.disposeAsync()
    throw err
  }
}
