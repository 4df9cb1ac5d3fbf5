// The task-dispatcher's parts, started in order and closed in reverse:
// workflows → Redis read model (rebuilt from Kafka when empty) → planner (in
// the handlers, plus its safety-net tick) → job watchdog → gRPC control API →
// consumers. Used by index.ts and by the
// integration tests, which run it in-process.
import { topics } from '@autocal/contracts'
import { EventEmitter } from 'node:events'
import { hostname } from 'node:os'
import { readFileSync } from 'node:fs'
import { AutocalError, buildHttp, connectRedis, createAuditWriter, createMetrics, createTokenIndex, grpc, readAccessOf, startConsumer, startGrpc, startProducer, type Logger } from '@autocal/runtime'
import type { Config } from './config.ts'
import { loadWorkflows } from './adapters/workflow-files.ts'
import { createStateStore } from './adapters/state-store.ts'
import { createRunsOffsets } from './adapters/runs-offsets.ts'
import { buildCatalog, replaceCatalog } from './domain/catalog.ts'
import { startCampaignStore } from './adapters/campaign-store.ts'
import { createHandlers } from './handlers.ts'
import { createCrossNeeds } from './cross-needs.ts'
import { createRecovery } from './recovery.ts'
import { createTaskTransitions } from './task-transitions.ts'
import { createPlanner, startPlanning } from './planner.ts'
import { controlService } from './control-api.ts'
import { createJobWatchStore } from './adapters/job-watch-store.ts'
import { createJobWatchdog, startJobWatchdog, watchdogPeriodMs } from './job-watchdog.ts'
import { watchWorkflows, type ReloadResult } from './adapters/workflow-watch.ts'
import { createDbsClient } from './adapters/dbs.ts'
import { createInputFiles } from './input-files.ts'
import { createReplayStore } from './adapters/replay-store.ts'
import { createReplayRunner } from './replay-runner.ts'

export const service = 'task-dispatcher'

export interface TaskDispatcher extends AsyncDisposable {
  /** This replica's id (AUTOCAL_INSTANCE_ID, or host-pid). */
  instance: string
  httpPort: number
  grpcPort: number
}

/**
 * Starts a dispatcher replica. `env` is what the workflows' `${VAR}`
 * references and the control API's workflow checks read (the process
 * environment in production). Throws AUTOCAL_WORKFLOW_INVALID listing every
 * bad workflow file, AUTOCAL_CONFIG_INVALID for unreadable TLS files.
 * `onReload` sees each workflow reload (AUTOCAL_WORKFLOWS_RELOAD).
 */
