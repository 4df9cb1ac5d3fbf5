// The Redis read model is lost mid-stream (every key of the dispatcher's
// prefix deleted at once: this stands for a FLUSHALL, which the shared test
// Redis must not get): the dispatcher rebuilds it from Kafka and loses nothing; a
// restart afterwards re-runs no finished task.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { AutocalError, connectRedis, createGrpcClient, readTopic, startProducer, type RedisHandle } from '@autocal/runtime'
import { create } from '@bufbuild/protobuf'
import { timestampFromMs } from '@bufbuild/protobuf/wkt'
import { ControlCommandSchema, ControlService, RegistryEntrySchema, RunSchema, taskKey, topics, type RunEvent } from '@autocal/contracts'
import { createHandlers } from '../../src/handlers.ts'
import { createStateStore } from '../../src/adapters/state-store.ts'
import { loadWorkflows } from '../../src/adapters/workflow-files.ts'
import { buildCatalog, specOf } from '../../src/domain/catalog.ts'
import { createTaskTransitions } from '../../src/task-transitions.ts'
import { createRecovery } from '../../src/recovery.ts'
import { FIRST, LAST, expectedLive } from './expected.ts'
import { goldenRuns, realRuns, runEvents, silentLogger, spawnDispatcher, startBackends, startedJobs, stopDispatcher, testConfig, until, workflowsDir } from './fixtures.ts'

// One atomic deletion, as FLUSHALL is (the dispatcher never sees half a model).
const deleteScript = `
local keys = redis.call('keys', ARGV[1])
for i = 1, #keys, 1000 do redis.call('del', unpack(keys, i, math.min(i + 999, #keys))) end
return #keys`

async function deletePrefix ({ client: redis }: RedisHandle, prefix: string): Promise<number> {
  return Number(await redis.eval(deleteScript, 0, `${prefix}*`))
}

test('a Redis loss mid-stream loses no task and a restart re-runs no finished task', { timeout: 240_000 }, async t => {
  const config = testConfig()
  const runs = realRuns(FIRST, LAST)
  const expected = expectedLive(runs, goldenRuns())
  await using redis = await connectRedis({ config, logger: silentLogger })

  await using backends = await startBackends(config)
  let dispatcher = await spawnDispatcher(config)
  t.after(async () => { await stopDispatcher(dispatcher) })
  await using producer = await startProducer({ config, logger: silentLogger, service: 'test-run-watcher' })
  await producer.publishMany(topics.runs, runEvents(runs))

  await until('a third of the job requests', () => startedJobs(backends).size >= expected.jobs.size / 3, 120_000)
  const deleted = await deletePrefix(redis, config.AUTOCAL_REDIS_KEY_PREFIX)
  t.diagnostic(`deleted ${deleted} keys of prefix ${config.AUTOCAL_REDIS_KEY_PREFIX} after ${startedJobs(backends).size} job requests`)

  const missing = (): string[] => [...expected.jobs].filter(j => !startedJobs(backends).has(j))
  await until('every expected job request', () => missing().length === 0, 150_000).catch((err: unknown) => {
    throw new Error(`${String(err)}; missing: ${missing().join(' ')}; dispatcher log: ${dispatcher.log}`)
  })
  await until('every expected condition request', () => [...expected.conditions].every(id => backends.conditionRequests.some(c => c.requestId === id)), 60_000)
  await until('the system at rest', backends.atRest, 60_000, 500)
  assert.deepEqual([...startedJobs(backends)].sort(), [...expected.jobs].sort())
  assert.equal(readFileSync(dispatcher.log, 'utf8').split('"read model rebuilt from kafka"').length - 1, 2, 'rebuilt at start and after the loss')

  // restart: nothing finished runs again. The positive marker that the restarted dispatcher has consumed and acted:
  // an operator's reprocess of one done task (through the control topic) is dispatched, and then everything is at rest
  const count = backends.requests.length
  await stopDispatcher(dispatcher)
  dispatcher = await spawnDispatcher(config, { AUTOCAL_CONTROL_TOKENS: JSON.stringify({ 'admin-token-1': { principal: 'ops', subsystems: '*' } }) })
  const marker = [...expected.jobs].find(j => j.includes('/pedestals/'))?.split('/')[1] as string
  const client = createGrpcClient(ControlService, `127.0.0.1:${dispatcher.grpcPort}`, { token: 'admin-token-1' })
  t.after(() => { client.close() })
  const r = await client.reprocess({ selector: { campaign: 'prompt', tasks: ['pedestals'], blockIds: [marker] }, reason: 'marker after the restart' })
  assert.equal(r.matched, 1)
  await until('the marker reprocess dispatched', () => startedJobs(backends).has(`prompt/${marker}/pedestals/2/0#1`), 60_000)
  await until('the system at rest after the restart', backends.atRest, 60_000, 500)
  assert.deepEqual(backends.requests.slice(count).filter(r => r.message.action.case === 'start').map(r => r.message.jobId), [`prompt/${marker}/pedestals/2/0`], 'no job requested after the restart but the marker')
})

