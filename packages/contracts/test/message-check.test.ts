import { test } from 'node:test'
import assert from 'node:assert/strict'
import { create, toBinary } from '@bufbuild/protobuf'
import { BinaryWriter } from '@bufbuild/protobuf/wire'
import {
  ConditionEventSchema, ConditionRequestSchema, ControlCommandSchema, JobRequestSchema, JobStatusSchema, RunEventSchema,
  SelectorSchema, TaskEventSchema, DeadLetterSchema, RegistryEntrySchema, CampaignDefinitionSchema
} from '../src/index.ts'
import { messageProblem, operatorReasonProblem, selectorProblem, uint32OverflowProblem } from '../src/message-check.ts'
import type { TopicId } from '../src/topics.ts'

const provenance = { subsystem: 'ECAL', campaign: 'prompt', workflow: 'timing', blockId: 'run-355100', task: 'timing-reco', taskAttempt: 1, inputRuns: [355100] }
const ended = (run: Record<string, unknown>) => create(RunEventSchema, { run: 355100, change: { case: 'ended', value: { run: { run: 355100, era: 'Run2022C', ...run } } } })

const campaign = (patch: Record<string, unknown>) => create(CampaignDefinitionSchema, { name: 'timing-2023', subsystems: ['ECAL'], workflows: [{ subsystem: 'ECAL', workflow: 'timing' }], runTypes: [{ name: 'physics', tasks: ['timing-reco'], filter: { eras: ['Run2023C'] } }], ...patch })

