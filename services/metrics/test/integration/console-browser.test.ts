// The web console in a real browser: Chromium from the system's packages
// (Debian's `chromium`, installed by test/run.sh when missing) driven by
// playwright-core, on a metrics service fed through the real Kafka and Redis
// with the events of real 2022 runs (runs2022_oms_enriched.csv: run, fill,
// era, class, luminosity, start and end; shifted in time so that the newest run
// ended 44 h ago, as the run replay shifts them), a failed task, condition
// uploads (one moved by the FCSR, one rejected), a poison message that the
// metrics consumer itself dead-letters, and a real job run by the real
// job-executor (its own process, local backend) whose log is followed in the
// page and whose plots are shown, and a dead letter sent back from the health
// page by a control sign-in. Screenshots go to AUTOCAL_TEST_OUTPUT_DIR
// (default <tmp>/autocal-test-output/console); AUTOCAL_UPDATE_SCREENSHOTS=1
// also refreshes the README's picture (services/metrics/docs/console-overview.png).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { create, toBinary } from '@bufbuild/protobuf'
import { timestampFromDate } from '@bufbuild/protobuf/wkt'
import { chromium, type Page } from 'playwright-core'
import { BlockKind, ConditionEventSchema, DeadLetterSchema, JobRequestSchema, Outcome, RunEventSchema, TaskEventSchema, TaskState, topicName, topics } from '@autocal/contracts'
import { connectionEnv, createKafka, startProducer } from '@autocal/runtime'
import { startMetricsService } from '../../src/app.ts'
import { cleanUp, getJson, quietLogger, testConfig, until, topicsReady } from './fixtures.ts'

const realdata = process.env.AUTOCAL_REALDATA_DIR ?? new URL('../../../../../shared/realdata', import.meta.url).pathname
const outputDir = process.env.AUTOCAL_TEST_OUTPUT_DIR ?? join(tmpdir(), 'autocal-test-output', 'console')
const docsPicture = new URL('../../docs/console-overview.png', import.meta.url).pathname
const hour = 3_600_000
const tag = 'EcalTimeCalibConstants_prompt'
// the metrics service's read token (the operator signs in with it in the page)
const readToken = 'operator-read-token-1'
// a control token of every subsystem: the shifter signs in with it to send a dead letter back
const controlToken = 'shifter-control-token-1'

interface RealRun { run: number, fill: number, era: string, runClass: string, start: number, end: number, durationS: number, deliveredLumiPb: number, recordedLumiPb: number, stableBeam: boolean }

/** Collision runs 356300–356750 with recorded luminosity, from the real 2022 run list (the e2e test's range). */
function realRuns (): RealRun[] {
  const [head, ...lines] = readFileSync(join(realdata, 'runs2022_oms_enriched.csv'), 'utf8').trim().split('\n')
  const cols = head!.split(',')
  const at = (name: string): number => cols.indexOf(name)
  return lines.map(l => l.split(',')).map(f => ({
    run: Number(f[at('run_number')]),
    fill: Number(f[at('fill_number')]),
    era: f[at('era')]!,
    runClass: f[at('run_class')]!,
    start: Date.parse(`${f[at('start_time')]!.replace(' ', 'T')}Z`),
    end: Date.parse(`${f[at('end_time')]!.replace(' ', 'T')}Z`),
    durationS: Number(f[at('duration_s')]),
    deliveredLumiPb: Number(f[at('delivered_lumi_pb')]),
    recordedLumiPb: Number(f[at('recorded_lumi_pb')]),
    stableBeam: Number(f.at(-4)) > 0 // stable_beam_ls_count (components_out is quoted and holds commas, so count from the end)
  })).filter(r => r.run >= 356300 && r.run <= 356750 && r.runClass === 'collisions2022' && r.recordedLumiPb > 0)
}

function chromiumPath (): string {
  if (process.env.AUTOCAL_CHROMIUM !== undefined) return process.env.AUTOCAL_CHROMIUM
  try {
    return execFileSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).trim()
  } catch {
    throw new Error('chromium is not installed (test/run.sh installs Debian\'s package: apt-get install -y chromium)')
  }
}

async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise(resolve => server.close(resolve))
  return port
}

const ts = (ms: number): ReturnType<typeof timestampFromDate> => timestampFromDate(new Date(ms))

