// The job-executor's parts, started in order and closed in reverse.
import { hostname } from 'node:os'
import { join, resolve } from 'node:path'
import { AgentService, topics } from '@autocal/contracts'
import { AutocalError, buildHttp, connectRedis, createMetrics, createTokenIndex, grpc, parseTokenList, readConfigFile, serve, startConsumer, startGrpc, startProducer, type Logger } from '@autocal/runtime'
import { createAgentHub, type AgentHub } from './agent-hub.ts'
import { createStatusPublisher } from './status-publisher.ts'
import { createBatchJobs } from './batch-jobs.ts'
import { batchBackends } from './backends.ts'
import { startBackendProbes, type BackendProbe } from './backend-health.ts'
import type { Config } from './config.ts'
import { createJobStore } from './adapters/job-store.ts'
import { createExecutor } from './executor.ts'
import { createJobRecovery } from './job-recovery.ts'
import { createAgentMetrics, createExecutorMetrics } from './metrics.ts'
import { logRoutes } from './routes.ts'
import { baseEnvironment } from './domain/job-environment.ts'
import { requestProblem } from './domain/request-check.ts'
import { prepareJobTree, resolveJobUser } from './adapters/job-user.ts'

const configError = (message: string, cause?: unknown): AutocalError => new AutocalError('AUTOCAL_CONFIG_INVALID', message, { retryable: false, cause })

/** The agents' [id, token] pairs: AUTOCAL_AGENT_TOKENS and the entries of AUTOCAL_AGENT_TOKENS_FILE. */
function agentTokens (config: Config): Array<[string, string]> {
  if (config.AUTOCAL_AGENT_TOKENS_FILE === undefined) return config.AUTOCAL_AGENT_TOKENS
  const parsed = parseTokenList(readConfigFile('AUTOCAL_AGENT_TOKENS_FILE', config.AUTOCAL_AGENT_TOKENS_FILE).toString('utf8'), '=', 'AUTOCAL_AGENT_TOKENS_FILE')
  if (!parsed.ok) throw configError(parsed.problem)
  const all = parseTokenList([...config.AUTOCAL_AGENT_TOKENS, ...parsed.entries].map(([id, t]) => `${id}=${t}`).join('\n'), '=', 'AUTOCAL_AGENT_TOKENS + AUTOCAL_AGENT_TOKENS_FILE')
  if (!all.ok) throw configError(all.problem)
  return all.entries
}

export const service = 'job-executor'

