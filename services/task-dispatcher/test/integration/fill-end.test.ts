// A fill block that ends without a later run (issue 15), through the real
// dispatcher (a child process) on real Kafka and Redis with the real
// job-executor: fill 8120 (runs 357400, 357401) has no later fill; its block
// stays open until a run of the fill carries the fill's end as OMS reports it
// (Run.fill_end_time, published by the run-watcher as a RunUpdated), then it
// closes ("fill-end") and its task runs on both runs. With `closeAfter`, the
// block closes when no run joined it for that long ("close-after").
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { create } from '@bufbuild/protobuf'
import { timestampFromDate } from '@bufbuild/protobuf/wkt'
import { RunEventSchema, TaskState, topics } from '@autocal/contracts'
import { realRuns, runEvents, startWorkflowSystem, startedJobs, until, workflowsDir } from './fixtures.ts'

const workflow = `subsystem: ECAL
workflow: fill-end-demo
tasks:
  - name: fill-reco
    block: fill
    run: [python3, ${workflowsDir}/scripts/process_block.py, --step, fill-reco, --runs, "{runs}", --job, "{job}", --out, "{outdir}"]
`

test('a fill block closes when OMS reports the fill\'s end, with no run of a later fill, and its task runs', { timeout: 150_000 }, async () => {
  await using system = await startWorkflowSystem('fill-end-demo', workflow)
  const { backends, client, producer } = system
  const runs = realRuns(357400, 357401)
  await producer.publishMany(topics.runs, runEvents(runs))
  const fillTask = async () => (await client.listTasks({ selector: { campaign: 'prompt', blockIds: ['fill-8120'] } })).tasks.find(t => t.task === 'fill-reco')
  await until('fill-8120 planned with both runs, open', async () => {
    const t = await fillTask()
    return t?.block?.runs.length === 2 && t.pendingGates.join() === 'block-closed'
  })

  // the run-watcher's RunUpdated of the fill's last run, now with the fill's end (OMS fills resource end_time)
  const last = runs[runs.length - 1]
  assert.ok(last !== undefined)
  const updated = { ...last, fillEndTime: timestampFromDate(new Date('2022-08-12T23:04:00Z')) }
  await producer.publish(topics.runs, create(RunEventSchema, { run: last.run, contentHash: 'fill-end', source: 'oms', change: { case: 'updated', value: { run: updated, changedFields: ['fill_end_time'] } } }), { eventId: `runs/${last.run}/updated/fill-end` })

  await until('fill-reco done', async () => (await fillTask())?.state === TaskState.DONE)
  const done = await fillTask()
  assert.equal(done?.block?.closedReason, 'fill-end')
  assert.deepEqual(done?.block?.runs, [357400, 357401])
  assert.deepEqual([...startedJobs(backends)], ['prompt/fill-8120/fill-reco/1/0#1'])
})

const quietWorkflow = `subsystem: ECAL
workflow: fill-quiet-demo
tasks:
  - name: fill-reco
    block: { fill: true, closeAfter: 3s }
    run: [python3, ${workflowsDir}/scripts/process_block.py, --step, fill-reco, --runs, "{runs}", --job, "{job}", --out, "{outdir}"]
`

test('a fill block with closeAfter closes when no run joined it for that long, with neither a later fill nor the fill\'s end, and its task runs', { timeout: 150_000 }, async () => {
  await using system = await startWorkflowSystem('fill-quiet-demo', quietWorkflow)
  const { backends, client, producer } = system
  await producer.publishMany(topics.runs, runEvents(realRuns(357400, 357401)))
  const fillTask = async () => (await client.listTasks({ selector: { campaign: 'prompt', blockIds: ['fill-8120'] } })).tasks.find(t => t.task === 'fill-reco')
  await until('fill-reco done', async () => (await fillTask())?.state === TaskState.DONE)
  const done = await fillTask()
  assert.equal(done?.block?.closedReason, 'close-after')
  assert.deepEqual(done?.block?.runs, [357400, 357401], 'both runs of the fill, grouped before the block closed')
  assert.deepEqual([...startedJobs(backends)], ['prompt/fill-8120/fill-reco/1/0#1'])
})
