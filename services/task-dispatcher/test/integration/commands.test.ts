// Operator commands are applied once per (command id, task) even when the
// command is redelivered after a retryable error on one of its tasks (or a
// crash part-way through): the tasks it already moved are not moved again.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { create } from '@bufbuild/protobuf'
import { AutocalError, connectRedis, readTopic, startProducer } from '@autocal/runtime'
import { ControlCommandSchema, taskKey, topics, type JobRequest } from '@autocal/contracts'
import { createStateStore } from '../../src/adapters/state-store.ts'
import { loadWorkflows } from '../../src/adapters/workflow-files.ts'
import { buildCatalog, specOf } from '../../src/domain/catalog.ts'
import { createTaskTransitions, type TaskTransitions } from '../../src/task-transitions.ts'
import { createHandlers } from '../../src/handlers.ts'
import { silentLogger, testConfig, workflowsDir } from './fixtures.ts'

test('a reprocess redelivered after a retryable error on one of its tasks moves each task to the next attempt once, and cancels no job of the new attempt', { timeout: 60_000 }, async () => {
  const config = testConfig()
  await using redis = await connectRedis({ config, logger: silentLogger })
  await using producer = await startProducer({ config, logger: silentLogger, service: 'test-task-dispatcher' })
  const store = createStateStore(redis)
  await store.setMarker()
  const catalog = buildCatalog(loadWorkflows(workflowsDir).workflows)
  const campaign = [...catalog.campaigns.values()][0]
  const root = campaign?.roots[0]
  assert.ok(campaign !== undefined && root !== undefined, 'the example workflows define a campaign with a root task')
  const real = createTaskTransitions({ store, redis, producer, catalog, logger: silentLogger, dataDir: config.AUTOCAL_DATA_DIR, leaseMs: 5000 })
  const spec = specOf(campaign.name, root)
  const runs = [356381, 356383]
  const keys = runs.map(run => taskKey(campaign.name, `run-${run}`, root.name))
  for (const [i, run] of runs.entries()) {
    const block = { id: `run-${run}`, kind: 'run' as const, runs: [run], fill: 8136, era: 'Run2022C', recordedLumiPb: 10, closed: true, closedReason: 'single-run', openedAtMs: Date.now() }
    await real.apply(keys[i] as string, () => ({ kind: 'plan', spec, block }))
    await real.apply(keys[i] as string, () => ({ kind: 'gates', spec, pending: [] }))
    assert.equal((await store.getTask(keys[i] as string))?.state, 'processing')
  }

  // the command's second task fails once, retryably (a lease held elsewhere)
  const touched: string[] = []
  let failed = false
  const flaky: TaskTransitions = {
    ...real,
    apply: async (key, make) => {
      touched.push(key)
      if (touched.length === 2 && !failed) {
        failed = true
        throw new AutocalError('AUTOCAL_LEASE_LOST', `task ${key} is locked by another replica`, { retryable: true })
      }
      return await real.apply(key, make)
    }
  }
  const handlers = createHandlers({ store, redis, producer, catalog, transitions: flaky, logger: silentLogger, ensureState: async () => {}, dataDir: config.AUTOCAL_DATA_DIR })
  const command = create(ControlCommandSchema, { commandId: 'cmd-reprocess-1', actor: 'alice', subsystem: root.subsystem, reason: 'bad pedestals', selector: { campaign: campaign.name, runs, tasks: [root.name] }, action: { case: 'reprocess', value: {} } })
  await assert.rejects(handlers.onControl(command), /locked by another replica/)
  const [moved, other] = touched as [string, string]
  assert.equal((await store.getTask(moved))?.attempt, 2, 'the first task moved before the error')
  assert.equal((await store.getTask(other))?.attempt, 1)
  // meanwhile the planner starts the new attempt of the task that moved
  await real.apply(moved, () => ({ kind: 'gates', spec, pending: [] }))

  await handlers.onControl(command) // the redelivery
  const after = await store.getTasks([moved, other])
  assert.deepEqual(after.map(t => [t.state, t.attempt]), [['processing', 2], ['new', 2]], 'each task reprocessed once')
  assert.deepEqual(after.map(t => t.appliedCommands), [['cmd-reprocess-1'], ['cmd-reprocess-1']])

  const requests: JobRequest[] = []
  await readTopic(config, silentLogger, 'test-reader', topics.jobRequests, async m => { requests.push(m) })
  const cancelsOfAttempt2 = requests.filter(r => r.action.case === 'cancel' && r.provenance?.taskAttempt === 2)
  assert.deepEqual(cancelsOfAttempt2.map(r => r.jobId), [], 'no job of the new attempt is cancelled')
  const starts = requests.filter(r => r.action.case === 'start').map(r => `${r.provenance?.blockId}/${r.provenance?.taskAttempt}/${r.jobIndex}`)
  assert.equal(new Set(starts).size, starts.length, 'no job requested twice')
})