// The window between the loss and the rebuild: a job status or a planner
// decision arriving then must not act on the missing task (a job status
// would be dropped, a plan would publish a version 1 over a later one).
test('while the read model is missing, a transition is refused as retryable and publishes nothing; a partial loss is rebuilt whole', { timeout: 60_000 }, async () => {
  const config = testConfig()
  await using redis = await connectRedis({ config, logger: silentLogger })
  await using producer = await startProducer({ config, logger: silentLogger, service: 'test-task-dispatcher' })
  const store = createStateStore(redis)
  const catalog = buildCatalog(loadWorkflows(workflowsDir).workflows)
  const transitions = createTaskTransitions({ store, redis, producer, catalog, logger: silentLogger, dataDir: config.AUTOCAL_DATA_DIR, leaseMs: 5000 })
  const campaign = [...catalog.campaigns.values()][0]
  const root = campaign?.roots[0]
  assert.ok(campaign !== undefined && root !== undefined, 'the example workflows define a campaign with a root task')
  const block = { id: 'run-356381', kind: 'run' as const, runs: [356381], fill: 8136, era: 'Run2022C', recordedLumiPb: 10, closed: true, closedReason: 'run ended', openedAtMs: Date.now() }
  const key = taskKey(campaign.name, block.id, root.name)
  const plan = (): { kind: 'plan', spec: ReturnType<typeof specOf>, block: typeof block } => ({ kind: 'plan', spec: specOf(campaign.name, root), block })

  await assert.rejects(transitions.apply(key, plan), (err: unknown) => err instanceof AutocalError && err.code === 'AUTOCAL_NOT_READY' && err.retryable)
  assert.equal(await store.getTask(key), undefined, 'nothing written to the read model')
  assert.equal(await readTopic(config, silentLogger, 'test-reader', topics.tasks, async () => {}), 0, 'nothing published on the tasks topic')

  await store.setMarker()
  const tr = await transitions.apply(key, plan)
  assert.equal(tr?.changed, true)
  assert.equal((await store.getTask(key))?.version, 1)
  assert.deepEqual(await store.openKeys(campaign.name), [key])

  // a partial loss: the marker and the set of open tasks are gone, the task itself is left
  await redis.client.del(redis.key('td', 'marker'), redis.key('td', 'open', campaign.name))
  const recovery = createRecovery({ config, logger: silentLogger, store, redis, catalog, applyRun: async () => {} })
  await recovery.ensureState()
  assert.deepEqual(await store.openKeys(campaign.name), [key], 'the rebuilt model has the task among the open ones again')
  assert.equal((await store.getTask(key))?.version, 1)
})

// The run registry (autocal.runs.registry.v1) outlives the runs topic's
// retention: a past run it alone holds is known again after a Redis loss, and
// an injection into a reprocessing campaign finds its record and facts.
test('after a Redis loss a run only the run registry holds is injected into a campaign with its record', { timeout: 60_000 }, async () => {
  const config = testConfig()
  await using redis = await connectRedis({ config, logger: silentLogger })
  await using producer = await startProducer({ config, logger: silentLogger, service: 'test-run-watcher' })
  const store = createStateStore(redis)
  const catalog = buildCatalog(loadWorkflows(workflowsDir).workflows)
  // the runs topic holds nothing of run 355100 (retention); the registry has its latest facts
  const run = create(RunSchema, { run: 355100, fill: 7963, era: 'Run2022C', recordedLumiPb: 1.25, runClass: 'collisions2022', global: true, startTime: timestampFromMs(1_657_000_000_000), endTime: timestampFromMs(1_657_003_600_000) })
  await producer.publish(topics.runRegistry, create(RegistryEntrySchema, { run: 355100, entry: { case: 'runEntry', value: { run, sequence: 2, streams: [{ name: 'Express', done: true, sequence: 1 }] } } }))
  const recovery = createRecovery({ config, logger: silentLogger, store, redis, catalog, applyRun: async () => {} })
  await recovery.ensureState()
  const facts = (await store.runFacts([355100])).get(355100)
  assert.equal(facts?.run.era, 'Run2022C')
  assert.deepEqual([...facts.streams], ['Express'])
  assert.deepEqual(await store.knownRuns(355000, 355200), [355100], 'in the run ranges of injections')

  const transitions = createTaskTransitions({ store, redis, producer, catalog, logger: silentLogger, dataDir: config.AUTOCAL_DATA_DIR, leaseMs: 5000 })
  const handlers = createHandlers({ store, redis, producer, catalog, transitions, logger: silentLogger, ensureState: recovery.ensureState, dataDir: config.AUTOCAL_DATA_DIR })
  await handlers.onControl(create(ControlCommandSchema, { commandId: 'inject-1', actor: 'test', selector: { campaign: 'rereco' }, action: { case: 'injectRuns', value: { firstRun: 355000, lastRun: 355200 } } }))
  const injected: RunEvent[] = []
  await readTopic(config, silentLogger, 'test-reader', topics.runs, async ev => { injected.push(ev) })
  assert.equal(injected.length, 1)
  assert.equal(injected[0]?.campaign, 'rereco')
  assert.ok(injected[0]?.change.case === 'ended')
  assert.equal(injected[0].change.value.run?.era, 'Run2022C', 'injected with the record the registry kept')
  assert.equal(injected[0].change.value.run?.fill, 7963)
})
