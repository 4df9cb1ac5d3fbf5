import { test } from 'node:test'
import assert from 'node:assert/strict'
import { create } from '@bufbuild/protobuf'
import { RunSchema } from '@autocal/contracts'
import { buildCatalog, cascadeOf, downstreamOf, orphanedTasks, replaceCatalog, runBelongsTo } from '../../src/domain/catalog.ts'
import { matchesFilter } from '../../src/domain/run-filter.ts'
import { validateWorkflow } from '../../src/domain/workflow.ts'

const wf = validateWorkflow({
  name: 'w.yaml',
  dir: '/',
  content: `subsystem: ECAL
workflow: timing
campaigns: [prompt, { name: rereco, runTypes: [physics] }]
runTypes:
  physics: { filter: { runClass: collisions2022, global: true, minRecordedLumi: 1 }, tasks: [reco, calib] }
  cosmics: { filter: { runClass: cosmics2022 }, tasks: [align] }
tasks:
  - { name: reco, run: [x] }
  - { name: calib, needs: [reco], run: [x, "{inputs}"] }
  - { name: align, run: [x] }
`
}).workflow
assert.ok(wf !== undefined)
const catalog = buildCatalog([wf])
const run = (patch: Record<string, unknown>) => create(RunSchema, { run: 1, runClass: 'collisions2022', global: true, recordedLumiPb: 5, durationS: 3600, ...patch })

test('a campaign runs the tasks of its run types', () => {
  assert.deepEqual(catalog.campaigns.get('prompt')?.tasks.map(t => t.name), ['reco', 'calib', 'align'])
  assert.deepEqual(catalog.campaigns.get('rereco')?.tasks.map(t => t.name), ['reco', 'calib'])
  assert.deepEqual(catalog.campaigns.get('rereco')?.roots.map(t => t.name), ['reco'])
  assert.deepEqual(downstreamOf(catalog.campaigns.get('prompt')!, 'reco').map(t => t.name), ['calib'])
})

test('a run belongs to a root task when one of its run types accepts it', () => {
  const c = catalog.campaigns.get('prompt')!
  const reco = c.tasks[0]!
  const align = c.tasks[2]!
  assert.deepEqual(runBelongsTo(c, reco, run({}), new Map()), { ok: true })
  assert.deepEqual(runBelongsTo(c, reco, run({ recordedLumiPb: 0.5 }), new Map()), { ok: false, reason: 'run type physics: recorded 0.5 /pb < 1 /pb' })
  assert.equal(runBelongsTo(c, align, run({ runClass: 'cosmics2022' }), new Map()).ok, true)
})

const filterTable: Array<{ name: string, filter: Parameters<typeof matchesFilter>[1], patch: Record<string, unknown>, ok: boolean }> = [
  { name: 'the run class matches case-insensitively', filter: { runClass: ['collisions2022'], eras: [] }, patch: { runClass: 'Collisions2022' }, ok: true },
  { name: 'a local run is not global', filter: { runClass: [], eras: [], global: true }, patch: { global: false }, ok: false },
  { name: 'a short run is excluded', filter: { runClass: [], eras: [], minDurationS: 600 }, patch: { durationS: 599 }, ok: false },
  { name: 'unknown stable beams exclude the run', filter: { runClass: [], eras: [], stableBeams: true }, patch: {}, ok: false },
  { name: 'stable beams include the run', filter: { runClass: [], eras: [], stableBeams: true }, patch: { stableBeam: true }, ok: true },
  { name: 'a B field inside the range is accepted', filter: { runClass: [], eras: [], bField: { min: 3.7, max: 3.9 } }, patch: { bFieldT: 3.8 }, ok: true },
  { name: 'a B field at zero is rejected', filter: { runClass: [], eras: [], bField: { min: 3.7 } }, patch: { bFieldT: 0 }, ok: false },
  { name: 'an unknown B field excludes the run', filter: { runClass: [], eras: [], bField: { min: 3.7 } }, patch: {}, ok: false },
  { name: 'a run missing from the golden JSON is excluded', filter: { runClass: [], eras: [], golden: '/g.json' }, patch: { run: 2 }, ok: false },
  { name: 'a certified run is accepted', filter: { runClass: [], eras: [], golden: '/g.json' }, patch: { run: 1 }, ok: true },
  { name: 'another era is excluded', filter: { runClass: [], eras: ['Run2022C'] }, patch: { era: 'Run2022D' }, ok: false }
]
for (const row of filterTable) {
  test(row.name, () => { assert.equal(matchesFilter(run(row.patch), row.filter, new Map([['/g.json', new Set([1])]])).ok, row.ok) })
}

