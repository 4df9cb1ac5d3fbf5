import { test } from 'node:test'
import assert from 'node:assert/strict'
import { FcsrPolicy } from '@autocal/contracts'
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { conditionRequest, startJob } from '../src/effects.ts'
import { buildCatalog } from '../src/domain/catalog.ts'
import { transition, type Task, type TaskOutput } from '../src/domain/task-state.ts'
import { validateWorkflow } from '../src/domain/workflow.ts'
import type { BlockState } from '../src/domain/block-grouping.ts'

const wf = (condition: string, campaigns = 'campaigns: [{ name: prompt, conditions: { writePromptTags: true } }, { name: rereco, conditions: { dryRun: false, destinationDatabase: "oracle://prep", tags: { calib: { tag: EcalT_rereco_offline, sync: offline } } } }]\n'): ReturnType<typeof buildCatalog> => {
  const r = validateWorkflow({
    name: 'w.yaml',
    dir: '/wf',
    content: `subsystem: ECAL
workflow: timing
${campaigns}tasks:
  - name: calib
    jobs: 2
    run: [x, "{outdir}"]
    condition: ${condition}
  - name: hlt-validation
    needs: [calib]
    run: [x, "{inputs}"]
`
  })
  assert.deepEqual(r.errors, [])
  return buildCatalog([r.workflow!])
}
const base = '{ tag: EcalT_prompt, record: EcalTRcd, sync: prompt, inputTag: EcalT_calib'
const block: BlockState = { id: 'fill-8102', kind: 'fill', runs: [355100, 355101], fill: 8102, era: 'Run2022C', recordedLumiPb: 3, closed: true, closedReason: 'next-fill', openedAtMs: 0 }
const payload: TaskOutput = { path: '/data/jobs/prompt/fill-8102/calib/a1/j1/t.db', sizeBytes: 10, sha256: 's', label: 'condition' }

function doneTask (campaign: string, name: string, outputs: TaskOutput[][]): Task {
  const t = transition(undefined, { kind: 'plan', spec: { subsystem: 'ECAL', campaign, workflow: 'timing', workflowVersion: 'v', task: name, jobs: outputs.length, retries: 0, backoffS: 1, conditionTag: 'x', conditionSync: 'prompt', signOff: false }, block }, 0).task
  return { ...t, state: 'done', outputs: outputs.flat(), jobs: outputs.map((o, index) => ({ index, state: 'done', try: 1, reason: '', outputs: o, logUrl: `http://log/${index}` })) }
}

test('the request carries the condition\'s checks, since, output directory and the campaign\'s target', () => {
  const catalog = wf(`${base}, checks: { minSizeBytes: 5, timeType: Run }, optional: true }`)
  const t = doneTask('prompt', 'calib', [[], [payload]])
  const r = conditionRequest(t, catalog.task('prompt', 'calib')!, t, '/data', { check: false, expectedPayloadHash: '' })
  assert.ok(!('missing' in r))
  const m = r.message
  assert.deepEqual({ id: m.requestId, file: m.payloadFile, tag: m.destinationTag, db: m.destinationDatabase, since: m.since, dryRun: m.dryRun, checks: m.checks, optional: m.optionalPayload, dir: m.outputDir, log: m.logUrl, policy: m.fcsrPolicy, input: m.inputTag },
    { id: 'prompt/fill-8102/calib/1', file: payload.path, tag: 'EcalT_prompt', db: '', since: 355100n, dryRun: false, checks: { min_size_bytes: '5', time_type: 'Run' }, optional: true, dir: '/data/jobs/prompt/fill-8102/calib/a1/j1/t1', log: 'http://log/1', policy: FcsrPolicy.MOVE, input: 'EcalT_calib' })
  assert.equal(r.eventId, 'conditions.requests/prompt/fill-8102/calib/1')
})

