import { test } from 'node:test'
import assert from 'node:assert/strict'
import { create } from '@bufbuild/protobuf'
import { CampaignDefinitionSchema, CampaignInfoSchema, CampaignKind, CampaignState } from '@autocal/contracts'
import { CampaignUsageError, campaignLines, filterText, runFilterOf, runTypeLines, tagTargetOf } from '../src/campaign.ts'

test('--tag TASK=TAG:SYNC is a task\'s destination tag and synchronization, or a usage error saying the form', () => {
  const cases: Array<[string, { task: string, tag: string, sync: string } | RegExp]> = [
    ['timing-calib=EcalTiming_rereco:offline', { task: 'timing-calib', tag: 'EcalTiming_rereco', sync: 'offline' }],
    ['timing-calib=EcalTiming_rereco', /--tag: expected TASK=TAG:SYNC .*got 'timing-calib=EcalTiming_rereco'/],
    ['=T:offline', /expected TASK=TAG:SYNC/],
    ['a=b:c:d', /expected TASK=TAG:SYNC/]
  ]
  for (const [text, expect] of cases) {
    if (expect instanceof RegExp) {
      assert.throws(() => tagTargetOf(text), (e: Error) => e instanceof CampaignUsageError && expect.test(e.message))
      continue
    }
    const r = tagTargetOf(text)
    assert.deepEqual({ task: r.task, tag: r.target.tag, sync: r.target.sync }, expect)
  }
})

test('rtype create flags make the run filter; a bad duration or luminosity is a usage error', () => {
  const cases: Array<[Parameters<typeof runFilterOf>[0], string | RegExp]> = [
    [{}, 'any run'],
    [{ class: 'Collisions2022,cosmics2022', era: 'Run2022C' }, 'class collisions2022,cosmics2022 era Run2022C'],
    [{ 'min-duration': '10m', 'min-lumi': '0.5', global: true, 'stable-beams': false }, 'global ≥ 600 s ≥ 0.5 /pb no stable beams'],
    [{ 'min-duration': 'soon' }, /--min-duration: expected a duration .*got 'soon'/],
    [{ 'min-lumi': '-1' }, /--min-lumi: expected a recorded luminosity/],
    [{ 'min-lumi': '' }, /--min-lumi/]
  ]
  for (const [flags, expect] of cases) {
    if (expect instanceof RegExp) assert.throws(() => runFilterOf(flags), (e: Error) => e instanceof CampaignUsageError && expect.test(e.message))
    else assert.equal(filterText(runFilterOf(flags)), expect)
  }
})

test('campaign list and rtype list show state, kind, source, workflows, run types and the last change', () => {
  const d = create(CampaignDefinitionSchema, {
    name: 'timing-2023',
    subsystems: ['ECAL'],
    kind: CampaignKind.LIVE,
    state: CampaignState.PAUSED,
    revision: 3,
    changedBy: 'alice',
    workflows: [{ subsystem: 'ECAL', workflow: 'timing' }],
    runTypes: [{ name: 'physics', tasks: ['timing-reco', 'pedestals'], filter: { runClasses: ['collisions2022'] }, revision: 2 }]
  })
  assert.deepEqual(campaignLines([create(CampaignInfoSchema, { definition: d, source: 'runtime' })]), ['timing-2023\tpaused\tlive\truntime\tECAL\tECAL/timing\trun types physics\trevision 3 by alice'])
  assert.deepEqual(runTypeLines(d), ['physics\ttasks timing-reco,pedestals\tclass collisions2022\trevision 2'])
})