export async function startJobExecutor (config: Config, logger: Logger): Promise<AsyncDisposable & { port: number, grpcPort: number | undefined, instance: string }> {
  const stack = new AsyncDisposableStack()
  try {
    const instance = config.AUTOCAL_INSTANCE_ID ?? `${hostname()}-${process.pid}`
    const dataDir = resolve(config.AUTOCAL_DATA_DIR)
    const jobsDir = resolve(config.AUTOCAL_EXECUTOR_JOBS_DIR ?? join(dataDir, 'jobs'))
    const jobUser = config.AUTOCAL_EXECUTOR_BACKENDS.includes('local') ? resolveJobUser(config.AUTOCAL_EXECUTOR_JOB_USER, 'AUTOCAL_EXECUTOR_JOB_USER') : undefined
    if (jobUser !== undefined) prepareJobTree(jobUser, dataDir, [jobsDir, join(dataDir, 'run', 'jobs')])
    else if (config.AUTOCAL_EXECUTOR_BACKENDS.includes('local')) logger.warn('the executor does not run as root: local jobs run as its own user and can read its environment (/proc/<pid>/environ)')
    const tokens = agentTokens(config)
    const readers = createTokenIndex(config.AUTOCAL_READ_TOKENS.map(([principal, token]) => [token, principal] as const))
    if (config.AUTOCAL_READ_TOKENS.length === 0 && !config.AUTOCAL_READ_PUBLIC) logger.warn('neither AUTOCAL_READ_TOKENS nor AUTOCAL_READ_PUBLIC is set: job logs are served to nobody')
    const metrics = createMetrics({ service })
    const redis = stack.use(await connectRedis({ config, logger }))
    const producer = stack.use(await startProducer({ config, logger, service, metrics, warm: [topics.jobStatus] }))
    const store = createJobStore(redis, instance)
    const http = await buildHttp({ logger, metrics, checks: [redis.check, producer.check] })
    await http.register(logRoutes, { dataDir, store, logger, reader: config.AUTOCAL_READ_PUBLIC ? 'public' : readers.lookup })
    await http.listen({ host: config.AUTOCAL_HTTP_HOST, port: config.AUTOCAL_HTTP_PORT })
    stack.defer(async () => { await http.close() })
    const address = http.server.address()
    const port = typeof address === 'object' && address !== null ? address.port : 0
    const statuses = createStatusPublisher({ producer, instance, dataDir, publicUrl: config.AUTOCAL_EXECUTOR_PUBLIC_URL ?? `http://${config.AUTOCAL_HTTP_HOST}:${port}` })
    let hub: AgentHub | undefined
    // the job table's rebuild after a loss of Redis's data (the executor below writes back its own jobs first)
    const recovery = createJobRecovery({
      config,
      logger,
      redis,
      store,
      statuses,
      instance,
      host: config.AUTOCAL_EXECUTOR_HOST ?? hostname(),
      dataDir,
      jobsDir,
      restoreWaitMs: config.AUTOCAL_EXECUTOR_RECONCILE_MS * 2,
      restoreOwn: async () => await executor.restoreOwn(),
      agentHolding: key => hub?.holding(key)
    })
    const ensureState = recovery.ensureState
    let grpcPort: number | undefined
    if (tokens.length > 0) {
      const agentHub = createAgentHub({
        agentOf: createTokenIndex(tokens.map(([id, token]) => [token, id] as const)).lookup,
        heartbeatMs: config.AUTOCAL_AGENT_HEARTBEAT_MS,
        lostAfterMs: config.AUTOCAL_AGENT_LOST_AFTER_MS,
        store,
        statuses,
        logger,
        metrics: createAgentMetrics(metrics.registry),
        ensureState
      })
      hub = agentHub
      // TLS unless explicitly insecure (the config refuses half a TLS setup)
      const tls = config.AUTOCAL_AGENT_TLS_CERT_FILE !== undefined && config.AUTOCAL_AGENT_TLS_KEY_FILE !== undefined
        ? grpc.ServerCredentials.createSsl(
          config.AUTOCAL_AGENT_TLS_CLIENT_CA_FILE === undefined ? null : readConfigFile('AUTOCAL_AGENT_TLS_CLIENT_CA_FILE', config.AUTOCAL_AGENT_TLS_CLIENT_CA_FILE),
          [{ cert_chain: readConfigFile('AUTOCAL_AGENT_TLS_CERT_FILE', config.AUTOCAL_AGENT_TLS_CERT_FILE), private_key: readConfigFile('AUTOCAL_AGENT_TLS_KEY_FILE', config.AUTOCAL_AGENT_TLS_KEY_FILE) }],
          config.AUTOCAL_AGENT_TLS_CLIENT_CA_FILE !== undefined)
        : undefined
      if (tls === undefined) logger.warn('agent endpoint without TLS (AUTOCAL_AGENT_INSECURE=true): agent tokens travel in clear text')
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
    // allow-listed basics only, never the executor's own AUTOCAL_* keys or secrets
    const executorMetrics = createExecutorMetrics(metrics.registry)
    const baseEnv = baseEnvironment(config.AUTOCAL_EXECUTOR_JOB_ENV, process.env)
    const extraEnv = { allowed: config.AUTOCAL_EXECUTOR_JOB_EXTRA_ENV, values: baseEnvironment(config.AUTOCAL_EXECUTOR_JOB_EXTRA_ENV, process.env) }
    const backends = batchBackends(config, baseEnv, extraEnv)
    const batch = createBatchJobs({ backends, store, statuses, logger, instance })
    const executor = createExecutor({
      instance,
      host: config.AUTOCAL_EXECUTOR_HOST ?? hostname(),
      batch,
      slots: config.AUTOCAL_EXECUTOR_SLOTS,
      maxQueued: config.AUTOCAL_EXECUTOR_MAX_QUEUED,
      dataDir,
      jobsDir,
      jobUser,
      publicUrl: config.AUTOCAL_EXECUTOR_PUBLIC_URL ?? `http://${config.AUTOCAL_HTTP_HOST}:${port}`,
      killGraceMs: config.AUTOCAL_EXECUTOR_KILL_GRACE_MS,
      reconcileMs: config.AUTOCAL_EXECUTOR_RECONCILE_MS,
      store,
      redis,
      statuses,
      logger,
      onAgentJob: () => { void hub?.assign() },
      metrics: executorMetrics,
      baseEnv,
      extraEnv,
      ensureState
    })
    stack.defer(async () => { await executor.stop() })
    const probes: Record<string, BackendProbe> = Object.fromEntries(Object.entries(backends).map(([name, b]) => [name, b.probe]))
    if (config.AUTOCAL_EXECUTOR_BACKENDS.includes('agent')) {
      probes.agent = async () => { if ((hub?.agents().length ?? 0) === 0) throw new Error(hub === undefined ? 'no agent endpoint (AUTOCAL_AGENT_TOKENS unset)' : 'no agent connected') }
    }
    const health = startBackendProbes({ probes, gauge: executorMetrics.backendUp, intervalMs: config.AUTOCAL_EXECUTOR_BACKEND_PROBE_MS, logger })
    stack.defer(() => { health.stop() })
    await recovery.ensureState()
    await executor.startReconciling()
    const rules = { jobsDir, images: config.AUTOCAL_KUBE_IMAGES }
    const consumer = stack.use(await startConsumer({
      config,
      logger,
      service,
      group: 'job-executor',
      producer,
      metrics,
      handlers: {
        jobRequests: async request => {
          const problem = requestProblem(request, rules)
          if (problem !== undefined) {
            // a fault of the message: the bus dead-letters it with this reason
            logger.warn({ job: request.jobId, reason: problem }, 'job request refused')
            throw new AutocalError('AUTOCAL_VALIDATION_FAILED', problem, { retryable: false })
          }
          await ensureState()
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
