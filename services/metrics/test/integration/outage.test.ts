// The outage the original framework could not see: every executor stops while
// jobs are queued. A real job-executor process consumes a first job request
// (its group commits), is killed (SIGKILL: no clean leave), then job requests
// keep coming. Within 2 minutes the metrics service shows the alert's input
// (autocal_consumer_stalled_seconds of the job-executor group on the job
// requests topic at the threshold, the lag equal to the queued requests) and
// the experts' Mattermost route receives "no executor takes jobs" once.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { create } from '@bufbuild/protobuf'
import { JobRequestSchema, topics } from '@autocal/contracts'
import { connectionEnv, startProducer } from '@autocal/runtime'
import { startMetricsService } from '../../src/app.ts'
import { cleanUp, quietLogger, scrape, startWebhookReceiver, sumOf, testConfig, until } from './fixtures.ts'

const stallSeconds = 10
const selector = { group: 'job-executor', topic: 'autocal.jobs.requests.v1' }

function jobRequest (run: number, outdir: string) {
  return create(JobRequestSchema, {
    jobId: `prompt/run-${run}/timing-reco/1/0`,
    try: 1,
    jobIndex: 0,
    provenance: { subsystem: 'ECAL', campaign: 'prompt', workflow: 'timing', blockId: `run-${run}`, task: 'timing-reco', taskAttempt: 1, inputRuns: [run] },
    // inside the executor's jobs directory (<data dir>/jobs): a request naming another place is refused at entry
    action: { case: 'start', value: { argv: ['true'], backend: 'local', njobs: 1, outdir: join(outdir, 'jobs', 'prompt', `run-${run}`, 'timing-reco', 'a1', 'j0') } }
  })
}

test('every executor stopped while jobs are queued: the stall alert input and one experts notification within 2 minutes', async t => {
  // released in reverse order, each even when a later one fails to start
  const stack = new AsyncDisposableStack()
  t.after(async () => { await stack.disposeAsync() })
  const failures = stack.use(await startWebhookReceiver())
  const experts = stack.use(await startWebhookReceiver())
  const routes = [{ name: 'experts', audiences: ['experts'], webhook: experts.url, channel: 'autocal-experts' }]
  const config = testConfig({
    AUTOCAL_MATTERMOST_WEBHOOK_URL: failures.url,
    AUTOCAL_NOTIFY_ROUTES: JSON.stringify(routes),
    AUTOCAL_ALERT_STALL_SECONDS: String(stallSeconds),
    AUTOCAL_ALERT_SCAN_MS: '1000'
  })
  const logger = quietLogger()
  const dataDir = mkdtempSync(join(tmpdir(), 'autocal-outage-'))
  stack.defer(async () => {
    await cleanUp(config, logger)
    rmSync(dataDir, { recursive: true, force: true })
  })
  const producer = stack.use(await startProducer({ config, logger, service: 'test' }))
  const service = stack.use(await startMetricsService(config, logger))
  const executor = spawn(process.execPath, ['src/index.ts'], {
    cwd: new URL('../../../job-executor', import.meta.url).pathname,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      ...connectionEnv(),
      AUTOCAL_KAFKA_TOPIC_PREFIX: config.AUTOCAL_KAFKA_TOPIC_PREFIX,
      AUTOCAL_REDIS_KEY_PREFIX: config.AUTOCAL_REDIS_KEY_PREFIX,
      AUTOCAL_HTTP_PORT: '0',
      AUTOCAL_EXECUTOR_BACKENDS: 'local',
      AUTOCAL_DATA_DIR: dataDir,
      AUTOCAL_LOG_LEVEL: 'warn'
    },
    stdio: ['ignore', 'ignore', 'pipe']
  })
  stack.defer(() => { if (executor.exitCode === null && executor.signalCode === null) executor.kill('SIGKILL') })
  let executorStderr = ''
  executor.stderr.on('data', (c: Buffer) => { executorStderr += c.toString() })

  // the executor consumes: its group commits on the job requests topic and has no backlog
  await producer.publish(topics.jobRequests, jobRequest(355100, dataDir))
  await until('the executor took the first job request', async () => {
    const m = await scrape(service.url)
    return m.some(s => s.name === 'autocal_consumer_lag' && s.labels.group === selector.group && s.labels.topic === selector.topic && s.value === 0)
  }, 90_000).catch(err => { throw new Error(`${(err as Error).message}; executor stderr: ${executorStderr}`) })
  assert.equal(sumOf(await scrape(service.url), 'autocal_consumer_stalled_seconds', selector), 0)
  assert.equal(experts.received.length, 0)

  // every executor stops; jobs keep being queued
  const exited = once(executor, 'exit')
  executor.kill('SIGKILL')
  await exited
  const stoppedAt = Date.now()
  await producer.publishMany(topics.jobRequests, [355101, 355102, 355103].map(run => jobRequest(run, dataDir)))

  await until('the stall alert input and the experts notification', async () => {
    const m = await scrape(service.url)
    return sumOf(m, 'autocal_consumer_stalled_seconds', selector) >= stallSeconds && experts.received.length > 0
  }, 120_000 - (Date.now() - stoppedAt)).catch(async err => {
    const seen = (await scrape(service.url)).filter(x => /consumer|notifications/.test(x.name))
    throw new Error(`${(err as Error).message}: ${JSON.stringify(seen)}; experts got ${JSON.stringify(experts.received)}`)
  })
  const m = await scrape(service.url)
  assert.equal(sumOf(m, 'autocal_consumer_lag', selector), 3)
  assert.deepEqual(experts.received.map(r => r.channel), ['autocal-experts'])
  assert.match(experts.received[0]?.text ?? '', /^:rotating_light: \*\*no executor takes jobs\*\*: 3 job requests waiting on autocal\.jobs\.requests\.v1 and nothing consumed for \d+ s$/)
  assert.equal(failures.received.filter(r => /no executor takes jobs/.test(r.text)).length, 0, 'not on the public failures channel')

  // the same stall checked again is the same episode: no second notification
  await service.consumers.check()
  await until('the repeat counted as a duplicate', async () => sumOf(await scrape(service.url), 'autocal_notifications_total', { kind: 'consumer-stalled', outcome: 'duplicate' }) >= 1)
  assert.equal(experts.received.length, 1)
})
