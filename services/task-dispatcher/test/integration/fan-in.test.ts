// Fan-in across blocks on real Kafka and Redis (issue 15): the real
// dispatcher (in-process, its app.ts), the real job-executor running the
// example processing script, runs of three fills of the real 2022 run list.
// A per-run task's outputs of every run of a fill are the inputs of a per-fill
// task, in run order, once all of them are done; a per-run job held back keeps
// its fill's aggregation waiting (with its progress); a per-run task that
// failed blocks its fill's aggregation, or lets an `allowMissing` one proceed
// with the others; `reprocess --cascade` of the failed run block reruns the
// aggregations of the fill covering it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connectRedis, createGrpcClient, startProducer } from '@autocal/runtime'
import { ControlService, taskKey, topics } from '@autocal/contracts'
import { realRuns, repo, runEvents, silentLogger, startBackends, startDispatcher, testConfig, until } from './fixtures.ts'
import { createStateStore } from '../../src/adapters/state-store.ts'

const script = join(repo, 'deploy/workflows/scripts/process_block.py')

/** The per-run job of run `held` waits for the file `gate`; the one of run `failing` exits 3 on the task's first attempt. */
const workflow = (held: number, failing: number, gate: string): string => `subsystem: ECAL
workflow: fanin
runTypes:
  collisions: { filter: { runClass: collisions2022, global: true } }
tasks:
  - name: sums
    run:
      - sh
      - -c
      - 'if [ "$1" = ${held} ]; then while [ ! -e ${gate} ]; do sleep 0.05; done; fi; if [ "$1" = ${failing} ] && [ "$AUTOCAL_ATTEMPT" = 1 ]; then exit 3; fi; exec python3 ${script} --step sums --runs "$1" --out "$2"'
      - sums
      - "{run}"
      - "{outdir}"
    retries: 0
  - name: ic
    needs: [sums]
    block: fill
    run: [python3, ${script}, --step, ic, --runs, "{runs}", --out, "{outdir}", --inputs, "{inputs}"]
    retries: 0
  - name: ic-partial
    needs: [sums]
    block: fill
    fanIn: { allowMissing: true }
    run: [python3, ${script}, --step, ic-partial, --runs, "{runs}", --out, "{outdir}", --inputs, "{inputs}"]
    retries: 0
`

