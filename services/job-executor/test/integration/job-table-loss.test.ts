// The executor's job table lost with Redis's data (an empty Redis after an
// outage, a FLUSHALL): rebuilt from the job topics, on real Kafka + Redis and
// real processes. The shared Redis is never flushed: the test deletes its own
// key prefix, which is all an executor of that prefix sees.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base'
import { JobPhase, topicName, topics } from '@autocal/contracts'
import { connectRedis, loadConfig, startTelemetry, type Logger } from '@autocal/runtime'
import { Config } from '../../src/config.ts'
import { startJobExecutor } from '../../src/app.ts'
import { quietLogger, scratchDir, startBench, testEnv, until } from '../helpers/harness.ts'

/** Deletes every key of the test's prefix: the executor's Redis state is gone, as after a restart of an empty Redis. */
async function loseRedisState (env: Record<string, string>, logger: Logger): Promise<number> {
  const config = loadConfig(Config, env)
  await using redis = await connectRedis({ config, logger })
  let cursor = '0'
  let deleted = 0
  do {
    const [next, keys] = await redis.client.scan(cursor, 'MATCH', `${config.AUTOCAL_REDIS_KEY_PREFIX}*`, 'COUNT', 500)
    cursor = next
    if (keys.length > 0) deleted += await redis.client.del(...keys)
  } while (cursor !== '0')
  return deleted
}

/** A job that appends "<name>" to the ledger when it starts (the count of starts), waits for `go` (when given), writes an output. */
const job = (ledger: string, name: string, go?: string): string[] => ['python3', '-c', `
import json, os, time
open(${JSON.stringify(ledger)}, 'a').write(${JSON.stringify(name)} + '\\n')
while ${go === undefined ? 'False' : `not os.path.exists(${JSON.stringify(go)})`}:
    time.sleep(0.05)
open('result.txt', 'w').write(${JSON.stringify(name)})
json.dump({'outputs': ['result.txt']}, open('outputs.json', 'w'))`]

test('after the job table is lost, a job that ran on is reported when it ends, and neither it nor a finished job starts again when requested again', async () => {
  const env = testEnv()
  const logger = quietLogger()
  await using bench = await startBench(env, logger)
  const scratch = scratchDir(env)
  const ledger = join(scratch, 'starts.txt')
  const go = join(scratch, 'go')
  const starts = (): string[] => existsSync(ledger) ? readFileSync(ledger, 'utf8').trim().split('\n') : []
  {
    await using _first = await startJobExecutor(loadConfig(Config, env), logger)
    await bench.request('ended', job(ledger, 'ended'))
    await bench.request('long', job(ledger, 'long', go))
    await until('ended done, long running', () => bench.final('ended') !== undefined && bench.statuses.some(s => s.jobId === 'long' && s.phase === JobPhase.RUNNING))
  } // the executor stops; its running process goes on
  assert.ok(await loseRedisState(env, logger) > 0, 'the executor had state in Redis')
  await using _second = await startJobExecutor(loadConfig(Config, { ...env, AUTOCAL_INSTANCE_ID: `${env.AUTOCAL_INSTANCE_ID!}-b` }), logger)
  // a redelivery, or the dispatcher's watchdog asking again: same job ids and tries
  const before = bench.statuses.length
  await bench.request('ended', job(ledger, 'ended'))
  await bench.request('long', job(ledger, 'long', go))
  await until('the repeated request of the running job answered', () => bench.statuses.slice(before).some(s => s.jobId === 'long' && s.phase === JobPhase.RUNNING))
  writeFileSync(go, '')
  await until('long done', () => bench.final('long') !== undefined)
  const long = bench.final('long')!
  assert.equal(long.phase, JobPhase.DONE, long.reason)
  assert.deepEqual(long.outputs.map(o => o.path.endsWith('/long/result.txt')), [true])
  assert.deepEqual(starts().sort(), ['ended', 'long'], 'each job started once')
  assert.equal(bench.statuses.filter(s => s.jobId === 'ended' && s.phase === JobPhase.DONE).length, 1, 'the finished job is not reported again')
})

