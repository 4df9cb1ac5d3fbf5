// Runtime campaigns end to end on real Kafka and Redis: a dispatcher process,
// the real job-executor (jobs run as real processes) and the `autocal` CLI
// binary. A campaign is created from the CLI, runs are injected, a task is
// added to its run type mid-stream (new runs get it, runs planned before do
// not until injected again), the campaign is paused (runs recorded, no job
// request until it is resumed), closed (injection refused), and its
// definition survives a dispatcher restart (read back from
// autocal.campaigns.v1). A live runtime campaign takes live runs.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { topics } from '@autocal/contracts'
import { realRuns, repo, runEvents, spawnDispatcher, startBackends, startedJobs, stopDispatcher, testConfig, until, type DispatcherProcess } from './fixtures.ts'

const tokens = {
  'ecal-campaign-token': { principal: 'alice', subsystems: ['ECAL'] },
  'pps-campaign-token': { principal: 'bob', subsystems: ['PPS'] }
}
const cliPath = join(repo, 'packages/cli/src/main.ts')

const workflow = `subsystem: ECAL
workflow: camp
campaigns: [{ name: camp-yaml }]
tasks:
  - name: reco
    block: run
    run: [python3, "-c", "print(1)"]
  - name: extra
    block: run
    run: [python3, "-c", "print(2)"]
`

