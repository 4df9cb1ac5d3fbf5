import { test } from 'node:test'
import assert from 'node:assert/strict'
import { durationText, forceGates, gateTimeoutDecision, gateTimeoutDue, gateTimeoutOf, waitingSince, type GateTimeoutRule } from '../../src/domain/gate-timeout.ts'
import { transition, type Task, type TaskEventInput, type TaskSpec, type TaskStateName } from '../../src/domain/task-state.ts'
import { validateWorkflow } from '../../src/domain/workflow.ts'
import { specOf } from '../../src/domain/catalog.ts'
import type { BlockState } from '../../src/domain/block-grouping.ts'

const rule = (afterS: number, policy: GateTimeoutRule['policy']): GateTimeoutRule => ({ afterS, policy })

test('the gate clock runs only while readiness gates alone are pending', () => {
  const table: Array<[string[], number | undefined, number, number | undefined]> = [
    [['t0StreamDone:Express'], undefined, 50, 50],
    [['t0StreamDone:Express', 'minLumi:5'], 10, 50, 10],
    [['http'], 10, 50, 10],
    [['block-closed', 't0StreamDone:Express'], 10, 50, undefined],
    [['needs:reco', 'minDuration:3600s'], undefined, 50, undefined],
    [['blocked:reco:failed'], 10, 50, undefined],
    [['concurrency:2'], 10, 50, undefined],
    [[], 10, 50, undefined]
  ]
  for (const [pending, since, now, expected] of table) assert.equal(waitingSince(pending, since, now), expected, pending.join())
})

test('a gate timeout decides by its policy once the timeout passed on the clock', () => {
  const table: Array<{ rule?: GateTimeoutRule, pending: string[], since?: number, now: number, expect: string }> = [
    { pending: ['t0StreamDone:Express'], since: 0, now: 1e12, expect: 'wait' },
    { rule: rule(2, 'fail'), pending: ['t0StreamDone:Express'], now: 1e12, expect: 'wait' },
    { rule: rule(2, 'fail'), pending: ['t0StreamDone:Express'], since: 1000, now: 2999, expect: 'wait' },
    { rule: rule(2, 'fail'), pending: ['t0StreamDone:Express'], since: 1000, now: 3000, expect: 'fail:t0StreamDone:Express' },
    { rule: rule(2, 'skip'), pending: ['t0StreamDone:Express', 'http'], since: 1000, now: 9000, expect: 'skip:t0StreamDone:Express,http' },
    { rule: rule(43_200, 'run'), pending: ['minLumi:5'], since: 0, now: 43_200_000, expect: 'run:minLumi:5' },
    { rule: rule(2, 'run'), pending: [], since: 0, now: 9000, expect: 'wait' }
  ]
  for (const c of table) {
    const d = gateTimeoutDecision(c.rule, c.pending, c.since, c.now)
    assert.equal(d.kind === 'wait' ? 'wait' : `${d.policy}:${d.gates.join()}`, c.expect, JSON.stringify(c))
  }
})

test('a timeout is due for a waiting task once, not again after its policy applied', () => {
  assert.equal(gateTimeoutDue(rule(2, 'fail'), { forced: [], waitingSinceMs: 0 }, 1999), false)
  assert.equal(gateTimeoutDue(rule(2, 'fail'), { forced: [], waitingSinceMs: 0 }, 2000), true)
  assert.equal(gateTimeoutDue(undefined, { forced: [], waitingSinceMs: 0 }, 9000), false)
  assert.equal(gateTimeoutDue(rule(2, 'fail'), { forced: [] }, 9000), false)
  assert.equal(gateTimeoutDue(rule(2, 'run'), { forced: [], waitingSinceMs: 0, timedOut: { gates: ['http'], policy: 'run', afterS: 2, atMs: 2000 } }, 9000), false)
})

test('durations read as an operator writes them', () => {
  for (const [s, text] of [[43_200, '12h'], [5400, '1h30m'], [2, '2s'], [0, '0s'], [90_061, '1d1h1m1s']] as const) assert.equal(durationText(s), text)
})

