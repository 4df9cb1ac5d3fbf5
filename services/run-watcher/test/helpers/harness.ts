// Test harness: a run-watcher in this process under a unique topic and key
// prefix, and a consumer that collects what it announced.
import { randomUUID } from 'node:crypto'
import { Writable } from 'node:stream'
import { connectionEnv, loadConfig, createLogger, createMetrics, startConsumer, startProducer, type Logger } from '@autocal/runtime'
import type { RunEvent, EventMeta } from '@autocal/contracts'
import { Config } from '../../src/config.ts'
import { startRunWatcher } from '../../src/app.ts'

export const realdata = process.env.AUTOCAL_REALDATA_DIR ?? new URL('../../../../../shared/realdata', import.meta.url).pathname

export function quietLogger (): { logger: Logger, lines: Array<Record<string, any>> } {
  const lines: Array<Record<string, any>> = []
  const stream = new Writable({ write (chunk: Buffer, _e, done) { for (const l of chunk.toString().split('\n')) if (l !== '') lines.push(JSON.parse(l)); done() } })
  return { logger: createLogger({ service: 'run-watcher', level: 'info', destination: stream }), lines }
}

export function testEnv (extra: Record<string, string> = {}): Record<string, string> {
  const id = `t-${randomUUID().slice(0, 8)}`
  return { ...connectionEnv(), AUTOCAL_KAFKA_TOPIC_PREFIX: id, AUTOCAL_REDIS_KEY_PREFIX: `${id}:`, AUTOCAL_HTTP_PORT: '0', AUTOCAL_REPLAY_TICK_MS: '20', ...extra }
}

export async function startWatcher (env: Record<string, string>, logger: Logger): Promise<AsyncDisposable & { port: number }> {
  return await startRunWatcher(loadConfig(Config, env), logger)
}

export interface Collected { event: RunEvent, meta: EventMeta }

/** Collects every RunEvent of the prefix's runs topic. */
export async function collectRuns (env: Record<string, string>, logger: Logger): Promise<AsyncDisposable & { events: Collected[] }> {
  const config = loadConfig(Config, env)
  const events: Collected[] = []
  const producer = await startProducer({ config, logger, service: 'test' })
  const consumer = await startConsumer({
    config,
    logger,
    service: 'test',
    group: `collector-${randomUUID().slice(0, 6)}`,
    producer,
    metrics: createMetrics({ service: 'test' }),
    handlers: { runs: async (event, meta) => { events.push({ event, meta }) } }
  })
  return { events, [Symbol.asyncDispose]: async () => { await consumer[Symbol.asyncDispose](); await producer[Symbol.asyncDispose]() } }
}

// the tests' one wait (deadline 60 s unless given)
export { until } from '../../../../test/helpers/until.ts'

/** Waits until `count()` stops changing for `quietMs`. */
export async function settled (count: () => number, quietMs = 1500): Promise<void> {
  let last = -1
  let since = Date.now()
  while (Date.now() - since < quietMs) {
    const now = count()
    if (now !== last) { last = now; since = Date.now() }
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}