// The job: prints half of its progress, then waits (at most 2 min) until the test has seen those
// lines in the page and drops a file 'release' into its output directory, prints the rest, draws a timing
// histogram as SVG and an occupancy map as PNG (zlib, no plotting library needed) and labels both as plots.
const jobScript = `
import json, os, struct, sys, time, zlib, math
for i in range(12):
    if i == 6:
        waited = 0
        while not os.path.exists('release') and waited < 1200:
            time.sleep(0.1)
            waited += 1
    print(f'processing lumisection block {i + 1}/12', flush=True)
bins = [int(200 * math.exp(-((x - 12) / 4.0) ** 2)) for x in range(25)]
bars = ''.join(f'<rect x="{40 + 14 * i}" y="{230 - b}" width="12" height="{b}" fill="#3b82f6"/>' for i, b in enumerate(bins))
svg = f'<svg xmlns="http://www.w3.org/2000/svg" width="400" height="260"><rect width="400" height="260" fill="white"/><text x="200" y="20" text-anchor="middle" font-family="sans-serif" font-size="14">ECAL timing, run {sys.argv[1]}</text>{bars}<line x1="38" y1="230" x2="392" y2="230" stroke="black"/><text x="200" y="252" text-anchor="middle" font-family="sans-serif" font-size="11">time (ns)</text></svg>'
open('timing.svg', 'w').write(svg)
w, h = 170, 72
rows = b''.join(b'\\x00' + bytes(c for x in range(w) for c in ((x * 255 // w), (y * 255 // h), 160)) for y in range(h))
chunk = lambda t, d: struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
open('occupancy.png', 'wb').write(b'\\x89PNG\\r\\n\\x1a\\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0)) + chunk(b'IDAT', zlib.compress(rows)) + chunk(b'IEND', b''))
open('timing.txt', 'w').write('\\n'.join(str(b) for b in bins))
json.dump({'outputs': [{'path': 'timing.svg', 'label': 'plot'}, {'path': 'occupancy.png', 'label': 'plot'}, {'path': 'timing.txt', 'label': 'data'}]}, open('outputs.json', 'w'))
print('done: 3 outputs written', flush=True)
`

async function shoot (page: Page, name: string): Promise<string> {
  mkdirSync(outputDir, { recursive: true })
  const file = join(outputDir, `${name}.png`)
  await page.screenshot({ path: file, fullPage: true })
  return file
}

