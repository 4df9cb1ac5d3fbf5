// The job-executor's parts, started in order and closed in reverse.
import { hostname } from 'node:os'
import { buildHttp, connectRedis, createMetrics, startConsumer, startProducer, type Logger } from '@autocal/runtime'
import type { Config } from './config.ts'
import { createJobStore } from './adapters/job-store.ts'
import { createExecutor } from './executor.ts'
import { createExecutorMetrics } from './metrics.ts'
import { logRoutes } from './routes.ts'

export const service = 'job-executor'

export async function startJobExecutor (config: Config, logger: Logger): Promise<AsyncDisposable & { port: number, instance: string }> {
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
    const executor = createExecutor({
      instance,
      slots: config.AUTOCAL_EXECUTOR_SLOTS,
      dataDir: config.AUTOCAL_DATA_DIR,
      publicUrl: config.AUTOCAL_EXECUTOR_PUBLIC_URL ?? `http://${config.AUTOCAL_HTTP_HOST}:${port}`,
      killGraceMs: config.AUTOCAL_EXECUTOR_KILL_GRACE_MS,
      reconcileMs: config.AUTOCAL_EXECUTOR_RECONCILE_MS,
      store,
      redis,
      producer,
      logger,
      metrics: createExecutorMetrics(metrics.registry),
      baseEnv: Object.fromEntries(['PATH', 'HOME', 'LANG', 'TMPDIR', 'PYTHONPATH'].flatMap(k => process.env[k] === undefined ? [] : [[k, process.env[k]!]]))
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
          if (request.action.case === 'cancel') await executor.cancel(request)
          else await executor.accept(request)
        }
      }
    }))
    const checks = [consumer.check]
    void checks
    logger.info({ instance, slots: config.AUTOCAL_EXECUTOR_SLOTS }, 'job-executor started')
    const moved = stack.move()
    return { port, instance, [Symbol.asyncDispose]: async () => { await moved.disposeAsync() } }
  } catch (err) {
    await stack.disposeAsync()
    throw err
  }
}
