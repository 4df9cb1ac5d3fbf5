// Test fixtures: a configuration for the local Kafka + Redis under a unique
// topic and key prefix, so that tests never see each other's messages.
import { randomUUID } from 'node:crypto'
import { Writable } from 'node:stream'
import { z } from 'zod'
import { baseShape, connectionEnv, kafkaShape, loadConfig, redisShape } from '../src/config.ts'
import { createLogger, type Logger } from '../src/logger.ts'
import { until as waitUntil } from '../../../test/helpers/until.ts'

export const TestConfig = z.object({ ...baseShape, ...kafkaShape, ...redisShape })
export type TestConfig = z.infer<typeof TestConfig>

export function testConfig (overrides: Record<string, string> = {}): TestConfig {
  const id = `t-${randomUUID().slice(0, 8)}`
  return loadConfig(TestConfig, {
    ...connectionEnv(), // the servers and credentials of this test run (defaults: the embedded local ones)
    AUTOCAL_KAFKA_TOPIC_PREFIX: id,
    AUTOCAL_REDIS_KEY_PREFIX: `${id}:`,
    AUTOCAL_KAFKA_RETRY_BASE_MS: '50',
    AUTOCAL_KAFKA_MAX_ATTEMPTS: '4',
    ...overrides
  })
}

/** A logger whose lines are kept in memory (parsed JSON). */
export function memoryLogger (service = 'test', level = 'info'): { logger: Logger, lines: Array<Record<string, any>> } {
  const lines: Array<Record<string, any>> = []
  const stream = new Writable({
    write (chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line))
      done()
    }
  })
  return { logger: createLogger({ service, level, destination: stream }), lines }
}

/** The tests' one wait (test/helpers/until.ts), with this suite's default deadline of 30_000 ms. */
export async function until (what: string, predicate: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  await waitUntil(what, predicate, timeoutMs)
}
