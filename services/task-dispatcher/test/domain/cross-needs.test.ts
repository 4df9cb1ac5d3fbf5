import { test } from 'node:test'
import assert from 'node:assert/strict'
import { crossGates, iovCovers, parseNeedName, withCrossGates, type CrossFacts, type CrossNeed } from '../../src/domain/cross-needs.ts'
import { validateWorkflow, validateWorkflowSet, type WorkflowSource } from '../../src/domain/workflow.ts'

const ecal = `subsystem: ECAL
workflow: timing
tasks:
  - name: timing-reco
    run: [reco.sh, "{run}"]
  - name: timing-calib
    needs: [timing-reco]
    run: [calib.sh, "{inputs}"]
    condition: { tag: EcalTimeCalibConstants_v1_prompt, record: EcalTimeCalibConstantsRcd, sync: offline }
`
const egm = `subsystem: EGM
workflow: photon-scale
tasks:
  - name: photon-scale
    needs: [ECAL/timing/timing-calib, { condition: EcalTimeCalibConstants_v1_prompt }]
    run: [scale.sh, "{inputs}"]
`
const src = (name: string, content: string): WorkflowSource => ({ name, content, dir: '/wf' })

test('a needs entry is a task of the workflow, subsystem/workflow/task, or a problem naming the bad part', () => {
  const table: Array<[string, ReturnType<typeof parseNeedName>]> = [
    ['timing-reco', { kind: 'local', task: 'timing-reco' }],
    ['ECAL/timing/timing-calib', { kind: 'task', subsystem: 'ECAL', workflow: 'timing', task: 'timing-calib' }],
    ['ECAL/timing/timing-calib', { kind: 'task', subsystem: 'ECAL', workflow: 'timing', task: 'timing-calib' }]
  ]
  for (const [text, want] of table) assert.deepEqual(parseNeedName(text), want, text)
  for (const text of ['ECAL/timing', 'ECAL/timing/a/b', '../reco']) {
    const p = parseNeedName(text)
    assert.ok('problem' in p && p.problem.startsWith(`task ${JSON.stringify(text)} is not a valid name`) && p.problem.endsWith(', nor subsystem/workflow/task'), JSON.stringify(p))
  }
  const bad = parseNeedName('ECAL/tim ing/x')
  assert.ok('problem' in bad && bad.problem.startsWith("'ECAL/tim ing/x': "), JSON.stringify(bad))
})

test('cross needs are parsed with their place in the file; bare names stay same-workflow needs', () => {
  const w = validateWorkflow(src('egm.yaml', egm)).workflow
  const t = w?.tasks[0]
  assert.deepEqual(t?.needs, [])
  assert.deepEqual(t?.crossNeeds, [
    { kind: 'task', subsystem: 'ECAL', workflow: 'timing', task: 'timing-calib', at: 'egm.yaml:5:13' },
    { kind: 'condition', tag: 'EcalTimeCalibConstants_v1_prompt', since: 'any', at: 'egm.yaml:5:39' }
  ])
  assert.deepEqual(validateWorkflow(src('ecal.yaml', ecal)).workflow?.tasks[1]?.needs, ['timing-reco'])
})

test('bad cross needs are errors at file:line:col', () => {
  const table: Array<[string, string, RegExp]> = [
    ['a bad since', egm.replace('EcalTimeCalibConstants_v1_prompt }', 'EcalTimeCalibConstants_v1_prompt, since: later }'), /^egm\.yaml:5:\d+ tasks\.0\.needs\.1\.since: /],
    ['an unknown key', egm.replace('{ condition:', '{ conditon:'), /^egm\.yaml:5:51 tasks\.0\.needs\.1\.conditon: unknown key 'conditon'; did you mean 'condition'\?$/],
    ['a two-part name', egm.replace('ECAL/timing/timing-calib', 'ECAL/timing-calib'), /^egm\.yaml:5:13 tasks\.0\.needs\.0: task "ECAL\/timing-calib" is not a valid name.*, nor subsystem\/workflow\/task$/],
    ['a number', egm.replace('ECAL/timing/timing-calib', '12'), /^egm\.yaml:5:13 tasks\.0\.needs\.0: /]
  ]
  for (const [name, content, want] of table) {
    const errors = validateWorkflow(src('egm.yaml', content)).errors
    assert.ok(errors.some(e => want.test(e)), `${name}: ${errors.join('\n')}`)
  }
})

