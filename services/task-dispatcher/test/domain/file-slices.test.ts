// Data-aware tasks (issue 15): dataset names, slicing the files of a run into jobs, the datasetLocked gate,
// skip and DBS-failure decisions, {files} in argv, and the workflow keys (input, jobs: { perFiles | perLumis },
// when.datasetLocked) with their file:line:col errors.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import {
  datasetProblem, datasetTemplateProblems, dbsFailureDecision, expandDataset, inputDecision, lockPending, sliceFiles,
  type DatasetFile, type FanOut
} from '../../src/domain/file-slices.ts'
import { fillTemplate } from '../../src/domain/templates.ts'
import { gateText } from '../../src/domain/gate-text.ts'
import { transition, type Task } from '../../src/domain/task-state.ts'
import { validateWorkflow } from '../../src/domain/workflow.ts'

const lfn = (i: number): string => `/store/data/Run2022C/AlCaPhiSym/RAW/v1/000/355/872/00000/${String(i).padStart(8, '0')}-0000-4000-8000-000000000000.root`
/** n files of run 355872 with `lumis` lumisections each, listed in reverse (DBS gives no order). */
const files = (n: number, lumis: (i: number) => number = () => 10): DatasetFile[] => {
  let first = 1
  const out: DatasetFile[] = []
  for (let i = 0; i < n; i++) {
    out.push({ lfn: lfn(i), lumis: lumis(i), firstRun: 355872, firstLumi: first })
    first += lumis(i)
  }
  return out.reverse()
}

test('dataset names follow DBS\'s /primary/processed/TIER grammar', () => {
  const table: Array<[string, RegExp | undefined]> = [
    ['/AlCaPhiSym/Run2022C-v1/RAW', undefined],
    ['/EGamma/Run2022C-EcalUncalZElectron-PromptReco-v1/ALCARECO', undefined],
    ['/RelValQCD/CMSSW_12_4_0-v1/GEN-SIM', undefined],
    ['AlCaPhiSym/Run2022C-v1/RAW', /is not a dataset name: expected \/<primary>\/<processed>\/<TIER>/],
    ['/AlCaPhiSym/Run2022C-v1', /is not a dataset name/],
    ['/AlCaPhiSym/Run2022C-v1/RAW/x', /is not a dataset name/],
    ['/1AlCa/Run2022C-v1/RAW', /primary dataset "1AlCa" must start with a letter/],
    ['/AlCa*/Run2022C-v1/RAW', /primary dataset "AlCa\*"/],
    ['/AlCaPhiSym/Run 2022C/RAW', /processed dataset "Run 2022C"/],
    ['/AlCaPhiSym/Run2022C-v1/raw', /data tier "raw" must be upper case/],
    ['/AlCaPhiSym/../RAW', undefined] // dots are allowed in processed names by DBS; the name is never a path here
  ]
  for (const [name, problem] of table) {
    const p = datasetProblem(name)
    if (problem === undefined) assert.equal(p, undefined, name)
    else assert.match(p ?? '', problem, name)
  }
})

test('a dataset template may use {era} only, and is checked once filled', () => {
  const table: Array<[string, string, RegExp | undefined]> = [
    ['/AlCaPhiSym/{era}-v1/RAW', '/AlCaPhiSym/Run2022D-v1/RAW', undefined],
    ['/AlCaPhiSym/Run2022C-v1/RAW', '/AlCaPhiSym/Run2022C-v1/RAW', undefined],
    ['/AlCaPhiSym/{run}-v1/RAW', '', /unknown placeholder \{run\} in the dataset; only \{era\} is allowed/],
    ['/AlCaPhiSym/{era}-v1/{era}', '', /data tier "Run2022C"/]
  ]
  for (const [template, expanded, problem] of table) {
    const p = datasetTemplateProblems(template)
    if (problem === undefined) {
      assert.deepEqual(p, [], template)
      assert.equal(expandDataset(template, { era: 'Run2022D' }), expanded)
    } else assert.match(p.join('; '), problem, template)
  }
})

