// Operator actions on blocks and gates (issue 15) from the real CLI, through
// the real dispatcher (a child process) on real Kafka and Redis with the real
// job-executor: fill 8120 (runs 357400, 357401) has no later fill, so its block
// stays open; `autocal block close` closes it and its task waits on a Tier-0
// stream that never completes; `autocal gate force` opens that gate and the
// task runs. Every refusal says what is wrong; every action, accepted or
// refused, is on the audit topic with who and why.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { TaskState, topics, type AuditRecord } from '@autocal/contracts'
import { startConsumer } from '@autocal/runtime'
import { runCli } from '../../../../packages/cli/src/cli.ts'
import { realRuns, runEvents, silentLogger, startWorkflowSystem, startedJobs, until, workflowsDir } from './fixtures.ts'

const workflow = `subsystem: ECAL
workflow: gate-force-demo
tasks:
  - name: fill-reco
    block: fill
    when: { t0StreamDone: NeverCompletes }
    run: [python3, ${workflowsDir}/scripts/process_block.py, --step, fill-reco, --runs, "{runs}", --job, "{job}", --out, "{outdir}"]
`
const tokens = { 'admin-token-1': { principal: 'ops', subsystems: '*' }, 'pps-token-123': { principal: 'bob', subsystems: ['PPS'] } }

