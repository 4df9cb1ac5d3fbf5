/* eslint-disable no-template-curly-in-string -- workflow files use ${VAR} expansion */
// The control API and the `autocal` CLI end to end, against a dispatcher
// process on real Kafka + Redis: subsystem-scoped tokens, commands through
// autocal.control.v1, status, injection into a reprocessing campaign, watch,
// and a rejected cross-subsystem command.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { startProducer } from '@autocal/runtime'
import { topics } from '@autocal/contracts'
import { goldenRuns, realRuns, repo, runEvents, silentLogger, spawnDispatcher, startBackends, startedJobs, stopDispatcher, testConfig, until, workflowsDir } from './fixtures.ts'

const tokens = {
  'ecal-token-123': { principal: 'alice', subsystems: ['ECAL'] },
  'pps-token-456': { principal: 'bob', subsystems: ['PPS'] }
}
const cliPath = join(repo, 'packages/cli/src/main.ts')
const realdataDir = resolve(process.env.AUTOCAL_REALDATA_DIR ?? join(repo, '../shared/realdata'))

function cli (args: string[], env: Record<string, string> = {}): Promise<{ code: number, stdout: string, stderr: string }> {
  return new Promise(resolve => {
    execFile(process.execPath, [cliPath, ...args], { env: { ...process.env, AUTOCAL_TOKEN: '', ...env } }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr })
    })
  })
}

