// job-executor: turns job requests into processes on a backend and reports
// their state on autocal.jobs.status.v1.
import { closeOnSignal, createLogger, loadConfig, startTelemetry, unknownKeys } from '@autocal/runtime'
import { Config } from './config.ts'
import { service, startJobExecutor } from './app.ts'

const config = loadConfig(Config, process.env)
const logger = createLogger({ service, level: config.AUTOCAL_LOG_LEVEL, ...(config.AUTOCAL_INSTANCE_ID === undefined ? {} : { instance: config.AUTOCAL_INSTANCE_ID }) })
const unknown = unknownKeys(Config, process.env)
if (unknown.length > 0) logger.debug({ keys: unknown }, 'environment keys this service does not use')

await using stack = new AsyncDisposableStack()
stack.use(startTelemetry({ service, endpoint: config.AUTOCAL_OTLP_ENDPOINT }))
stack.use(await startJobExecutor(config, logger))
await closeOnSignal(stack, { logger, graceMs: config.AUTOCAL_SHUTDOWN_GRACE_MS })