test('gate force opens the named pending readiness gate, or all of them, and refuses the rest with the reason', () => {
  const pending = ['t0StreamDone:Express', 't0StreamDone:ALCAPHISYM', 'http']
  const table: Array<{ state?: string, pending?: string[], gate?: string, expect: string | RegExp }> = [
    { expect: 'force:t0StreamDone:Express,t0StreamDone:ALCAPHISYM,http' },
    { gate: 'http', expect: 'force:http' },
    { gate: 't0StreamDone:ALCAPHISYM', expect: 'force:t0StreamDone:ALCAPHISYM' },
    { gate: 't0StreamDone', expect: /names 2 pending gates .*name one of them/ },
    { gate: 'minLumi', expect: /not waiting on gate 'minLumi' \(it waits on t0StreamDone:Express/ },
    { state: 'processing', expect: /the task is processing, not waiting on a gate/ },
    { state: 'new', expect: /the task is new, not waiting on a gate/ },
    { pending: ['block-closed'], expect: /no readiness gate to force .*autocal block close/ },
    { pending: ['needs:reco'], gate: 'needs:reco', expect: /cannot be forced: an upstream task is not done/ },
    { pending: ['blocked:reco:failed'], gate: 'blocked', expect: /cannot be forced: .*reprocess it/ },
    { pending: ['concurrency:2'], gate: 'concurrency:2', expect: /cannot be forced: a concurrency limit opens by itself/ },
    { pending: ['block-closed', 'minLumi:5'], expect: 'force:minLumi:5' }
  ]
  for (const c of table) {
    const d = forceGates(c.state ?? 'waiting', c.pending ?? pending, c.gate)
    const got = d.kind === 'force' ? `force:${d.gates.join()}` : d.reason
    if (typeof c.expect === 'string') assert.equal(got, c.expect, JSON.stringify(c))
    else assert.match(got, c.expect, JSON.stringify(c))
  }
})

test('the YAML gate timeout: defaults, and every problem named at its key', () => {
  const gates = { t0StreamDone: ['Express'], t0DatasetDone: [] }
  const none = { t0StreamDone: [], t0DatasetDone: [] }
  const table: Array<{ when?: { timeout?: string | number, onTimeout?: 'fail' | 'skip' | 'run' }, g?: typeof gates & { minLumiPb?: number }, expect: string }> = [
    { expect: 'ok:none' },
    { when: { timeout: '12h' }, expect: 'ok:43200:fail' },
    { when: { timeout: '2s', onTimeout: 'run' }, expect: 'ok:2:run' },
    { when: { timeout: 30, onTimeout: 'skip' }, g: { ...none, minLumiPb: 5 }, expect: 'ok:30:skip' },
    // a fraction of a second is rounded up to whole seconds (GateTimeout.after_s is a uint32: found by a reviewer,
    // 0.5 left the task waiting for ever, the planner unable to encode its event)
    { when: { timeout: 0.5, onTimeout: 'skip' }, expect: 'ok:1:skip' },
    { when: { timeout: '1.5s' }, expect: 'ok:2:fail' },
    { when: { timeout: '0.001h' }, expect: 'ok:4:fail' },
    { when: { onTimeout: 'skip' }, expect: 'onTimeout:`onTimeout` needs `timeout`' },
    { when: { timeout: '0s' }, expect: 'timeout:a gate timeout must be longer than 0 s' },
    { when: { timeout: 5e9 }, expect: 'timeout:a gate timeout must be at most 4294967295 s' },
    { when: { timeout: '1h' }, g: none, expect: 'timeout:a gate timeout needs a readiness gate to end' }
  ]
  for (const c of table) {
    const d = gateTimeoutOf(c.when, c.g ?? gates)
    const got = d.kind === 'ok' ? `ok:${d.rule === undefined ? 'none' : `${d.rule.afterS}:${d.rule.policy}`}` : `${d.key}:${d.problem}`
    assert.ok(got.startsWith(c.expect), `${JSON.stringify(c)} → ${got}`)
  }
})

test('workflow validation reports gate timeout problems as file:line:col and puts the rule into the task spec', () => {
  const yaml = (when: string): string => `subsystem: ECAL
workflow: timing
tasks:
  - name: reco
    when: ${when}
    run: [python3, reco.py]
`
  const ok = validateWorkflow({ name: 'w.yaml', content: yaml('{ t0StreamDone: Express, timeout: 12h, onTimeout: skip }'), dir: '/wf' })
  assert.deepEqual(ok.errors, [])
  const def = ok.workflow?.tasks[0]
  assert.ok(def !== undefined)
  assert.deepEqual(specOf('prompt', def).gateTimeout, { afterS: 43_200, policy: 'skip' })
  assert.deepEqual(validateWorkflow({ name: 'w.yaml', content: yaml('{ t0StreamDone: Express, onTimeout: skip }'), dir: '/wf' }).errors,
    ['w.yaml:5:47 tasks.0.when.onTimeout: `onTimeout` needs `timeout`: how long the readiness gates may stay closed, e.g. timeout: 12h'])
  assert.deepEqual(validateWorkflow({ name: 'w.yaml', content: yaml('{ timeout: 1h }'), dir: '/wf' }).errors,
    ['w.yaml:5:22 tasks.0.when.timeout: a gate timeout needs a readiness gate to end (t0StreamDone, t0DatasetDone, minDuration, minLumi, http); this task declares none'])
  const bad = validateWorkflow({ name: 'w.yaml', content: yaml('{ t0StreamDone: Express, timeout: 1h, onTimeout: retry }'), dir: '/wf' }).errors
  assert.equal(bad.length, 1)
  assert.match(bad[0] ?? '', /^w\.yaml:5:\d+ tasks\.0\.when\.onTimeout: .*"fail"\|"skip"\|"run"/)
})

// the state machine applies the decisions
const block: BlockState = { id: 'fill-8128', kind: 'fill', runs: [357478, 357479], fill: 8128, era: 'Run2022D', recordedLumiPb: 40, closed: true, closedReason: 'next-fill', openedAtMs: 0 }
const spec = (policy?: GateTimeoutRule['policy']): TaskSpec => ({ subsystem: 'ECAL', campaign: 'prompt', workflow: 'timing', workflowVersion: 'v', task: 'timing-reco', jobs: 2, retries: 1, backoffS: 10, conditionTag: '', conditionSync: '', signOff: false, ...(policy === undefined ? {} : { gateTimeout: rule(2, policy) }) })
const gates = (s: TaskSpec, pending: string[]): TaskEventInput => ({ kind: 'gates', spec: s, pending })
const force = (s: TaskSpec, gate?: string): TaskEventInput => ({ kind: 'force-gates', spec: s, actor: 'alice', reason: 'T0 stream stuck, data checked by hand', commandId: 'c9', ...(gate === undefined ? {} : { gate }) })

function play (s: TaskSpec, steps: Array<[TaskEventInput, number]>): { task: Task, effects: string[] } {
  let task = transition(undefined, { kind: 'plan', spec: s, block }, 0).task
  const effects: string[] = []
  for (const [e, now] of steps) {
    const r = transition(task, e, now)
    task = r.task
    effects.push(...r.effects.map(x => x.kind === 'start-job' ? `start:${x.index}` : x.kind))
  }
  return { task, effects }
}

test('a task whose readiness gates stay closed past the timeout ends by its policy, with the reason and the record', () => {
  const stuck = ['t0StreamDone:Express']
  const table: Array<{ name: string, s: TaskSpec, steps: Array<[TaskEventInput, number]>, state: TaskStateName, reason: RegExp, effects: string[], timedOut?: string }> = [
    { name: 'no timeout: waits for ever', s: spec(), steps: [[gates(spec(), stuck), 1000], [gates(spec(), stuck), 1e12]], state: 'waiting', reason: /^waiting on t0StreamDone:Express$/, effects: [] },
    { name: 'before the timeout: waiting', s: spec('fail'), steps: [[gates(spec('fail'), stuck), 1000], [gates(spec('fail'), stuck), 2999]], state: 'waiting', reason: /^waiting on/, effects: [] },
    { name: 'fail', s: spec('fail'), steps: [[gates(spec('fail'), stuck), 1000], [gates(spec('fail'), stuck), 3000]], state: 'failed', reason: /^gate t0StreamDone:Express timed out after 2s \(onTimeout: fail\)$/, effects: [], timedOut: 'fail' },
    { name: 'skip', s: spec('skip'), steps: [[gates(spec('skip'), stuck), 1000], [gates(spec('skip'), stuck), 3000]], state: 'skipped', reason: /^gate t0StreamDone:Express timed out after 2s \(onTimeout: skip\)$/, effects: [], timedOut: 'skip' },
    { name: 'run', s: spec('run'), steps: [[gates(spec('run'), stuck), 1000], [gates(spec('run'), stuck), 3000]], state: 'processing', reason: /timed out after 2s \(onTimeout: run\): dispatched with t0StreamDone:Express not open; 2 job\(s\) requested/, effects: ['start:0', 'start:1'], timedOut: 'run' },
    { name: 'the clock starts when the block closed and upstream is done, not before', s: spec('fail'), steps: [[gates(spec('fail'), ['needs:reco', ...stuck]), 0], [gates(spec('fail'), stuck), 5000], [gates(spec('fail'), stuck), 6999]], state: 'waiting', reason: /^waiting on/, effects: [] },
    { name: 'gates that open in time dispatch', s: spec('fail'), steps: [[gates(spec('fail'), stuck), 1000], [gates(spec('fail'), []), 2500]], state: 'processing', reason: /^gates open; 2 job/, effects: ['start:0', 'start:1'] }
  ]
  for (const c of table) {
    const { task, effects } = play(c.s, c.steps)
    assert.equal(task.state, c.state, c.name)
    assert.match(task.reason, c.reason, c.name)
    assert.deepEqual(effects, c.effects, c.name)
    assert.equal(task.gates?.timedOut?.policy, c.timedOut, c.name)
    if (c.timedOut !== undefined) assert.deepEqual(task.gates?.timedOut?.gates, stuck, c.name)
  }
})

test('a forced gate opens for the attempt with who and why recorded; reprocess forgets it', () => {
  const s = spec()
  const both = ['t0StreamDone:Express', 'http']
  const one = play(s, [[gates(s, both), 1000], [force(s, 'http'), 2000]])
  assert.equal(one.task.state, 'waiting')
  assert.deepEqual(one.task.pendingGates, ['t0StreamDone:Express'])
  assert.match(one.task.reason, /^gate force by alice: http \(T0 stream stuck, data checked by hand\); waiting on t0StreamDone:Express$/)
  assert.deepEqual(one.task.gates?.forced, [{ gate: 'http', actor: 'alice', reason: 'T0 stream stuck, data checked by hand', commandId: 'c9', atMs: 2000 }])
  // the next evaluation still finds http closed: it stays forced open
  const again = transition(one.task, gates(s, both), 3000)
  assert.equal(again.changed, false)
  const all = transition(one.task, force(s), 4000)
  assert.equal(all.task.state, 'processing')
  assert.equal(all.task.actor, 'alice')
  assert.equal(all.task.commandId, 'c9')
  assert.deepEqual(all.effects.map(e => e.kind), ['start-job', 'start-job'])
  assert.deepEqual(all.task.gates?.forced.map(f => f.gate), ['http', 't0StreamDone:Express'])
  const refused = transition(all.task, force(s), 5000)
  assert.equal(refused.changed, false)
  assert.equal(refused.ignored, 'the task is processing, not waiting on a gate')
  const re = transition(all.task, { kind: 'reprocess', actor: 'alice', reason: 'again', commandId: 'c10' }, 6000)
  assert.equal(re.task.gates, undefined)
})
