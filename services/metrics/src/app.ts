// The metrics service assembled from its parts; index.ts runs it, the
// integration tests start it in-process on port 0.
import { buildHttp, connectRedis, createAuditWriter, createMetrics, createTokenIndex, guardReads, readAccessOf, startProducer, type Check, type Logger, type ReadAccess, type TokenPrincipal } from '@autocal/runtime'
import type { Config } from './config.ts'
import { createReadModelStore, type ReadModelStore } from './adapters/read-model-store.ts'
import { createLagReader } from './adapters/consumer-lag.ts'
import { createMattermost } from './adapters/mattermost.ts'
import { createInstruments } from './instruments.ts'
import { createChangeFeed } from './change-feed.ts'
import { createNotifier, type Notifier } from './notifier.ts'
import { startConsumerWatch, type ConsumerWatch } from './alerts/consumer-watch.ts'
import { defaultRouteName } from './domain/routing.ts'
import { createHandlers } from './handlers.ts'
import { registerRoutes } from './routes.ts'
import { startDeadlineScanner, type DeadlineScanner } from './deadline-scanner.ts'
import { startReadModel, type ReadModel } from './read-model.ts'
import { createConsoleStore } from './adapters/console-store.ts'
import { withConsoleViews } from './console/recorder.ts'
import { registerConsole } from './console/routes.ts'
import { redriveRoute, registerRedrive } from './console/redrive.ts'

export interface MetricsService extends AsyncDisposable {
  /** http://host:port the HTTP server listens on. */
  url: string
  store: ReadModelStore
  readModel: ReadModel
  deadlines: DeadlineScanner
  notifier: Notifier
  consumers: ConsumerWatch
}

const hourMs = 3_600_000

export interface ServiceOptions {
  /** The clock of notifications and deadlines (tests fix it). */
  now?: () => number
}

