// task-dispatcher: turns run facts into block tasks and job requests, follows
// them to uploaded conditions, and serves the gRPC control API (app.ts).
import { closeOnSignal, createLogger, loadConfig, startTelemetry } from '@autocal/runtime'
import { Config } from './config.ts'
import { service, startTaskDispatcher } from './app.ts'

const config = loadConfig(Config, process.env)
const logger = createLogger({ service, level: config.AUTOCAL_LOG_LEVEL })

await using stack = new AsyncDisposableStack()
stack.use(await startTelemetry({ service, endpoint: config.AUTOCAL_OTLP_ENDPOINT }))
stack.use(await startTaskDispatcher(config, logger, process.env))
await closeOnSignal(stack, { logger, graceMs: config.AUTOCAL_SHUTDOWN_GRACE_MS })
