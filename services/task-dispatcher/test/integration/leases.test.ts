// Task leases on the real local Redis and Kafka: a transition keeps its
// task's lease while its publish is in flight, and its write to the read
// model is fenced by that lease, so a second transition of the same task
// never goes out with the same version.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { AutocalError, acquireLease, connectRedis, startProducer, type Producer } from '@autocal/runtime'
import { taskKey, topics, type TaskEvent } from '@autocal/contracts'
import { createStateStore } from '../../src/adapters/state-store.ts'
import { loadWorkflows } from '../../src/adapters/workflow-files.ts'
import { buildCatalog, specOf } from '../../src/domain/catalog.ts'
import { createTaskTransitions } from '../../src/task-transitions.ts'
import { readTopic } from '@autocal/runtime'
import { silentLogger, testConfig, workflowsDir } from './fixtures.ts'

const catalog = buildCatalog(loadWorkflows(workflowsDir).workflows)
const campaign = [...catalog.campaigns.values()][0]!
const root = campaign.roots[0]!
const block = { id: 'run-356381', kind: 'run' as const, runs: [356381], fill: 8136, era: 'Run2022C', recordedLumiPb: 10, closed: true, closedReason: 'run ended', openedAtMs: Date.now() }
const key = taskKey(campaign.name, block.id, root.name)

/** Retries a retryable error as the bus does (immediately here: the test waits for the outcome, not the backoff). */
async function asTheBusWould<T> (fn: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await fn()
    } catch (err) {
      if (!(err instanceof AutocalError) || !err.retryable || i >= 20) throw err
    }
  }
}

/** The real producer whose publishes of task events take `ms` longer (a slow broker, as the lease sees it). */
function slowTasks (producer: Producer, ms: number): Producer {
  return Object.assign(Object.create(producer) as Producer, {
    publish: async (...args: Parameters<Producer['publish']>) => {
      if (args[0] === topics.tasks) await new Promise(resolve => setTimeout(resolve, ms))
      return await producer.publish(...args)
    }
  })
}

test('a transition whose publish outlasts its task lease lets no second transition of the same version out', { timeout: 90_000 }, async () => {
  const config = testConfig()
  await using redis = await connectRedis({ config, logger: silentLogger })
  await using producer = await startProducer({ config, logger: silentLogger, service: 'test-task-dispatcher' })
  const store = createStateStore(redis)
  await store.setMarker()
  const leaseMs = 300
  const fast = createTaskTransitions({ store, redis, producer, catalog, logger: silentLogger, dataDir: config.AUTOCAL_DATA_DIR, leaseMs })
  await fast.apply(key, () => ({ kind: 'plan', spec: specOf(campaign.name, root), block }))
  // two handlers on one task at once (two replicas, or a planner tick and a message), each publishing for 5 leases
  const slow = createTaskTransitions({ store, redis, producer: slowTasks(producer, 5 * leaseMs), catalog, logger: silentLogger, dataDir: config.AUTOCAL_DATA_DIR, leaseMs })
  const gates = (pending: string): () => Promise<unknown> => async () => await slow.apply(key, () => ({ kind: 'gates', spec: specOf(campaign.name, root), pending: [pending] }))
  await Promise.all([asTheBusWould(gates('gate-of-a')), asTheBusWould(gates('gate-of-b'))])

  const published: TaskEvent[] = []
  await readTopic(config, silentLogger, 'leases-test', topics.tasks, async ev => { if (topics.tasks.key(ev) === key) published.push(ev) })
  const byVersion = new Map<number, Set<string>>()
  for (const ev of published) byVersion.set(Number(ev.version), (byVersion.get(Number(ev.version)) ?? new Set()).add(ev.pendingGates.join()))
  const twice = [...byVersion].filter(([, contents]) => contents.size > 1).map(([version, contents]) => `version ${version}: ${[...contents].join(' | ')}`)
  assert.deepEqual(twice, [], 'no version published by two transitions')
  assert.deepEqual([...byVersion.keys()].sort(), [1, 2, 3], 'the plan, then each handler\'s transition in turn')
  const stored = await store.getTask(key)
  assert.equal(stored?.version, 3)
  assert.deepEqual(new Set(published.filter(e => e.version > 1n).map(e => e.pendingGates.join())), new Set(['gate-of-a', 'gate-of-b']), 'both handlers\' transitions went out, one after the other')
})

test('a write to the read model is refused when the writer\'s task lease was lost, and the task stays as it was', { timeout: 30_000 }, async () => {
  const config = testConfig()
  await using redis = await connectRedis({ config, logger: silentLogger })
  await using producer = await startProducer({ config, logger: silentLogger, service: 'test-task-dispatcher' })
  const store = createStateStore(redis)
  await store.setMarker()
  const transitions = createTaskTransitions({ store, redis, producer, catalog, logger: silentLogger, dataDir: config.AUTOCAL_DATA_DIR, leaseMs: 10_000 })
  await transitions.apply(key, () => ({ kind: 'plan', spec: specOf(campaign.name, root), block }))
  const planned = await store.getTask(key)
  assert.equal(planned?.version, 1)

  const mine = randomUUID()
  const taken = await store.takeTask(key, mine, 10_000)
  assert.ok(taken !== 'busy')
  // the lease is lost (expired while this writer stalled) and another writer holds it now
  await redis.client.del(redis.key('lease', `td:task:${key}`))
  const other = await acquireLease(redis, `td:task:${key}`, 10_000)
  assert.ok(other !== null)
  assert.equal(await store.putTask({ ...planned, version: 2, state: 'waiting', pendingGates: ['stale'] }, 1, mine), false, 'the fenced write fails')
  assert.equal((await store.getTask(key))?.version, 1, 'the task is as it was')
  assert.equal(await other.held(), true, 'the other holder keeps its lease')
})