test('block close and gate force from the CLI: clear refusals, the block closed with its runs, the gate forced with who and why, all audited', { timeout: 180_000 }, async () => {
  await using system = await startWorkflowSystem('gate-force-demo', workflow, { AUTOCAL_CONTROL_TOKENS: JSON.stringify(tokens) })
  const { backends, client, producer, config, dispatcher } = system
  const audits: AuditRecord[] = []
  await using observer = await startConsumer({ config, logger: silentLogger, service: 'test-observer', producer, group: 'test-observer', handlers: { audit: async r => { audits.push(r) } } })
  void observer
  const cli = async (token: string, ...argv: string[]): Promise<{ code: number, out: string, err: string }> => {
    let out = ''
    let err = ''
    const code = await runCli(argv, { stdout: { write: s => { out += s } }, stderr: { write: s => { err += s } }, env: { AUTOCAL_CONTROL_URL: `127.0.0.1:${dispatcher.grpcPort}`, AUTOCAL_TOKEN: token } })
    return { code, out, err }
  }
  const ops = async (...argv: string[]) => await cli('admin-token-1', ...argv)
  const fillTask = async () => (await client.listTasks({ selector: { campaign: 'prompt', blockIds: ['fill-8120'] } })).tasks.find(t => t.task === 'fill-reco')

  await producer.publishMany(topics.runs, runEvents(realRuns(357400, 357401)))
  await until('fill-8120 planned and open', async () => (await fillTask())?.pendingGates.includes('block-closed') === true)

  // refusals, each naming what is wrong
  const open = await ops('gate', 'force', 'prompt', 'fill-8120', 'fill-reco', '--gate', 'block-closed', '--reason', 'try')
  assert.equal(open.code, 1)
  assert.match(open.err, /INVALID_ARGUMENT: fill-reco on fill-8120: gate 'block-closed' cannot be forced: the block is open; close it with `autocal block close`/)
  const unknownBlock = await ops('block', 'close', 'prompt', 'fill-9999', '--reason', 'end of fill')
  assert.match(unknownBlock.err, /NOT_FOUND: campaign 'prompt' has no block 'fill-9999' \(open blocks: fill-8120\)/)
  assert.match((await ops('block', 'close', 'rereco', 'fill-8120', '--reason', 'x')).err, /NOT_FOUND: unknown campaign "rereco"/)
  assert.match((await ops('gate', 'force', 'prompt', 'fill-8120', 'nosuch', '--reason', 'x')).err, /NOT_FOUND: campaign 'prompt' has no task 'nosuch', known: fill-reco/)
  assert.equal((await ops('block', 'close', 'prompt', 'fill-8120')).code, 2, 'no --reason: a usage error')
  const pps = await cli('pps-token-123', 'block', 'close', 'prompt', 'fill-8120', '--reason', 'not mine')
  assert.match(pps.err, /PERMISSION_DENIED: bob may act for PPS, but closing block fill-8120 of campaign prompt touches ECAL/)

  // close the block: the task is planned with the runs it has and waits on the stream
  const closed = await ops('block', 'close', 'prompt', 'fill-8120', '--reason', 'fill 8120 dumped; no later fill this week')
  assert.equal(closed.code, 0, closed.err)
  assert.match(closed.out, /block fill-8120 of campaign prompt closed for fill-reco with 2 run\(s\) \(357400, 357401\)/)
  await until('fill-reco waits on the stream alone', async () => (await fillTask())?.pendingGates.join() === 't0StreamDone:NeverCompletes')
  const waiting = await fillTask()
  assert.equal(waiting?.block?.closedReason, 'operator')
  assert.deepEqual(waiting?.block?.runs, [357400, 357401])
  assert.match((await ops('block', 'close', 'prompt', 'fill-8120', '--reason', 'again')).err, /INVALID_ARGUMENT: block 'fill-8120' of campaign 'prompt' is already closed \(operator\)/)
  assert.match((await ops('gate', 'force', 'prompt', 'fill-8120', 'fill-reco', '--gate', 'minLumi', '--reason', 'x')).err, /INVALID_ARGUMENT: fill-reco on fill-8120: the task is not waiting on gate 'minLumi' \(it waits on t0StreamDone:NeverCompletes\)/)

  // force the gate: the task runs on the executor; its history says who forced what and why
  const forced = await ops('gate', 'force', 'prompt', 'fill-8120', 'fill-reco', '--gate', 't0StreamDone', '--reason', 'Express stuck at Tier-0; checked by hand')
  assert.equal(forced.code, 0, forced.err)
  assert.match(forced.out, /gate\(s\) t0StreamDone:NeverCompletes of fill-reco on fill-8120 forced open/)
  await until('fill-reco done', async () => (await fillTask())?.state === TaskState.DONE)
  const done = await fillTask()
  assert.deepEqual(done?.gates?.forced.map(f => [f.gate, f.actor, f.reason]), [['t0StreamDone:NeverCompletes', 'ops', 'Express stuck at Tier-0; checked by hand']])
  assert.deepEqual([...startedJobs(backends)], ['prompt/fill-8120/fill-reco/1/0#1'])
  assert.match((await ops('gate', 'force', 'prompt', 'fill-8120', 'fill-reco', '--reason', 'x')).err, /INVALID_ARGUMENT: fill-reco on fill-8120: the task is done, not waiting on a gate/)

  // the audit topic: every action, accepted or refused, with who and why
  await until('the audit records', () => audits.filter(a => a.action === 'control.ForceGate').length >= 5 && audits.filter(a => a.action === 'control.CloseBlock').length >= 5)
  const close = audits.find(a => a.action === 'control.CloseBlock' && a.accepted)
  assert.equal(close?.principal, 'ops')
  assert.equal(close?.subsystem, 'ECAL')
  assert.equal(close?.reason, 'fill 8120 dumped; no later fill this week')
  assert.equal(close?.target, 'campaign prompt block fill-8120')
  assert.equal(close?.details.runs, '357400,357401')
  const force = audits.find(a => a.action === 'control.ForceGate' && a.accepted)
  assert.equal(force?.principal, 'ops')
  assert.equal(force?.details.gates, 't0StreamDone:NeverCompletes')
  assert.equal(force?.commandId, done?.gates?.forced[0]?.commandId)
  const denied = audits.find(a => a.action === 'control.CloseBlock' && a.principal === 'bob')
  assert.equal(denied?.accepted, false)
  assert.match(denied?.reason ?? '', /^refused: .*touches ECAL \(operator's reason: not mine\)$/)
})
