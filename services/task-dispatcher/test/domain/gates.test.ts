import { test } from 'node:test'
import assert from 'node:assert/strict'
import { pendingGates, upstreamEnd, type GateContext, type RunReadiness } from '../../src/domain/gates.ts'
import type { TaskDef } from '../../src/domain/workflow.ts'

const def = (patch: Partial<TaskDef> = {}): TaskDef => ({
  name: 't',
  subsystem: 'ECAL',
  workflow: 'w',
  workflowVersion: 'v',
  workflowBranch: '',
  workflowDir: '/',
  block: { kind: 'run' },
  filter: { runClass: [], eras: [] },
  gates: { t0StreamDone: [], t0DatasetDone: [] },
  needs: [],
  crossNeeds: [],
  jobs: 1,
  run: ['true'],
  backend: 'local',
  env: {},
  retries: 0,
  retryNever: { exitCodes: [], signals: [] },
  infrastructureRetries: 5,
  backoffS: 1,
  timeoutS: 60,
  resources: { cpus: 0, memoryMb: 0, diskMb: 0 },
  batch: { accountingGroup: '', jobFlavour: '' },
  passEnv: [],
  ...patch
})
const ready = (streams: string[] = [], datasets: string[] = [], durationS = 3600, lumi = 1): RunReadiness => ({ durationS, recordedLumiPb: lumi, streamsDone: new Set(streams), datasetsDone: new Set(datasets) })
const ctx = (patch: Partial<GateContext> = {}): GateContext => ({ blockClosed: true, runs: [1, 2], readiness: new Map([[1, ready()], [2, ready()]]), upstreamDone: new Map(), processing: 0, ...patch })

const table: Array<{ name: string, task: TaskDef, ctx: GateContext, pending: string[] }> = [
  { name: 'a task on a closed block without gates is ready', task: def(), ctx: ctx(), pending: [] },
  { name: 'a task on an open block waits for it to close', task: def(), ctx: ctx({ blockClosed: false }), pending: ['block-closed'] },
  { name: 'a task waits for its upstream task', task: def({ needs: ['reco'] }), ctx: ctx({ upstreamDone: new Map([['reco', false]]) }), pending: ['needs:reco'] },
  { name: 'a task runs once its upstream task is done', task: def({ needs: ['reco'] }), ctx: ctx({ upstreamDone: new Map([['reco', true]]) }), pending: [] },
  { name: 'a task whose upstream failed is blocked, not waiting', task: def({ needs: ['reco'] }), ctx: ctx({ upstreamDone: new Map([['reco', false]]), upstreamEnded: new Map([['reco', 'failed']]) }), pending: ['blocked:reco:failed'] },
  { name: 'an upstream cancelled or skipped blocks too, one gate per upstream task', task: def({ needs: ['a', 'b', 'c'] }), ctx: ctx({ upstreamDone: new Map([['a', false], ['b', false], ['c', false]]), upstreamEnded: new Map([['a', 'cancelled'], ['b', 'skipped']]) }), pending: ['blocked:a:cancelled', 'blocked:b:skipped', 'needs:c'] },
  { name: 'an upstream blocked itself blocks its downstream task', task: def({ needs: ['calib'] }), ctx: ctx({ upstreamDone: new Map([['calib', false]]), upstreamEnded: new Map([['calib', 'blocked']]) }), pending: ['blocked:calib:blocked'] },
  { name: 'a Tier-0 stream gate waits until the stream is done for every run of the block', task: def({ gates: { t0StreamDone: ['Express'], t0DatasetDone: [] } }), ctx: ctx({ readiness: new Map([[1, ready(['Express'])], [2, ready()]]) }), pending: ['t0StreamDone:Express'] },
  { name: 'a Tier-0 stream gate opens when every run has the stream done', task: def({ gates: { t0StreamDone: ['Express'], t0DatasetDone: [] } }), ctx: ctx({ readiness: new Map([[1, ready(['Express'])], [2, ready(['Express'])]]) }), pending: [] },
  { name: 'a Tier-0 dataset gate waits for the dataset', task: def({ gates: { t0StreamDone: [], t0DatasetDone: ['AlCaPhiSym'] } }), ctx: ctx(), pending: ['t0DatasetDone:AlCaPhiSym'] },
  { name: 'a minimum duration gate sums the block runs', task: def({ gates: { t0StreamDone: [], t0DatasetDone: [], minDurationS: 7200 } }), ctx: ctx(), pending: [] },
  { name: 'a minimum duration gate waits below the minimum', task: def({ gates: { t0StreamDone: [], t0DatasetDone: [], minDurationS: 7201 } }), ctx: ctx(), pending: ['minDuration:7201s'] },
  { name: 'a minimum luminosity gate waits below the minimum', task: def({ gates: { t0StreamDone: [], t0DatasetDone: [], minLumiPb: 3 } }), ctx: ctx(), pending: ['minLumi:3'] },
  { name: 'an HTTP gate waits until the predicate answered yes', task: def({ gates: { t0StreamDone: [], t0DatasetDone: [], http: { url: 'http://x', status: 200 } } }), ctx: ctx(), pending: ['http'] },
  { name: 'an HTTP gate opens on a yes', task: def({ gates: { t0StreamDone: [], t0DatasetDone: [], http: { url: 'http://x', status: 200 } } }), ctx: ctx({ httpOpen: true }), pending: [] },
  { name: 'the concurrency limit holds a ready task back', task: def({ concurrency: 2 }), ctx: ctx({ processing: 2 }), pending: ['concurrency:2'] },
  { name: 'the concurrency limit lets a task go below the limit', task: def({ concurrency: 2 }), ctx: ctx({ processing: 1 }), pending: [] },
  { name: 'a run without facts keeps a Tier-0 gate closed', task: def({ gates: { t0StreamDone: ['Express'], t0DatasetDone: [] } }), ctx: ctx({ readiness: new Map() }), pending: ['t0StreamDone:Express'] }
]

for (const row of table) {
  test(row.name, () => { assert.deepEqual(pendingGates(row.task, row.ctx), row.pending) })
}

test('which upstream states block a downstream task', () => {
  const rows: Array<[{ state: string, pendingGates: string[] }, ReturnType<typeof upstreamEnd>]> = [
    [{ state: 'failed', pendingGates: [] }, 'failed'],
    [{ state: 'cancelled', pendingGates: [] }, 'cancelled'],
    [{ state: 'skipped', pendingGates: [] }, 'skipped'],
    [{ state: 'waiting', pendingGates: ['blocked:reco:failed'] }, 'blocked'],
    [{ state: 'waiting', pendingGates: ['needs:reco', 't0StreamDone:Express'] }, undefined],
    [{ state: 'processing', pendingGates: [] }, undefined],
    [{ state: 'done', pendingGates: [] }, undefined],
    [{ state: 'new', pendingGates: [] }, undefined]
  ]
  for (const [t, end] of rows) assert.equal(upstreamEnd(t), end, JSON.stringify(t))
})
