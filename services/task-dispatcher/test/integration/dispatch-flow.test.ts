// Real Kafka + Redis + a dispatcher process with the real job-executor and
// condition-uploader: runs of the real 2022 run list flow into blocks and job
// requests exactly as the example workflows say, and nothing more follows.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ControlService, TaskState } from '@autocal/contracts'
import { createGrpcClient, startProducer } from '@autocal/runtime'
import { topics } from '@autocal/contracts'
import { FIRST, LAST, expectedLive } from './expected.ts'
import { goldenRuns, realRuns, runEvents, silentLogger, spawnDispatcher, startBackends, startedJobs, stopDispatcher, testConfig, until } from './fixtures.ts'

test('runs of the real 2022 run list flow into blocks and job requests as the example workflows say', { timeout: 180_000 }, async t => {
  const config = testConfig()
  const runs = realRuns(FIRST, LAST)
  const expected = expectedLive(runs, goldenRuns())
  assert.ok(expected.jobs.size > 50, `enough expected jobs (${expected.jobs.size})`)

  await using backends = await startBackends(config)
  const dispatcher = await spawnDispatcher(config, { AUTOCAL_CONTROL_TOKENS: JSON.stringify({ 'admin-token-1': { principal: 'ops', subsystems: '*' } }) })
  t.after(async () => { await stopDispatcher(dispatcher) })
  await using producer = await startProducer({ config, logger: silentLogger, service: 'test-run-watcher' })
  await producer.publishMany(topics.runs, runEvents(runs))

  await until('every expected job request', () => [...expected.jobs].every(j => startedJobs(backends).has(j)), 120_000)
  await until('every expected condition request', () => [...expected.conditions].every(id => backends.conditionRequests.some(c => c.requestId === id)), 60_000)
  // nothing unexpected may follow: every consumer has handled everything there is, twice over with no new message
  await until('the system at rest', backends.atRest, 60_000, 500)

  assert.deepEqual([...startedJobs(backends)].sort(), [...expected.jobs].sort())
  assert.deepEqual([...new Set(backends.conditionRequests.map(c => c.requestId))].sort(), [...expected.conditions].sort())
  for (const c of backends.conditionRequests) {
    assert.equal(String(c.since), c.requestId.split('/')[1]?.startsWith('run-') === true ? c.requestId.split('/')[1]?.slice(4) : String(c.provenance?.inputRuns[0]))
    assert.match(c.payloadFile, /\.db$/)
  }
  const timing = backends.conditionRequests.find(c => c.destinationTag === 'EcalTimeCalibConstants_v01_prompt')
  assert.equal(timing?.record, 'EcalTimeCalibConstantsRcd')
  assert.equal(timing?.synchronization, 'prompt')
  assert.equal(timing?.inputTag, 'EcalTimeCalibConstants_calib')
  // the shadow campaign of the dev branch (ecal-timing-dev.yaml) writes only to its validation tag
  const shadow = backends.conditionRequests.filter(c => c.requestId.startsWith('ecal-timing-dev/'))
  assert.ok(shadow.length > 0)
  assert.deepEqual([...new Set(shadow.map(c => `${c.destinationTag} ${c.synchronization} ${c.dryRun}`))], ['EcalTimeCalibConstants_v02_dev_validation validation false'])

  // the reco outputs became the calibration's {inputs}
  const calib = backends.requests.find(r => r.message.jobId.startsWith('prompt/') && r.message.jobId.includes('/timing-calib/') && r.message.action.case === 'start')
  const start = calib?.message.action.case === 'start' ? calib.message.action.value : undefined
  assert.equal(start?.inputs.length, 4)
  assert.ok(start?.inputs.every(i => /timing-reco\/a1\/j\d\/t1\/timing-reco_j\d\.json$/.test(i)))

  // every task whose block closed is done: the status matrix says so
  const client = createGrpcClient(ControlService, `127.0.0.1:${dispatcher.grpcPort}`, { token: 'admin-token-1' })
  t.after(() => { client.close() })
  await until('all closed-block tasks done', async () => {
    const status = await client.getStatus({ selector: { campaign: 'prompt' } })
    return status.cells.filter(c => !c.blockId.startsWith('fill-') && !c.blockId.startsWith('lumi-')).every(c => c.state === TaskState.DONE)
  }, 30_000)
  const status = await client.getStatus({ selector: { campaign: 'prompt', tasks: ['phisym'] } })
  const open = status.cells.filter(c => c.state === TaskState.WAITING)
  assert.ok(open.length > 0 && open.every(c => c.reason.includes('block-closed')), 'the last fill block is still open and its task waits for it')
})