test('after the job table is lost, a requested job that never started is started once, and one reported running whose process is gone is failed as retryable', async () => {
  const env = testEnv({ AUTOCAL_EXECUTOR_SLOTS: '1' })
  const logger = quietLogger()
  await using bench = await startBench(env, logger)
  const scratch = scratchDir(env)
  const ledger = join(scratch, 'starts.txt')
  const go = join(scratch, 'go')
  const starts = (): string[] => existsSync(ledger) ? readFileSync(ledger, 'utf8').trim().split('\n') : []
  {
    await using _first = await startJobExecutor(loadConfig(Config, env), logger)
    await bench.request('holder', job(ledger, 'holder', go)) // takes the one slot
    await until('holder running', () => bench.statuses.some(s => s.jobId === 'holder' && s.phase === JobPhase.RUNNING))
    await bench.request('waiting', job(ledger, 'waiting'))
    await until('waiting queued', () => bench.statuses.some(s => s.jobId === 'waiting' && s.phase === JobPhase.QUEUED))
  }
  // the holder's process ends while no executor runs and its exit file is lost with its pid file: gone without a trace
  writeFileSync(go, '')
  await until('holder exited', () => existsSync(join(scratch, '..', 'jobs', 'out', 'holder', 'outputs.json')))
  const { rmSync, readdirSync } = await import('node:fs')
  for (const f of readdirSync(join(env.AUTOCAL_DATA_DIR!, 'run', 'jobs'))) if (f.startsWith('holder')) rmSync(join(env.AUTOCAL_DATA_DIR!, 'run', 'jobs', f))
  await loseRedisState(env, logger)
  await using _second = await startJobExecutor(loadConfig(Config, { ...env, AUTOCAL_INSTANCE_ID: `${env.AUTOCAL_INSTANCE_ID!}-b` }), logger)
  await until('both reported', () => bench.final('holder') !== undefined && bench.final('waiting') !== undefined)
  const holder = bench.final('holder')!
  assert.equal(holder.phase, JobPhase.FAILED)
  assert.equal(holder.retryable, true)
  assert.match(holder.reason, /^executor state lost \(Redis\): the job was reported running, but its process is not in this pod(; log tail: .*)?$/s)
  assert.equal(bench.final('waiting')!.phase, JobPhase.DONE)
  assert.deepEqual(starts().sort(), ['holder', 'waiting'], 'each job started once')
})

test('a job reinstated from the job topics (its request came before any executor had a job table) reports in its request\'s trace', async () => {
  // found in CI: under load the executor's first rebuild took over a request before its consumer did, and the
  // job's statuses started a trace of their own (the rebuild had no trace context to give them)
  const exporter = new InMemorySpanExporter()
  await using _telemetry = startTelemetry({ service: 'test', exporter })
  const env = testEnv()
  const logger = quietLogger()
  const prefix = loadConfig(Config, env).AUTOCAL_KAFKA_TOPIC_PREFIX
  await using bench = await startBench(env, logger)
  const ledger = join(scratchDir(env), 'starts.txt')
  await bench.request('traced', job(ledger, 'traced'))
  // no executor has run on this prefix: the first one rebuilds its job table from the topics before it consumes
  await using _executor = await startJobExecutor(loadConfig(Config, env), logger)
  await until('traced done', () => bench.final('traced') !== undefined)
  assert.equal(bench.final('traced')!.phase, JobPhase.DONE)
  const sends = (topic: string) => exporter.getFinishedSpans().filter(s => s.name === `send ${topic}`)
  // RUNNING and DONE (a reinstated job is not reported QUEUED again)
  await until('status spans exported', () => sends(topicName(topics.jobStatus, prefix)).length >= 2)
  const [request] = sends(topicName(topics.jobRequests, prefix))
  assert.ok(request !== undefined, 'the request was sent in a span')
  const statusTraces = sends(topicName(topics.jobStatus, prefix)).map(s => s.spanContext().traceId)
  assert.deepEqual(statusTraces.filter(t => t !== request.spanContext().traceId), [], 'every status of the job is in its request\'s trace')
  assert.equal(readFileSync(ledger, 'utf8').trim(), 'traced', 'the job started once')
})
