import { test } from 'node:test'
import assert from 'node:assert/strict'
import { create } from '@bufbuild/protobuf'
import { CampaignDefinitionSchema, CampaignKind, CampaignState, ConditionsTargetSchema, RunFilterDefinitionSchema, RunSchema, type CampaignDefinition } from '@autocal/contracts'
import {
  changeState, createCampaign, createRunType, filterOf, overlayWorkflows, supersedes, updateRunType,
  type CampaignDecision, type NewCampaign
} from '../../src/domain/campaign-definitions.ts'
import { buildCatalog, campaignsOfRun, liveCampaigns, runBelongsTo } from '../../src/domain/catalog.ts'
import { validateWorkflow, type Workflow } from '../../src/domain/workflow.ts'

function workflow (content: string): Workflow {
  const r = validateWorkflow({ name: 'w.yaml', dir: '/', content })
  assert.ok(r.workflow !== undefined, r.errors.join('\n'))
  return r.workflow
}

const timing = workflow(`subsystem: ECAL
workflow: timing
campaigns: [{ name: prompt, conditions: { writePromptTags: true } }]
tasks:
  - { name: timing-reco, run: [x] }
  - { name: timing-calib, needs: [timing-reco], run: [x, "{inputs}"], condition: { tag: EcalTimeCalibConstants_prompt, record: EcalTimeCalibConstantsRcd, sync: prompt } }
  - { name: pedestals, run: [x] }
`)
const pps = workflow(`subsystem: PPS
workflow: alignment
campaigns: [{ name: pps-rereco }]
tasks:
  - { name: align, run: [x] }
`)
const workflows = [timing, pps]
const ctx = { actor: 'alice', atMs: Date.UTC(2026, 10, 30, 12), reason: 'test' }
const world = { workflows, runtime: new Set(['timing-2022']) }
const base: NewCampaign = { name: 'timing-2023', workflows: ['ECAL/timing'], subsystems: [], kind: CampaignKind.REPROCESSING, conditions: undefined, notify: '' }

const accepted = (d: CampaignDecision): CampaignDefinition => {
  assert.equal(d.kind, 'accepted', d.kind === 'rejected' ? d.reason : '')
  return (d as Extract<CampaignDecision, { kind: 'accepted' }>).definition
}

test('campaign create: accepted or refused with a reason naming what and where', async t => {
  const cases: Array<{ name: string, input: Partial<NewCampaign>, expect: RegExp | { subsystems: string[], kind: CampaignKind } }> = [
    { name: 'a reprocessing campaign of one workflow', input: {}, expect: { subsystems: ['ECAL'], kind: CampaignKind.REPROCESSING } },
    { name: 'a live campaign', input: { kind: CampaignKind.LIVE }, expect: { subsystems: ['ECAL'], kind: CampaignKind.LIVE } },
    { name: 'two workflows of two subsystems', input: { workflows: ['ECAL/timing', 'PPS/alignment'] }, expect: { subsystems: ['ECAL', 'PPS'], kind: CampaignKind.REPROCESSING } },
    { name: 'a misspelt workflow suggests the known one', input: { workflows: ['ECAL/timng'] }, expect: /unknown workflow 'ECAL\/timng'; did you mean 'ECAL\/timing'\?/ },
    { name: 'the name of a YAML campaign is refused', input: { name: 'prompt' }, expect: /campaign 'prompt' is a campaign of workflow file w\.yaml \(ECAL\/timing\)/ },
    { name: 'the name of a stored runtime campaign is refused', input: { name: 'timing-2022' }, expect: /campaign 'timing-2022' exists already/ },
    { name: 'a name breaking the grammar', input: { name: '../x' }, expect: /campaign "\.\.\/x" is not a valid name/ },
    { name: 'no workflow', input: { workflows: [] }, expect: /at least one workflow/ },
    { name: 'no kind', input: { kind: CampaignKind.UNSPECIFIED }, expect: /--live \| --reprocessing/ },
    { name: 'a subsystem scope that leaves out a workflow\'s subsystem', input: { workflows: ['ECAL/timing', 'PPS/alignment'], subsystems: ['ECAL'] }, expect: /belong to PPS, which --subsystem ECAL leaves out/ },
    { name: 'a tag for an unknown task', input: { conditions: create(ConditionsTargetSchema, { tags: { 'timing-calb': { tag: 'T', sync: 'offline' } } }) }, expect: /conditions\.tags: unknown task 'timing-calb'; did you mean 'timing-calib'\?/ },
    { name: 'a tag for a task without condition', input: { conditions: create(ConditionsTargetSchema, { tags: { pedestals: { tag: 'T', sync: 'offline' } } }) }, expect: /task 'pedestals' has no condition/ },
    { name: 'an unknown synchronization', input: { conditions: create(ConditionsTargetSchema, { tags: { 'timing-calib': { tag: 'T', sync: 'ofline' } } }) }, expect: /unknown synchronization 'ofline'; did you mean 'offline'\?/ }
  ]
  for (const c of cases) {
    await t.test(c.name, () => {
      const d = createCampaign({ ...base, ...c.input }, world, ctx)
      if (c.expect instanceof RegExp) {
        assert.equal(d.kind, 'rejected')
        assert.match((d as { reason: string }).reason, c.expect)
        return
      }
      const def = accepted(d)
      assert.deepEqual({ subsystems: def.subsystems, kind: def.kind }, c.expect)
      assert.equal(def.state, CampaignState.ACTIVE)
      assert.equal(def.revision, 1)
      assert.equal(def.changedBy, 'alice')
    })
  }
})

