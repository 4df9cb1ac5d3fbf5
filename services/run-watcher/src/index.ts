// run-watcher: discovers runs and their readiness (OMS, Tier-0, run-list
// replay, HTTP injection) and announces what changed on autocal.runs.v1.
import { closeOnSignal, createLogger, loadConfig, startTelemetry, unknownKeys } from '@autocal/runtime'
import { Config } from './config.ts'
import { service, startRunWatcher } from './app.ts'

const config = loadConfig(Config, process.env)
const logger = createLogger({ service, level: config.AUTOCAL_LOG_LEVEL, ...(config.AUTOCAL_INSTANCE_ID === undefined ? {} : { instance: config.AUTOCAL_INSTANCE_ID }) })
const unknown = unknownKeys(Config, process.env)
if (unknown.length > 0) logger.debug({ keys: unknown }, 'environment keys this service does not use')

await using stack = new AsyncDisposableStack()
stack.use(startTelemetry({ service, endpoint: config.AUTOCAL_OTLP_ENDPOINT }))
stack.use(await startRunWatcher(config, logger).catch((err: unknown) => {
  logger.fatal({ err }, 'run-watcher did not start')
  process.exit(1)
}))
await closeOnSignal(stack, { logger, graceMs: config.AUTOCAL_SHUTDOWN_GRACE_MS })