test('a reload replaces the live catalog in place: holders of the old object see the new tasks', () => {
  const live = buildCatalog([wf])
  const held = live
  const next = validateWorkflow({ name: 'w.yaml', dir: '/', content: 'subsystem: ECAL\nworkflow: timing\ncampaigns: [prompt]\ntasks:\n  - { name: align, run: [x] }\n' }).workflow
  assert.ok(next !== undefined)
  replaceCatalog(live, buildCatalog([next]))
  assert.deepEqual(held.campaigns.get('prompt')?.tasks.map(t => t.name), ['align'])
  assert.equal(held.task('prompt', 'reco'), undefined)
  assert.equal(held.campaigns.has('rereco'), false)
  assert.equal(held.workflows[0]?.version, next.version)
})

test('an unfinished task no workflow defines any more is orphaned; a finished one or a defined one is not', () => {
  const block = { id: 'run-1' }
  const table: Array<[string, string, string, boolean]> = [
    ['prompt', 'reco', 'processing', false],
    ['prompt', 'gone', 'processing', true],
    ['prompt', 'gone', 'new', true],
    ['prompt', 'gone', 'waiting', true],
    ['prompt', 'gone', 'awaiting-signoff', true],
    ['prompt', 'gone', 'done', false],
    ['prompt', 'gone', 'cancelled', false],
    ['nocampaign', 'reco', 'waiting', true]
  ]
  for (const [campaign, task, state, orphan] of table) {
    const found = orphanedTasks([{ campaign, task, block: block as never, state: state as never, workflowVersion: 'v1' }], catalog)
    assert.equal(found.length === 1, orphan, `${campaign}/${task} ${state}`)
    if (orphan) assert.deepEqual(found[0], { campaign, task, blockId: 'run-1', state, workflowVersion: 'v1', workflowBranch: '' })
  }
})

// issue 15: reprocess --cascade
test('cascadeOf: the transitive downstream tasks of a selection, each once, upstream first, without the selection', () => {
  const chain = validateWorkflow({
    name: 'chain.yaml',
    dir: '/',
    content: `subsystem: ECAL
workflow: chain
tasks:
  - { name: reco, run: [x] }
  - { name: calib, needs: [reco], run: [x] }
  - { name: rereco, needs: [calib], run: [x] }
  - { name: hlt-validation, needs: [rereco], run: [x] }
  - { name: pedestals, run: [x] }
  - { name: ped-upload, needs: [pedestals], run: [x] }
  - { name: summary, needs: [calib, pedestals], run: [x] }
`
  })
  assert.deepEqual(chain.errors, [])
  const c = buildCatalog([chain.workflow!]).campaigns.get('prompt')!
  const rows: Array<[string[], string[]]> = [
    [['reco'], ['calib', 'rereco', 'hlt-validation', 'summary']],
    [['calib'], ['rereco', 'hlt-validation', 'summary']],
    [['hlt-validation'], []],
    [['reco', 'calib'], ['rereco', 'hlt-validation', 'summary']],
    [['pedestals'], ['ped-upload', 'summary']],
    [['reco', 'pedestals'], ['calib', 'rereco', 'hlt-validation', 'ped-upload', 'summary']]
  ]
  for (const [names, expected] of rows) assert.deepEqual(cascadeOf(c, names), expected, names.join(','))
})