const stored = accepted(createCampaign(base, { workflows, runtime: new Set() }, ctx))
const withType = accepted(createRunType(stored, { name: 'physics', filter: create(RunFilterDefinitionSchema, { runClasses: ['collisions2022'] }), tasks: ['timing-reco'] }, workflows, ctx))
const closed = accepted(changeState(withType, 'closed', ctx))

test('state changes: pause, resume and close; a closed campaign stays closed', async t => {
  const paused = accepted(changeState(stored, 'paused', ctx))
  const cases: Array<{ name: string, from: CampaignDefinition, to: 'active' | 'paused' | 'closed', expect: CampaignState | RegExp }> = [
    { name: 'an active campaign is paused', from: stored, to: 'paused', expect: CampaignState.PAUSED },
    { name: 'a paused campaign is resumed', from: paused, to: 'active', expect: CampaignState.ACTIVE },
    { name: 'a paused campaign is closed', from: paused, to: 'closed', expect: CampaignState.CLOSED },
    { name: 'pausing a paused campaign says so', from: paused, to: 'paused', expect: /is paused already/ },
    { name: 'a closed campaign is not resumed', from: closed, to: 'active', expect: /campaign 'timing-2023' is closed \(by alice\)/ }
  ]
  for (const c of cases) {
    await t.test(c.name, () => {
      const d = changeState(c.from, c.to, ctx)
      if (c.expect instanceof RegExp) {
        assert.equal(d.kind, 'rejected')
        assert.match((d as { reason: string }).reason, c.expect)
        return
      }
      const def = accepted(d)
      assert.equal(def.state, c.expect)
      assert.equal(def.revision, c.from.revision + 1)
    })
  }
})