export async function startTaskDispatcher (config: Config, logger: Logger, env: NodeJS.ProcessEnv = process.env, onReload?: (r: ReloadResult) => void): Promise<TaskDispatcher> {
  const instance = config.AUTOCAL_INSTANCE_ID ?? `${hostname()}-${process.pid}`
  const loaded = loadWorkflows(config.AUTOCAL_WORKFLOWS_DIR, env)
  if (loaded.errors.length > 0) throw new AutocalError('AUTOCAL_WORKFLOW_INVALID', `invalid workflows in ${config.AUTOCAL_WORKFLOWS_DIR}:\n${loaded.errors.join('\n')}`)
  const tokens = createTokenIndex(config.AUTOCAL_CONTROL_TOKENS)
  const readers = readAccessOf(config)
  // TLS unless explicitly insecure (the config refuses half a TLS setup and no choice at all)
  const tls = config.AUTOCAL_CONTROL_TLS_CERT_FILE === undefined || config.AUTOCAL_CONTROL_TLS_KEY_FILE === undefined
    ? undefined
    : grpc.ServerCredentials.createSsl(null, [{ cert_chain: readFileSync(config.AUTOCAL_CONTROL_TLS_CERT_FILE), private_key: readFileSync(config.AUTOCAL_CONTROL_TLS_KEY_FILE) }], false)
  if (tls === undefined) logger.warn('control API without TLS (AUTOCAL_CONTROL_INSECURE=true): bearer tokens travel in clear text')
  const catalog = buildCatalog(loaded.workflows)
  // data-aware tasks need their file-list source: a bad DBS configuration, or none for such a task, stops the start
  const dataTasks = loaded.workflows.flatMap(w => w.tasks.filter(t => t.input !== undefined).map(t => `${w.file}: ${t.name}`))
  if (dataTasks.length > 0 && config.AUTOCAL_DBS_URL === undefined) throw new AutocalError('AUTOCAL_CONFIG_INVALID', `AUTOCAL_DBS_URL is not set, but tasks read an input dataset from DBS (${dataTasks.join(', ')})`)
  const dbs = config.AUTOCAL_DBS_URL === undefined ? undefined : createDbsClient({ url: config.AUTOCAL_DBS_URL, caFile: config.AUTOCAL_DBS_CA_FILE, certFile: config.AUTOCAL_DBS_CERT_FILE, keyFile: config.AUTOCAL_DBS_KEY_FILE, tokenFile: config.AUTOCAL_DBS_TOKEN_FILE, timeoutMs: config.AUTOCAL_DBS_TIMEOUT_MS })
  logger.info({ workflows: loaded.workflows.map(w => `${w.subsystem}/${w.workflow}@${w.branch === '' ? '' : `${w.branch}:`}${w.version}`), campaigns: [...catalog.campaigns.keys()], tokens: tokens.size }, 'workflows loaded')

  const stack = new AsyncDisposableStack()
  try {
    const metrics = createMetrics({ service })
    const redis = stack.use(await connectRedis({ config, logger }))
    const producer = stack.use(await startProducer({ config, logger, service, metrics, warm: [topics.tasks, topics.jobRequests, topics.conditionRequests] }))
    const auditor = stack.use(createAuditWriter({ producer, perMinute: config.AUTOCAL_AUDIT_ANONYMOUS_PER_MINUTE }))
    const store = createStateStore(redis)
    // runtime campaigns (autocal.campaigns.v1) overlaid on the workflow files' campaigns, before any run is taken;
    // a campaign resumed (or any change) is planned at once, not on the next tick
    let planNow = (): void => {}
    const campaigns = stack.use(await startCampaignStore({
      config,
      logger,
      producer,
      metrics,
      service,
      instance,
      onChange: (definitions, changed) => {
        replaceCatalog(catalog, buildCatalog(catalog.workflows, definitions.values()))
        if (changed !== undefined) planNow()
      }
    }))
    const crossNeeds = createCrossNeeds({ store, redis, catalog, golden: loaded.golden })
    const transitions = createTaskTransitions({ store, redis, producer, catalog, logger, dataDir: config.AUTOCAL_DATA_DIR, leaseMs: config.AUTOCAL_DISPATCH_LEASE_MS, crossNeeds })
    const recovery = createRecovery({ config, logger, store, redis, catalog, applyRun: async ev => { await handlers.applyRun(ev) }, learnCondition: crossNeeds.learn, rebuildLeaseMs: config.AUTOCAL_DISPATCH_LEASE_MS })
    // the planner works in the handlers (run blocks on the run's event, downstream tasks on the status that
    // finished their upstream) and in its safety-net tick
    const runsOffsets = stack.use(createRunsOffsets(config, logger, service))
    const planner = createPlanner({ store, redis, catalog, golden: loaded.golden, transitions, logger, runsOffsets, settleMs: config.AUTOCAL_RUN_SETTLE_MS, leaseMs: config.AUTOCAL_DISPATCH_LEASE_MS, parallel: config.AUTOCAL_DISPATCH_PARALLEL, runsPerTick: config.AUTOCAL_DISPATCH_RUNS_PER_TICK, httpRecheckMs: config.AUTOCAL_HTTP_GATE_RECHECK_MS, inputFiles: createInputFiles({ dbs, redis, logger, recheckMs: config.AUTOCAL_DBS_RECHECK_MS }), handlerGraceMs: 2 * config.AUTOCAL_DISPATCH_TICK_MS, ensureState: recovery.ensureState, crossNeeds })
    const handlers = createHandlers({ store, redis, producer, catalog, transitions, logger, ensureState: recovery.ensureState, dataDir: config.AUTOCAL_DATA_DIR, planner, crossNeeds })
    await recovery.ensureState()
    planNow = () => { planner.tick().catch((err: unknown) => { logger.warn({ err }, 'planning after a campaign change failed; the next tick retries') }) }
    const checks = [redis.check, producer.check, campaigns.check]
    const http = stack.use(await buildHttp({ logger, metrics, checks }))
    await http.listen({ host: config.AUTOCAL_HTTP_HOST, port: config.AUTOCAL_HTTP_PORT })
    // task events for the control API's watch streams: this replica's own group, deleted when it stops
    // replays of recorded runs: fed by this replica or taken over from their stored cursor (replay-runner.ts)
    const replays = createReplayStore(redis)
    const replayRunner = stack.use(createReplayRunner({ store, replays, redis, producer, catalog, logger, ensureState: recovery.ensureState, leaseMs: config.AUTOCAL_DISPATCH_LEASE_MS }))
    await replayRunner.adopt()
    const taskEvents = new EventEmitter().setMaxListeners(0)
    const watch = stack.use(await startConsumer({ config, logger, service, producer, metrics, group: `${service}-watch-${instance}`, fromBeginning: false, deleteGroupOnClose: true, handlers: { tasks: async ev => { taskEvents.emit('task', ev) } } }))
    const grpcServer = stack.use(await startGrpc({
      host: config.AUTOCAL_GRPC_HOST,
      port: config.AUTOCAL_GRPC_PORT,
      logger,
      checks,
      ...(tls === undefined ? {} : { credentials: tls }),
      services: [controlService({ catalog, store, producer, auditor, tokens, readers, logger, taskEvents, workflowsDir: loaded.dir, env, golden: loaded.golden, replay: { catalog, store, replays, runner: replayRunner, kafka: config, logger }, campaigns })]
    }))
    stack.use(startPlanning(planner, config.AUTOCAL_DISPATCH_TICK_MS, logger))
    // changed workflow files are loaded without a restart (the catalog and golden runs are changed in place)
    if (config.AUTOCAL_WORKFLOWS_RELOAD) stack.use(watchWorkflows({ dir: loaded.dir, env, catalog, golden: loaded.golden, store, logger }, onReload))
    const policy = { answerTimeoutMs: config.AUTOCAL_JOB_ANSWER_TIMEOUT_MS, reRequests: config.AUTOCAL_JOB_ANSWER_REREQUESTS }
    const watchdog = createJobWatchdog({ store, watches: createJobWatchStore(redis), redis, catalog, transitions, logger, policy, ensureState: recovery.ensureState })
    stack.use(startJobWatchdog(watchdog, watchdogPeriodMs(policy.answerTimeoutMs), logger))
    const consumer = stack.use(await startConsumer({
      config,
      logger,
      service,
      producer,
      metrics,
      group: service,
      // runs of a batch are planned, and job statuses applied, several at a time (those of one run, or of one
      // task: the key, in order): a burst is worked off at the rate of the transitions it makes, not one round
      // trip after the other; conditions (keyed by tag: upload order) and control commands stay one at a time
      concurrency: { runs: config.AUTOCAL_DISPATCH_MESSAGES_CONCURRENCY, jobStatus: config.AUTOCAL_DISPATCH_MESSAGES_CONCURRENCY },
      // how far the runs topic is consumed, in offset order: bucket grouping waits for it (domain/grouping-order.ts)
      onHandled: async at => { if (at.topic === 'runs') await store.noteRunHandled(at.partition, at.offset) },
      handlers: { runs: handlers.onRun, jobStatus: async s => { await handlers.onJobStatus(s); await watchdog.answered(s) }, conditions: handlers.onCondition, control: handlers.onControl }
    }))
    checks.push(consumer.check, watch.check)
    const address = http.server.address()
    const httpPort = typeof address === 'object' && address !== null ? address.port : config.AUTOCAL_HTTP_PORT
    logger.info({ replica: instance, http: address, grpc: grpcServer.port }, 'task-dispatcher started')
    const moved = stack.move()
    return { instance, httpPort, grpcPort: grpcServer.port, [Symbol.asyncDispose]: async () => { await moved.disposeAsync() } }
  } catch (err) {
    await stack.disposeAsync()
    throw err
  }
}
