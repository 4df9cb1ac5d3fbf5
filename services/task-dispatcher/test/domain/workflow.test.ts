/* eslint-disable no-template-curly-in-string -- workflow files use ${VAR} expansion */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { expandEnv, uploadsOf, validateWorkflow, validateWorkflowSet } from '../../src/domain/workflow.ts'
import { buildCatalog, specOf } from '../../src/domain/catalog.ts'
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
  assert.deepEqual(r.workflow?.campaigns, [{ name: 'prompt', runTypes: ['all'], conditions: { destinationDatabase: '', tags: {}, writePromptTags: false }, live: true, shadow: false }])
  assert.deepEqual(r.workflow?.runTypes[0]?.filter.global, true)
  assert.equal(r.workflow?.tasks[1]?.block.kind, 'run')
  assert.equal(r.workflow?.tasks[0]?.timeoutS, 7200)
})

test('a fill block with closeAfter: the rule carries it in seconds', () => {
  const r = validateWorkflow({ name: 'w.yaml', content: base.replace('    jobs: 4', '    jobs: 4\n    block: { fill: true, closeAfter: 90m }'), dir: '/wf' })
  assert.deepEqual(r.errors, [])
  assert.deepEqual(r.workflow?.tasks[0]?.block, { kind: 'fill', closeAfterS: 5400 })
})

const errorTable: Array<{ name: string, content: string, expect: RegExp }> = [
  { name: 'a wrong type names file, line, column and field', content: base.replace('jobs: 4', 'jobs: four'), expect: /^w\.yaml:5:11 tasks\.0\.jobs: Invalid input: expected number, received string$/ },
  { name: 'an unknown task in needs is an error at the needs entry', content: base.replace('needs: [reco]', 'needs: [rec]'), expect: /^w\.yaml:8:13 tasks\.1\.needs\.0: task 'calib' needs unknown task 'rec'; did you mean 'reco'\?$/ },
  { name: 'a cycle in needs is an error', content: base.replace('    jobs: 4', '    jobs: 4\n    needs: [calib]'), expect: /cycle in needs: (reco → calib → reco|calib → reco → calib)/ },
  { name: 'an unknown placeholder is an error at the argument', content: base.replace('"{run}"', '"{runn}"'), expect: /^w\.yaml:6:36 tasks\.0\.run\.3: unknown placeholder \{runn\}/ },
  { name: '{inputs} without needs is an error', content: base.replace('"{outdir}"', '"{inputs}"'), expect: /tasks\.0\.run\.5: \{inputs\} are the outputs of the tasks in `needs`/ },
  { name: 'an unknown backend is an error', content: base.replace('    jobs: 4', '    jobs: 4\n    backend: slurm'), expect: /tasks\.0\.backend: unknown backend 'slurm', expected one of local, htcondor, kubernetes, agent/ },
  { name: 'an unknown field is an error', content: base.replace('    jobs: 4', '    jobs: 4\n    retires: 3'), expect: /^w\.yaml:6:14 tasks\.0\.retires: unknown key 'retires'; did you mean 'retries'\?$/ },
  { name: 'a bad block is an error', content: base.replace('    jobs: 4', '    jobs: 4\n    block: lumi500'), expect: /tasks\.0\.block: / },
  { name: 'a key of another form of the block is named as such, not as a misspelling of itself', content: base.replace('    jobs: 4', '    jobs: 4\n    block: { lumi: 50, closeAfter: 6h }'), expect: /^w\.yaml:6:\d+ tasks\.0\.block\.closeAfter: key 'closeAfter' does not go with the other keys given here/ },
  { name: 'a fill block with closeAfter 0 is an error', content: base.replace('    jobs: 4', '    jobs: 4\n    block: { fill: true, closeAfter: 0s }'), expect: /^w\.yaml:6:\d+ tasks\.0\.block\.closeAfter: expected a duration above 0 such as 2h$/ },
  { name: 'a fill block object without fill: true is an error', content: base.replace('    jobs: 4', '    jobs: 4\n    block: { fill: false, closeAfter: 2h }'), expect: /tasks\.0\.block/ },
  { name: 'a bad duration is an error', content: base.replace('    jobs: 4', '    jobs: 4\n    timeout: 2 fortnights soon'), expect: /tasks\.0\.timeout: expected a duration/ },
  { name: 'an unknown synchronization is an error', content: base + '    condition: { tag: T, record: R, sync: weekly }\n', expect: /tasks\.1\.condition\.sync: / },
  { name: 'a YAML syntax error names the line', content: 'subsystem: ECAL\ntasks: [\n', expect: /^w\.yaml:\d+:\d+ \(yaml\): / },
  { name: 'a missing environment variable in a golden path is an error', content: base.replace('    jobs: 4', '    jobs: 4\n    filter: { golden: "${AUTOCAL_WF_NOPE_DIR}/g.json" }'), expect: /tasks\.0\.filter\.golden: environment variable AUTOCAL_WF_NOPE_DIR is not set/ },
  { name: 'a run type naming an unknown task is an error', content: base + 'runTypes:\n  c: { tasks: [nope] }\n', expect: /runTypes\.c\.tasks\.0: run type 'c' lists unknown task 'nope'/ },
  { name: 'a campaign naming an unknown run type is an error', content: base + 'campaigns: [{ name: prompt, runTypes: [x] }]\n', expect: /campaigns\.0\.runTypes\.0: unknown run type 'x'/ },
  { name: 'a downstream task with its own filter is an error', content: base.replace('    needs: [reco]', '    needs: [reco]\n    filter: { global: true }'), expect: /tasks\.1\.filter: task 'calib' has needs/ },
  { name: 'a downstream task with a finer block than its upstream is an error', content: base.replace('    jobs: 4', '    jobs: 4\n    block: fill').replace('    needs: [reco]', '    needs: [reco]\n    block: run'), expect: /^w\.yaml:10:12 tasks\.1\.block: task 'calib' needs 'reco' whose block is fill; block run is finer/ },
]