// [topic, message, expected problem (a regexp) or undefined for a valid message]
const table: Array<[TopicId, unknown, RegExp | undefined]> = [
  ['runs', ended({}), undefined],
  ['runs', ended({ era: '' }), undefined],
  ['runs', ended({ era: '../../x' }), /^ended\.run\.era: era "\.\.\/\.\.\/x" is not a valid name/],
  ['runs', ended({ era: 'Run2022C/x' }), /^ended\.run\.era: era "Run2022C\/x"/],
  ['runs', ended({ era: 'Run\u001b]52;c;eA==\u0007' }), /^ended\.run\.era: era "Run\\u001b\]52;c;eA==\\u0007"/],
  ['runs', create(RunEventSchema, { run: 0 }), /^run: run 0 is out of range/],
  ['runs', create(RunEventSchema, { run: 1, campaign: '__proto__' }), /^campaign: campaign "__proto__"/],
  ['runs', create(RunEventSchema, { run: 1, change: { case: 'fcsr', value: { fcsr: 0 } } }), /^fcsr\.fcsr: run 0/],
  ['runs', create(RunEventSchema, { run: 1, change: { case: 'streamDone', value: { stream: 'a\nb', done: true } } }), /^stream_done\.stream: workflow "a\\nb"/],
  ['runRegistry', create(RegistryEntrySchema, { run: 355100, entry: { case: 'runEntry', value: { run: { run: 355100, era: 'Run2022C' }, streams: [{ name: 'Express', done: true }] } } }), undefined],
  ['runRegistry', create(RegistryEntrySchema, { run: 355100, entry: { case: 'runEntry', value: { run: { run: 355101 } } } }), /^run_entry\.run\.run: 355101 is not the entry's run 355100/],
  ['runRegistry', create(RegistryEntrySchema, { run: 355100, entry: { case: 'runEntry', value: { run: { run: 355100, era: '../x' } } } }), /^run_entry\.run\.era: era "\.\.\/x"/],
  ['runRegistry', create(RegistryEntrySchema, { run: 355100, entry: { case: 'runEntry', value: { datasets: [{ name: 'a/b', done: true }] } } }), /^run_entry\.datasets\[0\]\.name: workflow "a\/b"/],
  ['runRegistry', create(RegistryEntrySchema, { run: 0, entry: { case: 'runEntry', value: {} } }), /^run: run 0 is out of range/],
  ['runRegistry', create(RegistryEntrySchema, { run: 355100, entry: { case: 'mark', value: { name: 'fcsr', value: 355100 } } }), undefined],
  ['runRegistry', create(RegistryEntrySchema, { run: 1, entry: { case: 'mark', value: { name: 'fcsr', value: 0 } } }), /^mark\.value: run 0/],
  ['runRegistry', create(RegistryEntrySchema, { run: 1 }), /^entry: missing/],
  ['tasks', create(TaskEventSchema, { subsystem: 'ECAL', campaign: 'prompt', task: 'constructor', block: { id: 'run-1', runs: [1] } }), undefined],
  ['tasks', create(TaskEventSchema, { subsystem: 'ECAL', campaign: 'prompt', task: '__proto__', block: { id: 'run-1', runs: [1] } }), /^task: task "__proto__"/],
  ['tasks', create(TaskEventSchema, { subsystem: 'ECAL', campaign: 'prompt', task: 't', block: { id: 'era-../../x', era: 'Run2022C' } }), /^block\.id: block "era-\.\.\/\.\.\/x"/],
  ['tasks', create(TaskEventSchema, { subsystem: 'ECAL', campaign: 'prompt', task: 't' }), /^block: missing/],
  ['tasks', create(TaskEventSchema, { subsystem: 'ECAL', campaign: 'prompt', task: 't', block: { id: 'run-1' }, conditionTag: 'Tag\r\n' }), /^condition_tag: tag "Tag\\r\\n"/],
  ['jobRequests', create(JobRequestSchema, { jobId: 'prompt/run-1/t/1/0', provenance }), undefined],
  ['jobRequests', create(JobRequestSchema, { jobId: 'prompt/run-1/../../t/1/0', provenance }), /^job_id: id "prompt\/run-1\/\.\.\/\.\.\/t\/1\/0" is not valid/],
  ['jobRequests', create(JobRequestSchema, { jobId: 'a//b', provenance }), /^job_id/],
  ['jobRequests', create(JobRequestSchema, { jobId: 'a' }), /^provenance: missing/],
  ['jobStatus', create(JobStatusSchema, { jobId: 'a', provenance: { ...provenance, campaign: 'x/y' } }), /^provenance\.campaign: campaign "x\/y"/],
  ['jobStatus', create(JobStatusSchema, { jobId: 'a', provenance: { ...provenance, subsystem: 'ecal' } }), /^provenance\.subsystem: subsystem "ecal"/],
  ['jobStatus', create(JobStatusSchema, { jobId: 'a', provenance, results: { ChiSquare: 1 } }), /^results: result "ChiSquare" is not a valid name/],
  ['jobStatus', create(JobStatusSchema, { jobId: 'a', provenance, results: { chi2: Number.NaN } }), /^results\.chi2: NaN is not a finite number/],
  ['conditionRequests', create(ConditionRequestSchema, { requestId: 'prompt/run-1/t/1', destinationTag: 'EcalPedestals_pcl', provenance }), undefined],
  ['conditionRequests', create(ConditionRequestSchema, { requestId: 'prompt/run-1/t/1', destinationTag: 'EcalPedestals_pcl' }), undefined],
  ['conditionRequests', create(ConditionRequestSchema, { requestId: 'prompt/run-1/t/1', destinationTag: 'T', provenance: { ...provenance, blockId: 'run-1/../x' } }), /^provenance\.block_id: block "run-1\/\.\.\/x"/],
  ['conditionRequests', create(ConditionRequestSchema, { requestId: 'prompt/run-1/t/1', destinationTag: 'Ecal\u0007', provenance }), /^destination_tag: tag "Ecal\\u0007"/],
  ['conditionRequests', create(ConditionRequestSchema, { requestId: 'prompt/run-1/t/1', destinationTag: 'T', record: '../r' }), /^record: record "\.\.\/r"/],
  ['conditions', create(ConditionEventSchema, { requestId: 'prompt/run-1/t/1', tag: 'T' }), undefined],
  ['conditions', create(ConditionEventSchema, { requestId: 'p\nx', tag: 'T' }), /^request_id: id "p\\nx"/],
  ['conditions', create(ConditionEventSchema, { requestId: 'a/b/c/1', tag: 'T', provenance: { ...provenance, inputRuns: [1, 0] } }), /^provenance\.input_runs\[1\]: run 0/],
  ['control', create(ControlCommandSchema, { commandId: 'c-1', subsystem: 'ECAL,PPS', selector: { campaign: 'prompt', runs: [1] }, action: { case: 'reprocess', value: {} } }), undefined],
  ['control', create(ControlCommandSchema, { commandId: 'c-1', subsystem: 'ECAL,../x' }), /^subsystem: subsystem "\.\.\/x"/],
  ['control', create(ControlCommandSchema, { commandId: 'c-1', selector: { campaign: 'prompt', tasks: ['constructor', 'a b'] } }), /^selector\.tasks\[1\]: task "a b"/],
  ['control', create(ControlCommandSchema, { commandId: 'c-1', action: { case: 'injectRuns', value: { records: [{ run: 5, era: '..' }] } } }), /^inject_runs\.records\[0\]\.era: era "\.\."/],
  ['control', create(ControlCommandSchema, { commandId: 'c-1', action: { case: 'injectRuns', value: { eras: ['Run2022C'], ranges: [{ firstRun: 355100, lastRun: 355120 }] } } }), undefined],
  ['control', create(ControlCommandSchema, { commandId: 'c-1', action: { case: 'injectRuns', value: { eras: ['Run2022C/../x'] } } }), /^inject_runs\.eras\[0\]: era "Run2022C\/\.\.\/x"/],
  ['control', create(ControlCommandSchema, { commandId: 'c-1', action: { case: 'injectRuns', value: { ranges: [{ firstRun: 5, lastRun: 4 }] } } }), /^inject_runs\.ranges\[0\]: first_run 5 is after last_run 4/],
  ['control', create(ControlCommandSchema, { commandId: 'c-1', action: { case: 'injectRuns', value: { ranges: [{ firstRun: 0, lastRun: 4 }] } } }), /^inject_runs\.ranges\[0\]\.first_run: run 0/],
  ['control', create(ControlCommandSchema, { commandId: 'c-1', action: { case: 'approveCondition', value: { requestId: '/etc/passwd' } } }), /^approve_condition\.request_id: id "\/etc\/passwd"/],
  ['dlq', create(DeadLetterSchema, { topic: '../../x\u001b' }), undefined],
  ['campaigns', campaign({}), undefined],
  ['campaigns', campaign({ name: '../x' }), /^name: campaign "\.\.\/x"/],
  ['campaigns', campaign({ subsystems: ['ECAL', 'ecal'] }), /^subsystems\[1\]: subsystem "ecal"/],
  ['campaigns', campaign({ workflows: [{ subsystem: 'ECAL', workflow: 'a/b' }] }), /^workflows\[0\]\.workflow: workflow "a\/b"/],
  ['campaigns', campaign({ runTypes: [{ name: 'physics', tasks: ['__proto__'] }] }), /^run_types\[0\]\.tasks\[0\]: task "__proto__"/],
  ['campaigns', campaign({ runTypes: [{ name: 'physics', tasks: ['t'], filter: { eras: ['Run2022C\n'] } }] }), /^run_types\[0\]\.filter\.eras\[0\]: era "Run2022C\\n"/],
  ['campaigns', campaign({ conditions: { tags: { 'a b': { tag: 'T', sync: 'offline' } } } }), /^conditions\.tags\["a b"\]: task "a b"/],
  ['campaigns', campaign({ conditions: { tags: { t: { tag: 'T\u0007', sync: 'offline' } } } }), /^conditions\.tags\["t"\]\.tag: tag "T\\u0007"/]
]

test('every topic\'s names, ids and runs are checked, the problem names the field and the escaped value', () => {
  for (const [topic, message, expected] of table) {
    const problem = messageProblem(topic, message)
    if (expected === undefined) assert.equal(problem, undefined, `${topic}: ${problem ?? ''}`)
    else assert.match(problem ?? 'no problem found', expected, topic)
  }
})

test('a selector: names, runs, and first run after last run', () => {
  const cases: Array<[Record<string, unknown>, RegExp | undefined]> = [
    [{ campaign: 'prompt', firstRun: 1, lastRun: 2 ** 32 - 1 }, undefined],
    [{ campaign: 'prompt', firstRun: 10, lastRun: 5 }, /first_run 10 is after last_run 5/],
    [{ campaign: 'a\u001b[2Jb' }, /^selector\.campaign: campaign "a\\u001b\[2Jb"/],
    [{ blockIds: ['run-1', 'run-1/../x'] }, /^selector\.block_ids\[1\]/],
    [{ runs: [1, 2 ** 32] }, /^selector\.runs\[1\]: run 4294967296 is out of range/]
  ]
  for (const [fields, expected] of cases) {
    const problem = selectorProblem({ ...create(SelectorSchema, {}), ...fields })
    if (expected === undefined) assert.equal(problem, undefined)
    else assert.match(problem ?? 'no problem found', expected)
  }
})

test('a uint32 wider than 32 bits on the wire is found, also nested and packed; valid bytes pass', () => {
  const top = new BinaryWriter().tag(1, 0).uint64(2n ** 32n + 5n).finish()
  assert.equal(uint32OverflowProblem(RunEventSchema, top), 'run: 4294967301 does not fit in uint32 (expected 0 ≤ value < 2^32)')
  // RunEvent.ended (12) → RunEnded.run (1) → Run.fill (2)
  const run = new BinaryWriter().tag(1, 0).uint32(7).tag(2, 0).uint64(2n ** 40n).finish()
  const endedMsg = new BinaryWriter().tag(1, 2).bytes(run).finish()
  const nested = new BinaryWriter().tag(1, 0).uint32(7).tag(12, 2).bytes(endedMsg).finish()
  assert.equal(uint32OverflowProblem(RunEventSchema, nested), `ended.run.fill: ${2n ** 40n} does not fit in uint32 (expected 0 ≤ value < 2^32)`)
  // Selector.runs (3), packed
  const packed = new BinaryWriter().tag(3, 2).fork().uint32(1).uint64(2n ** 32n).join().finish()
  assert.match(uint32OverflowProblem(SelectorSchema, packed) ?? '', /^runs: 4294967296 does not fit/)
  const good = toBinary(RunEventSchema, ended({ fill: 8102 }))
  assert.equal(uint32OverflowProblem(RunEventSchema, good), undefined)
})

test('taskResults: one job\'s results as they are; several jobs\' named per job', async () => {
  const { taskResults } = await import('../src/job-results.ts')
  assert.deepEqual(taskResults([{ index: 0, results: { chi2: 1 } }]), { chi2: 1 })
  assert.deepEqual(taskResults([{ index: 0, results: { chi2: 1 } }, { index: 1, results: { chi2: 2, hits: 3 } }, { index: 2 }]), { chi2_j0: 1, chi2_j1: 2, hits_j1: 3 })
  assert.deepEqual(taskResults([]), {})
})

test('an operator\'s reason is required, at most 500 characters and plain text', () => {
  const cases: Array<[string, RegExp | undefined]> = [
    ['calibration did not converge, rerun with more events', undefined],
    ['accents é and CJK 校准 are text', undefined],
    ['', /^reason: a reason is required/],
    ['   ', /^reason: a reason is required/],
    ['x'.repeat(501), /^reason: at most 500 characters \(got 501\)$/],
    ['ok\u001b[2J', /^reason: contains the control character U\+001B at position 3/],
    ['line\nbreak', /U\+000A at position 5/],
    ['tab\there', /U\+0009/],
    ['del\u007f', /U\+007F/],
    ['c1\u0085', /U\+0085/],
    ['bidi \u202eevil', /U\+202E at position 6/],
    ['isolate \u2066x', /U\+2066/]
  ]
  for (const [reason, expected] of cases) {
    const problem = operatorReasonProblem(reason)
    if (expected === undefined) assert.equal(problem, undefined, JSON.stringify(reason))
    else assert.match(problem ?? 'no problem found', expected, JSON.stringify(reason))
  }
})
