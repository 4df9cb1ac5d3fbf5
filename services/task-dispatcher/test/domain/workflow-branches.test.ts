import { test } from 'node:test'
import assert from 'node:assert/strict'
import { uploadsOf, validateWorkflow, validateWorkflowSet, type CampaignDef } from '../../src/domain/workflow.ts'
import { buildCatalog, campaignsOfRun, specOf } from '../../src/domain/catalog.ts'

/** A workflow file: `head` goes after subsystem/workflow, the tasks follow (calib uploads to a prompt tag). */
const file = (head: string): string => `subsystem: ECAL
workflow: timing
${head}
tasks:
  - name: reco
    run: [python3, reco.py, "{run}"]
  - name: calib
    needs: [reco]
    run: [python3, calib.py, "{inputs}"]
    condition: { tag: Timing_prompt, record: TimingRcd, sync: prompt }
`
const production = file(`campaigns:
  - name: prompt
    conditions: { writePromptTags: true }`)
const shadow = (extra = ''): string => file(`branch: dev
campaigns:
  - name: timing-dev
    live: true
    shadow: true
    notify: ecal-dev
    conditions:
      dryRun: false
      tags:
        calib: { tag: Timing_dev_validation, sync: validation }${extra}`)

const fileErrors: Array<{ name: string, content: string, expect: RegExp | undefined }> = [
  { name: 'a shadow campaign of a branch with a validation tag is fine', content: shadow(), expect: undefined },
  { name: 'a shadow campaign without a tag uploads as a dry run and is fine', content: file('branch: dev\ncampaigns:\n  - { name: timing-dev, live: true, shadow: true }'), expect: undefined },
  { name: 'prompt cannot be live: false', content: file('campaigns:\n  - { name: prompt, live: false, conditions: { writePromptTags: true } }'), expect: /^w\.yaml:4:27 campaigns\.0\.live: campaign 'prompt' receives the live runs; it cannot be live: false$/ },
  { name: 'a branch may not run in prompt', content: file('branch: dev\ncampaigns:\n  - { name: prompt, conditions: { writePromptTags: true } }'), expect: /^w\.yaml:5:5 campaigns\.0: branch 'dev' may not run in campaign 'prompt'/ },
  { name: 'a branch without campaigns would run in prompt', content: file('branch: dev'), expect: /campaigns\.0: branch 'dev' may not run in campaign 'prompt'/ },
  { name: "a branch's live campaign must be a shadow campaign", content: file('branch: dev\ncampaigns:\n  - { name: timing-dev, live: true }'), expect: /^w\.yaml:5:31 campaigns\.0\.live: campaign 'timing-dev' of branch 'dev' receives live runs; a branch's live campaign must say shadow: true/ },
  { name: 'a production file has no shadow campaign', content: file('campaigns:\n  - { name: timing-x, shadow: true }'), expect: /campaigns\.0\.shadow: campaign 'timing-x' is a shadow campaign but the file is production/ },
  { name: 'a shadow campaign may not upload for real to a tag that is not validation', content: file('branch: dev\ncampaigns:\n  - name: timing-dev\n    live: true\n    shadow: true\n    conditions: { dryRun: false, tags: { calib: { tag: Timing_dev, sync: offline } } }'), expect: /campaigns\.0\.conditions\.tags\.calib\.sync: shadow campaign 'timing-dev' would write task 'calib' payloads to offline tag Timing_dev/ },
  { name: 'a shadow campaign may not switch the dry run off for the production tag', content: file('branch: dev\ncampaigns:\n  - { name: timing-dev, live: true, shadow: true, conditions: { dryRun: false, writePromptTags: true } }'), expect: /campaigns\.0\.shadow: shadow campaign 'timing-dev' would write task 'calib' payloads to prompt tag Timing_prompt/ },
  { name: 'notify names a channel', content: shadow().replace('notify: ecal-dev', 'notify: "ECAL dev"'), expect: /campaigns\.0\.notify: expected a channel name/ },
  { name: 'a branch name follows the name grammar', content: shadow().replace('branch: dev', 'branch: "dev/x"'), expect: /^w\.yaml:3:9 branch: workflow "dev\/x" is not a valid name/ }
]

for (const c of fileErrors) {
  test(`branches: ${c.name}`, () => {
    const errors = validateWorkflow({ name: 'w.yaml', content: c.content, dir: '/' }).errors
    if (c.expect === undefined) assert.deepEqual(errors, [])
    else assert.ok(errors.some(e => c.expect?.test(e) === true), errors.join('\n'))
  })
}

const setErrors: Array<{ name: string, files: Array<[string, string]>, expect: RegExp[] }> = [
  { name: 'a branch file is loaded beside the production file', files: [['prod.yaml', production], ['dev.yaml', shadow()]], expect: [] },
  {
    name: 'two files of the same branch are an error naming both',
    files: [['dev.yaml', shadow()], ['dev2.yaml', shadow().replace('timing-dev', 'timing-dev2')]],
    expect: [/^dev2\.yaml:3:9 workflow: workflow ECAL\/timing \(branch 'dev'\) is also declared in dev\.yaml:3:9; one file per workflow and branch$/]
  },
  {
    name: 'two production files are an error naming both',
    files: [['a.yaml', production], ['b.yaml', file('campaigns: [other]')]],
    expect: [/^b\.yaml:1:1 workflow: workflow ECAL\/timing \(production\) is also declared in a\.yaml:1:1/]
  },
  {
    name: 'a branch may not list a production campaign',
    files: [['prod.yaml', file('campaigns:\n  - { name: prompt, conditions: { writePromptTags: true } }\n  - rereco')], ['dev.yaml', file('branch: dev\ncampaigns:\n  - rereco')]],
    expect: [/^dev\.yaml:5:5 campaigns: campaign 'rereco' of branch 'dev' is a production campaign \(prod\.yaml:5:5\)/]
  },
  {
    name: 'a shadow campaign may not write to a tag production writes',
    files: [
      ['prod.yaml', file('campaigns:\n  - { name: prompt, conditions: { writePromptTags: true } }\n  - { name: rereco, conditions: { tags: { calib: { tag: Timing_validation, sync: validation } } } }')],
      ['dev.yaml', shadow().replace('Timing_dev_validation', 'Timing_validation')]
    ],
    expect: [/^dev\.yaml:12:23 campaigns: shadow campaign 'timing-dev' writes task 'calib' payloads to tag Timing_validation, which production writes \(prod\.yaml:5:57\)/]
  }
]

for (const c of setErrors) {
  test(`branches: ${c.name}`, () => {
    const { errors } = validateWorkflowSet(c.files.map(([name, content]) => ({ name, content, dir: '/' })))
    if (c.expect.length === 0) assert.deepEqual(errors, [])
    for (const re of c.expect) assert.ok(errors.some(e => re.test(e)), `${String(re)} not in:\n${errors.join('\n')}`)
  })
}

test('branches: a shadow upload is a dry run unless the campaign gives a validation tag, whatever the campaign says', () => {
  const w = validateWorkflow({ name: 'dev.yaml', content: shadow(), dir: '/' }).workflow
  assert.ok(w !== undefined)
  const table: Array<{ campaign: Partial<CampaignDef>, dryRun: boolean, tag: string }> = [
    { campaign: {}, dryRun: false, tag: 'Timing_dev_validation' },
    { campaign: { conditions: { dryRun: false, destinationDatabase: '', tags: {}, writePromptTags: true } }, dryRun: true, tag: 'Timing_prompt' },
    { campaign: { conditions: { dryRun: false, destinationDatabase: '', tags: { calib: { tag: 'Timing_off', sync: 'offline' } }, writePromptTags: false } }, dryRun: true, tag: 'Timing_off' },
    { campaign: { shadow: false, conditions: { dryRun: false, destinationDatabase: '', tags: { calib: { tag: 'Timing_off', sync: 'offline' } }, writePromptTags: false } }, dryRun: false, tag: 'Timing_off' }
  ]
  for (const row of table) {
    const u = uploadsOf(w.tasks, { ...(w.campaigns[0] as CampaignDef), ...row.campaign }).get('calib')
    assert.deepEqual({ dryRun: u?.dryRun, tag: u?.tag }, { dryRun: row.dryRun, tag: row.tag }, JSON.stringify(row.campaign))
  }
})

test('branches: live runs go to every live campaign, an injected run to its own; tasks record branch and channel', () => {
  const { workflows, errors } = validateWorkflowSet([
    { name: 'prod.yaml', content: file('campaigns:\n  - { name: prompt, conditions: { writePromptTags: true } }\n  - rereco'), dir: '/' },
    { name: 'dev.yaml', content: shadow(), dir: '/' }
  ])
  assert.deepEqual(errors, [])
  const catalog = buildCatalog(workflows)
  const table: Array<[string, string[]]> = [['', ['prompt', 'timing-dev']], ['rereco', ['rereco']], ['timing-dev', ['timing-dev']], ['unknown', ['unknown']]]
  for (const [campaign, expected] of table) assert.deepEqual(campaignsOfRun(catalog, campaign), expected, campaign)
  const dev = catalog.task('timing-dev', 'calib')
  const prod = catalog.task('prompt', 'calib')
  assert.ok(dev !== undefined && prod !== undefined)
  assert.deepEqual([specOf('timing-dev', dev).workflowBranch, specOf('timing-dev', dev).notifyChannel], ['dev', 'ecal-dev'])
  assert.deepEqual([specOf('prompt', prod).workflowBranch, specOf('prompt', prod).notifyChannel], ['', ''])
  assert.deepEqual([dev.upload?.tag, dev.upload?.dryRun, prod.upload?.tag, prod.upload?.dryRun], ['Timing_dev_validation', false, 'Timing_prompt', false])
})
