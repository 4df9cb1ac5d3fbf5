// Test harness: an executor under a unique topic and key prefix, a producer
// of job requests and a collector of job statuses, on the real Kafka + Redis.
import { randomUUID } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
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
    ...extra
  }
}

export interface Bench extends AsyncDisposable {
  producer: Producer
  statuses: JobStatus[]
  request: (jobId: string, argv: string[], extra?: { try?: number, timeoutS?: number, outdir?: string, backend?: string }) => Promise<void>
  cancel: (jobId: string, reason: string) => Promise<void>
  final: (jobId: string) => JobStatus | undefined
}

export async function startBench (env: Record<string, string>, logger: Logger): Promise<Bench> {
  const config = loadConfig(Config, env)
  const producer = await startProducer({ config, logger, service: 'test' })
  const statuses: JobStatus[] = []
  const consumer = await startConsumer({ config, logger, service: 'test', group: `status-${randomUUID().slice(0, 6)}`, producer, handlers: { jobStatus: async s => { statuses.push(s) } } })
  const provenance = (jobId: string) => ({ subsystem: 'ECAL', campaign: 'prompt', workflow: 'test', blockId: `run-${jobId}`, task: 't', taskAttempt: 1, inputRuns: [355100] })
  return {
    producer,
    statuses,
    request: async (jobId, argv, extra = {}) => {
      await producer.publish(topics.jobRequests, create(JobRequestSchema, {
        jobId,
        try: extra.try ?? 1,
        jobIndex: 0,
        provenance: provenance(jobId),
        action: { case: 'start', value: { argv, backend: extra.backend ?? 'local', timeoutS: extra.timeoutS ?? 0, outdir: extra.outdir ?? join(env.AUTOCAL_DATA_DIR!, 'out', jobId), njobs: 1 } }
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

export async function until (what: string, predicate: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}