test('a runtime campaign is created, changed mid-stream, paused, resumed and closed from the CLI, and survives a restart', { timeout: 300_000 }, async t => {
  const config = testConfig()
  const dir = mkdtempSync(join(tmpdir(), 'autocal-campaigns-'))
  writeFileSync(join(dir, 'camp.yaml'), workflow)
  const env = { AUTOCAL_WORKFLOWS_DIR: dir, AUTOCAL_CONTROL_TOKENS: JSON.stringify(tokens) }
  await using backends = await startBackends(config)
  let dispatcher: DispatcherProcess = await spawnDispatcher(config, env)
  t.after(async () => { await stopDispatcher(dispatcher) })
  const cli = (args: string[], token = 'ecal-campaign-token'): Promise<{ code: number, stdout: string, stderr: string }> => new Promise(resolve => {
    execFile(process.execPath, [cliPath, ...args], { env: { ...process.env, AUTOCAL_CONTROL_URL: `127.0.0.1:${dispatcher.grpcPort}`, AUTOCAL_TOKEN: token } }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr })
    })
  })
  const ok = async (args: string[]): Promise<string> => {
    const r = await cli(args)
    assert.equal(r.code, 0, `autocal ${args.join(' ')}: ${r.stderr}`)
    return r.stdout
  }
  const started = (campaign: string, run: number, task: string): boolean => [...startedJobs(backends)].some(j => j.startsWith(`${campaign}/run-${run}/${task}/`))
  const collisions = realRuns(357401, 357442).filter(r => r.runClass === 'collisions2022').slice(0, 5)
  assert.equal(collisions.length, 5)
  // four runs published at first; the fifth after the restart
  const runs = collisions.slice(0, 4)
  const [a, b, c, d] = runs.map(r => r.run) as [number, number, number, number]
  const later = collisions[4]
  assert.ok(later !== undefined)

  await t.test('create: refusals name what is wrong; then a reprocessing and a live campaign with their run types', async () => {
    const misspelt = await cli(['campaign', 'create', 'rc', '--workflow', 'ECAL/cmp', '--reprocessing', '--reason', 'r'])
    assert.equal(misspelt.code, 1)
    assert.match(misspelt.stderr, /NOT_FOUND: unknown workflow 'ECAL\/cmp'; did you mean 'ECAL\/camp'\?/)
    const taken = await cli(['campaign', 'create', 'camp-yaml', '--workflow', 'ECAL/camp', '--reprocessing', '--reason', 'r'])
    assert.match(taken.stderr, /INVALID_ARGUMENT: campaign 'camp-yaml' is a campaign of workflow file camp\.yaml/)
    const foreign = await cli(['campaign', 'create', 'rc', '--workflow', 'ECAL/camp', '--reprocessing', '--reason', 'r'], 'pps-campaign-token')
    assert.equal(foreign.code, 1)
    assert.match(foreign.stderr, /PERMISSION_DENIED: bob may act for PPS, but creating campaign rc touches ECAL/)
    assert.match(await ok(['campaign', 'create', 'rc', '--workflow', 'ECAL/camp', '--reprocessing', '--notify', 'ecal-calib', '--reason', 'timing reprocessing']), /^campaign rc created: reprocessing, active, workflows ECAL\/camp \(revision 1\)/)
    assert.match(await ok(['rtype', 'create', 'rc', 'physics', '--class', 'collisions2022', '--tasks', 'reco', '--reason', 'physics runs']), /run type physics of campaign rc created: tasks reco \(revision 2\)/)
    const unknownTask = await cli(['rtype', 'update', 'rc', 'physics', '--add', 'extr', '--reason', 'r'])
    assert.match(unknownTask.stderr, /NOT_FOUND: run type 'physics': unknown task 'extr'; did you mean 'extra'\?/)
    await ok(['campaign', 'create', 'lv', '--workflow', 'ECAL/camp', '--live', '--reason', 'live timing'])
    await ok(['rtype', 'create', 'lv', 'all', '--class', 'collisions2022', '--tasks', 'reco', '--reason', 'every collision run'])
    const other = await cli(['campaign', 'pause', 'rc', '--reason', 'r'], 'pps-campaign-token')
    assert.match(other.stderr, /PERMISSION_DENIED: bob may act for PPS, but pause of campaign rc touches ECAL/)
  })

  await t.test('a live runtime campaign takes live runs; a reprocessing one only injected runs', async () => {
    await backends.producer.publishMany(topics.runs, runEvents(runs))
    await until('every live run dispatched in lv', () => runs.every(r => started('lv', r.run, 'reco')), 60_000)
    await until('the system at rest', backends.atRest, 60_000, 500)
    assert.ok(!runs.some(r => started('rc', r.run, 'reco')), 'rc takes no live run')
    assert.ok(!runs.some(r => started('camp-yaml', r.run, 'reco')), 'the YAML reprocessing campaign takes no live run')
  })

  await t.test('a task added to a run type mid-stream: new runs get it, runs planned before only when injected again', async () => {
    await ok(['inject', '--campaign', 'rc', '--runs', String(a), '--reason', 'first run'])
    await until(`rc reco of ${a}`, () => started('rc', a, 'reco'), 60_000)
    assert.match(await ok(['rtype', 'update', 'rc', 'physics', '--add', 'extra', '--reason', 'extra check']), /tasks reco, extra \(revision 3\)/)
    await ok(['inject', '--campaign', 'rc', '--runs', String(b), '--reason', 'second run'])
    await until(`rc reco and extra of ${b}`, () => started('rc', b, 'reco') && started('rc', b, 'extra'), 60_000)
    const status = JSON.parse(await ok(['status', '--campaign', 'rc', '--json'])) as { cells: Array<{ run: number, task: string }> }
    assert.deepEqual(status.cells.filter(x => x.run === a).map(x => x.task), ['reco'], 'the run planned before the change has no extra')
    assert.ok(!started('rc', a, 'extra'))
    // asked for: the run injected again gets the added task (its reco stays as it was: no second attempt)
    await ok(['inject', '--campaign', 'rc', '--runs', String(a), '--reason', 'extra for the first run'])
    await until(`rc extra of ${a}`, () => started('rc', a, 'extra'), 60_000)
    assert.ok(!startedJobs(backends).has(`rc/run-${a}/reco/2/0#1`), 'reco of the first run is not run again')
  })

  await t.test('paused: an injected run is recorded but nothing is dispatched until the campaign is resumed', async () => {
    assert.match(await ok(['campaign', 'pause', 'rc', '--reason', 'conditions DB maintenance']), /^campaign rc paused \(revision 4\)/)
    assert.match(await ok(['campaign', 'list']), /\nrc\tpaused\treprocessing\truntime\tECAL\tECAL\/camp\trun types physics\trevision 4 by alice/)
    await ok(['inject', '--campaign', 'rc', '--runs', String(c), '--reason', 'while paused'])
    // every consumer handled everything (the injection too) and nothing moves: the run has no job request
    await until('the system at rest after the injection', backends.atRest, 60_000, 500)
    assert.ok(!started('rc', c, 'reco') && !started('rc', c, 'extra'), 'no job request while paused')
    await ok(['campaign', 'resume', 'rc', '--reason', 'maintenance over'])
    await until(`rc reco and extra of ${c} after the resume`, () => started('rc', c, 'reco') && started('rc', c, 'extra'), 60_000)
  })

  await t.test('closed: an injection is refused with the reason', async () => {
    assert.match(await ok(['campaign', 'close', 'rc', '--reason', 'reprocessing done']), /^campaign rc closed \(revision 6\)/)
    const refused = await cli(['inject', '--campaign', 'rc', '--runs', String(d), '--reason', 'too late'])
    assert.equal(refused.code, 1)
    assert.match(refused.stderr, /INVALID_ARGUMENT: campaign 'rc' is closed: it takes no new runs/)
    const changed = await cli(['rtype', 'update', 'rc', 'physics', '--remove', 'extra', '--reason', 'r'])
    assert.match(changed.stderr, /campaign 'rc' is closed \(by alice\)/)
    // a replay is refused too, and so is one into a live runtime campaign (a reviewer's replays of both ended "done")
    const period = ['--from', String(a), '--to', String(d), '--speed', 'max', '--reason', 'replay']
    const replayClosed = await cli(['campaign', 'replay', ...period, '--into', 'rc'])
    assert.equal(replayClosed.code, 1)
    assert.match(replayClosed.stderr, /INVALID_ARGUMENT: campaign 'rc' is closed: it takes no runs/)
    const replayLive = await cli(['campaign', 'replay', ...period, '--into', 'lv'])
    assert.equal(replayLive.code, 1)
    assert.match(replayLive.stderr, /INVALID_ARGUMENT: campaign 'lv' receives live runs: replay into a sandbox \(reprocessing\) campaign/)
  })

  await t.test('a dispatcher restart keeps the definitions', async () => {
    await stopDispatcher(dispatcher)
    dispatcher = await spawnDispatcher(config, env)
    const list = await ok(['campaign', 'list'])
    assert.match(list, /\nrc\tclosed\treprocessing\truntime\tECAL\tECAL\/camp\trun types physics\trevision 6 by alice/)
    assert.match(list, /\nlv\tactive\tlive\truntime\tECAL\tECAL\/camp\trun types all\trevision 2 by alice/)
    assert.match(await ok(['rtype', 'list', 'rc']), /^physics\ttasks reco,extra\tclass collisions2022\trevision 3/)
    const refused = await cli(['inject', '--campaign', 'rc', '--runs', String(d), '--reason', 'after the restart'])
    assert.match(refused.stderr, /campaign 'rc' is closed/)
    // the live campaign still takes live runs after the restart
    await backends.producer.publishMany(topics.runs, runEvents([later]))
    await until(`lv reco of ${later.run} after the restart`, () => started('lv', later.run, 'reco'), 60_000)
    assert.ok(!started('rc', later.run, 'reco'), 'the closed campaign takes no run')
  })
})