test('the console shows real runs newest first with live updates, a failed task, a followed job log with plots, an IOV timeline and a dead letter', { timeout: 240_000 }, async t => {
  const dataDir = mkdtempSync(join(tmpdir(), 'autocal-console-'))
  const config = testConfig({ AUTOCAL_DATA_DIR: dataDir, AUTOCAL_KAFKA_MAX_ATTEMPTS: '2', AUTOCAL_EXECUTOR_READ_TOKEN: 'console-read-token-1', AUTOCAL_READ_PUBLIC: 'false', AUTOCAL_READ_TOKENS: `operator:${readToken}`, AUTOCAL_CONTROL_TOKENS: JSON.stringify({ [controlToken]: { principal: 'shifter', subsystems: '*' } }) })
  const logger = quietLogger()
  const prefix = config.AUTOCAL_KAFKA_TOPIC_PREFIX
  const producer = await startProducer({ config, logger, service: 'test' })
  const service = await startMetricsService(config, logger)
  t.after(async () => {
    await service[Symbol.asyncDispose]()
    await producer[Symbol.asyncDispose]()
    await cleanUp(config, logger)
    rmSync(dataDir, { recursive: true, force: true })
  })
  await topicsReady(config)

  // the real job-executor, as its own process on the same servers and prefix
  const executorPort = await freePort()
  const executorId = 'executor-console-test'
  const executor = spawn(process.execPath, [new URL('../../../job-executor/src/index.ts', import.meta.url).pathname], {
    env: {
      ...process.env,
      ...connectionEnv(),
      AUTOCAL_KAFKA_TOPIC_PREFIX: prefix,
      AUTOCAL_REDIS_KEY_PREFIX: config.AUTOCAL_REDIS_KEY_PREFIX,
      AUTOCAL_HTTP_PORT: String(executorPort),
      AUTOCAL_GRPC_PORT: String(await freePort()),
      AUTOCAL_DATA_DIR: dataDir,
      AUTOCAL_EXECUTOR_BACKENDS: 'local',
      AUTOCAL_INSTANCE_ID: executorId,
      // job logs are served to read-token holders only: the console is one
      AUTOCAL_READ_TOKENS: 'metrics-console:console-read-token-1',
      AUTOCAL_LOG_LEVEL: 'warn'
    },
    stdio: ['ignore', 'ignore', 'inherit']
  })
  t.after(async () => {
    if (executor.exitCode === null) {
      executor.kill('SIGTERM')
      await new Promise(resolve => executor.once('exit', resolve))
    }
  })
  await until('the executor is ready', async () => (await fetch(`http://127.0.0.1:${executorPort}/readyz`).catch(() => undefined))?.status === 200, 60_000)

  // ---- real runs, their tasks and uploads
  const all = realRuns()
  const runs = all.slice(-60)
  assert.ok(runs.length === 60, `expected 60 real collision runs, found ${runs.length}`)
  const now = Date.now()
  const shift = now - 44 * hour - runs.at(-1)!.end
  const newest = runs.at(-1)!
  const failedRun = runs.at(-5)!
  // an upload moved by the FCSR to a run number that no other run uses (a gap in the run numbers), and one rejected
  const gap = runs.findIndex((r, i) => i > 10 && i < 45 && runs[i + 1]!.run - r.run > 2)
  assert.ok(gap > 0, 'a gap in the run numbers')
  const movedRun = runs[gap]!
  const rejectedRun = runs[gap - 1]!
  const fcsr = movedRun.run + 1
  const jobRun = newest
  const provenance = (task: string, run: number) => ({ subsystem: 'ECAL', campaign: 'prompt', workflow: 'timing', blockId: `run-${run}`, task, taskAttempt: 1, inputRuns: [run] })
  const taskEvent = (task: string, r: RealRun, state: TaskState, previousState: TaskState, version: number, atMs: number, reason: string, sync = '') => create(TaskEventSchema, {
    subsystem: 'ECAL',
    campaign: 'prompt',
    workflow: 'timing',
    task,
    block: { id: `run-${r.run}`, kind: BlockKind.RUN, runs: [r.run], fill: r.fill, era: r.era, closed: true },
    state,
    previousState,
    attempt: 1,
    version: BigInt(version),
    reason,
    actor: 'task-dispatcher',
    at: ts(atMs),
    createdAt: ts(r.end + shift),
    runEndedAt: ts(r.end + shift),
    conditionSync: sync,
    conditionTag: sync === '' ? '' : tag
  })
  const publishes: Array<Promise<string>> = []
  for (const r of runs) {
    const end = r.end + shift
    publishes.push(producer.publish(topics.runs, create(RunEventSchema, {
      run: r.run,
      source: 'replay',
      contentHash: `ended-${r.run}`,
      change: { case: 'ended', value: { run: { run: r.run, fill: r.fill, era: r.era, runClass: r.runClass, global: true, stableBeam: r.stableBeam, durationS: r.durationS, deliveredLumiPb: r.deliveredLumiPb, recordedLumiPb: r.recordedLumiPb, startTime: ts(r.start + shift), endTime: ts(end) } } }
    })))
    const reco: Array<[TaskState, TaskState, string]> = [
      [TaskState.NEW, TaskState.UNSPECIFIED, 'run ended'],
      [TaskState.WAITING, TaskState.NEW, 'waiting for Tier-0 stream ALCAPHISYM'],
      [TaskState.PROCESSING, TaskState.WAITING, '1 job requested'],
      r === failedRun ? [TaskState.FAILED, TaskState.PROCESSING, 'job 0: exit code 3; retries exhausted'] : r === jobRun ? [TaskState.PROCESSING, TaskState.PROCESSING, 'job 0 running'] : [TaskState.DONE, TaskState.PROCESSING, 'all 1 jobs done']
    ]
    reco.forEach(([state, previous, reason], i) => publishes.push(producer.publish(topics.tasks, taskEvent('timing-reco', r, state, previous, i + 1, end + (i + 1) * 60_000, reason))))
    const calibState = r === failedRun ? TaskState.WAITING : r.run >= runs.at(-3)!.run ? TaskState.PROCESSING : TaskState.DONE
    publishes.push(producer.publish(topics.tasks, taskEvent('timing-calib', r, calibState, TaskState.WAITING, 2, end + 10 * 60_000, calibState === TaskState.WAITING ? 'waiting for timing-reco (failed)' : '', 'prompt')))
    if (calibState !== TaskState.DONE) continue
    const outcome = r === rejectedRun ? Outcome.REJECTED : Outcome.UPLOADED
    publishes.push(producer.publish(topics.conditions, create(ConditionEventSchema, {
      requestId: `prompt/run-${r.run}/timing-calib/1`,
      outcome,
      tag,
      record: 'EcalTimeCalibConstantsRcd',
      since: BigInt(r === movedRun ? fcsr : outcome === Outcome.REJECTED ? 0 : r.run),
      requestedSince: BigInt(r.run),
      payloadHash: createHash('sha1').update(`payload of ${r.run}`).digest('hex'),
      objectType: 'EcalTimeCalibConstants',
      target: 'sqlite:conddb.sqlite',
      reason: outcome === Outcome.REJECTED ? `since ${r.run} of prompt tag '${tag}' is before FCSR ${fcsr} (FCSR policy reject)` : '',
      provenance: provenance('timing-calib', r.run),
      synchronization: 'prompt',
      at: ts(end + 20 * 60_000)
    })))
  }
  await Promise.all(publishes)
  // a poison message: the metrics consumer cannot decode it and dead-letters it with the reason
  const kafka = createKafka(config, logger, 'console-test-poison')
  const raw = kafka.producer()
  await raw.connect()
  await raw.send({ topic: topicName(topics.tasks, prefix), messages: [{ key: 'prompt/run-1/x', value: Buffer.from('not a protobuf task event'), headers: { ce_type: 'autocal.tasks.v1.TaskEvent', 'content-type': 'application/protobuf', ce_id: 'poison-1' } }] })
  await raw.disconnect()
  // a run the dispatcher's consumer refused (an era it did not know yet), as its consumer writes the dead letter: it can be sent back
  const refusedRun = create(RunEventSchema, { run: 356999, contentHash: 'h-refused', source: 'replay' })
  await producer.publish(topics.dlq, create(DeadLetterSchema, {
    topic: topicName(topics.runs, prefix),
    partition: 0,
    offset: 0n,
    key: Buffer.from('356999'),
    value: toBinary(RunEventSchema, refusedRun),
    headers: { ce_specversion: '1.0', ce_id: 'refused-run-1', ce_source: 'autocal/run-watcher', ce_type: 'autocal.runs.v1.RunEvent', 'content-type': 'application/protobuf' },
    code: 'AUTOCAL_VALIDATION_FAILED',
    reason: "run 356999: era 'Run2022X' is unknown",
    consumerGroup: `${prefix}.task-dispatcher`,
    service: 'task-dispatcher',
    attempts: 1,
    at: timestampFromDate(new Date())
  }))
  // the real job, for the newest run's timing-reco
  const jobId = `prompt/run-${jobRun.run}/timing-reco/1/0`
  const jobOutdir = join(dataDir, 'jobs', `run-${jobRun.run}`, 'timing-reco')
  await producer.publish(topics.jobRequests, create(JobRequestSchema, {
    jobId,
    try: 1,
    jobIndex: 0,
    provenance: provenance('timing-reco', jobRun.run),
    action: { case: 'start', value: { argv: ['python3', '-c', jobScript, String(jobRun.run)], backend: 'local', njobs: 1, outdir: jobOutdir } }
  }))

  // the failed task's job: a real process that writes to stderr and exits 3
  await producer.publish(topics.jobRequests, create(JobRequestSchema, {
    jobId: `prompt/run-${failedRun.run}/timing-reco/1/0`,
    try: 1,
    jobIndex: 0,
    provenance: provenance('timing-reco', failedRun.run),
    action: { case: 'start', value: { argv: ['python3', '-c', 'import sys; print("reading ALCAPHISYM"); sys.stderr.write("no hits in EB+ for run " + sys.argv[1] + "\\n"); sys.exit(3)', String(failedRun.run)], backend: 'local', njobs: 1, outdir: join(dataDir, 'jobs', `run-${failedRun.run}`, 'timing-reco') } }
  }))

  await until('every run in the read model', async () => (await getJson(`${service.url}/console/api/overview?campaign=prompt&limit=100`, readToken)).body.totalRuns === 60, 60_000)
  await until('the dead letters', async () => (await getJson(`${service.url}/console/api/health`, readToken)).body.deadLetters.length === 2, 60_000)
  await until('the job running', async () => (await getJson(`${service.url}/api/v1/runs/${jobRun.run}`, readToken)).body.tasks.some((x: any) => x.jobRecords.some((j: any) => j.status?.phase === 'running')), 60_000)

  // ---- the browser
  const browser = await chromium.launch({ executablePath: chromiumPath(), args: ['--no-sandbox'] })
  t.after(async () => { await browser.close() })
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } })
  const pageErrors: string[] = []
  page.on('pageerror', e => pageErrors.push(e.message))
  const failedResponses: string[] = []
  page.on('response', r => { if (r.status() >= 400) failedResponses.push(`${r.status()} ${r.url()}`) })

  // sign-in: the console's data needs a read token, given once in a form and kept by the browser in an
  // HttpOnly cookie; a wrong token is refused, and before signing in no data is served
  assert.equal((await fetch(`${service.url}/console/api/overview`)).status, 401)
  await page.goto(`${service.url}/console/`)
  await page.waitForURL(`${service.url}/console/login`)
  await page.fill('input[name=token]', 'not-the-token')
  await page.click('button[type=submit]')
  await page.waitForURL(`${service.url}/console/login?failed=1`)
  assert.match(await page.textContent('[role=alert]') ?? '', /not accepted/)
  await page.fill('input[name=token]', readToken)
  await page.click('button[type=submit]')
  await page.waitForURL(`${service.url}/console/`)
  failedResponses.length = 0

  // overview: opens on the prompt campaign, newest run first, a page of 50 of the 60 runs
  await page.goto(`${service.url}/console/`)
  await page.waitForSelector('table.matrix tbody tr')
  await page.waitForSelector('header .live.on')
  const firstRuns = await page.$$eval('table.matrix tbody tr', rows => rows.map(r => Number(r.getAttribute('data-run'))))
  assert.deepEqual(firstRuns, runs.slice(-50).map(r => r.run).reverse())
  assert.match(await page.textContent('h1') ?? '', /campaign prompt/)
  assert.equal(await page.textContent('.count.failed b'), '1')
  // the newest runs' prompt holds end in about 4 h: marked with the time left
  assert.match(await page.textContent(`tr[data-run="${newest.run}"] .hold`) ?? '', /^[0-9] h \d+ min left$/)
  const failedCell = page.locator(`tr[data-run="${failedRun.run}"] a.state.failed`)
  assert.equal(await failedCell.getAttribute('href'), `#/runs/${failedRun.run}?task=${encodeURIComponent(`prompt/run-${failedRun.run}/timing-reco`)}`)
  await shoot(page, 'overview')
  if (process.env.AUTOCAL_UPDATE_SCREENSHOTS === '1') copyFileSync(join(outputDir, 'overview.png'), docsPicture)

  // live update: a run newer than all appears at the top without a reload
  const liveRun = all.find(r => r.run > newest.run) ?? { ...newest, run: newest.run + 1 }
  await producer.publish(topics.tasks, taskEvent('timing-reco', liveRun, TaskState.WAITING, TaskState.NEW, 1, now, 'waiting for Tier-0 stream ALCAPHISYM'))
  await page.waitForSelector(`table.matrix tbody tr:first-child[data-run="${liveRun.run}"]`)

  // paging: the older runs continue where the page ended
  await page.click('text=older runs →')
  await page.waitForURL(/before=/)
  await page.waitForSelector(`table.matrix tbody tr[data-run="${runs[0]!.run}"]`)
  const olderRuns = await page.$$eval('table.matrix tbody tr', rows => rows.map(r => Number(r.getAttribute('data-run'))))
  assert.deepEqual(olderRuns, runs.slice(0, 11).map(r => r.run).reverse()) // the live run took a place on the first page

  // filters persist in the URL: state=failed survives a reload
  await page.goto(`${service.url}/console/#/overview`)
  await page.waitForSelector('table.matrix tbody tr')
  await page.selectOption('select[name="state"]', 'failed')
  await page.click('button[type="submit"]')
  await page.waitForURL(/state=failed/)
  await page.reload()
  await until('one row', async () => await page.locator('table.matrix tbody tr').count() === 1)
  assert.deepEqual(await page.$$eval('table.matrix tbody tr', rows => rows.map(r => Number(r.getAttribute('data-run')))), [failedRun.run])
  assert.equal(await page.inputValue('select[name="state"]'), 'failed')

  // the failed task's cell opens its run page: metadata, the task's transitions with who and why
  await page.click(`tr[data-run="${failedRun.run}"] a.state.failed`)
  await page.waitForSelector(`[data-task="prompt/run-${failedRun.run}/timing-reco"] table.history tbody tr:nth-child(4)`)
  const meta = await page.textContent('.run-meta') ?? ''
  assert.match(meta, new RegExp(`fill${failedRun.fill}`))
  assert.match(meta, /eraRun2022[A-Z]/)
  assert.match(meta, new RegExp(`recorded${failedRun.recordedLumiPb.toFixed(3)} /pb`))
  const history = await page.$$eval(`[data-task="prompt/run-${failedRun.run}/timing-reco"] table.history tbody tr`, rows => rows.map(r => r.textContent ?? ''))
  assert.match(history.at(-1)!, /processing.*failed.*task-dispatcher.*exit code 3; retries exhausted/)
  await until('the failed job', async () => (await getJson(`${service.url}/api/v1/runs/${failedRun.run}`, readToken)).body.tasks.some((x: any) => x.jobRecords.some((j: any) => j.status?.phase === 'failed')), 60_000)
  await page.reload()
  await page.waitForSelector(`[data-task="prompt/run-${failedRun.run}/timing-reco"] button.log-button`)
  assert.match(await page.textContent(`[data-task="prompt/run-${failedRun.run}/timing-reco"] table.jobs`) ?? '', /failed\s*local\s*\d+\s*executor-console-test.*3\s*exit code 3/)
  await page.click(`[data-task="prompt/run-${failedRun.run}/timing-reco"] button.log-button`)
  await page.waitForSelector(`pre.log >> text=no hits in EB+ for run ${failedRun.run}`)
  await page.waitForSelector('text=end of log')
  await shoot(page, 'run-failed')

  // the running job's log, followed in the page through the executor's log route, and its plots
  await page.goto(`${service.url}/console/#/runs/${jobRun.run}?task=${encodeURIComponent(`prompt/run-${jobRun.run}/timing-reco`)}`)
  await page.waitForSelector('button.log-button')
  await page.click('button.log-button')
  await page.waitForSelector('pre.log >> text=processing lumisection block 6/12')
  assert.doesNotMatch(await page.textContent('pre.log') ?? '', /block 7\/12/, 'the job waits for the release file')
  assert.equal(await page.textContent('.log-status'), 'following…')
  writeFileSync(join(jobOutdir, 'release'), '')
  await page.waitForSelector('pre.log >> text=done: 3 outputs written', { timeout: 60_000 })
  await page.waitForSelector('text=end of log')
  // the outputs arrive with the job's done status (a job status is not on the change feed): reload
  await until('the job done', async () => (await getJson(`${service.url}/api/v1/runs/${jobRun.run}`, readToken)).body.tasks.some((x: any) => x.jobRecords.some((j: any) => j.status?.phase === 'done')), 30_000)
  await page.reload()
  await page.waitForSelector('.plots img')
  // (no waitForFunction: the console's Content-Security-Policy forbids the eval it uses)
  await until('both plots loaded', async () => (await page.$$eval('.plots img', imgs => imgs.filter(i => (i as unknown as { complete: boolean, naturalWidth: number }).complete && (i as unknown as { naturalWidth: number }).naturalWidth > 0).length)) === 2)
  assert.deepEqual(await page.$$eval('.plots img', imgs => imgs.map(i => (i as unknown as { naturalWidth: number }).naturalWidth).sort()), [170, 400])
  await page.click('button.log-button')
  await page.waitForSelector('text=end of log')
  await shoot(page, 'run-job')

  // conditions: the IOV timeline chart, the FCSR move, the rejected upload with its reason
  await page.goto(`${service.url}/console/#/conditions?tag=${tag}`)
  await page.waitForSelector('table.iovs tbody tr')
  // the chart as Chart.js holds it: one floating bar per IOV, a cross where the FCSR moved the requested since
  const chart = await page.evaluate(() => {
    const c = (globalThis as unknown as { Chart: { getChart: (id: string) => { data: { datasets: Array<{ data: Array<{ x: number } | number[]>, length: number }> } } } }).Chart.getChart('iov-chart')
    return { iovs: c.data.datasets[0]!.data.length, moved: (c.data.datasets[1]!.data as Array<{ x: number }>).map(p => p.x) }
  })
  const uploaded = runs.filter(r => r !== failedRun && r !== rejectedRun && r.run < runs.at(-3)!.run)
  assert.equal(await page.locator('table.iovs tbody tr').count(), uploaded.length)
  assert.equal(chart.iovs, Math.min(50, uploaded.length)) // the chart shows the newest 50
  assert.deepEqual(chart.moved, [movedRun.run])
  assert.match(await page.textContent('table.iovs') ?? '', new RegExp(`${movedRun.run} → ${fcsr} \\(FCSR\\)`))
  assert.match(await page.textContent('table.rejected') ?? '', /is before FCSR \d+ \(FCSR policy reject\)/)
  await shoot(page, 'conditions')

  // health: the real executor with its heartbeat age, consumer lag, the dead letter with its reason, deadline risks
  await page.goto(`${service.url}/console/#/health`)
  await page.waitForSelector('table.executors tbody tr')
  assert.match(await page.textContent('table.executors') ?? '', new RegExp(`${executorId}\\s*local`))
  await page.waitForSelector('table.dead-letters tbody tr')
  assert.match(await page.textContent('table.dead-letters') ?? '', /autocal\.tasks\.v1.*metrics.*AUTOCAL_DECODE_FAILED/)
  assert.match(await page.textContent('table.lag') ?? '', /metrics/)
  const risks = await page.$$eval('table.risks tbody tr', rows => rows.map(r => r.textContent ?? ''))
  assert.ok(risks.some(r => r.includes(String(newest.run)) && r.includes('timing-calib')), risks.join('\n'))
  assert.equal(await page.locator('form.redrive').count(), 0, 'a read sign-in sees no redrive button')
  await shoot(page, 'health')

  // redrive: signed in with a control token, the refused run (no subsystem: a "*" token) has a redrive button;
  // the poison task event has none (the console does not write the task states); the result shows in the row
  await page.goto(`${service.url}/console/login`)
  await page.fill('input[name=token]', controlToken)
  await page.click('button[type=submit]')
  await page.waitForURL(`${service.url}/console/`)
  // the refused run's dead letter is in the read model before the page is loaded (the health page does not follow new letters live)
  await until('the refused run\'s dead letter listed', async () => ((await getJson(`${service.url}/console/api/health`, readToken)).body.deadLetters as Array<{ reason: string }>).some(d => d.reason.includes('Run2022X')), 60_000)
  await page.goto(`${service.url}/console/#/health`)
  await page.waitForSelector('form.redrive')
  assert.equal(await page.locator('form.redrive').count(), 1)
  const row = page.locator('table.dead-letters tbody tr', { hasText: "era 'Run2022X' is unknown" })
  assert.equal(await row.locator('form.redrive').count(), 1)
  assert.match(await row.textContent() ?? '', /autocal\.runs\.v1/)
  await row.locator('input[aria-label=reason]').fill('Run2022X added to the era list')
  await row.locator('button', { hasText: 'redrive' }).click()
  await page.waitForSelector('table.dead-letters [role=status].ok')
  assert.match(await row.textContent() ?? '', new RegExp(`redriven to ${prefix}\\.autocal\\.runs\\.v1\\[0\\]@\\d+`))
  await shoot(page, 'health-redrive')
  const redriven = (await getJson(`${service.url}/console/api/health`, readToken)).body.deadLetters.find((d: any) => d.reason.includes('Run2022X'))
  assert.equal(redriven?.redriven?.principal, 'shifter')

  assert.deepEqual(pageErrors, [])
  assert.deepEqual(failedResponses, [])
})
