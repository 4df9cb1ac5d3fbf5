import { test } from 'node:test'
import assert from 'node:assert/strict'
import { create } from '@bufbuild/protobuf'
import { JobRequestSchema } from '@autocal/contracts'
import { imageAllowed, requestProblem } from '../../src/domain/request-check.ts'

const rules = { jobsDir: '/data/jobs', images: ['registry.cern.ch/autocal/ecal-timing:1.2', 'registry.cern.ch/cmssw/*'] }
const provenance = { subsystem: 'ECAL', campaign: 'prompt', workflow: 'timing', blockId: 'run-355100', task: 'timing-reco', taskAttempt: 1, inputRuns: [355100] }

function request (over: { jobId?: string, try?: number, provenance?: Partial<typeof provenance>, outdir?: string, backend?: string, image?: string, argv?: string[], cancel?: boolean, accountingGroup?: string, jobFlavour?: string, passEnv?: string[] } = {}) {
  return create(JobRequestSchema, {
    jobId: over.jobId ?? 'prompt/run-355100/timing-reco/1/0',
    try: over.try ?? 1,
    provenance: { ...provenance, ...over.provenance },
    action: over.cancel === true
      ? { case: 'cancel', value: { reason: 'x' } }
      : { case: 'start', value: { argv: over.argv ?? ['python3', 'reco.py'], outdir: over.outdir ?? '/data/jobs/prompt/run-355100/timing-reco/a1/j0', backend: over.backend ?? 'local', image: over.image ?? '', accountingGroup: over.accountingGroup ?? '', jobFlavour: over.jobFlavour ?? '', passEnv: over.passEnv ?? [] } }
  })
}

test('a well-formed request passes', () => {
  assert.equal(requestProblem(request(), rules), undefined)
  assert.equal(requestProblem(request({ outdir: '' }), rules), undefined, 'no outdir: the executor picks one in its jobs directory')
  assert.equal(requestProblem(request({ backend: 'kubernetes', image: 'registry.cern.ch/autocal/ecal-timing:1.2' }), rules), undefined)
  assert.equal(requestProblem(request({ backend: 'kubernetes', image: 'registry.cern.ch/cmssw/el9:13_0' }), rules), undefined)
  assert.equal(requestProblem(request({ cancel: true }), rules), undefined)
  assert.equal(requestProblem(request({ backend: 'htcondor', accountingGroup: 'group_u_CMS.u_zh', jobFlavour: 'longlunch', passEnv: ['X509_USER_PROXY'] }), rules), undefined)
})

test('a request that breaks a rule is refused, naming the field and the value', () => {
  const cases: Array<[Parameters<typeof request>[0], RegExp]> = [
    [{ provenance: { campaign: '../../etc' } }, /provenance\.campaign: campaign "\.\.\/\.\.\/etc" is not a valid name/],
    [{ provenance: { task: 'a/b' } }, /provenance\.task: task "a\/b" is not a valid name/],
    [{ provenance: { subsystem: 'ecal' } }, /provenance\.subsystem: subsystem "ecal"/],
    [{ provenance: { subsystem: '' } }, /provenance\.subsystem/],
    [{ provenance: { blockId: 'run-1/../../x' } }, /provenance\.block_id: block "run-1\/\.\.\/\.\.\/x"/],
    [{ provenance: { blockId: 'Run2022C' } }, /provenance\.block_id/],
    [{ provenance: { workflow: 'x y' } }, /provenance\.workflow/],
    [{ cancel: true, provenance: { campaign: 'a\nb' } }, /provenance\.campaign/],
    [{ outdir: '/etc/cron.d' }, /outdir "\/etc\/cron\.d" is not inside the executor's jobs directory \/data\/jobs/],
    [{ outdir: '/data/jobs/../conddb' }, /is not inside/],
    [{ outdir: '/data/jobs' }, /is not inside/],
    [{ outdir: '/data/jobs2/x' }, /is not inside/],
    [{ outdir: 'relative/dir' }, /is not inside/],
    [{ backend: 'kubernetes', image: 'docker.io/attacker/miner:latest' }, /image "docker\.io\/attacker\/miner:latest" is not in the executor's allow-list \(AUTOCAL_KUBE_IMAGES\)/],
    [{ backend: 'kubernetes', image: 'registry.cern.ch/autocal/ecal-timing:1.3' }, /not in the executor's allow-list/],
    [{ backend: 'kubernetes', image: '' }, /not in the executor's allow-list/],
    [{ argv: [] }, /argv is empty/],
    [{ jobId: '' }, /job_id "" must be/],
    [{ jobId: 'a b' }, /job_id "a b" must be/],
    [{ jobId: 'a\u001b[2Jb' }, /job_id/],
    [{ jobId: 'a"b' }, /job_id "a\\"b" must be/],
    [{ try: 0 }, /try must be at least 1/],
    [{ accountingGroup: 'group u\nqueue' }, /accounting_group "group u\\nqueue" must be 1–128 of letters, digits and _ \. -/],
    [{ jobFlavour: 'forever' }, /job_flavour "forever" is not one of espresso, microcentury, longlunch, workday, tomorrow, testmatch, nextweek/],
    [{ passEnv: ['AUTOCAL_REDIS_URL'] }, /pass_env: AUTOCAL_REDIS_URL: the executor's AUTOCAL_\* configuration is never passed/],
    [{ passEnv: ['GRID_PASSWORD'] }, /pass_env: GRID_PASSWORD: looks like a secret/]
  ]
  for (const [over, reason] of cases) assert.match(requestProblem(request(over), rules) ?? 'passed', reason, JSON.stringify(over))
})

test('images: exact references, or prefixes ending in *', () => {
  const cases: Array<[string, boolean]> = [
    ['registry.cern.ch/autocal/ecal-timing:1.2', true],
    ['registry.cern.ch/autocal/ecal-timing:1.2-evil', false],
    ['registry.cern.ch/cmssw/anything', true],
    ['registry.cern.ch/cmsswevil/x', false],
    ['', false]
  ]
  for (const [image, allowed] of cases) assert.equal(imageAllowed(image, rules.images), allowed, image)
  assert.equal(imageAllowed('anything', []), false, 'an empty list allows nothing')
})