test('files are sliced per N files, per about N lumisections, or into N shares, in data-taking order', () => {
  const names = (slices: string[][]): number[][] => slices.map(s => s.map(f => Number(/\/(\d{8})-/.exec(f)?.[1])))
  const table: Array<[string, DatasetFile[], FanOut, number[][]]> = [
    ['25 files per 10', files(25), { per: 'files', n: 10 }, [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [10, 11, 12, 13, 14, 15, 16, 17, 18, 19], [20, 21, 22, 23, 24]]],
    ['3 files per 10', files(3), { per: 'files', n: 10 }, [[0, 1, 2]]],
    ['one file per job', files(3), { per: 'files', n: 1 }, [[0], [1], [2]]],
    ['30 lumis per job, 10 each', files(7), { per: 'lumis', n: 30 }, [[0, 1, 2], [3, 4, 5], [6]]],
    ['a file above the limit is a job of its own', files(4, i => i === 1 ? 50 : 10), { per: 'lumis', n: 30 }, [[0], [1], [2, 3]]],
    ['uneven lumis fill each job up to the limit', files(5, i => [12, 12, 5, 20, 9][i] as number), { per: 'lumis', n: 30 }, [[0, 1, 2], [3, 4]]],
    ['4 shares of 10 files', files(10), { per: 'jobs', n: 4 }, [[0, 1], [2, 3, 4], [5, 6], [7, 8, 9]]],
    ['more jobs than files: one file each', files(2), { per: 'jobs', n: 4 }, [[0], [1]]],
    ['no files, no jobs', [], { per: 'files', n: 10 }, []]
  ]
  for (const [name, input, fanOut, expected] of table) assert.deepEqual(names(sliceFiles(input, fanOut)), expected, name)
})

test('files of several runs are ordered by run, then lumisection, then name', () => {
  const f = (name: string, run: number, lumi: number): DatasetFile => ({ lfn: name, lumis: 1, firstRun: run, firstLumi: lumi })
  assert.deepEqual(sliceFiles([f('c', 355873, 1), f('b', 355872, 5), f('a2', 355872, 1), f('a1', 355872, 1)], { per: 'files', n: 2 }), [['a1', 'a2'], ['b', 'c']])
})

test('the datasetLocked gate opens when DBS lists the run\'s blocks and none is open for writing', () => {
  const ds = '/AlCaPhiSym/Run2022C-v1/RAW'
  const table: Array<[string, Parameters<typeof lockPending>[1], string | undefined]> = [
    ['every block closed', { accessType: 'VALID', blocks: [{ name: `${ds}#a`, open: false }, { name: `${ds}#b`, open: false }] }, undefined],
    ['one block still open', { accessType: 'VALID', blocks: [{ name: `${ds}#a`, open: false }, { name: `${ds}#b`, open: true }] }, `datasetLocked:${ds}`],
    ['no block of the run yet', { accessType: 'VALID', blocks: [] }, `datasetLocked:${ds}`],
    ['dataset unknown to DBS', { blocks: [] }, `datasetLocked:${ds}`]
  ]
  for (const [name, state, pending] of table) assert.equal(lockPending(ds, state), pending, name)
  const text = gateText(`datasetLocked:${ds}`, { block: { id: 'run-355872', runs: [355872], fill: 8102, era: 'Run2022C', closed: true, closedReason: 'single-run', recordedLumiPb: 1, openedAtMs: 0 } as never, rule: { kind: 'run' }, readiness: new Map(), nowMs: 0 })
  assert.equal(text, `Tier-0 has not closed dataset ${ds} for run 355872 (a DBS block of it is open for writing, or none is listed yet)`)
})

test('no files for the runs, or an unusable dataset, skips the task with the reason; files dispatch one job per slice', () => {
  const ds = '/AlCaPhiSym/Run2022C-v1/RAW'
  const table: Array<[string, readonly number[], string | undefined, DatasetFile[], ReturnType<typeof inputDecision>]> = [
    ['no files of one run', [355872], 'VALID', [], { kind: 'skip', reason: `no files of ${ds} for run 355872` }],
    ['no files of a fill', [355872, 355873, 355874], 'VALID', [], { kind: 'skip', reason: `no files of ${ds} for runs 355872–355874` }],
    ['dataset unknown', [355872], undefined, [], { kind: 'skip', reason: `no files of ${ds} for run 355872` }],
    ['dataset invalidated', [355872], 'INVALID', files(3), { kind: 'skip', reason: `dataset ${ds} is INVALID in DBS` }],
    ['files', [355872], 'VALID', files(3), { kind: 'dispatch', jobFiles: [[lfn(0), lfn(1)], [lfn(2)]] }]
  ]
  for (const [name, runs, accessType, input, expected] of table) {
    assert.deepEqual(inputDecision(ds, runs, accessType === undefined ? {} : { accessType }, input, { per: 'files', n: 2 }), expected, name)
  }
})

