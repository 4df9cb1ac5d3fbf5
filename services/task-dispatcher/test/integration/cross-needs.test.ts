// Needs across subsystems on real Kafka and Redis, through an in-process
// dispatcher with the real job-executor and the real condition-uploader: an
// EGM task waits for an ECAL task of another workflow file and for the IOV
// that task's upload gives ECAL's tag, then runs with the ECAL outputs as its
// inputs and uploads its own payload; an EGM task that needs only the
// condition (an IOV within its runs) runs once the condition event arrives;
// an ECAL failure on the first run blocks the EGM task there with the reason,
// and the later runs' EGM uploads to an append-only tag do not wait for the
// blocked one. The IOVs learned survive the loss of the Redis read model
// (rebuilt from the conditions topic).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ControlService, Outcome, TaskState, topics, type ConditionEvent, type TaskEvent } from '@autocal/contracts'
import { connectRedis, createGrpcClient, startConsumer, startProducer } from '@autocal/runtime'
import { realRuns, repo, runEvents, silentLogger, startBackends, startDispatcher, testConfig, until } from './fixtures.ts'

const script = join(repo, 'deploy/workflows/scripts/write_payload.py')
const tag = 'EcalTimeCalibConstants_xneeds_offline'
const upstream = 'ECAL/timing/timing-calib'
const collisions = 'runTypes:\n  collisions: { filter: { runClass: collisions2022, global: true } }\n'
// ECAL: one payload per run to an offline tag; the job fails (exit 3) on run `bad`
const ecal = (bad: number): string => `subsystem: ECAL
workflow: timing
${collisions}tasks:
  - name: timing-calib
    retries: 0
    run: [sh, -c, 'if [ "$1" = "$2" ]; then exit 3; fi; exec python3 "$3" --object-type EcalTimeCalibConstants --tag EcalTimeCalibConstants_calib --since "$1" --out "$4/timing.db"', sh, "{run}", "${bad}", ${script}, "{outdir}"]
    condition: { tag: ${tag}, record: EcalTimeCalibConstantsRcd, sync: offline }
`
const noPayload = 'python3, -c, "import json, os, sys; d = sys.argv[1]; os.makedirs(d, exist_ok=True); json.dump(dict(outputs=[]), open(os.path.join(d, \'outputs.json\'), \'w\'))", "{outdir}"'
// EGM: photon-scale needs the ECAL task and its tag, and uploads to an offline (append-only) tag; photon-id
// needs only an IOV of the tag within its runs
const egmTag = 'EGMPhotonScale_xneeds_offline'
const egm = `subsystem: EGM
workflow: photon-scale
${collisions}tasks:
  - name: photon-scale
    retries: 0
    needs: [${upstream}, { condition: ${tag} }]
    run: [python3, ${script}, --object-type, EGMPhotonScale, --tag, EGMPhotonScale_calib, --since, "{run}", --out, "{outdir}/scale.db", --inputs, "{inputs}"]
    condition: { tag: ${egmTag}, record: EGMPhotonScaleRcd, sync: offline }
  - name: photon-id
    retries: 0
    needs: [{ condition: ${tag}, since: block }]
    run: [${noPayload}]
`