// the one name grammar (@autocal/contracts) on every name a workflow declares: file:line, the value escaped
const grammarTable: Array<{ name: string, content: string, expect: RegExp }> = [
  { name: 'a task named __proto__', content: base.replace('name: reco', 'name: __proto__').replace('needs: [reco]', 'needs: [__proto__]'), expect: /^w\.yaml:4:11 tasks\.0\.name: task "__proto__" is not a valid name/ },
  { name: 'a task name with a slash', content: base.replace('name: calib', 'name: cal/ib'), expect: /^w\.yaml:7:11 tasks\.1\.name: task "cal\/ib" is not a valid name/ },
  { name: 'a needs entry with a traversal', content: base.replace('needs: [reco]', 'needs: ["../reco"]'), expect: /^w\.yaml:8:13 tasks\.1\.needs\.0: task "\.\.\/reco" is not a valid name/ },
  { name: 'a campaign with a traversal', content: base + 'campaigns: ["../../x"]\n', expect: /^w\.yaml:\d+:\d+ campaigns\.0: .*campaign "\.\.\/\.\.\/x" is not a valid name/ },
  { name: 'a campaign object with a control character', content: base + 'campaigns: [{ name: "re\\u001b[2Jco" }]\n', expect: /campaigns\.0\.name: campaign "re\\u001b\[2Jco" is not a valid name/ },
  { name: 'a workflow name with a newline', content: base.replace('workflow: timing', 'workflow: "tim\\ning"'), expect: /^w\.yaml:2:11 workflow: workflow "tim\\ning" is not a valid name/ },
  { name: 'a lower-case subsystem', content: base.replace('subsystem: ECAL', 'subsystem: ecal'), expect: /^w\.yaml:1:12 subsystem: subsystem "ecal" is not a valid name/ },
  { name: 'an era filter with a slash', content: base.replace('    jobs: 4', '    jobs: 4\n    filter: { eras: [Run2022C, "Run2022D/x"] }'), expect: /tasks\.0\.filter\.eras(\.1)?: .*era "Run2022D\/x" is not a valid name/ },
  { name: 'a condition tag with a bell', content: base + '    condition: { tag: "T\\a", record: R, sync: offline }\n', expect: /tasks\.1\.condition\.tag: tag "T\\u0007" is not a valid name/ },
  { name: 'a campaign tag for a task named constructor', content: base + 'campaigns: [{ name: rereco, conditions: { tags: { constructor: { tag: T, sync: offline } } } }]\n', expect: /campaigns\.0\.conditions\.tags\.constructor: campaign 'rereco' gives a tag to unknown task 'constructor'/ }
]

for (const row of [...errorTable, ...grammarTable]) {
  test(row.name, () => {
    const errors = check(row.content)
    assert.ok(errors.some(e => row.expect.test(e)), `expected ${String(row.expect)} in:\n${errors.join('\n')}`)
  })
}

test('relative golden paths resolve against the workflow file and env defaults apply', () => {
  const r = validateWorkflow({ name: 'w.yaml', content: base.replace('    jobs: 4', '    jobs: 4\n    filter: { golden: "${AUTOCAL_WF_G_DIR:-data}/g.json" }'), dir: '/wf' }, {}, { checkGolden: () => undefined })
  assert.equal(r.workflow?.tasks[0]?.filter.golden, '/wf/data/g.json')
  assert.equal(expandEnv('${AUTOCAL_WF_A}/x', { AUTOCAL_WF_A: '/a' }).value, '/a/x')
})

test('a golden JSON that cannot be read is an error at the filter', () => {
  const errors = validateWorkflow({ name: 'w.yaml', content: base.replace('    jobs: 4', '    jobs: 4\n    filter: { golden: /wf/nope.json }'), dir: '/wf' }, {}, { checkGolden: p => `cannot read golden JSON ${p}` }).errors
  assert.match(errors[0] ?? '', /^w\.yaml:6:23 tasks\.0\.filter\.golden: cannot read golden JSON \/wf\/nope\.json$/)
})

test('two files declaring the same task in one campaign is an error', () => {
  const r = validateWorkflowSet([{ name: 'a.yaml', content: base, dir: '/' }, { name: 'b.yaml', content: base.replace('workflow: timing', 'workflow: other'), dir: '/' }])
  assert.ok(r.errors.some(e => /task 'reco' of campaign 'prompt' is also declared in a\.yaml/.test(e)), r.errors.join('\n'))
})

