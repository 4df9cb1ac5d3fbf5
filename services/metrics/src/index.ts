// metrics: consumes every topic into a Redis read model (rebuildable from
// Kafka) and serves Prometheus /metrics, the status API, the dashboard and
// Mattermost notifications.
import { closeOnSignal, createLogger, loadConfig, startTelemetry, unknownKeys } from '@autocal/runtime'
import { Config } from './config.ts'
import { startMetricsService } from './app.ts'

const config = loadConfig(Config, process.env)
const logger = createLogger({ service: 'metrics', level: config.AUTOCAL_LOG_LEVEL, ...(config.AUTOCAL_INSTANCE_ID === undefined ? {} : { instance: config.AUTOCAL_INSTANCE_ID }) })
const unknown = unknownKeys(Config, process.env)
if (unknown.length > 0) logger.debug({ keys: unknown }, 'environment keys this service does not use')

await using stack = new AsyncDisposableStack()
stack.use(startTelemetry({ service: 'metrics', endpoint: config.AUTOCAL_OTLP_ENDPOINT }))
stack.use(await startMetricsService(config, logger))
await closeOnSignal(stack, { logger, graceMs: config.AUTOCAL_SHUTDOWN_GRACE_MS })
