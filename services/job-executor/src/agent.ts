// autocal-agent: runs job-executor jobs on a host outside the cluster (a
// submit host), dialling the executor's gRPC agent endpoint.
import { closeOnSignal, createLogger, loadConfig } from '@autocal/runtime'
import { AgentConfig } from './agent/config.ts'
import { startAgent } from './agent/agent.ts'

const config = loadConfig(AgentConfig, process.env)
const logger = createLogger({ service: 'autocal-agent', level: config.AUTOCAL_LOG_LEVEL, instance: config.AUTOCAL_AGENT_ID })

await using stack = new AsyncDisposableStack()
stack.use(await startAgent(config, logger))
await closeOnSignal(stack, { logger, graceMs: config.AUTOCAL_SHUTDOWN_GRACE_MS })