test('a per-fill task gathers the per-run outputs of exactly its fill, after all are done; a failed run blocks it or is left out; cascade reruns it', { timeout: 300_000 }, async t => {
  const config = testConfig()
  // fills 8124 (4 runs), 8125 (1), 8128 (4) and a run of fill 8132 that closes 8128
  const runs = realRuns(357438, 357538).filter(r => r.runClass === 'collisions2022')
  const fillOf = new Map(runs.map(r => [r.run, r.fill]))
  const runsOf = (fill: number): number[] => runs.filter(r => r.fill === fill).map(r => r.run)
  assert.deepEqual([8124, 8125, 8128].map(f => runsOf(f).length), [4, 1, 4])
  assert.equal(fillOf.get(357538), 8132)
  const held = runsOf(8124)[2] as number
  const failing = runsOf(8128)[1] as number
  const workflows = mkdtempSync(join(tmpdir(), 'autocal-wf-'))
  const gates = mkdtempSync(join(tmpdir(), 'autocal-gate-'))
  chmodSync(gates, 0o755) // jobs run as "nobody" under root
  const gate = join(gates, 'release')
  writeFileSync(join(workflows, 'fanin.yaml'), workflow(held, failing, gate))

  await using backends = await startBackends(config)
  await using producer = await startProducer({ config, logger: silentLogger, service: 'test-run-watcher' })
  const dispatcher = await startDispatcher(config, { AUTOCAL_WORKFLOWS_DIR: workflows, AUTOCAL_CONTROL_TOKENS: JSON.stringify({ 'ecal-token-1': { principal: 'ecal-ops', subsystems: ['ECAL'] } }) })
  t.after(async () => { await dispatcher[Symbol.asyncDispose]() })
  await using redis = await connectRedis({ config, logger: silentLogger })
  const store = createStateStore(redis)
  const task = async (block: string, name: string): ReturnType<typeof store.getTask> => await store.getTask(taskKey('prompt', block, name))
  const starts = (name: string, block: string): string[][] => backends.requests
    .filter(r => r.message.jobId.startsWith(`prompt/${block}/${name}/`) && r.message.action.case === 'start')
    .map(r => r.message.action.case === 'start' ? r.message.action.value.inputs : [])
  /** The run of each input path (…/run-<run>/sums/…), in the order given. */
  const inputRuns = (inputs: readonly string[] | undefined): number[] => (inputs ?? []).map(p => Number(/\/run-(\d+)\/sums\//.exec(p)?.[1]))

  await producer.publishMany(topics.runs, runEvents(runs))

  // fill 8125 (one run) and the runs of 8124 but the held one are done; 8124's aggregation waits, showing how far it is
  await until('fill 8125 aggregated', async () => (await task('fill-8125', 'ic'))?.state === 'done', 120_000)
  await until('fill 8124 waits on its held run only', async () => (await task('fill-8124', 'ic'))?.pendingGates.join() === 'needs:sums:3/4', 60_000)
  for (const r of runsOf(8124).filter(r => r !== held)) assert.equal((await task(`run-${r}`, 'sums'))?.state, 'done')
  assert.equal((await task(`run-${held}`, 'sums'))?.state, 'processing')
  assert.deepEqual(starts('ic', 'fill-8124'), [], 'no aggregation job before every run of the fill is done')
  assert.deepEqual(inputRuns(starts('ic', 'fill-8125')[0]), runsOf(8125))

  // fill 8128: one run failed for good; the strict aggregation is blocked naming it, the allowMissing one ran on the three others
  await until('fill 8128 blocked', async () => (await task('fill-8128', 'ic'))?.pendingGates.join() === `blocked:sums:failed:run-${failing}`, 60_000)
  await until('fill 8128 partial aggregation done', async () => (await task('fill-8128', 'ic-partial'))?.state === 'done', 60_000)
  assert.deepEqual(inputRuns(starts('ic-partial', 'fill-8128')[0]), runsOf(8128).filter(r => r !== failing))
  assert.deepEqual(starts('ic', 'fill-8128'), [])
  // fill 8132 has no later fill yet: its block is open
  assert.deepEqual((await task('fill-8132', 'ic'))?.pendingGates[0], 'block-closed')

  // the status shows the fan-in block and its progress, per run of the block
  const client = createGrpcClient(ControlService, `127.0.0.1:${dispatcher.grpcPort}`, { token: 'ecal-token-1' })
  t.after(() => { client.close() })
  const status = await client.getStatus({ selector: { campaign: 'prompt', tasks: ['ic'], blockIds: ['fill-8124', 'fill-8128'] } })
  assert.deepEqual(status.cells.map(c => [c.run, c.blockId, c.waitingFor]), [
    ...runsOf(8124).map(r => [r, 'fill-8124', 'upstream task sums done on 3 of 4 covered blocks']),
    ...runsOf(8128).map(r => [r, 'fill-8128', `blocked: upstream task sums failed on block run-${failing} (reprocess it, or reprocess it with --cascade to rerun this task too)`])
  ])

  // the held run finishes: 8124's aggregation runs on exactly the four runs of its fill, in run order
  writeFileSync(gate, '')
  await until('fill 8124 aggregated', async () => (await task('fill-8124', 'ic'))?.state === 'done', 120_000)
  assert.equal(starts('ic', 'fill-8124').length, 1)
  assert.deepEqual(inputRuns(starts('ic', 'fill-8124')[0]), runsOf(8124))

  // reprocess --cascade of the failed run block reruns both aggregations of fill 8128 (attempt 2), now on all four runs
  const res = await client.reprocess({ selector: { campaign: 'prompt', tasks: ['sums'], blockIds: [`run-${failing}`] }, reason: 'run failed by an outage', cascade: true })
  assert.deepEqual(res.cascadedTasks, ['ic', 'ic-partial'])
  await until('fill 8128 aggregated after the cascade', async () => (await task('fill-8128', 'ic'))?.state === 'done' && (await task('fill-8128', 'ic-partial'))?.attempt === 2 && (await task('fill-8128', 'ic-partial'))?.state === 'done', 120_000)
  assert.deepEqual(inputRuns(starts('ic', 'fill-8128')[0]), runsOf(8128))
  const partial = backends.requests.find(r => r.message.jobId.startsWith('prompt/fill-8128/ic-partial/2/') && r.message.action.case === 'start')
  assert.deepEqual(inputRuns(partial?.message.action.case === 'start' ? partial.message.action.value.inputs : undefined), runsOf(8128))
})
