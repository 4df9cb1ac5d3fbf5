/* eslint-disable no-template-curly-in-string -- workflow files use ${VAR} expansion */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { expandEnv, validateWorkflow, validateWorkflowSet } from '../../src/domain/workflow.ts'
import { parseDuration } from '../../src/domain/duration.ts'
import { fillTemplate } from '../../src/domain/templates.ts'

const base = `subsystem: ECAL
workflow: timing
tasks:
  - name: reco
    jobs: 4
    run: [python3, reco.py, --run, "{run}", --out, "{outdir}"]
  - name: calib
    needs: [reco]
    run: [python3, calib.py, "{inputs}"]
`
const check = (content: string, env = {}): string[] => validateWorkflow({ name: 'w.yaml', content, dir: '/wf' }, env).errors

test('a valid workflow has no errors and resolved defaults', () => {
  const r = validateWorkflow({ name: 'w.yaml', content: base, dir: '/wf' })
  assert.deepEqual(r.errors, [])
  assert.deepEqual(r.workflow?.campaigns, [{ name: 'prompt', runTypes: ['all'] }])
  assert.deepEqual(r.workflow?.runTypes[0]?.filter.global, true)
  assert.equal(r.workflow?.tasks[1]?.block.kind, 'run')
  assert.equal(r.workflow?.tasks[0]?.timeoutS, 7200)
})

const errorTable: Array<{ name: string, content: string, expect: RegExp }> = [
  { name: 'a wrong type names file, line, column and field', content: base.replace('jobs: 4', 'jobs: four'), expect: /^w\.yaml:5:11 tasks\.0\.jobs: Invalid input: expected number, received string$/ },
  { name: 'an unknown task in needs is an error at the needs entry', content: base.replace('needs: [reco]', 'needs: [rec]'), expect: /^w\.yaml:8:13 tasks\.1\.needs\.0: task 'calib' needs unknown task 'rec'$/ },
  { name: 'a cycle in needs is an error', content: base.replace('    jobs: 4', '    jobs: 4\n    needs: [calib]'), expect: /cycle in needs: (reco → calib → reco|calib → reco → calib)/ },
  { name: 'an unknown placeholder is an error at the argument', content: base.replace('"{run}"', '"{runn}"'), expect: /^w\.yaml:6:36 tasks\.0\.run\.3: unknown placeholder \{runn\}/ },
  { name: '{inputs} without needs is an error', content: base.replace('"{outdir}"', '"{inputs}"'), expect: /tasks\.0\.run\.5: \{inputs\} are the outputs of the tasks in `needs`/ },
  { name: 'an unknown backend is an error', content: base.replace('    jobs: 4', '    jobs: 4\n    backend: slurm'), expect: /tasks\.0\.backend: unknown backend 'slurm', expected one of local, htcondor, kubernetes, agent/ },
  { name: 'an unknown field is an error', content: base.replace('    jobs: 4', '    jobs: 4\n    retry: 3'), expect: /tasks\.0: Unrecognized key: "retry"/ },
  { name: 'a bad block is an error', content: base.replace('    jobs: 4', '    jobs: 4\n    block: lumi500'), expect: /tasks\.0\.block: / },
  { name: 'a bad duration is an error', content: base.replace('    jobs: 4', '    jobs: 4\n    timeout: 2 hours'), expect: /tasks\.0\.timeout: expected a duration/ },
  { name: 'an unknown synchronization is an error', content: base + '    condition: { tag: T, record: R, sync: weekly }\n', expect: /tasks\.1\.condition\.sync: / },
  { name: 'a YAML syntax error names the line', content: 'subsystem: ECAL\ntasks: [\n', expect: /^w\.yaml:\d+:\d+ \(yaml\): / },
  { name: 'a missing environment variable in a golden path is an error', content: base.replace('    jobs: 4', '    jobs: 4\n    filter: { golden: "${NOPE_DIR}/g.json" }'), expect: /tasks\.0\.filter\.golden: environment variable NOPE_DIR is not set/ },
  { name: 'a run type naming an unknown task is an error', content: base + 'runTypes:\n  c: { tasks: [nope] }\n', expect: /runTypes\.c\.tasks\.0: run type 'c' lists unknown task 'nope'/ },
  { name: 'a campaign naming an unknown run type is an error', content: base + 'campaigns: [{ name: prompt, runTypes: [x] }]\n', expect: /campaigns\.0\.runTypes\.0: unknown run type 'x'/ },
  { name: 'a downstream task with its own filter is an error', content: base.replace('    needs: [reco]', '    needs: [reco]\n    filter: { global: true }'), expect: /tasks\.1\.filter: task 'calib' has needs/ },
  { name: 'a downstream task with another block rule is an error', content: base.replace('    needs: [reco]', '    needs: [reco]\n    block: fill'), expect: /tasks\.1\.block: task 'calib' needs 'reco' whose block is run/ }
]

for (const row of errorTable) {
  test(row.name, () => {
    const errors = check(row.content)
    assert.ok(errors.some(e => row.expect.test(e)), `expected ${String(row.expect)} in:\n${errors.join('\n')}`)
  })
}

test('relative golden paths resolve against the workflow file and env defaults apply', () => {
  const r = validateWorkflow({ name: 'w.yaml', content: base.replace('    jobs: 4', '    jobs: 4\n    filter: { golden: "${G_DIR:-data}/g.json" }'), dir: '/wf' }, {}, { checkGolden: () => undefined })
  assert.equal(r.workflow?.tasks[0]?.filter.golden, '/wf/data/g.json')
  assert.equal(expandEnv('${A}/x', { A: '/a' }).value, '/a/x')
})

test('a golden JSON that cannot be read is an error at the filter', () => {
  const errors = validateWorkflow({ name: 'w.yaml', content: base.replace('    jobs: 4', '    jobs: 4\n    filter: { golden: /nope.json }'), dir: '/wf' }, {}, { checkGolden: p => `cannot read golden JSON ${p}` }).errors
  assert.match(errors[0] ?? '', /^w\.yaml:6:23 tasks\.0\.filter\.golden: cannot read golden JSON \/nope\.json$/)
})

test('two files declaring the same task in one campaign is an error', () => {
  const r = validateWorkflowSet([{ name: 'a.yaml', content: base, dir: '/' }, { name: 'b.yaml', content: base.replace('workflow: timing', 'workflow: other'), dir: '/' }])
  assert.ok(r.errors.some(e => /task 'reco' of campaign 'prompt' is also declared in a\.yaml/.test(e)), r.errors.join('\n'))
})

test('durations parse units', () => {
  assert.deepEqual(['90s', '30m', '2h', '1h30m', '3d', '45', 10, 'soon'].map(d => parseDuration(d)), [90, 1800, 7200, 5400, 259200, 45, 10, undefined])
})

test('argv templates fill placeholders and spread whole-argument lists', () => {
  const v = { run: '1', runs: ['1', '2'], fill: '9', era: 'E', block: 'fill-9', job: '0', njobs: '2', inputs: ['/a', '/b'], outdir: '/o', campaign: 'prompt', task: 't', attempt: '1', workflowDir: '/w' }
  assert.deepEqual(fillTemplate(['x', '{runs}', '--in={inputs}', '{outdir}/f.db', '{inputs}'], v), ['x', '1', '2', '--in=/a,/b', '/o/f.db', '/a', '/b'])
})