test('an EGM task waits for an ECAL task of another file and for its IOV, runs on its outputs, and is blocked by its failure without holding later uploads', { timeout: 240_000 }, async t => {
  const config = testConfig()
  const runs = realRuns(357400, 357480).filter(r => r.runClass === 'collisions2022').slice(0, 3)
  assert.equal(runs.length, 3)
  const [a, b, c] = runs.map(r => r.run).sort((x, y) => x - y) as [number, number, number]
  const workflows = mkdtempSync(join(tmpdir(), 'autocal-wf-'))
  writeFileSync(join(workflows, 'ecal-timing.yaml'), ecal(a))
  writeFileSync(join(workflows, 'egm-photon-scale.yaml'), egm)

  await using backends = await startBackends(config)
  const taskEvents: TaskEvent[] = []
  const conditions: ConditionEvent[] = []
  await using producer = await startProducer({ config, logger: silentLogger, service: 'test-run-watcher' })
  await using observer = await startConsumer({
    config,
    logger: silentLogger,
    service: 'test-observer',
    producer,
    group: 'test-observer',
    handlers: { tasks: async e => { taskEvents.push(e) }, conditions: async e => { conditions.push(e) } }
  })
  void observer
  const env = { AUTOCAL_WORKFLOWS_DIR: workflows, AUTOCAL_CONTROL_TOKENS: JSON.stringify({ 'admin-token-1': { principal: 'ops', subsystems: '*' } }) }
  let dispatcher = await startDispatcher(config, env)
  t.after(async () => { await dispatcher[Symbol.asyncDispose]() })
  await producer.publishMany(topics.runs, runEvents(runs))

  const cell = async (run: number, task: string): Promise<{ state: TaskState, pendingGates: string[], waitingFor: string } | undefined> => {
    const client = createGrpcClient(ControlService, `127.0.0.1:${dispatcher.grpcPort}`, { token: 'admin-token-1' })
    try {
      return (await client.getStatus({ selector: { campaign: 'prompt', tasks: [task] } })).cells.find(x => x.run === run)
    } finally {
      client.close()
    }
  }
  const eventsOf = (run: number, task: string): TaskEvent[] => taskEvents.filter(e => e.task === task && e.block?.runs.includes(run))
  const done = (run: number, task: string): boolean => eventsOf(run, task).some(e => e.state === TaskState.DONE)

  await until('the EGM tasks done on the runs ECAL calibrated', () => [b, c].every(r => done(r, 'photon-scale') && done(r, 'photon-id')), 180_000)
  await until('ECAL failed on the bad run', () => eventsOf(a, 'timing-calib').some(e => e.state === TaskState.FAILED), 60_000)

  await t.test('the EGM tasks waited on their cross gates and ran after ECAL\'s condition event for their runs', () => {
    for (const r of [b, c]) {
      const iov = conditions.find(e => e.tag === tag && e.since === BigInt(r))
      assert.equal(iov?.outcome, Outcome.UPLOADED, `ECAL's IOV at ${r}`)
      const id = eventsOf(r, 'photon-id')
      assert.ok(id.some(e => e.state === TaskState.WAITING && e.pendingGates.includes(`condition:${tag}`)), `photon-id on ${r} waited for ${tag}: ${JSON.stringify(id.map(e => [e.state, e.pendingGates]))}`)
      const scale = eventsOf(r, 'photon-scale')
      assert.ok(scale.some(e => e.state === TaskState.WAITING && e.pendingGates.includes(`needs:${upstream}`)), `photon-scale on ${r} waited for ${upstream}`)
    }
  })

  await t.test('the EGM task gets the ECAL task\'s outputs as its inputs', () => {
    for (const r of [b, c]) {
      const ecalDone = eventsOf(r, 'timing-calib').find(e => e.state === TaskState.DONE)
      const outputs = ecalDone?.outputs.map(o => o.path) ?? []
      assert.ok(outputs.some(p => p.endsWith('/timing.db')), JSON.stringify(outputs))
      const start = backends.requests.find(q => q.message.jobId.startsWith(`prompt/run-${r}/photon-scale/`) && q.message.action.case === 'start')?.message.action
      assert.deepEqual(start?.case === 'start' ? start.value.inputs : undefined, outputs)
    }
  })

  await t.test('an ECAL failure blocks the EGM task with the reason; the condition-only task waits for an IOV within its runs', async () => {
    const gates = [`blocked:${upstream}:failed`, `condition:${tag}`]
    await until('photon-scale blocked on the bad run', async () => (await cell(a, 'photon-scale'))?.pendingGates.join() === gates.join())
    const scale = await cell(a, 'photon-scale')
    assert.equal(scale?.state, TaskState.WAITING)
    assert.match(scale?.waitingFor ?? '', new RegExp(`^blocked: upstream task ${upstream} failed \\(reprocess it.*\\); condition ${tag} has no IOV for run ${a} yet$`))
    const id = await cell(a, 'photon-id')
    assert.deepEqual(id?.pendingGates, [`condition:${tag}`])
    assert.equal(id?.waitingFor, `condition ${tag} has no IOV for run ${a} yet`)
    assert.equal(backends.requests.some(q => q.message.jobId.startsWith(`prompt/run-${a}/photon-`)), false, 'no EGM job on the run ECAL failed')
  })

  await t.test('the later runs\' EGM uploads to an append-only tag do not wait for the blocked first run', () => {
    assert.deepEqual(conditions.filter(e => e.tag === egmTag && e.outcome === Outcome.UPLOADED).map(e => Number(e.since)).sort((x, y) => x - y), [b, c])
  })

  await t.test('the IOVs learned are rebuilt from the conditions topic after the read model is lost', async () => {
    await dispatcher[Symbol.asyncDispose]()
    await using redis = await connectRedis({ config, logger: silentLogger })
    const iovs = `${config.AUTOCAL_REDIS_KEY_PREFIX}td:iovs:${tag}`
    assert.deepEqual(await redis.client.zrange(iovs, 0, -1), [String(b), String(c)])
    await redis.client.eval("local keys = redis.call('keys', ARGV[1]) for i = 1, #keys, 1000 do redis.call('del', unpack(keys, i, math.min(i + 999, #keys))) end", 0, `${config.AUTOCAL_REDIS_KEY_PREFIX}*`)
    assert.equal(await redis.client.exists(iovs), 0)
    dispatcher = await startDispatcher(config, env)
    assert.deepEqual(await redis.client.zrange(iovs, 0, -1), [String(b), String(c)])
    await until('the blocked task evaluated again after the rebuild', async () => (await cell(a, 'photon-scale'))?.pendingGates.join() === `blocked:${upstream}:failed,condition:${tag}`)
  })
})
