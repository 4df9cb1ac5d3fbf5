// A burst of runs published at once, out of run order, over the runs topic's
// partitions (real Kafka): the dispatcher consumes them in yet another order,
// yet groups them into the same buckets (fill, lumi, era) as a run-ordered
// grouping, because it groups a run into buckets only once its consumer has
// caught up with the runs published before it (domain/grouping-order.ts). The
// settle is 0 here, so nothing but that rule can make the order right.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connectRedis, startProducer } from '@autocal/runtime'
import { topics } from '@autocal/contracts'
import { loadWorkflows } from '../../src/adapters/workflow-files.ts'
import { createStateStore } from '../../src/adapters/state-store.ts'
import { buildCatalog, runBelongsTo } from '../../src/domain/catalog.ts'
import { groupRun, type BlockState } from '../../src/domain/block-grouping.ts'
import { FIRST, LAST } from './expected.ts'
import { realRuns, runEvents, silentLogger, spawnDispatcher, stopDispatcher, testConfig, until, workflowsDir } from './fixtures.ts'

const summary = (blocks: Iterable<BlockState>): string[] => [...blocks].map(b => `${b.id}:${b.runs.join(',')}`).sort()

test('runs published out of order in one burst are grouped into the same buckets as in run order', { timeout: 240_000 }, async t => {
  const config = testConfig()
  const runs = realRuns(FIRST, LAST)
  const loaded = loadWorkflows(workflowsDir, process.env)
  assert.deepEqual(loaded.errors, [])
  const campaign = buildCatalog(loaded.workflows).campaigns.get('prompt')
  assert.ok(campaign !== undefined)
  const bucketRoots = campaign.roots.filter(r => r.block.kind !== 'run')
  assert.ok(bucketRoots.length >= 2, 'the example workflows have fill and lumi roots')

  // what a run-ordered grouping gives (the domain's own rule, offered in run order)
  const expected = new Map<string, string[]>()
  for (const root of bucketRoots) {
    const blocks = new Map<string, BlockState>()
    for (const r of runs) {
      if (!runBelongsTo(campaign, root, r, loaded.golden).ok) continue
      for (const b of groupRun(blocks, root.block, { run: r.run, fill: r.fill, era: r.era, recordedLumiPb: r.recordedLumiPb }, Date.now()).changed) blocks.set(b.id, b)
    }
    expected.set(root.name, summary(blocks.values()))
  }
  const grouped = new Set([...expected.values()].flat().flatMap(s => (s.split(':')[1] ?? '').split(',')).map(Number))
  assert.ok(grouped.size >= 15, 'enough runs go into buckets for the order to matter')

  const dispatcher = await spawnDispatcher(config, { AUTOCAL_RUN_SETTLE_MS: '0', AUTOCAL_DISPATCH_TICK_MS: '50' })
  t.after(async () => { await stopDispatcher(dispatcher) })
  t.diagnostic(`dispatcher log: ${dispatcher.log}`)
  await using redis = await connectRedis({ config, logger: silentLogger })
  const store = createStateStore(redis)
  await using producer = await startProducer({ config, logger: silentLogger, service: 'test-run-watcher' })
  // one burst, highest run first: every partition holds its runs in descending order
  await producer.publishMany(topics.runs, runEvents([...runs].reverse()))

  const dispatcherBlocks = async (): Promise<Map<string, string[]>> => {
    const out = new Map<string, string[]>()
    for (const root of bucketRoots) out.set(root.name, summary((await store.blocks('prompt', root.name)).values()))
    return out
  }
  await until('every bucket run grouped and nothing pending', async () => {
    const inBlocks = new Set([...(await dispatcherBlocks()).values()].flat().flatMap(s => (s.split(':')[1] ?? '').split(',')).map(Number))
    return [...grouped].every(r => inBlocks.has(r)) && await redis.client.zcard(redis.key('td', 'pending', 'prompt')) === 0
  }, 180_000)
  const actual = await dispatcherBlocks()
  for (const root of bucketRoots) assert.deepEqual(actual.get(root.name), expected.get(root.name), `buckets of ${root.name}: as grouped in run order (no late-run blocks, same runs per bucket)`)
  t.diagnostic(`${grouped.size} runs in ${[...expected.values()].flat().length} buckets of ${bucketRoots.map(r => r.name).join(', ')}`)
})