test('a tag that uploads for real has one writer: another subsystem\'s task writing it is an error naming both; a dry run or the same task in another campaign is not', () => {
  const ecal = `subsystem: ECAL
workflow: timing
campaigns:
  - name: prompt
    conditions: { writePromptTags: true }
  - name: rereco
    conditions: { dryRun: false, writePromptTags: true }
tasks:
  - name: calib
    run: [x]
    condition: { tag: EcalTime_prompt, record: R, sync: prompt }
`
  const egm = (extra: string): string => `subsystem: EGM
workflow: scale
${extra}tasks:
  - name: scale
    run: [x]
    condition: { tag: EcalTime_prompt, record: R, sync: offline }
`
  const cases: Array<{ name: string, files: Array<[string, string]>, expect: RegExp | undefined }> = [
    { name: 'one task in two campaigns', files: [['ecal.yaml', ecal]], expect: undefined },
    { name: 'another subsystem writes the tag for real', files: [['ecal.yaml', ecal], ['egm.yaml', egm('campaigns:\n  - name: prompt\n    conditions: { dryRun: false }\n')]], expect: /^egm\.yaml:1:1 tasks: task EGM\/scale\/scale writes tag EcalTime_prompt in campaign 'prompt', which ECAL\/timing\/calib \(ecal\.yaml\) writes already; a tag has one writer/ },
    { name: 'another subsystem only dry-runs it', files: [['ecal.yaml', ecal], ['egm.yaml', egm('campaigns:\n  - name: egm-test\n')]], expect: undefined }
  ]
  for (const c of cases) {
    const errors = validateWorkflowSet(c.files.map(([name, content]) => ({ name, content, dir: '/' }))).errors
    if (c.expect === undefined) assert.deepEqual(errors, [], c.name)
    else assert.ok(errors.some(e => c.expect!.test(e)), `${c.name}:\n${errors.join('\n')}`)
  }
})

test('durations parse units', () => {
  const table: Array<[string | number, number | undefined]> = [
    ['90s', 90], ['30m', 1800], ['2h', 7200], ['1h30m', 5400], ['1h 30m', 5400], ['3d', 259200], ['2 hours', 7200], ['1w', 604800],
    ['500ms', 0.5], ['1.5h', 5400], ['45', 45], [10, 10],
    ['soon', undefined], ['2h soon', undefined], ['5 foo', undefined], ['-5m', undefined], [-1, undefined], ['', undefined], ['h', undefined], ['1h-', undefined]
  ]
  for (const [value, seconds] of table) assert.equal(parseDuration(value), seconds, JSON.stringify(value))
})

test('argv templates fill placeholders and spread whole-argument lists', () => {
  const v = { run: '1', runs: ['1', '2'], fill: '9', era: 'E', block: 'fill-9', job: '0', njobs: '2', inputs: ['/a', '/b'], files: [], outdir: '/o', campaign: 'prompt', task: 't', attempt: '1', workflowDir: '/w' }
  assert.deepEqual(fillTemplate(['x', '{runs}', '--in={inputs}', '{outdir}/f.db', '{inputs}'], v), ['x', '1', '2', '--in=/a,/b', '/o/f.db', '/a', '/b'])
})

// conditions: per-campaign targets, dry runs, the prompt-tag opt-in, checks, since, sign-off, validation
const chain = (condition: string, campaigns = ''): string => `subsystem: ECAL
workflow: timing
${campaigns}tasks:
  - name: calib
    run: [python3, calib.py, --out, "{outdir}/c.db"]
    condition: ${condition}
  - name: rereco
    needs: [calib]
    run: [python3, rereco.py, "{inputs}"]
  - name: hlt-validation
    needs: [rereco]
    run: [python3, hlt.py, "{inputs}"]
`
const offline = '{ tag: EcalTimeCalibConstants_v01_offline, record: EcalTimeCalibConstantsRcd, sync: offline }'
const prompt = '{ tag: EcalTimeCalibConstants_v01_prompt, record: EcalTimeCalibConstantsRcd, sync: prompt }'
const twoCampaigns = (rereco: string, promptEntry = '{ name: prompt, conditions: { writePromptTags: true } }'): string => `campaigns:\n  - ${promptEntry}\n  - ${rereco}\n`

