import { test } from 'node:test'
import assert from 'node:assert/strict'
import { create } from '@bufbuild/protobuf'
import { RunSchema } from '@autocal/contracts'
import { compareBlocks, coveredBlocks, coveringBlockIds, fanInReadiness, withProgress, type BlockOrder, type UpstreamTaskFacts } from '../../src/domain/fan-in.ts'
import { buildCatalog, cascadeOf, downstreamOf, rootsOf, runBelongsTo } from '../../src/domain/catalog.ts'
import { validateWorkflow, type BlockRule } from '../../src/domain/workflow.ts'

const run: BlockRule = { kind: 'run' }
const fill: BlockRule = { kind: 'fill' }
const era: BlockRule = { kind: 'era' }
const lumi = (pb: number): BlockRule => ({ kind: 'lumi', thresholdPb: pb, closeAtEraEnd: true })

const orderTable: Array<[string, BlockRule, BlockRule, BlockOrder]> = [
  ['per fill over per run is coarser', fill, run, 'coarser'],
  ['a lumi bucket over per run is coarser', lumi(500), run, 'coarser'],
  ['per era over per fill is coarser', era, fill, 'coarser'],
  ['per era over a lumi bucket is coarser', era, lumi(500), 'coarser'],
  ['per run over per fill is finer', run, fill, 'finer'],
  ['per fill over per era is finer', fill, era, 'finer'],
  ['the same rule is the same', fill, fill, 'same'],
  ['the same lumi threshold is the same', lumi(500), lumi(500), 'same'],
  ['a lumi bucket and a fill do not line up', lumi(500), fill, 'incomparable'],
  ['two lumi thresholds do not line up', lumi(1000), lumi(500), 'incomparable']
]
for (const [name, task, upstream, expected] of orderTable) {
  test(`compareBlocks: ${name}`, () => { assert.equal(compareBlocks(task, upstream), expected) })
}

test('coveredBlocks: the upstream blocks of the runs, in run order, each once; an ungrouped run counts', () => {
  const grouped = new Map([['sums/357002', 'run-357002'], ['sums/357001', 'run-357001'], ['fills/357001', 'fill-8000'], ['fills/357002', 'fill-8000']])
  const rows: Array<[string, number[], string[], Array<[string, string | undefined, number]>]> = [
    ['per-run upstream: one block per run', [357002, 357001], ['sums'], [['sums', 'run-357001', 357001], ['sums', 'run-357002', 357002]]],
    ['per-fill upstream: one block for both runs', [357001, 357002], ['fills'], [['fills', 'fill-8000', 357001]]],
    ['two needs: run order first, then needs order', [357001, 357002], ['sums', 'fills'], [['sums', 'run-357001', 357001], ['fills', 'fill-8000', 357001], ['sums', 'run-357002', 357002]]],
    ['a run not grouped yet has no block id', [357001, 357003], ['sums'], [['sums', 'run-357001', 357001], ['sums', undefined, 357003]]]
  ]
  for (const [name, runs, needs, expected] of rows) {
    assert.deepEqual(coveredBlocks(runs, needs, (n, r) => grouped.get(`${n}/${r}`)).map(c => [c.need, c.blockId, c.firstRun]), expected, name)
  }
})

