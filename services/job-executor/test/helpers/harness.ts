// Test harness: an executor under a unique topic and key prefix, a producer
// of job requests and a collector of job statuses, on the real Kafka + Redis.
import { randomUUID } from 'node:crypto'
import { chmodSync, mkdirSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { create } from '@bufbuild/protobuf'
import { JobRequestSchema, type JobStatus } from '@autocal/contracts'
import { connectRedis, connectionEnv, createLogger, loadConfig, startConsumer, startProducer, type Logger, type Producer } from '@autocal/runtime'
import { topics } from '@autocal/contracts'
import { Config } from '../../src/config.ts'

export { topics }

export function quietLogger (): Logger {
  return createLogger({ service: 'job-executor', level: 'warn', destination: new Writable({ write (_c, _e, done) { done() } }) })
}

/** The read token of the tests' executors (AUTOCAL_READ_TOKENS), and fetch options presenting it. */
export const readToken = 'test-reader-token-1'
export const asReader = { headers: { authorization: `Bearer ${readToken}` } }

export function testEnv (extra: Record<string, string> = {}): Record<string, string> {
  const id = `t-${randomUUID().slice(0, 8)}`
  return {
    ...connectionEnv(), // the servers and credentials of this test run
    AUTOCAL_KAFKA_TOPIC_PREFIX: id,
    AUTOCAL_REDIS_KEY_PREFIX: `${id}:`,
    AUTOCAL_HTTP_PORT: '0',
    AUTOCAL_DATA_DIR: mkdtempSync(join(tmpdir(), 'autocal-exec-')),
    AUTOCAL_EXECUTOR_RECONCILE_MS: '300',
    AUTOCAL_EXECUTOR_KILL_GRACE_MS: '1000',
    AUTOCAL_INSTANCE_ID: `exec-${randomUUID().slice(0, 6)}`,
    AUTOCAL_READ_TOKENS: `tester:${readToken}`,
    ...extra
  }
}

/**
 * A directory under the test's data directory that jobs may write to (they
 * run as an unprivileged user when the tests run as root, and cannot write
 * anywhere else but their own output directory).
 */
export function scratchDir (env: Record<string, string>): string {
  const dir = join(env.AUTOCAL_DATA_DIR!, 'scratch')
  mkdirSync(dir, { recursive: true })
  chmodSync(dir, 0o1777)
  chmodSync(env.AUTOCAL_DATA_DIR!, 0o711)
  return dir
}

/** The output directory of a test job, inside the executor's jobs directory. */
export const outdirOf = (env: Record<string, string>, jobId: string): string => join(env.AUTOCAL_DATA_DIR!, 'jobs', 'out', jobId)

export interface Bench extends AsyncDisposable {
  producer: Producer
  statuses: JobStatus[]
  request: (jobId: string, argv: string[], extra?: { try?: number, timeoutS?: number, outdir?: string, backend?: string, pool?: string, passEnv?: string[] }) => Promise<void>
  cancel: (jobId: string, reason: string) => Promise<void>
  final: (jobId: string) => JobStatus | undefined
}

export async function startBench (env: Record<string, string>, logger: Logger): Promise<Bench> {
  const config = loadConfig(Config, env)
  const producer = await startProducer({ config, logger, service: 'test' })
  const statuses: JobStatus[] = []
  let consumer
  try {
    consumer = await startConsumer({ config, logger, service: 'test', group: `status-${randomUUID().slice(0, 6)}`, producer, handlers: { jobStatus: async s => { statuses.push(s) } } })
  } catch (err) {
    await producer[Symbol.asyncDispose]() // a failed start leaves nothing open
    throw err
  }
  const provenance = (jobId: string) => ({ subsystem: 'ECAL', campaign: 'prompt', workflow: 'test', blockId: `run-${jobId.replace(/[^A-Za-z0-9_.-]+/g, '_')}`, task: 't', taskAttempt: 1, inputRuns: [355100] })
  return {
    producer,
    statuses,
    request: async (jobId, argv, extra = {}) => {
      await producer.publish(topics.jobRequests, create(JobRequestSchema, {
        jobId,
        try: extra.try ?? 1,
        jobIndex: 0,
        provenance: provenance(jobId),
        action: { case: 'start', value: { argv, backend: extra.backend ?? 'local', timeoutS: extra.timeoutS ?? 0, outdir: extra.outdir ?? outdirOf(env, jobId), njobs: 1, pool: extra.pool ?? '', passEnv: extra.passEnv ?? [] } }
      }))
    },
    cancel: async (jobId, reason) => {
      await producer.publish(topics.jobRequests, create(JobRequestSchema, { jobId, try: 1, provenance: provenance(jobId), action: { case: 'cancel', value: { reason } } }))
    },
    final: jobId => statuses.find(s => s.jobId === jobId && (s.phase === 3 || s.phase === 4)),
    [Symbol.asyncDispose]: async () => {
      await consumer[Symbol.asyncDispose]()
      await producer[Symbol.asyncDispose]()
      // the test's own keys only (unique prefix); the Redis is shared
      await using redis = await connectRedis({ config, logger })
      let cursor = '0'
      do {
        const [next, keys] = await redis.client.scan(cursor, 'MATCH', `${config.AUTOCAL_REDIS_KEY_PREFIX}*`, 'COUNT', 500)
        cursor = next
        if (keys.length > 0) await redis.client.del(...keys)
      } while (cursor !== '0')
    }
  }
}

// the tests' one wait (deadline 60 s unless given)
export { until } from '../../../../test/helpers/until.ts'
