// Test harness: a run-watcher in this process under a unique topic and key
// prefix, and a consumer that collects what it announced.
import { randomUUID } from 'node:crypto'
import { Writable } from 'node:stream'
import { connectionEnv, loadConfig, createKafka, createLogger, createMetrics, startConsumer, startProducer, type Logger } from '@autocal/runtime'
import { topicName, topics, type RunEvent, type EventMeta, type Topic } from '@autocal/contracts'
import { Config } from '../../src/config.ts'
import { until } from '../../../../test/helpers/until.ts'
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

/**
 * Collects every RunEvent of the prefix's runs topic. `caughtUp()` resolves
 * true when the collector has received every record the topic holds at the
 * call (for each partition that holds any, the record at its end offset − 1;
 * records deleted below the low offset count as received).
 */
export async function collectRuns (env: Record<string, string>, logger: Logger): Promise<AsyncDisposable & { events: Collected[], caughtUp: () => Promise<boolean> }> {
  const config = loadConfig(Config, env)
  const events: Collected[] = []
  const highest = new Map<number, bigint>()
  const topic = topicName(topics.runs, config.AUTOCAL_KAFKA_TOPIC_PREFIX)
  const admin = createKafka(config, logger, 'test-collector').admin()
  await admin.connect()
  const producer = await startProducer({ config, logger, service: 'test' })
  const consumer = await startConsumer({
    config,
    logger,
    service: 'test',
    group: `collector-${randomUUID().slice(0, 6)}`,
    producer,
    metrics: createMetrics({ service: 'test' }),
    handlers: {
      runs: async (event, meta) => {
        events.push({ event, meta })
        const offset = BigInt(meta.offset)
        if (offset > (highest.get(meta.partition) ?? -1n)) highest.set(meta.partition, offset)
      }
    }
  })
  const caughtUp = async (): Promise<boolean> => (await admin.fetchTopicOffsets(topic))
    .every(p => BigInt(p.high) === BigInt(p.low) || (highest.get(p.partition) ?? -1n) >= BigInt(p.high) - 1n)
  return { events, caughtUp, [Symbol.asyncDispose]: async () => { await consumer[Symbol.asyncDispose](); await producer[Symbol.asyncDispose](); await admin.disconnect() } }
}

// the tests' one wait (deadline 60 s unless given)
export { until }

/**
 * Waits until the watcher has published all it will for now, then until the
 * collector has received every record the runs topic holds: after it,
 * `collector.events` is everything published, so a count taken then can fail.
 * `published` is the watcher's own positive mark that it is done (e.g. its
 * replay logged 'source finished', the OMS stand-in served a whole round that
 * began after the change and was polled again): a mark of a step that is
 * awaited after its events were sent, never a quiet period. Rejects naming
 * `what` after `timeoutMs` (each wait).
 */
export async function allDelivered (collector: { caughtUp: () => Promise<boolean> }, what: string, published: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  await until(what, published, timeoutMs)
  await until(`the collector received every record of the runs topic (after ${what})`, collector.caughtUp, timeoutMs, 200)
}

/** How many records the prefix's topic `topic` (e.g. topics.dlq) holds now: the sum over its partitions of end − start offset, read from the broker. */
export async function topicRecordCount (env: Record<string, string>, logger: Logger, topic: Topic<any>): Promise<number> {
  const config = loadConfig(Config, env)
  const admin = createKafka(config, logger, 'test-count').admin()
  await admin.connect()
  try {
    const offsets = await admin.fetchTopicOffsets(topicName(topic, config.AUTOCAL_KAFKA_TOPIC_PREFIX))
    return offsets.reduce((sum, p) => sum + Number(BigInt(p.high) - BigInt(p.low)), 0)
  } finally {
    await admin.disconnect()
  }
}

/** How many times the watcher logged that its source `source` ('replay', 'generator') finished: it has announced every step of its list. */
export function finishedCount (lines: Array<Record<string, any>>, source: string): number {
  return lines.filter(l => l.msg === 'source finished' && l.source === source).length
}

/**
 * How many polling rounds the OMS stand-in has seen begin (first-page requests
 * of /api/v1/runs with a valid token, from index `since` of its request log on). Two round starts
 * after a change mean a whole round that saw the change ended, its events
 * sent, before the next began.
 */
export function omsRoundsSince (requests: Array<{ path: string, query: URLSearchParams, authorized: boolean }>, since: number): number {
  return requests.slice(since).filter(r => r.path === '/api/v1/runs' && r.authorized && (r.query.get('page[offset]') ?? '0') === '0').length
}
