// A minimal service for the process tests: consumes autocal.runs.v1 with a
// slow handler and appends each handled run to a file. Configured by env like
// every service; stops gracefully on SIGTERM.
import { appendFileSync } from 'node:fs'
import { z } from 'zod'
import { baseShape, httpShape, kafkaShape, loadConfig, redisShape } from '../../src/config.ts'
import { createLogger } from '../../src/logger.ts'
import { startProducer } from '../../src/bus/producer.ts'
import { startConsumer } from '../../src/bus/consumer.ts'
import { closeOnSignal } from '../../src/shutdown.ts'

const config = loadConfig(z.object({ ...baseShape, ...kafkaShape, ...redisShape, ...httpShape, TEST_OUT: z.string(), TEST_HANDLER_MS: z.coerce.number().default(20) }), {
  ...process.env, TEST_OUT: process.env.TEST_OUT, TEST_HANDLER_MS: process.env.TEST_HANDLER_MS
})
const logger = createLogger({ service: 'consumer-process', level: config.AUTOCAL_LOG_LEVEL })
await using stack = new AsyncDisposableStack()
const producer = stack.use(await startProducer({ config, logger, service: 'consumer-process' }))
stack.use(await startConsumer({
  config,
  logger,
  service: 'consumer-process',
  group: 'process-test',
  producer,
  handlers: {
    runs: async m => {
      await new Promise(resolve => setTimeout(resolve, config.TEST_HANDLER_MS))
      appendFileSync(config.TEST_OUT, `${m.run}\n`)
    }
  }
}))
console.log('READY')
await closeOnSignal(stack, { logger, graceMs: config.AUTOCAL_SHUTDOWN_GRACE_MS })