const conditionErrors: Array<{ name: string, content: string, expect: RegExp }> = [
  {
    name: 'a prompt campaign writing to a prompt tag without the opt-in is an error at the campaign',
    content: chain(prompt, 'campaigns: [prompt]\n'),
    expect: /^w\.yaml:3:13 campaigns\.0: campaign 'prompt' would write task 'calib' payloads to prompt tag EcalTimeCalibConstants_v01_prompt \(sync at 7:99\); .*opt in with conditions\.writePromptTags: true$/
  },
  {
    name: 'a file without campaigns (prompt) writing to a pcl tag names the sync of the condition',
    content: chain(prompt.replace('sync: prompt', 'sync: pcl')),
    expect: /^w\.yaml:6:99 tasks\.0\.condition\.sync: campaign 'prompt' would write task 'calib' payloads to pcl tag/
  },
  {
    name: 'a reprocessing campaign that uploads to the prompt tag is an error',
    content: chain(prompt, twoCampaigns('{ name: rereco-2022, conditions: { dryRun: false } }')),
    expect: /^w\.yaml:5:5 campaigns\.1: campaign 'rereco-2022' would write task 'calib' payloads to prompt tag EcalTimeCalibConstants_v01_prompt/
  },
  {
    name: 'a campaign tag that is prompt-like without the opt-in is an error naming the campaign tag',
    content: chain(offline, twoCampaigns('{ name: rereco-2022, conditions: { dryRun: false, tags: { calib: { tag: EcalX_hlt, sync: hlt } } } }')),
    expect: /campaigns\.1: campaign 'rereco-2022' would write task 'calib' payloads to hlt tag EcalX_hlt \(sync at 5:94\)/
  },
  { name: 'a campaign tag for an unknown task is an error', content: chain(offline, twoCampaigns('{ name: r, conditions: { tags: { nope: { tag: T, sync: offline } } } }')), expect: /campaigns\.1\.conditions\.tags\.nope: campaign 'r' gives a tag to unknown task 'nope'/ },
  { name: 'a campaign tag for a task without condition is an error', content: chain(offline, twoCampaigns('{ name: r, conditions: { tags: { rereco: { tag: T, sync: offline } } } }')), expect: /campaign 'r' gives a tag to task 'rereco', which has no condition/ },
  { name: 'a tag name outside the grammar is an error', content: chain(offline.replace('EcalTimeCalibConstants_v01_offline', '"../x"')), expect: /tasks\.0\.condition\.tag: tag "\.\.\/x" is not a valid name/ },
  { name: 'since: block on a Time payload is an error', content: chain(offline.replace(' }', ', since: block, checks: { timeType: Time } }')), expect: /tasks\.0\.condition\.since: since: block gives the block's first run as the since, but the payload's time type is Time; use since: payload/ },
  { name: 'an unknown check is an error', content: chain(offline.replace(' }', ', checks: { minSize: 3 } }')), expect: /tasks\.0\.condition\.checks\.minSize: unknown key 'minSize'; did you mean 'minSizeBytes'\?/ },
  { name: 'a check of another synchronization than the condition is an error', content: chain(offline.replace(' }', ', checks: { synchronization: pcl } }')), expect: /tasks\.0\.condition\.checks\.synchronization: the check expects synchronization pcl but the condition's sync is offline/ },
  { name: 'min above max size is an error', content: chain(offline.replace(' }', ', checks: { minSizeBytes: 10, maxSizeBytes: 5 } }')), expect: /checks\.maxSizeBytes: maxSizeBytes 5 is below minSizeBytes 10/ },
  { name: 'signOff takes required or none', content: chain(offline.replace(' }', ', signOff: yes }')), expect: /tasks\.0\.condition\.signOff: / },
  { name: 'a validation task that is unknown is an error', content: chain(offline.replace(' }', ', validatedBy: hlt }')), expect: /tasks\.0\.condition\.validatedBy: task 'calib' is validated by unknown task 'hlt'/ },
  { name: 'a validation task must need the calibration', content: chain(offline.replace(' }', ', validatedBy: other }')) + '  - { name: other, run: [x] }\n', expect: /validation task 'other' must need 'calib' \(directly or through other tasks\)/ },
  { name: 'a task cannot validate its own condition', content: chain(offline.replace(' }', ', validatedBy: calib }')), expect: /task 'calib' cannot validate its own condition/ }
]

for (const row of conditionErrors) {
  test(row.name, () => {
    const errors = check(row.content)
    assert.ok(errors.some(e => row.expect.test(e)), `expected ${String(row.expect)} in:\n${errors.join('\n')}`)
  })
}

function uploads (content: string, campaign: string): ReturnType<typeof uploadsOf> {
  const r = validateWorkflow({ name: 'w.yaml', content, dir: '/wf' })
  assert.deepEqual(r.errors, [])
  const c = r.workflow?.campaigns.find(x => x.name === campaign)
  assert.ok(r.workflow !== undefined && c !== undefined)
  return uploadsOf(r.workflow.tasks, c)
}

const targetTable: Array<{ name: string, condition: string, campaigns: string, campaign: string, expect: Record<string, unknown> }> = [
  { name: 'the prompt campaign uploads to the task\'s tag', condition: prompt, campaigns: twoCampaigns('rereco'), campaign: 'prompt', expect: { tag: 'EcalTimeCalibConstants_v01_prompt', sync: 'prompt', dryRun: false } },
  { name: 'a reprocessing campaign is a dry run by default', condition: prompt, campaigns: twoCampaigns('rereco'), campaign: 'rereco', expect: { tag: 'EcalTimeCalibConstants_v01_prompt', dryRun: true } },
  { name: 'a reprocessing campaign writes to its own offline tag and database', condition: prompt, campaigns: twoCampaigns('{ name: rereco, conditions: { dryRun: false, destinationDatabase: "sqlite:rereco.db", tags: { calib: { tag: Ecal_rereco_offline, sync: offline } } } }'), campaign: 'rereco', expect: { tag: 'Ecal_rereco_offline', sync: 'offline', dryRun: false, destinationDatabase: 'sqlite:rereco.db' } },
  { name: 'a condition that says dryRun stays a dry run in the prompt campaign', condition: prompt.replace(' }', ', dryRun: true }'), campaigns: twoCampaigns('rereco'), campaign: 'prompt', expect: { dryRun: true } },
  { name: 'checks become the uploader\'s check names', condition: offline.replace(' }', ', checks: { minSizeBytes: 10, maxIovs: 1, objectType: EcalTimeCalibConstants, timeType: Run, synchronization: offline } }'), campaigns: '', campaign: 'prompt', expect: { checks: { min_size_bytes: '10', max_iovs: '1', object_type: 'EcalTimeCalibConstants', time_type: 'Run', synchronization: 'offline' } } },
  { name: 'a Run payload takes the block\'s first run as since', condition: offline, campaigns: '', campaign: 'prompt', expect: { since: 'block' } },
  { name: 'a Time payload keeps the sinces of its own IOVs', condition: offline.replace(' }', ', checks: { timeType: Time } }'), campaigns: '', campaign: 'prompt', expect: { since: 'payload' } },
  { name: 'a Lumi payload keeps the sinces of its own IOVs', condition: offline.replace(' }', ', checks: { timeType: Lumi } }'), campaigns: '', campaign: 'prompt', expect: { since: 'payload' } },
  { name: 'since: payload is kept for a Run payload that asks for it', condition: offline.replace(' }', ', since: payload }'), campaigns: '', campaign: 'prompt', expect: { since: 'payload' } },
  { name: 'optional and sign-off are carried', condition: offline.replace(' }', ', optional: true, signOff: required }'), campaigns: '', campaign: 'prompt', expect: { optional: true, signOff: true } }
]

for (const row of targetTable) {
  test(row.name, () => {
    const u = uploads(chain(row.condition, row.campaigns), row.campaign).get('calib')
    assert.ok(u !== undefined)
    for (const [k, v] of Object.entries(row.expect)) assert.deepEqual(u[k as keyof typeof u], v, k)
  })
}

test('a condition validated by another task is uploaded by that task, with the calibration\'s payload', () => {
  const content = chain(offline.replace(' }', ', validatedBy: hlt-validation, signOff: required }'))
  const map = uploads(content, 'prompt')
  assert.deepEqual([...map.keys()], ['hlt-validation'])
  assert.equal(map.get('hlt-validation')?.payloadFrom, 'calib')
  const wf = validateWorkflow({ name: 'w.yaml', content, dir: '/wf' }).workflow
  assert.ok(wf !== undefined)
  const catalog = buildCatalog([wf])
  const calib = catalog.task('prompt', 'calib')
  const validation = catalog.task('prompt', 'hlt-validation')
  assert.ok(calib !== undefined && validation !== undefined)
  assert.equal(specOf('prompt', calib).conditionTag, '', 'the calibration itself uploads nothing')
  assert.deepEqual({ tag: specOf('prompt', validation).conditionTag, signOff: specOf('prompt', validation).signOff }, { tag: 'EcalTimeCalibConstants_v01_offline', signOff: true })
})

test('a sign-off in a dry-run campaign is no sign-off (nothing is written)', () => {
  const content = chain(offline.replace(' }', ', signOff: required }'), twoCampaigns('rereco'))
  const wf = validateWorkflow({ name: 'w.yaml', content, dir: '/wf' }).workflow
  assert.ok(wf !== undefined)
  const catalog = buildCatalog([wf])
  assert.equal(specOf('prompt', catalog.task('prompt', 'calib') as never).signOff, true)
  assert.equal(specOf('rereco', catalog.task('rereco', 'calib') as never).signOff, false)
  assert.equal(catalog.task('rereco', 'calib')?.upload?.dryRun, true)
})

// Issue 12: a workflow reaches only allow-listed variables, golden files stay in the workflow or real-data directory,
// and no error carries an expanded value.
const secretEnv = { AUTOCAL_CONTROL_TOKENS: '{"s3cret-admin":{"principal":"root"}}', AUTOCAL_WF_GATE: 'http://127.0.0.1:9/ok', AUTOCAL_REALDATA_DIR: '/data/real' }
const withTask = (lines: string): string => base.replace('    jobs: 4', `    jobs: 4\n${lines}`)
const securityTable: Array<{ name: string, content: string, expect: RegExp }> = [
  { name: 'a non-allow-listed variable in an HTTP gate is named, not expanded', content: withTask('    when: { http: "${AUTOCAL_CONTROL_TOKENS}" }'), expect: /^w\.yaml:6:\d+ tasks\.0\.when\.http: environment variable AUTOCAL_CONTROL_TOKENS may not be used in a workflow \(allowed: AUTOCAL_WF_\* and AUTOCAL_REALDATA_DIR\)$/ },
  { name: 'a non-allow-listed variable with a default is still refused', content: withTask('    when: { http: "http://x/${HOME:-/root}" }'), expect: /^w\.yaml:6:\d+ tasks\.0\.when\.http: environment variable HOME may not be used/ },
  { name: 'a non-allow-listed variable in a golden path is refused', content: withTask('    filter: { golden: "${AUTOCAL_CONTROL_TOKENS}/g.json" }'), expect: /^w\.yaml:6:23 tasks\.0\.filter\.golden: environment variable AUTOCAL_CONTROL_TOKENS may not be used/ },
  { name: 'an absolute golden path outside the workflow and real-data directories is refused', content: withTask('    filter: { golden: /etc/passwd }'), expect: /^w\.yaml:6:23 tasks\.0\.filter\.golden: the golden JSON must lie in the workflow directory or the real-data directory \(AUTOCAL_REALDATA_DIR\)$/ },
  { name: 'a relative golden path climbing out of the workflow directory is refused', content: withTask('    filter: { golden: ../etc/g.json }'), expect: /^w\.yaml:6:23 tasks\.0\.filter\.golden: the golden JSON must lie in the workflow directory/ },
  { name: 'a sibling directory sharing the real-data prefix is refused', content: withTask('    filter: { golden: /data/realx/g.json }'), expect: /tasks\.0\.filter\.golden: the golden JSON must lie/ },
  { name: 'a non-URL HTTP gate does not echo its expanded value', content: withTask('    when: { http: "${AUTOCAL_WF_NOT_URL}" }'), expect: /^w\.yaml:6:\d+ tasks\.0\.when\.http: expected an http\(s\) URL \(after expanding variables\)$/ },
  { name: 'a YAML alias bomb is a file:line error', content: 'a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n', expect: /^w\.yaml:2:8 \(yaml\): too many alias expansions \(more than 100\): nested aliases are refused/ },
  { name: 'a file nested 20,000 deep is a file:line error in words, not a stack overflow', content: `subsystem: ECAL\nworkflow: w\ntasks: ${'['.repeat(20000)}${']'.repeat(20000)}\n`, expect: /^w\.yaml:3:\d+ \(yaml\): nested too deeply to be read/ }
]

for (const row of securityTable) {
  test(row.name, () => {
    const errors = validateWorkflow({ name: 'w.yaml', content: row.content, dir: '/wf' }, { ...secretEnv, AUTOCAL_WF_NOT_URL: 'ftp://s3cret' }, { goldenRoots: ['/data/real'], checkGolden: () => undefined }).errors
    assert.ok(errors.some(e => row.expect.test(e)), `expected ${String(row.expect)} in:\n${errors.join('\n')}`)
    assert.ok(errors.every(e => !e.includes('s3cret')), `an error echoes a secret:\n${errors.join('\n')}`)
  })
}

test('allow-listed variables expand: AUTOCAL_WF_* in a gate, AUTOCAL_REALDATA_DIR in a golden path inside the real-data directory', () => {
  const r = validateWorkflow({ name: 'w.yaml', content: withTask('    when: { http: "${AUTOCAL_WF_GATE}" }\n    filter: { golden: "${AUTOCAL_REALDATA_DIR}/g.json" }'), dir: '/wf' }, secretEnv, { goldenRoots: ['/data/real'], checkGolden: () => undefined })
  assert.deepEqual(r.errors, [])
  assert.equal(r.workflow?.tasks[0]?.gates.http?.url, 'http://127.0.0.1:9/ok')
  assert.equal(r.workflow?.tasks[0]?.filter.golden, '/data/real/g.json')
  assert.deepEqual(expandEnv('${PATH}/${AUTOCAL_WF_X:-d}', { PATH: '/bin' }), { value: '/d', missing: [], forbidden: ['PATH'] })
})

test('tasks named constructor and toString are ordinary tasks: no prototype entry is taken for their campaign tag', () => {
  const content = base.replaceAll('reco', 'constructor').replaceAll('calib', 'toString') + '    condition: { tag: T_offline, record: R, sync: offline }\n' +
    'campaigns: [{ name: rereco, conditions: { tags: { toString: { tag: U_offline, sync: offline } } } }, prompt]\n'
  const r = validateWorkflow({ name: 'w.yaml', content, dir: '/wf' })
  assert.deepEqual(r.errors, [])
  const [rereco, prompt] = r.workflow?.campaigns ?? []
  assert.equal(uploads(content, 'rereco').get('toString')?.tag, 'U_offline')
  assert.equal(uploads(content, 'prompt').get('toString')?.tag, 'T_offline', 'the prompt campaign has no entry: the task\'s own tag, not Object.prototype.toString')
  assert.ok(rereco !== undefined && prompt !== undefined)
})

// issue 15: one pass finds every error of a file, and names what was probably meant
test('a schema error and an unknown needs entry are reported together, in one pass', () => {
  const errors = check(base.replace('jobs: 4', 'jobs: four').replace('needs: [reco]', 'needs: [rec]'))
  // in the order of the file
  assert.deepEqual(errors, [
    'w.yaml:5:11 tasks.0.jobs: Invalid input: expected number, received string',
    "w.yaml:8:13 tasks.1.needs.0: task 'calib' needs unknown task 'rec'; did you mean 'reco'?"
  ])
})

test('an unknown key, a run type and a campaign tag are all reported with a broken schema', () => {
  const errors = check(base.replace('    jobs: 4', '    jobs: 4\n    retires: 3') + 'runTypes:\n  c: { tasks: [calb] }\ncampaigns: [{ name: r, conditions: { tags: { nope: { tag: T, sync: offline } } } }]\n')
  assert.equal(errors.length, 3, errors.join('\n'))
  assert.match(errors.join('\n'), /tasks\.0\.retires: unknown key 'retires'; did you mean 'retries'\?/)
  assert.match(errors.join('\n'), /runTypes\.c\.tasks\.0: run type 'c' lists unknown task 'calb'; did you mean 'calib'\?/)
  assert.match(errors.join('\n'), /campaigns\.0\.conditions\.tags\.nope: campaign 'r' gives a tag to unknown task 'nope'$/m)
})

const hintTable: Array<{ name: string, content: string, expect: RegExp }> = [
  { name: 'a misspelt placeholder suggests the placeholder', content: base.replace('"{outdir}"', '"{outdr}"'), expect: /tasks\.0\.run\.5: unknown placeholder \{outdr\}; did you mean 'outdir'\?, expected one of/ },
  { name: 'a misspelt backend suggests the backend', content: base.replace('    jobs: 4', '    jobs: 4\n    backend: htcondr'), expect: /tasks\.0\.backend: unknown backend 'htcondr'; did you mean 'htcondor'\?/ },
  { name: 'a misspelt key of a condition suggests the key', content: base + '    condition: { tag: T, record: R, sync: offline, fcsrPolcy: move }\n', expect: /tasks\.1\.condition\.fcsrPolcy: unknown key 'fcsrPolcy'; did you mean 'fcsrPolicy'\?/ },
  { name: 'a misspelt top-level key suggests the key', content: base.replace('workflow: timing', 'workflow: timing\ncampains: [prompt]'), expect: /^w\.yaml:3:11 campains: unknown key 'campains'; did you mean 'campaigns'\?/ },
  { name: 'a key far from every known one lists them', content: base.replace('    jobs: 4', '    jobs: 4\n    xyz: 1'), expect: /tasks\.0\.xyz: unknown key 'xyz', expected one of name, block, filter, when, needs, jobs, run,/ },
  { name: 'a one-letter name suggests nothing', content: base.replace('needs: [reco]', 'needs: [b]').replace('name: reco', 'name: a').replace('"{inputs}"', 'x'), expect: /tasks\.1\.needs\.0: task 'calib' needs unknown task 'b'$/ },
  { name: 'a misspelt run type of a campaign suggests it', content: base + 'runTypes:\n  physics: { tasks: [reco] }\ncampaigns: [{ name: prompt, runTypes: [phyics] }]\n', expect: /campaigns\.0\.runTypes\.0: unknown run type 'phyics'; did you mean 'physics'\?/ }
]
for (const row of hintTable) {
  test(row.name, () => {
    const errors = check(row.content)
    assert.ok(errors.some(e => row.expect.test(e)), `expected ${String(row.expect)} in:\n${errors.join('\n')}`)
  })
}

const scriptTable: Array<{ name: string, arg: string, files: string[], expect: RegExp | undefined }> = [
  { name: 'a script of the workflow directory that exists is accepted', arg: '{workflowDir}/scripts/reco.py', files: ['/wf/scripts/reco.py'], expect: undefined },
  { name: 'a script of the workflow directory that is missing is an error at the argument', arg: '{workflowDir}/scripts/rceo.py', files: ['/wf/scripts/reco.py'], expect: /^w\.yaml:6:\d+ tasks\.0\.run\.1: \{workflowDir\}\/scripts\/rceo\.py: no file scripts\/rceo\.py in the workflow directory$/ },
  { name: 'a path with another placeholder is not checked (known only when the job runs)', arg: '{workflowDir}/scripts/{task}.py', files: [], expect: undefined },
  { name: 'a program outside the workflow directory is not checked', arg: 'reco.py', files: [], expect: undefined },
  { name: 'a {workflowDir} path climbing out of the workflow directory is an error, though the file exists', arg: '{workflowDir}/../../etc/passwd', files: ['/etc/passwd'], expect: /^w\.yaml:6:\d+ tasks\.0\.run\.1: \{workflowDir\}\/\.\.\/\.\.\/etc\/passwd: the path leaves the workflow directory$/ },
  { name: 'a {workflowDir} path that climbs out and back in is accepted', arg: '{workflowDir}/scripts/../scripts/reco.py', files: ['/wf/scripts/reco.py'], expect: undefined },
  { name: 'a script that is a link to a file outside the workflow directory is an error', arg: '{workflowDir}/scripts/evil.py', files: ['/wf/scripts/evil.py'], expect: /^w\.yaml:6:\d+ tasks\.0\.run\.1: \{workflowDir\}\/scripts\/evil\.py: a link to a file outside the workflow directory$/ }
]
for (const row of scriptTable) {
  test(row.name, () => {
    const content = base.replace('run: [python3, reco.py,', `run: [python3, "${row.arg}",`)
    const realPath = (p: string): string => p === '/wf/scripts/evil.py' ? '/etc/shadow' : p
    const r = validateWorkflow({ name: 'w.yaml', content, dir: '/wf' }, {}, { scriptExists: p => row.files.includes(p), realPath })
    if (row.expect === undefined) assert.deepEqual(r.errors, [])
    else assert.ok(r.errors.some(e => (row.expect as RegExp).test(e)), r.errors.join('\n'))
  })
}

// issue 15: job resources and batch options
const resourceTable: Array<{ name: string, content: string, expect: Partial<Record<'cpus' | 'memoryMb' | 'diskMb' | 'timeoutS' | 'accountingGroup' | 'jobFlavour' | 'image', unknown>> & { passEnv?: string[] } }> = [
  { name: 'no resources: the backend defaults and a 2 h limit', content: base, expect: { cpus: 0, memoryMb: 0, diskMb: 0, timeoutS: 7200, accountingGroup: '', jobFlavour: '', passEnv: [] } },
  { name: 'sizes with units become MiB (1024-based)', content: withTask('    resources: { cpus: 4, memory: 2GB, disk: 1.5 GB }'), expect: { cpus: 4, memoryMb: 2048, diskMb: 1536 } },
  { name: 'a plain number is MiB', content: withTask('    resources: { memory: 3000 }'), expect: { memoryMb: 3000 } },
  { name: 'a job flavour without timeout takes the flavour\'s limit', content: withTask('    backend: htcondor\n    batch: { jobFlavour: espresso, accountingGroup: group_u_CMS.u_zh }'), expect: { timeoutS: 1200, jobFlavour: 'espresso', accountingGroup: 'group_u_CMS.u_zh' } },
  { name: 'a timeout within the flavour is kept', content: withTask('    backend: htcondor\n    timeout: 90m\n    batch: { jobFlavour: longlunch }'), expect: { timeoutS: 5400 } },
  { name: 'an HTCondor job may run in a container', content: withTask('    backend: htcondor\n    image: docker://registry.cern.ch/cmsecal/calib:1'), expect: { image: 'docker://registry.cern.ch/cmsecal/calib:1' } },
  { name: 'passEnv names are carried', content: withTask('    passEnv: [X509_USER_PROXY, CMSSW_BASE]'), expect: { passEnv: ['X509_USER_PROXY', 'CMSSW_BASE'] } }
]
for (const row of resourceTable) {
  test(`resources: ${row.name}`, () => {
    const r = validateWorkflow({ name: 'w.yaml', content: row.content, dir: '/wf' })
    assert.deepEqual(r.errors, [])
    const t = r.workflow!.tasks[0]!
    const got: Record<string, unknown> = { ...t.resources, timeoutS: t.timeoutS, ...t.batch, image: t.image, passEnv: t.passEnv }
    for (const [k, v] of Object.entries(row.expect)) assert.deepEqual(got[k], v, k)
  })
}

const resourceErrors: Array<{ name: string, content: string, expect: RegExp }> = [
  { name: 'a size in an unknown unit', content: withTask('    resources: { memory: 2 GiB }'), expect: /tasks\.0\.resources\.memory: .*expected a size such as 512MB, 4GB or a number of MiB/ },
  { name: 'zero CPUs', content: withTask('    resources: { cpus: 0 }'), expect: /tasks\.0\.resources\.cpus: / },
  { name: 'an unknown job flavour', content: withTask('    backend: htcondor\n    batch: { jobFlavour: lunch }'), expect: /tasks\.0\.batch\.jobFlavour: / },
  { name: 'an accounting group with a space', content: withTask('    backend: htcondor\n    batch: { accountingGroup: "group u" }'), expect: /tasks\.0\.batch\.accountingGroup: expected an accounting group/ },
  { name: 'a timeout longer than the flavour allows', content: withTask('    backend: htcondor\n    timeout: 3h\n    batch: { jobFlavour: longlunch }'), expect: /tasks\.0\.timeout: timeout 3h is longer than job flavour longlunch allows \(120 min\)/ },
  { name: 'batch options on the local backend', content: withTask('    batch: { jobFlavour: workday }'), expect: /tasks\.0\.batch: `batch` options are HTCondor's; this task runs on the local backend/ },
  { name: 'an image on the local backend', content: withTask('    image: alma9'), expect: /tasks\.0\.image: the local backend runs no container/ },
  { name: 'a size in MiB beyond what a job request carries (uint32 MiB)', content: withTask('    resources: { memory: 1e308 }'), expect: /^w\.yaml:6:\d+ tasks\.0\.resources\.memory: expected a size such as 512MB, 4GB or a number of MiB, at most 4294967295 MiB$/ },
  { name: 'a size with a unit beyond what a job request carries', content: withTask(`    resources: { disk: "${'9'.repeat(400)}TB" }`), expect: /^w\.yaml:6:\d+ tasks\.0\.resources\.disk: expected a size such as 512MB, 4GB or a number of MiB, at most 4294967295 MiB$/ },
  { name: 'an infinite size', content: withTask('    resources: { memory: .inf }'), expect: /^w\.yaml:6:\d+ tasks\.0\.resources\.memory: expected a size such as 512MB, 4GB or a number of MiB, at most 4294967295 MiB$/ },
  { name: 'a NaN duration', content: withTask('    backoff: .nan'), expect: /^w\.yaml:6:\d+ tasks\.0\.backoff: expected a duration such as 90s/ },
  { name: 'a passEnv entry of the services\' own configuration (no executor passes it)', content: withTask('    passEnv: [X509_USER_PROXY, AUTOCAL_REDIS_URL]'), expect: /^w\.yaml:6:\d+ tasks\.0\.passEnv\.1: AUTOCAL_REDIS_URL: the executor's AUTOCAL_\* configuration is never passed to jobs$/ },
  { name: 'a passEnv entry that names a secret', content: withTask('    passEnv: [GRID_PASSWORD]'), expect: /^w\.yaml:6:\d+ tasks\.0\.passEnv\.0: GRID_PASSWORD: looks like a secret; jobs hold none$/ },
  { name: 'a passEnv entry that is not a variable name', content: withTask('    passEnv: [X509-PROXY]'), expect: /tasks\.0\.passEnv\.0: expected an environment variable name/ }
]
for (const row of resourceErrors) {
  test(`resources: ${row.name} is an error`, () => {
    const errors = check(row.content)
    assert.ok(errors.some(e => row.expect.test(e)), `expected ${String(row.expect)} in:\n${errors.join('\n')}`)
  })
}

// issue 15: retry policies by cause
test('retry: never takes exit codes and signals; infrastructure has a default', () => {
  const r = validateWorkflow({ name: 'w.yaml', content: base.replace('    jobs: 4', '    jobs: 4\n    retry: { never: [3, 42, SIGSEGV], infrastructure: 8 }'), dir: '/wf' })
  assert.deepEqual(r.errors, [])
  assert.deepEqual(r.workflow?.tasks[0]?.retryNever, { exitCodes: [3, 42], signals: ['SIGSEGV'] })
  assert.equal(r.workflow?.tasks[0]?.infrastructureRetries, 8)
  assert.equal(r.workflow?.tasks[1]?.infrastructureRetries, 5)
  assert.deepEqual(r.workflow?.tasks[1]?.retryNever, { exitCodes: [], signals: [] })
  const bad = check(base.replace('    jobs: 4', '    jobs: 4\n    retry: { never: [0, sigsegv] }'))
  assert.ok(bad.some(e => /tasks\.0\.retry\.never\.0: /.test(e)), bad.join('\n'))
  assert.ok(bad.some(e => /tasks\.0\.retry\.never\.1: .*expected an exit code \(1–255\) or a signal name/.test(e)), bad.join('\n'))
})