const three = coveredBlocks([1, 2, 3], ['sums'], (_n, r) => `run-${r}`)
const t = (state: string, pendingGates: string[] = []): UpstreamTaskFacts => ({ state, pendingGates })
const readinessTable: Array<{ name: string, tasks: UpstreamTaskFacts[], allowMissing: boolean, done: boolean, ended?: string, progress: [number, number], inputs: string[] }> = [
  { name: 'all done: ready, every output in run order', tasks: [t('done'), t('done'), t('done')], allowMissing: false, done: true, progress: [3, 3], inputs: ['run-1', 'run-2', 'run-3'] },
  { name: 'one still processing: waits', tasks: [t('done'), t('processing'), t('done')], allowMissing: false, done: false, progress: [2, 3], inputs: ['run-1', 'run-3'] },
  { name: 'one not planned yet: waits', tasks: [t('done'), undefined, t('done')], allowMissing: false, done: false, progress: [2, 3], inputs: ['run-1', 'run-3'] },
  { name: 'one failed for good: blocked, naming the block', tasks: [t('done'), t('failed'), t('processing')], allowMissing: false, done: false, ended: 'failed:run-2', progress: [1, 3], inputs: ['run-1'] },
  { name: 'the first of several ended is named', tasks: [t('skipped'), t('cancelled'), t('done')], allowMissing: false, done: false, ended: 'skipped:run-1', progress: [1, 3], inputs: ['run-3'] },
  { name: 'an upstream blocked itself blocks', tasks: [t('waiting', ['blocked:reco:failed']), t('done'), t('done')], allowMissing: false, done: false, ended: 'blocked:run-1', progress: [2, 3], inputs: ['run-2', 'run-3'] },
  { name: 'allowMissing: proceeds with the done ones once all ended', tasks: [t('done'), t('failed'), t('done')], allowMissing: true, done: true, progress: [2, 3], inputs: ['run-1', 'run-3'] },
  { name: 'allowMissing: waits while one may still finish', tasks: [t('done'), t('failed'), t('processing')], allowMissing: true, done: false, progress: [1, 3], inputs: ['run-1'] },
  { name: 'allowMissing: none done is blocked (nothing to gather)', tasks: [t('failed'), t('cancelled'), t('skipped')], allowMissing: true, done: false, ended: 'failed:run-1', progress: [0, 3], inputs: [] }
]
for (const row of readinessTable) {
  test(`fanInReadiness: ${row.name}`, () => {
    const r = fanInReadiness(['sums'], three, row.tasks, { allowMissing: row.allowMissing })
    assert.equal(r.upstreamDone.get('sums'), row.done)
    assert.equal(r.upstreamEnded.get('sums'), row.ended)
    assert.deepEqual(r.progress.get('sums'), { done: row.progress[0], total: row.progress[1] })
    assert.deepEqual(r.inputs.map(c => c.blockId), row.inputs)
  })
}

test('fanInReadiness: no covered block at all is not done', () => {
  assert.equal(fanInReadiness(['sums'], [], [], { allowMissing: false }).upstreamDone.get('sums'), false)
})

test('withProgress: a needs gate gets the covered blocks done of all; other gates stay', () => {
  assert.deepEqual(withProgress(['block-closed', 'needs:sums', 'needs:other', 'http'], new Map([['sums', { done: 2, total: 5 }]])), ['block-closed', 'needs:sums:2/5', 'needs:other', 'http'])
})

const yaml = (extra: string, aggBlock = 'fill'): string => `subsystem: ECAL
workflow: phisym
tasks:
  - name: sums
    run: [sums.py, "{run}"]
  - name: constants
    needs: [sums]
    block: ${aggBlock}
${extra}    run: [constants.py, "{inputs}"]
  - name: upload
    needs: [constants]
    run: [upload.py, "{inputs}"]
`
const check = (content: string): string[] => validateWorkflow({ name: 'phisym.yaml', content, dir: '/wf' }).errors

test('validation: a coarser block on a task with needs makes it a fan-in task; its downstream runs on its blocks', () => {
  const r = validateWorkflow({ name: 'phisym.yaml', content: yaml('    fanIn: { allowMissing: true }\n'), dir: '/wf' })
  assert.deepEqual(r.errors, [])
  const [sums, constants, upload] = r.workflow?.tasks ?? []
  assert.equal(sums?.fanIn, undefined)
  assert.deepEqual(constants?.fanIn, { allowMissing: true })
  assert.deepEqual(constants?.block, { kind: 'fill' })
  assert.equal(upload?.fanIn, undefined)
  assert.deepEqual(upload?.block, { kind: 'fill' })
  assert.deepEqual(validateWorkflow({ name: 'p.yaml', content: yaml(''), dir: '/wf' }).workflow?.tasks[1]?.fanIn, { allowMissing: false })
})