test('needs across files: unknown targets with did-you-mean, the own workflow, a missing campaign, cycles naming both files', () => {
  const table: Array<{ name: string, files: WorkflowSource[], want: RegExp | undefined }> = [
    { name: 'valid', files: [src('ecal.yaml', ecal), src('egm.yaml', egm)], want: undefined },
    { name: 'unknown workflow', files: [src('ecal.yaml', ecal), src('egm.yaml', egm.replace('ECAL/timing/', 'ECAL/timimg/'))], want: /^egm\.yaml:5:13 needs: task 'photon-scale' needs ECAL\/timimg\/timing-calib: no workflow ECAL\/timimg is loaded; did you mean 'ECAL\/timing'\?$/ },
    { name: 'no workflow at all', files: [src('egm.yaml', egm)], want: /^egm\.yaml:5:13 needs: .*no workflow ECAL\/timing is loaded \(validate the directory that holds both files\)$/ },
    { name: 'unknown task', files: [src('ecal.yaml', ecal), src('egm.yaml', egm.replace('timing/timing-calib', 'timing/timing-calb'))], want: /^egm\.yaml:5:13 needs: .*workflow ECAL\/timing \(ecal\.yaml\) has no task 'timing-calb'; did you mean 'timing-calib'\?$/ },
    { name: 'own workflow', files: [src('ecal.yaml', ecal.replace('needs: [timing-reco]', 'needs: [ECAL/timing/timing-reco]'))], want: /^ecal\.yaml:7:13 needs: task 'timing-calib' needs ECAL\/timing\/timing-reco, a task of its own workflow; write 'timing-reco'$/ },
    { name: 'campaign the upstream lacks', files: [src('ecal.yaml', ecal), src('egm.yaml', egm.replace('tasks:', 'campaigns: [prompt, rereco]\ntasks:'))], want: /^egm\.yaml:6:13 needs: .*but ecal\.yaml does not run campaign 'rereco'/ },
    {
      name: 'cycle through a task need',
      files: [src('ecal.yaml', ecal.replace('    run: [reco.sh', '    needs: [EGM/photon-scale/photon-scale]\n    run: [reco.sh')), src('egm.yaml', egm.replace(', { condition: EcalTimeCalibConstants_v1_prompt }', ''))],
      want: /^(ecal|egm)\.yaml:5:13 needs: cycle in needs across workflows: .* \(at (ecal\.yaml:5:13, egm\.yaml:5:13|egm\.yaml:5:13, ecal\.yaml:5:13)\)$/
    },
    {
      name: 'cycle through a condition need',
      files: [src('ecal.yaml', ecal.replace('    run: [reco.sh', '    needs: [EGM/photon-scale/photon-scale]\n    run: [reco.sh')), src('egm.yaml', egm.replace('ECAL/timing/timing-calib, ', ''))],
      want: /cycle in needs across workflows: .*egm\.yaml:5:13 \(condition EcalTimeCalibConstants_v1_prompt\)/
    }
  ]
  for (const { name, files, want } of table) {
    const { errors } = validateWorkflowSet(files)
    if (want === undefined) assert.deepEqual(errors, [], name)
    else assert.ok(errors.some(e => want.test(e)), `${name}:\n${errors.join('\n')}`)
  }
})