export async function startMetricsService (config: Config, logger: Logger, options: ServiceOptions = {}): Promise<MetricsService> {
  const now = options.now ?? Date.now
  const stack = new AsyncDisposableStack()
  try {
    const metrics = createMetrics({ service: 'metrics' })
    const redis = stack.use(await connectRedis({ config, logger }))
    const producer = stack.use(await startProducer({ config, logger, metrics, service: 'metrics' }))
    const auditor = stack.use(createAuditWriter({ producer, perMinute: config.AUTOCAL_AUDIT_ANONYMOUS_PER_MINUTE }))
    const store = createReadModelStore(redis)
    const lag = stack.use(createLagReader({ config, logger, groups: [config.AUTOCAL_METRICS_GROUP, ...config.AUTOCAL_METRICS_LAG_GROUPS], discover: config.AUTOCAL_METRICS_LAG_DISCOVER, cacheMs: config.AUTOCAL_METRICS_LAG_CACHE_MS }))
    const instruments = createInstruments({ metrics, store, lag })
    const feed = createChangeFeed()
    const webhook = config.AUTOCAL_MATTERMOST_WEBHOOK_URL
    const hook = (url: string | undefined) => url === undefined ? undefined : createMattermost({ url })
    const notifier = stack.use(createNotifier({
      store,
      instruments,
      logger,
      now,
      destinations: config.AUTOCAL_NOTIFY_ROUTES.map(route => ({ route: { ...route, ...(route.channel === undefined && route.webhook === undefined && config.AUTOCAL_MATTERMOST_CHANNEL !== undefined ? { channel: config.AUTOCAL_MATTERMOST_CHANNEL } : {}) }, mattermost: hook(route.webhook ?? webhook) })),
      fallback: { route: { name: defaultRouteName, ...(config.AUTOCAL_MATTERMOST_CHANNEL === undefined ? {} : { channel: config.AUTOCAL_MATTERMOST_CHANNEL }) }, mattermost: hook(webhook) },
      perMinute: config.AUTOCAL_NOTIFY_RATE_PER_MINUTE,
      dedupSeconds: config.AUTOCAL_NOTIFY_DEDUP_SECONDS,
      maxAgeMs: config.AUTOCAL_NOTIFY_MAX_AGE_MINUTES * 60_000,
      digestMs: config.AUTOCAL_NOTIFY_DIGEST_MS,
      username: config.AUTOCAL_MATTERMOST_USERNAME
    }))
    const policy = { holdMs: config.AUTOCAL_PROMPT_HOLD_HOURS * hourMs, warnMs: config.AUTOCAL_DEADLINE_WARN_HOURS * hourMs }
    const consoleStore = createConsoleStore(redis)
    const handlers = withConsoleViews(createHandlers({
      store, instruments, feed, notifier, logger, topicPrefix: config.AUTOCAL_KAFKA_TOPIC_PREFIX, holdMs: policy.holdMs, dlqFloodPerMinute: config.AUTOCAL_DLQ_FLOOD_PER_MINUTE
    }), { store, console: consoleStore, topicPrefix: config.AUTOCAL_KAFKA_TOPIC_PREFIX })

    const checks: Check[] = [redis.check, producer.check]
    const http = await buildHttp({ logger, metrics, checks })
    stack.defer(async () => { await http.close() })
    // read tokens read; control tokens read too and may act (the console's DLQ redrive, console/redrive.ts)
    const readTokens = config.AUTOCAL_READ_TOKENS.map(([principal, token]) => [token, { principal, subsystems: ['*'] }] as [string, TokenPrincipal])
    const controlTokens = createTokenIndex(config.AUTOCAL_CONTROL_TOKENS)
    const readers = readAccessOf(config)
    const access: ReadAccess = readers.public ? readers : { public: false, tokens: createTokenIndex([...readTokens, ...config.AUTOCAL_CONTROL_TOKENS]) }
    // every read behind a read token (header or the console's cookie) unless public; the pages themselves and
    // their static files are open (they hold no data), so that a browser can reach the sign-in; the redrive route
    // checks its control token itself, so that every refusal (no token too) is audited
    guardReads(http, { access, logger, open: ['/', '/console', '/console/', '/console/static/:file', '/console/vendor/:lib', '/console/login', redriveRoute] })
    registerRoutes(http, { store, feed })
    const redrive = registerRedrive(http, { config, logger, producer, auditor, controlTokens, readTokens: createTokenIndex(readTokens), views: consoleStore })
    registerConsole(http, { store, console: consoleStore, lag, policy, now, filesRoot: config.AUTOCAL_METRICS_FILES_ROOT ?? config.AUTOCAL_DATA_DIR, executorReadToken: config.AUTOCAL_EXECUTOR_READ_TOKEN, access, redrive })
    const url = await http.listen({ host: config.AUTOCAL_HTTP_HOST, port: config.AUTOCAL_HTTP_PORT })

    const consumers = stack.use(startConsumerWatch({ lag, notifier, metrics, logger, now, stallMs: config.AUTOCAL_ALERT_STALL_SECONDS * 1000, lagWindowMs: config.AUTOCAL_ALERT_LAG_GROWING_MINUTES * 60_000, lagMin: config.AUTOCAL_ALERT_LAG_MIN, everyMs: config.AUTOCAL_ALERT_SCAN_MS }))
    const deadlines = stack.use(startDeadlineScanner({ store, notifier, instruments, logger, policy, now, everyMs: config.AUTOCAL_DEADLINE_SCAN_MS }))
    const readModel = stack.use(await startReadModel({
      config,
      logger,
      metrics,
      producer,
      store,
      handlers,
      group: config.AUTOCAL_METRICS_GROUP,
      markerCheckMs: config.AUTOCAL_METRICS_MARKER_CHECK_MS,
      onRebuild: () => {
        instruments.resetHistograms()
        instruments.rebuilds.inc()
        notifier.suppressBefore(now())
      }
    }))
    checks.push(readModel.check)
    logger.info({ url, group: config.AUTOCAL_METRICS_GROUP }, 'metrics service listening')
    const moved = stack.move()
    return { url, store, readModel, deadlines, notifier, consumers, [Symbol.asyncDispose]: async () => { await moved.disposeAsync() } }
  } catch (err) {
    await stack.disposeAsync()
    throw err
  }
}