const validationTable: Array<[string, string, RegExp]> = [
  ['a finer block than the upstream names file:line:col', yaml('').replace('    run: [sums.py', '    block: fill\n    run: [sums.py').replace('block: fill\n    run: [constants', 'block: run\n    run: [constants'),
    /^phisym\.yaml:9:12 tasks\.1\.block: task 'constants' needs 'sums' whose block is fill; block run is finer: one fill block would feed several run blocks/],
  ['a lumi bucket over per-fill blocks does not line up', yaml('').replace('    run: [sums.py', '    block: fill\n    run: [sums.py').replace('block: fill\n    run: [constants', 'block: lumi:500\n    run: [constants'),
    /^phisym\.yaml:9:12 tasks\.1\.block: task 'constants' needs 'sums' whose block is fill; block lumi:500 does not cover whole fill blocks/],
  ['fanIn on a task without a block of its own', yaml('').replace('    block: fill\n', '    fanIn: { allowMissing: true }\n'),
    /^phisym\.yaml:8:12 tasks\.1\.fanIn: task 'constants' declares no block of its own/],
  ['fanIn on a task with the upstream\'s block', yaml('    fanIn: { allowMissing: true }\n', 'run'),
    /^phisym\.yaml:9:12 tasks\.1\.fanIn: task 'constants' runs on the blocks of its needs/],
  ['fanIn on a root task', yaml('').replace('    run: [sums.py', '    fanIn: {}\n    run: [sums.py'),
    /^phisym\.yaml:5:12 tasks\.0\.fanIn: task 'sums' has no needs/],
  ['an unknown key in fanIn', yaml('    fanIn: { allowMising: true }\n'),
    /^phisym\.yaml:9:\d+ tasks\.1\.fanIn\.allowMising: unknown key 'allowMising'; did you mean 'allowMissing'\?/]
]
for (const [name, content, expected] of validationTable) {
  test(`validation: ${name}`, () => {
    const errors = check(content)
    assert.ok(errors.some(e => expected.test(e)), errors.join('\n'))
  })
}

test('catalog: a fan-in task groups its own blocks; cascade crosses it; its runs are its upstream root\'s', () => {
  const wf = validateWorkflow({ name: 'phisym.yaml', content: yaml('').replace('    run: [sums.py', '    filter: { minRecordedLumi: 1 }\n    run: [sums.py'), dir: '/wf' }).workflow
  assert.ok(wf !== undefined)
  const c = buildCatalog([wf]).campaigns.get('prompt')
  assert.ok(c !== undefined)
  assert.deepEqual(c.roots.map(r => r.name), ['sums', 'constants'])
  assert.deepEqual(downstreamOf(c, 'sums').map(d => d.name), [])
  assert.deepEqual(downstreamOf(c, 'constants').map(d => d.name), ['upload'])
  assert.deepEqual(rootsOf(c, c.tasks[2]!), ['constants'])
  assert.deepEqual(cascadeOf(c, ['sums']), ['constants', 'upload'])
  const r = (lumiPb: number) => create(RunSchema, { run: 1, fill: 8000, global: true, recordedLumiPb: lumiPb })
  assert.deepEqual(runBelongsTo(c, c.tasks[1]!, r(5), new Map()), { ok: true })
  assert.deepEqual(runBelongsTo(c, c.tasks[1]!, r(0.5), new Map()), { ok: false, reason: 'upstream sums: recorded 0.5 /pb < 1 /pb' })
})

test('coveringBlockIds: the cascaded tasks\' blocks that hold a run of a selected block', () => {
  const tasks = [
    { task: 'sums', block: { id: 'run-1', runs: [1] } },
    { task: 'sums', block: { id: 'run-2', runs: [2] } },
    { task: 'sums', block: { id: 'run-3', runs: [3] } },
    { task: 'constants', block: { id: 'fill-10', runs: [1, 2] } },
    { task: 'constants', block: { id: 'fill-11', runs: [3] } },
    { task: 'upload', block: { id: 'fill-10', runs: [1, 2] } },
    { task: 'other', block: { id: 'fill-11', runs: [3] } }
  ]
  const rows: Array<[string, string[], string[], string[]]> = [
    ['one run block: its fill', ['run-2'], ['constants', 'upload'], ['fill-10']],
    ['run blocks of two fills: both fills', ['run-1', 'run-3'], ['constants'], ['fill-10', 'fill-11']],
    ['a task not cascaded adds nothing', ['run-3'], ['upload'], []],
    ['a block already selected is not repeated', ['run-1', 'fill-10'], ['constants'], []]
  ]
  for (const [name, blockIds, cascaded, expected] of rows) assert.deepEqual(coveringBlockIds(tasks, { tasks: ['sums'], blockIds }, cascaded), expected, name)
})