test('a failed read of DBS is an infrastructure failure: retried with backoff within retry.infrastructure, then the task fails', () => {
  const ds = '/AlCaPhiSym/Run2022C-v1/RAW'
  const table: Array<[number, ReturnType<typeof dbsFailureDecision>]> = [
    [0, { kind: 'retry', atMs: 1000 + 30_000, why: `file list of ${ds} not read from DBS: ECONNREFUSED; infrastructure failure 1 of 3, retry in 30 s` }],
    [2, { kind: 'retry', atMs: 1000 + 120_000, why: `file list of ${ds} not read from DBS: ECONNREFUSED; infrastructure failure 3 of 3, retry in 120 s` }],
    [3, { kind: 'fail', reason: `file list of ${ds} not read from DBS: ECONNREFUSED; infrastructure retries exhausted (retry.infrastructure: 3)` }]
  ]
  for (const [failures, expected] of table) assert.deepEqual(dbsFailureDecision({ infrastructure: 3 }, failures, 30, 1000, ds, 'ECONNREFUSED'), expected, String(failures))
})

test('{files} is one argument per file when whole, comma-joined inside an argument', () => {
  const v = { run: '355872', runs: ['355872'], fill: '8102', era: 'Run2022C', block: 'run-355872', job: '1', njobs: '3', inputs: [], files: ['/store/a.root', '/store/b.root'], outdir: '/o', campaign: 'prompt', task: 'phisym', attempt: '1', workflowDir: '/w' }
  assert.deepEqual(fillTemplate(['cmsRun', 'cfg.py', '{files}', 'inputFiles={files}', 'job={job}/{njobs}'], v), ['cmsRun', 'cfg.py', '/store/a.root', '/store/b.root', 'inputFiles=/store/a.root,/store/b.root', 'job=1/3'])
})

const task = (): Task => ({
  subsystem: 'ECAL',
  campaign: 'prompt',
  workflow: 'phisym',
  workflowVersion: 'v',
  task: 'phisym',
  block: { id: 'run-355872', runs: [355872], fill: 8102, era: 'Run2022C', closed: true, closedReason: 'single-run', recordedLumiPb: 1, openedAtMs: 0 } as Task['block'],
  state: 'new',
  previousState: 'new',
  attempt: 1,
  version: 1,
  reason: '',
  actor: '',
  atMs: 0,
  createdAtMs: 0,
  jobs: [],
  outputs: [],
  conditionTag: '',
  conditionSync: '',
  pendingGates: [],
  commandId: ''
})
const spec = { subsystem: 'ECAL', campaign: 'prompt', workflow: 'phisym', workflowVersion: 'v', task: 'phisym', jobs: 1, retries: 2, backoffS: 30, conditionTag: '', conditionSync: '', signOff: false }

test('the gates transition of a data-aware task: a job per slice with its files, skipped or failed with the reason, or waiting with why', () => {
  const started = transition(task(), { kind: 'gates', spec, pending: [], jobFiles: [['/a', '/b'], ['/c']] }, 5)
  assert.equal(started.task.state, 'processing')
  assert.deepEqual(started.task.jobs.map(j => j.inputFiles), [['/a', '/b'], ['/c']])
  assert.deepEqual(started.effects, [{ kind: 'start-job', index: 0, try: 1 }, { kind: 'start-job', index: 1, try: 1 }])
  const skipped = transition(task(), { kind: 'gates', spec, pending: [], end: { state: 'skipped', reason: 'no files of /A/B/RAW for run 355872' } }, 5)
  assert.deepEqual([skipped.task.state, skipped.task.reason, skipped.effects], ['skipped', 'no files of /A/B/RAW for run 355872', []])
  const failed = transition(task(), { kind: 'gates', spec, pending: [], end: { state: 'failed', reason: 'file list … exhausted' } }, 5)
  assert.equal(failed.task.state, 'failed')
  const waiting = transition(task(), { kind: 'gates', spec, pending: ['dbs:/A/B/RAW'], why: 'ECONNREFUSED; retry in 30 s' }, 5)
  assert.equal(waiting.task.reason, 'waiting on dbs:/A/B/RAW (ECONNREFUSED; retry in 30 s)')
  const again = transition(waiting.task, { kind: 'gates', spec, pending: ['dbs:/A/B/RAW'], why: 'ECONNREFUSED; retry in 60 s' }, 6)
  assert.equal(again.changed, true, 'a new reason on the same gate is a new transition')
  assert.equal(transition(again.task, { kind: 'gates', spec, pending: ['dbs:/A/B/RAW'], why: 'ECONNREFUSED; retry in 60 s' }, 7).changed, false)
})