test('a Time payload on a fill block is sent without a since (the IOVs\' own sinces)', () => {
  const catalog = wf(`${base}, checks: { timeType: Time } }`)
  const t = doneTask('prompt', 'calib', [[payload]])
  const r = conditionRequest(t, catalog.task('prompt', 'calib')!, t, '/data', { check: false, expectedPayloadHash: '' })
  assert.ok(!('missing' in r))
  assert.equal(r.message.since, undefined)
})

test('a reprocessing campaign writes to its own tag and database', () => {
  const catalog = wf(`${base} }`)
  const t = doneTask('rereco', 'calib', [[payload]])
  const r = conditionRequest(t, catalog.task('rereco', 'calib')!, t, '/data', { check: false, expectedPayloadHash: '' })
  assert.ok(!('missing' in r))
  assert.deepEqual([r.message.destinationTag, r.message.synchronization, r.message.destinationDatabase, r.message.dryRun], ['EcalT_rereco_offline', 'offline', 'oracle://prep', false])
})

test('the check before a sign-off is a dry run with its own id; the approved upload carries the checked hash', () => {
  const catalog = wf(`${base}, signOff: required }`)
  const t = doneTask('prompt', 'calib', [[payload]])
  const check = conditionRequest(t, catalog.task('prompt', 'calib')!, t, '/data', { check: true, expectedPayloadHash: '' })
  const upload = conditionRequest(t, catalog.task('prompt', 'calib')!, t, '/data', { check: false, expectedPayloadHash: 'h1' })
  assert.ok(!('missing' in check) && !('missing' in upload))
  assert.deepEqual([check.message.requestId, check.message.dryRun, check.eventId], ['prompt/fill-8102/calib/1/check', true, 'conditions.requests/prompt/fill-8102/calib/1/check'])
  assert.deepEqual([upload.message.requestId, upload.message.dryRun, upload.message.expectedPayloadHash], ['prompt/fill-8102/calib/1', false, 'h1'])
})

test('a promotion has its own id and database, is never a dry run and carries the recorded hash', () => {
  const catalog = wf(`${base} }`, 'campaigns: [{ name: prompt, conditions: { writePromptTags: true, dryRun: true } }]\n')
  const t = doneTask('prompt', 'calib', [[payload]])
  const r = conditionRequest(t, catalog.task('prompt', 'calib')!, t, '/data', { check: false, expectedPayloadHash: 'h1', promotion: { requestId: 'prompt/fill-8102/calib/1/promote/c1', destinationDatabase: 'oracle://prod' } })
  assert.ok(!('missing' in r))
  assert.deepEqual([r.message.requestId, r.message.destinationDatabase, r.message.dryRun, r.message.expectedPayloadHash], ['prompt/fill-8102/calib/1/promote/c1', 'oracle://prod', false, 'h1'])
  assert.match(r.message.userText, /promoted from prompt\/fill-8102\/calib\/1$/)
})

test('a validation task uploads the payload of the task it validates', () => {
  const catalog = wf(`${base}, validatedBy: hlt-validation }`)
  const calib = doneTask('prompt', 'calib', [[payload]])
  const validation = doneTask('prompt', 'hlt-validation', [[{ path: '/data/v/report.json', sizeBytes: 1, sha256: 'v', label: '' }]])
  const def = catalog.task('prompt', 'hlt-validation')!
  const r = conditionRequest(validation, def, calib, '/data', { check: false, expectedPayloadHash: '' })
  assert.ok(!('missing' in r))
  assert.deepEqual([r.message.requestId, r.message.payloadFile, r.message.outputDir, r.message.destinationTag], ['prompt/fill-8102/hlt-validation/1', payload.path, '/data/jobs/prompt/fill-8102/calib/a1/j0/t1', 'EcalT_prompt'])
  assert.match(r.message.userText, /\(payload of calib, validated by hlt-validation\)/)
})