test('run types: created and changed, stamped with the revision that changed them', async t => {
  const cases: Array<{ name: string, decide: () => CampaignDecision, expect: string[] | RegExp }> = [
    { name: 'a run type is created with its tasks', decide: () => createRunType(stored, { name: 'cosmics', filter: undefined, tasks: ['pedestals'] }, workflows, ctx), expect: ['pedestals'] },
    { name: 'a task is added', decide: () => updateRunType(withType, 'physics', ['pedestals'], [], workflows, ctx), expect: ['timing-reco', 'pedestals'] },
    { name: 'a task is removed and another added', decide: () => updateRunType(withType, 'physics', ['timing-calib'], ['timing-reco'], workflows, ctx), expect: ['timing-calib'] },
    { name: 'an unknown task suggests the known one', decide: () => updateRunType(withType, 'physics', ['pedestal'], [], workflows, ctx), expect: /run type 'physics': unknown task 'pedestal'; did you mean 'pedestals'\?/ },
    { name: 'a task of another subsystem\'s workflow is unknown here', decide: () => createRunType(stored, { name: 'x', filter: undefined, tasks: ['align'] }, workflows, ctx), expect: /unknown task 'align'/ },
    { name: 'removing a task the run type lacks', decide: () => updateRunType(withType, 'physics', [], ['pedestals'], workflows, ctx), expect: /run type 'physics' has no task 'pedestals'/ },
    { name: 'removing the last task', decide: () => updateRunType(withType, 'physics', [], ['timing-reco'], workflows, ctx), expect: /would have no task left/ },
    { name: 'adding a task it has', decide: () => updateRunType(withType, 'physics', ['timing-reco'], [], workflows, ctx), expect: /nothing changes/ },
    { name: 'an unknown run type suggests the known one', decide: () => updateRunType(withType, 'physic', ['pedestals'], [], workflows, ctx), expect: /no run type 'physic'; did you mean 'physics'\?/ },
    { name: 'a run type name in use', decide: () => createRunType(withType, { name: 'physics', filter: undefined, tasks: ['pedestals'] }, workflows, ctx), expect: /has a run type 'physics' already/ },
    { name: 'a run type without tasks', decide: () => createRunType(stored, { name: 'empty', filter: undefined, tasks: [] }, workflows, ctx), expect: /needs at least one task/ },
    { name: 'a closed campaign is not changed', decide: () => updateRunType(closed, 'physics', ['pedestals'], [], workflows, ctx), expect: /is closed .*create a new one/ },
    { name: 'a bad era in the filter', decide: () => createRunType(stored, { name: 'e', filter: create(RunFilterDefinitionSchema, { eras: ['Run 2022'] }), tasks: ['pedestals'] }, workflows, ctx), expect: /era "Run 2022" is not a valid name/ }
  ]
  for (const c of cases) {
    await t.test(c.name, () => {
      const d = c.decide()
      if (c.expect instanceof RegExp) {
        assert.equal(d.kind, 'rejected')
        assert.match((d as { reason: string }).reason, c.expect)
        return
      }
      const def = accepted(d)
      const changed = def.runTypes.find(r => r.revision === def.revision)
      assert.deepEqual(changed?.tasks, c.expect)
    })
  }
})

test('rule 9: a runtime campaign writes to a prompt tag only as a dry run, to another tag, or when it opts in', async t => {
  const live = accepted(createCampaign({ ...base, name: 'live-1', kind: CampaignKind.LIVE, conditions: create(ConditionsTargetSchema, { dryRun: false }) }, { workflows, runtime: new Set() }, ctx))
  const cases: Array<{ name: string, def: CampaignDefinition, ok: boolean }> = [
    { name: 'not a dry run, prompt tag: refused', def: live, ok: false },
    { name: 'the default (a dry run): accepted', def: stored, ok: true },
    { name: 'an offline tag: accepted', def: create(CampaignDefinitionSchema, { ...live, conditions: create(ConditionsTargetSchema, { dryRun: false, tags: { 'timing-calib': { tag: 'EcalTime_offline', sync: 'offline' } } }) }), ok: true },
    { name: 'opted in: accepted', def: create(CampaignDefinitionSchema, { ...live, conditions: create(ConditionsTargetSchema, { dryRun: false, writePromptTags: true }) }), ok: true }
  ]
  for (const c of cases) {
    await t.test(c.name, () => {
      const d = createRunType(c.def, { name: 'physics', filter: undefined, tasks: ['timing-reco', 'timing-calib'] }, workflows, ctx)
      assert.equal(d.kind === 'accepted', c.ok, d.kind === 'rejected' ? d.reason : '')
      if (!c.ok) assert.match((d as { reason: string }).reason, /would write task 'timing-calib' payloads to prompt tag EcalTimeCalibConstants_prompt/)
    })
  }
})

