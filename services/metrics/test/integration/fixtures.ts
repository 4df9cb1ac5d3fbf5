// Fixtures of the metrics integration tests: a configuration under a unique
// topic, group and Redis prefix; a local webhook receiver standing in for
// Mattermost (it speaks the incoming-webhook protocol: POST JSON); a parser of
// the Prometheus text format.
import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { allTopics, topicName } from '@autocal/contracts'
import { connectRedis, connectionEnv, createKafka, createLogger, loadConfig, waitForTopics, type Logger } from '@autocal/runtime'
import { Config } from '../../src/config.ts'
import { until as waitUntil } from '../../../../test/helpers/until.ts'

export function testConfig (overrides: Record<string, string> = {}): Config {
  const id = `t-${randomUUID().slice(0, 8)}`
  return loadConfig(Config, {
    ...connectionEnv(), // the servers and credentials of this test run (defaults: the embedded local ones)
    AUTOCAL_KAFKA_TOPIC_PREFIX: id,
    AUTOCAL_REDIS_KEY_PREFIX: `${id}:`,
    AUTOCAL_HTTP_PORT: '0',
    // reads open in the tests of other behaviour; the read-access tests set tokens
    AUTOCAL_READ_PUBLIC: 'true',
    AUTOCAL_KAFKA_RETRY_BASE_MS: '50',
    AUTOCAL_KAFKA_MAX_ATTEMPTS: '4',
    AUTOCAL_METRICS_MARKER_CHECK_MS: '250',
    AUTOCAL_METRICS_LAG_CACHE_MS: '0',
    AUTOCAL_DEADLINE_SCAN_MS: '3600000',
    ...overrides
  })
}

export function quietLogger (): Logger {
  return createLogger({ service: 'metrics-test', level: process.env.AUTOCAL_TEST_LOG_LEVEL ?? 'silent' })
}

export interface WebhookReceiver extends AsyncDisposable {
  url: string
  received: Array<{ text: string, username?: string, channel?: string }>
}

async function body (req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const c of req) chunks.push(c as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

/** A local HTTP server that records Mattermost incoming-webhook posts. */
export async function startWebhookReceiver (): Promise<WebhookReceiver> {
  const received: WebhookReceiver['received'] = []
  const server = createServer((req, res) => {
    body(req).then(text => {
      if (req.method !== 'POST' || req.headers['content-type'] !== 'application/json') {
        res.writeHead(400).end('expected POST application/json')
        return
      }
      received.push(JSON.parse(text))
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok')
    }, () => res.writeHead(500).end())
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/hooks/test`,
    received,
    [Symbol.asyncDispose]: async () => { await new Promise(resolve => server.close(resolve)) }
  }
}

export interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

/** Samples of a Prometheus text exposition. */
export function parseMetrics (text: string): Sample[] {
  const out: Sample[] = []
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line)
    if (m === null) continue
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1] as string] = l[2] as string
    out.push({ name: m[1] as string, labels, value: Number(m[3]) })
  }
  return out
}

/** Sum of the samples of `name` whose labels include `match`. */
export function sumOf (samples: Sample[], name: string, match: Record<string, string> = {}): number {
  return samples.filter(s => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + s.value, 0)
}

/** The tests' one wait (test/helpers/until.ts), with this suite's default deadline of 30_000 ms. */
export async function until (what: string, predicate: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  await waitUntil(what, predicate, timeoutMs)
}

/** GET a JSON answer; `token` is presented as a bearer read token. */
export async function getJson (url: string, token?: string): Promise<{ status: number, body: any }> {
  const res = await fetch(url, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } })
  return { status: res.status, body: await res.json() }
}

export async function scrape (baseUrl: string): Promise<Sample[]> {
  return parseMetrics(await (await fetch(`${baseUrl}/metrics`)).text())
}

/** Removes what a test left on the shared servers: its Redis keys, topics and consumer groups. */
export async function cleanUp (config: Config, logger: Logger): Promise<void> {
  const redis = await connectRedis({ config, logger })
  try {
    const keys = await redis.client.keys(`${config.AUTOCAL_REDIS_KEY_PREFIX}*`)
    if (keys.length > 0) await redis.client.del(...keys)
  } finally {
    await redis[Symbol.asyncDispose]()
  }
  const admin = createKafka(config, logger, 'metrics-test-cleanup').admin()
  await admin.connect()
  try {
    const prefix = `${config.AUTOCAL_KAFKA_TOPIC_PREFIX}.`
    const topics = (await admin.listTopics()).filter(t => t.startsWith(prefix))
    const groups = (await admin.listGroups()).groups.map(g => g.groupId).filter(g => g.startsWith(prefix))
    if (groups.length > 0) await admin.deleteGroups(groups).catch(() => {})
    if (topics.length > 0) await admin.deleteTopics({ topics })
  } finally {
    await admin.disconnect()
  }
}

/** Waits until the broker serves every registry topic under the config's prefix (the service creates them at start). */
export async function topicsReady (config: Config, waitMs = 60_000): Promise<void> {
  const admin = createKafka(config, quietLogger(), 'metrics-test-topics').admin()
  await admin.connect()
  try {
    await waitForTopics(admin, allTopics.map(t => ({ name: topicName(t, config.AUTOCAL_KAFKA_TOPIC_PREFIX), partitions: t.settings.partitions })), waitMs)
  } finally {
    await admin.disconnect()
  }
}