test('no payload output: an optional condition is still requested (no new payload), a required one is missing', () => {
  const optional = wf(`${base}, optional: true }`)
  const t = doneTask('prompt', 'calib', [[{ path: '/data/x/log.txt', sizeBytes: 1, sha256: 'l', label: '' }]])
  const r = conditionRequest(t, optional.task('prompt', 'calib')!, t, '/data', { check: false, expectedPayloadHash: '' })
  assert.ok(!('missing' in r))
  assert.deepEqual([r.message.payloadFile, r.message.optionalPayload, r.message.outputDir], ['', true, '/data/jobs/prompt/fill-8102/calib/a1/j0/t1'])
  const required = wf(`${base} }`)
  assert.deepEqual(conditionRequest(t, required.task('prompt', 'calib')!, t, '/data', { check: false, expectedPayloadHash: '' }), { missing: 'no job output is labelled "condition" or ends in .db' })
})

test('each try of a job has its own output directory: a retry is not overwritten by the try before it, and the upload reads the writing try\'s directory', () => {
  const catalog = wf(`${base} }`)
  const def = { ...catalog.task('prompt', 'calib')!, run: ['sh', '-c', 'echo "$1" > "$2/result.txt"', 'job', '{attempt}', '{outdir}'] }
  const t = doneTask('prompt', 'calib', [[], []])
  const dataDir = mkdtempSync(join(tmpdir(), 'autocal-tries-'))
  const first = startJob(t, def, 1, 1, [], dataDir).message
  const second = startJob(t, def, 1, 2, [], dataDir).message
  const outdirs = [first, second].map(m => m.action.case === 'start' ? m.action.value.outdir : '')
  assert.deepEqual(outdirs, [`${dataDir}/jobs/prompt/fill-8102/calib/a1/j1/t1`, `${dataDir}/jobs/prompt/fill-8102/calib/a1/j1/t2`])
  const run = (m: typeof first, text: string): void => {
    if (m.action.case !== 'start') return
    const argv = m.action.value.argv.map(a => a === '1' ? text : a)
    mkdirSync(m.action.value.outdir, { recursive: true })
    execFileSync(argv[0]!, argv.slice(1))
  }
  // the retry ends first; the first try (released late by a batch system) ends after it
  run(second, 'second try')
  run(first, 'first try')
  assert.equal(readFileSync(join(outdirs[1]!, 'result.txt'), 'utf8'), 'second try\n')
  assert.equal(readFileSync(join(outdirs[0]!, 'result.txt'), 'utf8'), 'first try\n')
  // the payload written by job 1's second try is uploaded from that try's directory
  const retried: Task = { ...t, jobs: [t.jobs[0]!, { ...t.jobs[1]!, try: 2, outputs: [{ ...payload, path: `${outdirs[1]!}/t.db` }] }], outputs: [{ ...payload, path: `${outdirs[1]!}/t.db` }] }
  const r = conditionRequest(retried, def, retried, dataDir, { check: false, expectedPayloadHash: '' })
  assert.ok(!('missing' in r))
  assert.equal(r.message.outputDir, outdirs[1])
})

test('a job request carries the task\'s resources and batch options', () => {
  const catalog = wf(`${base} }`)
  const def = { ...catalog.task('prompt', 'calib')!, backend: 'htcondor' as const, resources: { cpus: 4, memoryMb: 8192, diskMb: 100 }, batch: { accountingGroup: 'group_u_CMS.u_zh', jobFlavour: 'workday' }, passEnv: ['X509_USER_PROXY'] }
  const m = startJob(doneTask('prompt', 'calib', [[]]), def, 0, 1, [], '/data').message
  assert.equal(m.action.case, 'start')
  const start = m.action.value as Extract<typeof m.action, { case: 'start' }>['value']
  assert.deepEqual([start.resources?.cpus, start.resources?.memoryMb, start.resources?.diskMb], [4, 8192, 100])
  assert.deepEqual([start.accountingGroup, start.jobFlavour, start.passEnv], ['group_u_CMS.u_zh', 'workday', ['X509_USER_PROXY']])
})