test('an IOV is valid for a block when it starts at or before its first run (any) or within its runs (block)', () => {
  const table: Array<[number[], number[], 'any' | 'block', boolean]> = [
    [[], [100], 'any', false],
    [[100], [100], 'any', true],
    [[90], [100, 105], 'any', true],
    [[101], [100, 105], 'any', false],
    [[90], [100, 105], 'block', false],
    [[103], [100, 105], 'block', true],
    [[106], [100, 105], 'block', false],
    [[100], [], 'any', false]
  ]
  for (const [sinces, runs, mode, want] of table) assert.equal(iovCovers(sinces, runs, mode), want, `${JSON.stringify(sinces)} ${JSON.stringify(runs)} ${mode}`)
})

test('the cross gates of a block: blocked by an upstream end, waiting for unplanned or unfinished upstream blocks and for a condition', () => {
  const task: CrossNeed = { kind: 'task', subsystem: 'ECAL', workflow: 'timing', task: 'timing-calib', at: '' }
  const cond: CrossNeed = { kind: 'condition', tag: 'T', since: 'any', at: '' }
  const up = (tasks: Array<[string, string[]]>, unplannedRuns = 0, refusedRuns = 0): CrossFacts['upstream'] =>
    new Map([['ECAL/timing/timing-calib', { tasks: tasks.map(([state, pendingGates]) => ({ state, pendingGates })), unplannedRuns, refusedRuns }]])
  const table: Array<{ name: string, upstream: CrossFacts['upstream'], iovs?: Array<[string, number[]]>, want: string[] }> = [
    { name: 'nothing known yet', upstream: new Map(), want: ['needs:ECAL/timing/timing-calib', 'condition:T'] },
    { name: 'upstream done, IOV there', upstream: up([['done', []]]), iovs: [['T', [100]]], want: [] },
    { name: 'one of two upstream blocks done', upstream: up([['done', []], ['processing', []]]), iovs: [['T', [100]]], want: ['needs:ECAL/timing/timing-calib'] },
    { name: 'a run whose upstream block is unplanned', upstream: up([['done', []]], 1), iovs: [['T', [100]]], want: ['needs:ECAL/timing/timing-calib'] },
    { name: 'upstream failed', upstream: up([['done', []], ['failed', []]]), want: ['blocked:ECAL/timing/timing-calib:failed', 'condition:T'] },
    { name: 'upstream cancelled', upstream: up([['cancelled', []]]), iovs: [['T', [100]]], want: ['blocked:ECAL/timing/timing-calib:cancelled'] },
    { name: 'upstream blocked in turn', upstream: up([['waiting', ['blocked:reco:skipped']]]), iovs: [['T', [100]]], want: ['blocked:ECAL/timing/timing-calib:blocked'] },
    { name: 'upstream takes none of the runs', upstream: up([], 0, 2), iovs: [['T', [100]]], want: ['blocked:ECAL/timing/timing-calib:not-run'] },
    { name: 'upstream takes some of the runs, done there', upstream: up([['done', []]], 0, 1), iovs: [['T', [100]]], want: [] },
    { name: 'IOV only after the block', upstream: up([['done', []]]), iovs: [['T', [200]]], want: ['condition:T'] }
  ]
  for (const c of table) {
    assert.deepEqual(crossGates([task, cond], [100, 101], { upstream: c.upstream, iovs: new Map(c.iovs ?? []) }), c.want, c.name)
  }
})

test('cross gates go after the same-workflow needs and hold back the concurrency gate', () => {
  const table: Array<[string[], string[], string[]]> = [
    [[], [], []],
    [['concurrency:1'], [], ['concurrency:1']],
    [['concurrency:1'], ['condition:T'], ['condition:T']],
    [['block-closed', 'needs:reco', 't0StreamDone:Express'], ['condition:T'], ['block-closed', 'needs:reco', 'condition:T', 't0StreamDone:Express']],
    [['http'], ['needs:A/b/c'], ['needs:A/b/c', 'http']]
  ]
  for (const [pending, cross, want] of table) assert.deepEqual(withCrossGates(pending, cross), want, JSON.stringify([pending, cross]))
})
