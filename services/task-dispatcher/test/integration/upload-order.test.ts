// Upload order for an append-only tag, on real Kafka and Redis: a dispatcher
// process, the real condition-uploader (in-process from its app.ts, a real
// SQLite CondDB) and the real job-executor running the example payload
// script. The earliest block's job waits for a gate file until the later blocks'
// jobs are done: their uploads wait, visibly, and go out in since order once
// it ends, so the offline tag takes every IOV as an append (without the
// order, the uploader would refuse the earliest one: not an append).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connectRedis, startConsumer, startProducer } from '@autocal/runtime'
import { Outcome, taskKey, topics, type ConditionEvent } from '@autocal/contracts'
import { realRuns, repo, runEvents, silentLogger, startDispatcher, startBackends, testConfig, until } from './fixtures.ts'
import { createStateStore } from '../../src/adapters/state-store.ts'

const script = join(repo, 'deploy/workflows/scripts/write_payload.py')
const tag = 'EcalIntercalibConstants_order_offline'

/** The workflow; the job of run `held` runs its payload script only once the file `gate` exists. */
const workflow = (held: number, gate: string): string => `subsystem: ECAL
workflow: order
runTypes:
  collisions: { filter: { runClass: collisions2022, global: true } }
tasks:
  - name: ic
    block: run
    run:
      - sh
      - -c
      - 'if [ "$1" = ${held} ]; then while [ ! -e ${gate} ]; do sleep 0.05; done; fi; exec python3 ${script} --object-type EcalIntercalibConstants --tag EcalIntercalibConstants_calib --since "$1" --out "$2/ic.db"'
      - ic
      - "{run}"
      - "{outdir}"
    retries: 0
    condition: { tag: ${tag}, record: EcalIntercalibConstantsRcd, sync: offline }
`

test('uploads to an offline tag go out in since order when the later blocks finish first', { timeout: 240_000 }, async t => {
  const config = testConfig()
  const runs = realRuns(357400, 357480).filter(r => r.runClass === 'collisions2022').slice(0, 3)
  assert.equal(runs.length, 3)
  const [a, b, c] = runs.map(r => r.run) as [number, number, number]
  const workflows = mkdtempSync(join(tmpdir(), 'autocal-wf-'))
  // the first block's job runs only once the later ones are done and their uploads wait (the jobs run as "nobody": the gate's directory is open to it)
  const gates = mkdtempSync(join(tmpdir(), 'autocal-gate-'))
  chmodSync(gates, 0o755)
  const gate = join(gates, 'release')
  writeFileSync(join(workflows, 'order.yaml'), workflow(a, gate))
  await using backends = await startBackends(config)
  const outcomes: ConditionEvent[] = []
  await using producer = await startProducer({ config, logger: silentLogger, service: 'test-run-watcher' })
  await using observer = await startConsumer({
    config, logger: silentLogger, service: 'test-observer', producer, group: 'test-observer', handlers: { conditions: async e => { outcomes.push(e) } }
  })
  void observer
  const dispatcher = await startDispatcher(config, { AUTOCAL_WORKFLOWS_DIR: workflows })
  t.after(async () => { await dispatcher[Symbol.asyncDispose]() })
  await using redis = await connectRedis({ config, logger: silentLogger })
  const store = createStateStore(redis)
  const task = async (run: number): ReturnType<typeof store.getTask> => await store.getTask(taskKey('prompt', `run-${run}`, 'ic'))

  await producer.publishMany(topics.runs, runEvents(runs))

  const waits = (blocker: number): string => `all 1 job(s) done; upload waits for run-${blocker}'s upload to ${tag}: an offline tag takes only appends`
  await until('the later blocks wait for the first block', async () => (await task(b))?.reason === waits(a) && (await task(c))?.reason === waits(a), 120_000)
  assert.equal((await task(a))?.state, 'processing')
  for (const run of [b, c]) {
    const w = await task(run)
    assert.deepEqual({ state: w?.state, jobs: w?.jobs.map(j => j.state), condition: w?.condition }, { state: 'processing', jobs: ['done'], condition: undefined })
  }
  assert.equal(backends.conditionRequests.length, 0, 'no upload before the first block is over')

  writeFileSync(gate, '')
  await until('every block is done', async () => (await Promise.all([a, b, c].map(task))).every(x => x?.state === 'done'), 120_000)
  assert.deepEqual(backends.conditionRequests.map(r => r.since), [a, b, c].map(BigInt), 'requested in since order')
  assert.deepEqual([a, b, c].map(run => outcomes.find(e => e.requestId === `prompt/run-${run}/ic/1`)?.outcome), [Outcome.UPLOADED, Outcome.UPLOADED, Outcome.UPLOADED])
  const iovs = await (await fetch(`${backends.uploaderUrl}/api/v1/tags/${tag}/iovs`)).json() as { iovs: Array<{ since: string }> }
  assert.deepEqual(iovs.iovs.map(i => i.since), [a, b, c].map(String))
})