test('workflow keys of data-aware tasks are validated with file:line:col', () => {
  const wf = (task: string): string => `subsystem: ECAL\nworkflow: phisym\ntasks:\n  - name: phisym\n${task}`
  const table: Array<[string, string, string[]]> = [
    ['per files', '    input: { dataset: "/AlCaPhiSym/{era}-v1/RAW" }\n    jobs: { perFiles: 10 }\n    when: { datasetLocked: true }\n    run: [cmsRun, cfg.py, "{files}"]\n', []],
    ['per lumis', '    input: { dataset: /AlCaPhiSym/Run2022C-v1/RAW }\n    jobs: { perLumis: 200 }\n    run: [cmsRun, cfg.py, "inputFiles={files}"]\n', []],
    ['bad dataset', '    input: { dataset: /AlCaPhiSym/Run2022C-v1/raw }\n    run: [cmsRun, "{files}"]\n', ['w.yaml:5:23 tasks.0.input.dataset: dataset "/AlCaPhiSym/Run2022C-v1/raw": data tier "raw" must be upper case letters and - (e.g. RAW, ALCARECO, GEN-SIM)']],
    ['unknown placeholder in dataset', '    input: { dataset: "/AlCaPhiSym/{fill}/RAW" }\n    run: [cmsRun]\n', ['w.yaml:5:23 tasks.0.input.dataset: unknown placeholder {fill} in the dataset; only {era} is allowed']],
    ['{files} without input', '    run: [cmsRun, "{files}"]\n', ['w.yaml:5:19 tasks.0.run.1: {files} are the job\'s files of the task\'s input dataset, but this task has no `input: { dataset: … }`']],
    ['perFiles without input', '    jobs: { perFiles: 10 }\n    run: [cmsRun]\n', ['w.yaml:5:11 tasks.0.jobs: jobs: { perFiles: … } cuts the files of the task\'s input dataset, but this task has no `input: { dataset: … }`']],
    ['datasetLocked without input', '    when: { datasetLocked: true }\n    run: [cmsRun]\n', ['w.yaml:5:28 tasks.0.when.datasetLocked: datasetLocked waits for the task\'s input dataset, but this task has no `input: { dataset: … }`']],
    ['perFiles zero', '    input: { dataset: /AlCaPhiSym/Run2022C-v1/RAW }\n    jobs: { perFiles: 0 }\n    run: [cmsRun]\n', ['w.yaml:6:23 tasks.0.jobs.perFiles: Too small: expected number to be >=1']],
    ['unknown fan-out', '    input: { dataset: /AlCaPhiSym/Run2022C-v1/RAW }\n    jobs: { perRuns: 2 }\n    run: [cmsRun]\n', ['w.yaml:6:11 tasks.0.jobs: expected a number of jobs (1–10000), { perFiles: N } or { perLumis: N }']],
    ['dataset missing', '    input: {}\n    run: [cmsRun]\n', ['w.yaml:5:12 tasks.0.input.dataset: Invalid input: expected string, received undefined']]
  ]
  for (const [name, body, errors] of table) assert.deepEqual(validateWorkflow({ name: 'w.yaml', content: wf(body), dir: '/w' }).errors, errors, name)
  const ok = validateWorkflow({ name: 'w.yaml', content: wf(table[0]?.[1] as string), dir: '/w' }).workflow?.tasks[0]
  assert.deepEqual([ok?.input, ok?.gates.datasetLocked], [{ dataset: '/AlCaPhiSym/{era}-v1/RAW', fanOut: { per: 'files', n: 10 } }, true])
  const shares = validateWorkflow({ name: 'w.yaml', content: wf('    input: { dataset: /AlCaPhiSym/Run2022C-v1/RAW }\n    jobs: 4\n    run: [cmsRun]\n'), dir: '/w' }).workflow?.tasks[0]
  assert.deepEqual(shares?.input?.fanOut, { per: 'jobs', n: 4 })
})

test('the data-aware example (deploy/workflows-data/ecal-phisym-files.yaml) is valid: per 10 files of AlCaPhiSym RAW, once locked', () => {
  const dir = new URL('../../../../deploy/workflows-data', import.meta.url).pathname
  const r = validateWorkflow({ name: 'ecal-phisym-files.yaml', content: readFileSync(`${dir}/ecal-phisym-files.yaml`, 'utf8'), dir })
  assert.deepEqual(r.errors, [])
  const t = r.workflow?.tasks[0]
  assert.deepEqual([t?.input, t?.gates.datasetLocked], [{ dataset: '/AlCaPhiSym/{era}-v1/RAW', fanOut: { per: 'files', n: 10 } }, true])
})