test('the control API and the CLI work end to end with subsystem-scoped tokens', { timeout: 300_000 }, async t => {
  const config = testConfig()
  await using backends = await startBackends(config)
  const dispatcher = await spawnDispatcher(config, { AUTOCAL_CONTROL_TOKENS: JSON.stringify(tokens) })
  t.after(async () => { await stopDispatcher(dispatcher) })
  const server = { AUTOCAL_CONTROL_URL: `127.0.0.1:${dispatcher.grpcPort}` }
  const ecal = { ...server, AUTOCAL_TOKEN: 'ecal-token-123' }
  const pps = { ...server, AUTOCAL_TOKEN: 'pps-token-456' }

  await using producer = await startProducer({ config, logger: silentLogger, service: 'test-run-watcher' })
  await producer.publishMany(topics.runs, runEvents(realRuns(357401, 357442)))
  // every run the dispatcher is told of: the ones above, and the marker runs a subtest sends until watch shows one
  const published = realRuns(357401, 357442)
  await until('run 357401 calibrated', () => backends.conditionRequests.some(c => c.requestId === 'prompt/run-357401/timing-calib/1'), 90_000)

  await t.test('status shows the runs × tasks matrix, as text and as JSON', async () => {
    await until('timing-calib of 357401 done', async () => {
      const r = await cli(['status', '--campaign', 'prompt', '--task', 'timing-calib', '--json'], ecal)
      return r.code === 0 && (JSON.parse(r.stdout) as { cells: Array<{ run: number, state: string }> }).cells.some(c => c.run === 357401 && c.state === 'TASK_STATE_DONE')
    }, 30_000)
    const text = await cli(['status', '--campaign', 'prompt'], ecal)
    assert.equal(text.code, 0, text.stderr)
    // the ECAL token reads the ECAL tasks only: 8 of the campaign's 9 (the ninth is PPS's)
    assert.match(text.stdout, /^campaign prompt: \d+ runs × 8 tasks/)
    assert.match(text.stdout, /\n357401 +.*✓/)
  })

  await t.test('a call without a token is rejected in one line with a non-zero exit', async () => {
    const r = await cli(['status', '--campaign', 'prompt'], server)
    assert.equal(r.code, 1)
    assert.equal(r.stderr.trim(), 'autocal: UNAUTHENTICATED: no bearer token: reading needs a read or control token (--token-file, AUTOCAL_TOKEN / AUTOCAL_TOKEN_FILE)')
  })

  await t.test('an ECAL operator reprocesses an ECAL task and the next attempt is dispatched; watch shows it', async () => {
    const watch = spawn(process.execPath, [cliPath, 'watch', '--campaign', 'prompt', '--task', 'timing-reco'], { env: { ...process.env, ...ecal } })
    let watched = ''
    watch.stdout.on('data', (c: Buffer) => { watched += c.toString() })
    t.after(() => { watch.kill() })
    // the stream is open once it shows an event: a new timing run's timing-reco is planned, and watch prints it;
    // events before the stream opened are not shown, so another marker run follows until one is
    const golden = goldenRuns()
    const markers = realRuns(357443, 357620).filter(r => r.runClass === 'collisions2022' && r.durationS >= 600 && r.recordedLumiPb >= 1 && golden.has(r.run))
    let sent = 0
    await until('watch printed a marker run', async () => {
      if (markers.slice(0, sent).some(m => watched.includes(`prompt/run-${m.run}/timing-reco `))) return true
      const next = markers[sent++]
      assert.ok(next !== undefined, `${sent - 1} marker runs sent, none printed by watch: ${watched}`)
      await producer.publishMany(topics.runs, runEvents([next]))
      published.push(next)
      return false
    }, 30_000, 1000)
    const r = await cli(['reprocess', '--campaign', 'prompt', '--task', 'timing-reco', '--runs', '357401', '--reason', 'timing shift seen in DQM'], ecal)
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /^reprocess accepted: 1 task\(s\) matched/)
    await until('attempt 2 dispatched', () => startedJobs(backends).has('prompt/run-357401/timing-reco/2/0#1'), 30_000)
    await until('watch printed the reprocess', () => /prompt\/run-357401\/timing-reco done → new \(attempt 2\): reprocess: timing shift seen in DQM/.test(watched), 15_000)
    const log = readFileSync(dispatcher.log, 'utf8')
    assert.match(log, /"actor":"alice".*"reason":"timing shift seen in DQM".*"msg":"control command accepted"/)
  })

  await t.test('reprocess --wait follows the tasks until they settled', async () => {
    const r = await cli(['reprocess', '--campaign', 'prompt', '--task', 'pedestals', '--runs', '357401', '--reason', 'new pedestal run', '--wait'], ecal)
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stderr, /1 task\(s\): \d+ done, \d+ processing, \d+ waiting, 0 failed/)
    assert.match(r.stderr, /settled\n$/)
    assert.ok(startedJobs(backends).has('prompt/run-357401/pedestals/2/0#1'))
  })

  await t.test('status of an unknown task is an error naming the known tasks, not an empty matrix', async () => {
    const r = await cli(['status', '--campaign', 'prompt', '--task', 'pedestal'], ecal)
    assert.equal(r.code, 1)
    assert.match(r.stderr.trim(), /^autocal: NOT_FOUND: campaign 'prompt' has no task 'pedestal', known: .*\bpedestals\b/)
  })

  await t.test('--wait --timeout gives up with exit 3 and says what has not settled', async () => {
    // a done task does not change on cancel: it is only taken as settled after 10 s of quiet, the timeout comes first
    const r = await cli(['cancel', '--campaign', 'prompt', '--task', 'pedestals', '--runs', '357401', '--reason', 'too late', '--wait', '--timeout', '2s'], ecal)
    assert.equal(r.code, 3, r.stderr)
    assert.match(r.stderr, /autocal: timed out after 2 s, not settled: 1 task\(s\): 1 done, 0 processing, 0 waiting, 0 failed\n$/)
    // the progress line is printed once, not once per poll
    assert.equal(r.stderr.split('\n').filter(l => l.startsWith('1 task(s)')).length, 1)
  })

  await t.test('jobs lists the jobs of a task with their tries and states, outputs the outputs of the done ones', async () => {
    const r = await cli(['jobs', '--campaign', 'prompt', '--task', 'pedestals', '--runs', '357401', '--json'], ecal)
    assert.equal(r.code, 0, r.stderr)
    const rows = r.stdout.trim().split('\n').map(l => JSON.parse(l) as { job: string, state: string, try: number, runs: number[] })
    assert.deepEqual(rows.map(x => [x.job, x.state, x.try, x.runs]), [['prompt/run-357401/pedestals/2/0', 'done', 1, [357401]]])
    const text = await cli(['jobs', '--campaign', 'prompt', '--task', 'pedestals', '--runs', '357401'], ecal)
    // the stand-in executor reports backend local without a pid
    assert.match(text.stdout, /^JOB\tRUNS\tSTATE\tTRY\tBACKEND\tLOG\tREASON\nprompt\/run-357401\/pedestals\/2\/0\t357401\tdone\t1\tlocal \d+\t/)
    assert.match(text.stdout, /\n1 job\(s\), 0 failed\n$/)
    const outputs = await cli(['outputs', '--campaign', 'prompt', '--task', 'pedestals', '--runs', '357401'], ecal)
    assert.equal(outputs.code, 0, outputs.stderr)
    assert.match(outputs.stdout, /^TASK\tBLOCK\tRUNS\tSIZE\tSHA256\tLABEL\tPATH\n(pedestals\trun-357401\t357401\t\d+\t[0-9a-f]{64}\t.*\n)*\d+ output\(s\)\n$/)
  })

  await t.test('a PPS token cannot touch ECAL tasks', async () => {
    const r = await cli(['skip', '--campaign', 'prompt', '--task', 'timing-reco', '--runs', '357406', '--reason', 'not mine'], pps)
    assert.equal(r.code, 1)
    assert.equal(r.stderr.trim(), 'autocal: PERMISSION_DENIED: bob may act for PPS, but skip on campaign prompt touches ECAL')
    assert.match(readFileSync(dispatcher.log, 'utf8'), /"actor":"bob".*"msg":"control command rejected: forbidden"/)
  })

  await t.test('a command that would touch several subsystems needs --subsystem', async () => {
    const denied = await cli(['cancel', '--campaign', 'prompt', '--runs', '357406', '--reason', 'beam issue'], ecal)
    assert.equal(denied.code, 1)
    assert.match(denied.stderr, /PERMISSION_DENIED: alice may act for ECAL, but cancel on campaign prompt touches (PPS, EGM|EGM, PPS)/) // egm-photon-scale.yaml runs on 357406 too
    const ok = await cli(['cancel', '--campaign', 'prompt', '--runs', '357406', '--subsystem', 'ECAL', '--reason', 'beam issue'], ecal)
    assert.equal(ok.code, 0, ok.stderr)
  })

  await t.test('runs injected into a reprocessing campaign are processed there', async () => {
    const r = await cli(['runs', 'inject', '--campaign', 'ecal-timing-rereco-2022', '--runs', '357401,357406', '--reason', 'rereco with new clustering'], ecal)
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stderr, /accepted: 2 run\(s\) injected/)
    // a run the campaign's filters exclude is injected, and said so with the filter's reason
    const cosmics = await cli(['runs', 'inject', '--campaign', 'ecal-timing-rereco-2022', '--runs', '357403', '--reason', 'a cosmics run by mistake'], ecal)
    assert.equal(cosmics.code, 0, cosmics.stderr)
    assert.match(cosmics.stderr, /warning: 1 of the 1 run\(s\) are excluded by the campaign's filters; nothing will run on them:\n {2}357403: timing-reco: run type collisions: run class cosmics2022 not in collisions2022\n$/)
    const asJson = await cli(['runs', 'inject', '--campaign', 'ecal-timing-rereco-2022', '--runs', '357403', '--reason', 'again', '--json'], ecal)
    assert.deepEqual((JSON.parse(asJson.stdout) as { excluded: unknown }).excluded, [{ run: 357403, reason: 'timing-reco: run type collisions: run class cosmics2022 not in collisions2022' }])
    await until('rereco dispatched', () => startedJobs(backends).has('ecal-timing-rereco-2022/run-357406/timing-reco/1/3#1'), 30_000)
    const denied = await cli(['runs', 'inject', '--campaign', 'pps-timing-rereco-2022', '--runs', '357401', '--reason', 'x'], ecal)
    assert.equal(denied.code, 1)
    assert.match(denied.stderr, /PERMISSION_DENIED/)
    const unknown = await cli(['runs', 'inject', '--campaign', 'ecal-timing-rereco-2022', '--runs', '1', '--reason', 'x'], ecal)
    assert.equal(unknown.code, 1)
    assert.equal(unknown.stderr.trim().split('\n').at(-1), 'autocal: INVALID_ARGUMENT: runs unknown to the dispatcher (no run-watcher record): 1')
  })

  await t.test('runs are injected by era and from a run-list file; a bad line is named with file and line', async () => {
    const era = published[0]!.era
    const ofEra = published.filter(r => r.era === era).map(r => r.run)
    const byEra = await cli(['inject', '--campaign', 'ecal-timing-rereco-2022', '--era', era, '--reason', 'rereco of the era', '--json'], ecal)
    assert.equal(byEra.code, 0, byEra.stderr)
    assert.equal((JSON.parse(byEra.stdout) as { runs: number }).runs, ofEra.length, `every known run of ${era}`)
    const noEra = await cli(['inject', '--campaign', 'ecal-timing-rereco-2022', '--era', 'Run1999Z', '--reason', 'x'], ecal)
    assert.equal(noEra.code, 1)
    assert.match(noEra.stderr, /INVALID_ARGUMENT: no known run of era Run1999Z/)

    const dir = mkdtempSync(join(tmpdir(), 'autocal-runs-'))
    const file = join(dir, 'runs.txt')
    writeFileSync(file, '# runs for the rereco\n357401\n\n357406-357412   # a range: the known runs in it\n')
    const fromFile = await cli(['inject', '--campaign', 'ecal-timing-rereco-2022', '--runs-file', file, '--reason', 'from a list', '--json'], ecal)
    assert.equal(fromFile.code, 0, fromFile.stderr)
    const inRange = published.filter(r => r.run >= 357406 && r.run <= 357412).length
    assert.equal((JSON.parse(fromFile.stdout) as { runs: number }).runs, 1 + inRange)
    writeFileSync(file, '357401\n357406-357400\n')
    const badRange = await cli(['inject', '--campaign', 'ecal-timing-rereco-2022', '--runs-file', file, '--reason', 'x'], ecal)
    assert.equal(badRange.code, 2)
    assert.match(badRange.stderr, new RegExp(`${file}:2: range 357406-357400: the first run is after the last`))
  })

  await t.test('workflows validate works offline and through the server, naming file and line', async () => {
    const offline = await cli(['workflows', 'validate', workflowsDir])
    assert.equal(offline.code, 0, offline.stderr)
    assert.match(offline.stdout, new RegExp(`ok: ${readdirSync(workflowsDir).filter(f => f.endsWith('.yaml')).length} file\\(s\\) valid`))
    // Remote validation expands nothing from the server's environment, so the copy sent names the real-data directory itself.
    const examples = mkdtempSync(join(tmpdir(), 'autocal-wf-'))
    for (const f of readdirSync(workflowsDir).filter(f => f.endsWith('.yaml'))) {
      writeFileSync(join(examples, f), readFileSync(join(workflowsDir, f), 'utf8').replaceAll('${AUTOCAL_REALDATA_DIR:-../../../shared/realdata}', realdataDir))
    }
    const remote = await cli(['workflows', 'validate', examples, '--remote'], ecal)
    assert.equal(remote.code, 0, remote.stderr)
    const dir = mkdtempSync(join(tmpdir(), 'autocal-wf-'))
    writeFileSync(join(dir, 'bad.yaml'), 'subsystem: ECAL\nworkflow: bad\ntasks:\n  - name: a\n    run: [x, "{rnu}"]\n    needs: [b]\n')
    const bad = await cli(['workflows', 'validate', dir])
    assert.equal(bad.code, 1)
    assert.match(bad.stderr, /bad\.yaml:5:14 tasks\.0\.run\.1: unknown placeholder \{rnu\}/)
    assert.match(bad.stderr, /bad\.yaml:6:13 tasks\.0\.needs\.0: task 'a' needs unknown task 'b'/)
    const list = await cli(['workflows', 'list'], ecal)
    assert.match(list.stdout, /^ECAL\/pedestals@/m)
  })

  await t.test('remote validation expands nothing from the server, confines golden files and echoes no secret or file content', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'autocal-wf-'))
    writeFileSync(join(dir, 'leak.yaml'), 'subsystem: ECAL\nworkflow: leak\ntasks:\n  - name: a\n    run: [x]\n    when: { http: "${AUTOCAL_CONTROL_TOKENS}" }\n    filter: { golden: /etc/passwd }\n')
    const r = await cli(['workflows', 'validate', dir, '--remote'], ecal)
    assert.equal(r.code, 1)
    const out = r.stdout + r.stderr
    assert.doesNotMatch(out, /ecal-token-123|pps-token-456|alice|root:/)
    assert.match(out, /leak\.yaml:6:\d+ tasks\.0\.when\.http: environment variable AUTOCAL_CONTROL_TOKENS may not be used in a workflow/)
    assert.match(out, /leak\.yaml:7:\d+ tasks\.0\.filter\.golden: the golden JSON must lie in the workflow directory/)
    // a golden path inside the server's workflow directory is not opened: the answer says nothing of the server's files
    const probe = mkdtempSync(join(tmpdir(), 'autocal-wf-'))
    writeFileSync(join(probe, 'probe.yaml'), 'subsystem: ECAL\nworkflow: probe\ntasks:\n  - name: a\n    run: [x]\n    filter: { golden: ecal-timing.yaml }\n  - name: b\n    run: [x]\n    filter: { golden: scripts }\n')
    const p = await cli(['workflows', 'validate', probe, '--remote'], ecal)
    const said = p.stdout + p.stderr
    assert.doesNotMatch(said, /not valid JSON|EISDIR|ENOENT|certification file/, 'nothing about the server file\'s content or kind')
    assert.ok(!said.includes(workflowsDir), `the server's workflow directory is not named: ${said}`)
    assert.equal(p.code, 0, said)
  })
})