test('the catalog overlays runtime campaigns: their run types, their state, live ones take live runs', () => {
  const live = accepted(createRunType(accepted(createCampaign({ ...base, name: 'live-1', kind: CampaignKind.LIVE }, { workflows, runtime: new Set() }, ctx)), { name: 'all', filter: undefined, tasks: ['pedestals'] }, workflows, ctx))
  const pausedLive = create(CampaignDefinitionSchema, { ...live, name: 'live-2', state: CampaignState.PAUSED })
  const closedLive = create(CampaignDefinitionSchema, { ...live, name: 'live-3', state: CampaignState.CLOSED })
  const catalog = buildCatalog(workflows, [withType, live, pausedLive, closedLive])
  assert.deepEqual(catalog.workflows, workflows, 'the files\' workflows stay as they are')
  assert.deepEqual(catalog.campaigns.get('timing-2023')?.tasks.map(t => t.name), ['timing-reco'])
  assert.deepEqual(catalog.campaigns.get('live-1')?.tasks.map(t => t.name), ['pedestals'])
  assert.equal(catalog.campaigns.get('live-2')?.state, 'paused')
  assert.equal(catalog.campaigns.get('timing-2023')?.revision, 2)
  // every live campaign not closed takes live runs (the paused one records them); a named campaign only its own
  assert.deepEqual(liveCampaigns(catalog).sort(), ['live-1', 'live-2', 'prompt'])
  assert.deepEqual(campaignsOfRun(catalog, 'timing-2023'), ['timing-2023'])
  const c = catalog.campaigns.get('timing-2023')
  assert.ok(c !== undefined)
  const reco = c.roots[0]
  assert.ok(reco !== undefined)
  assert.deepEqual(runBelongsTo(c, reco, create(RunSchema, { run: 1, runClass: 'Cosmics2022' }), new Map()), { ok: false, reason: 'run type physics: run class Cosmics2022 not in collisions2022' })
})

test('overlay: a workflow no file defines any more is left out; a run type keeps the tasks of each workflow', () => {
  const two = accepted(createRunType(accepted(createCampaign({ ...base, name: 'both', workflows: ['ECAL/timing', 'PPS/alignment'] }, { workflows, runtime: new Set() }, ctx)), { name: 'all', filter: undefined, tasks: ['pedestals', 'align'] }, workflows, ctx))
  assert.deepEqual(overlayWorkflows(workflows, [two]).map(w => [w.workflow, w.runTypes[0]?.tasks]), [['timing', ['pedestals']], ['alignment', ['align']]])
  assert.deepEqual(overlayWorkflows([timing], [two]).map(w => w.workflow), ['timing'])
})

test('run filters of a definition mean what the YAML filter means', () => {
  const cases = [
    { f: create(RunFilterDefinitionSchema, {}), expect: { runClass: [], eras: [] } },
    { f: create(RunFilterDefinitionSchema, { runClasses: ['Collisions2022'], eras: ['Run2022C'], global: true, minDurationS: 600, minRecordedLumiPb: 1, stableBeams: true }), expect: { runClass: ['collisions2022'], eras: ['Run2022C'], global: true, minDurationS: 600, minRecordedLumi: 1, stableBeams: true } }
  ]
  for (const c of cases) assert.deepEqual(filterOf(c.f), c.expect)
})

test('a stored definition replaces the held one only when it is not older and not the same', () => {
  const next = create(CampaignDefinitionSchema, { ...stored, revision: 2 })
  const rival = create(CampaignDefinitionSchema, { ...next, changedBy: 'bob' })
  const cases: Array<[CampaignDefinition | undefined, CampaignDefinition, boolean]> = [[undefined, stored, true], [stored, next, true], [next, stored, false], [stored, stored, false], [next, rival, true]]
  for (const [held, d, expect] of cases) assert.equal(supersedes(held, d), expect)
})
