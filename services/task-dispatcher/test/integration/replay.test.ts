// Replay of a recorded hour into a sandbox campaign, end to end on real Kafka
// and Redis: the run registry holds five hours of real 2022 runs (written as
// the run-watcher writes it, with the Express stream done), a dispatcher with
// the real job-executor and condition-uploader, and the `autocal` CLI. The
// hour 21:00–22:00 of 10 July 2022 is replayed into `sandbox` at speed 3600:
// the campaign gets exactly that hour's runs (computed here from the CSV), in
// start order and paced, its filter (collisions only) and gate (Express done,
// known only from the registry) see the recorded facts, its conditions go to
// its own tag, and production (prompt) gets no task. Refusals, and a replay
// taken over from its stored cursor after the dispatcher restarts.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { create } from '@bufbuild/protobuf'
import { timestampFromMs, timestampMs } from '@bufbuild/protobuf/wkt'
import { ControlService, RegistryEntrySchema, ReplayState, topics, type AuditRecord, type EventMeta, type Run, type RunEvent } from '@autocal/contracts'
import { createGrpcClient, startConsumer, startProducer } from '@autocal/runtime'
import { realRuns, repo, silentLogger, startBackends, startDispatcher, testConfig, until } from './fixtures.ts'

const cliPath = join(repo, 'packages/cli/src/main.ts')
const script = join(repo, 'deploy/workflows/scripts/write_payload.py')
const tokens = { 'ecal-token-123': { principal: 'alice', subsystems: ['ECAL'] }, 'pps-token-456': { principal: 'bob', subsystems: ['PPS'] } }
const sandboxTag = 'EcalPedestals_replay_sandbox_offline'
const productionTag = 'EcalPedestals_replay_production_offline'

const workflow = `subsystem: ECAL
workflow: replay-pedestals
campaigns:
  - name: prompt
  - name: sandbox
    conditions:
      dryRun: false
      tags:
        pedestals: { tag: ${sandboxTag}, sync: offline }
  - name: sandbox-dry
runTypes:
  collisions: { filter: { runClass: collisions2022, global: true } }
tasks:
  - name: pedestals
    block: run
    when: { t0StreamDone: Express }
    run: [python3, ${script}, --object-type, EcalPedestals, --tag, EcalPedestals_calib, --since, "{run}", --out, "{outdir}/pedestals.db"]
    retries: 0
    condition: { tag: ${productionTag}, record: EcalPedestalsRcd, sync: offline }
`

function cli (args: string[], env: Record<string, string>): Promise<{ code: number, stdout: string, stderr: string }> {
  return new Promise(resolve => {
    execFile(process.execPath, [cliPath, ...args], { env: { ...process.env, AUTOCAL_TOKEN: '', ...env } }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr })
    })
  })
}

const startMs = (r: Run): number => Number(timestampMs(r.startTime ?? timestampFromMs(0)))

test('a recorded hour of real 2022 runs replays into a sandbox campaign: exactly its runs, in order, conditions at the sandbox tag, nothing for production', { timeout: 300_000 }, async t => {
  const config = testConfig()
  const workflows = mkdtempSync(join(tmpdir(), 'autocal-wf-'))
  writeFileSync(join(workflows, 'replay.yaml'), workflow)
  await using backends = await startBackends(config)
  await using producer = await startProducer({ config, logger: silentLogger, service: 'test-run-watcher' })
  const fed: Array<{ ev: RunEvent, meta: EventMeta }> = []
  const audits: AuditRecord[] = []
  await using observer = await startConsumer({
    config,
    logger: silentLogger,
    service: 'test-observer',
    producer,
    group: 'test-observer',
    handlers: { runs: async (ev, meta) => { if (ev.source === 'replay') fed.push({ ev, meta }) }, audit: async r => { audits.push(r) } }
  })
  void observer

  // the recording: five hours of real runs in the registry, as the run-watcher writes it (whole entries keyed by run)
  const from = Date.parse('2022-07-10T21:00:00Z')
  const to = Date.parse('2022-07-10T22:00:00Z')
  const recorded = realRuns(355300, 355460).filter(r => startMs(r) >= Date.parse('2022-07-10T19:00:00Z') && startMs(r) < Date.parse('2022-07-11T00:00:00Z'))
  await producer.publishMany(topics.runRegistry, recorded.map(run => ({
    message: create(RegistryEntrySchema, { run: run.run, entry: { case: 'runEntry', value: { run, sequence: 1, streams: [{ name: 'Express', done: true, sequence: 2 }] } } }),
    options: { eventId: `registry/${run.run}/1` }
  })))
  // the expectation, from the CSV: the runs started in [21:00, 22:00), by start time; tasks on the collisions runs
  const hour = recorded.filter(r => startMs(r) >= from && startMs(r) < to).sort((a, b) => startMs(a) - startMs(b))
  const collisions = hour.filter(r => r.runClass === 'collisions2022').map(r => r.run).sort((a, b) => a - b)
  assert.ok(recorded.length > hour.length && hour.length >= 5 && collisions.length >= 2, `a recording wider than the hour, with collisions runs in it (${recorded.length}, ${hour.length}, ${collisions.length})`)

  let dispatcher = await startDispatcher(config, { AUTOCAL_CONTROL_TOKENS: JSON.stringify(tokens), AUTOCAL_WORKFLOWS_DIR: workflows })
  t.after(async () => { await dispatcher[Symbol.asyncDispose]() })
  const ecal = (): Record<string, string> => ({ AUTOCAL_CONTROL_URL: `127.0.0.1:${dispatcher.grpcPort}`, AUTOCAL_TOKEN: 'ecal-token-123' })
  const period = ['--from', '2022-07-10T21:00:00Z', '--to', '2022-07-10T22:00:00Z']

  await t.test('refused: prompt, an unknown campaign, an empty period, from after to, a token of another subsystem', async () => {
    const refusals: Array<{ args: string[], env?: Record<string, string>, error: RegExp }> = [
      { args: [...period, '--into', 'prompt'], error: /campaign 'prompt' receives live runs/ },
      { args: [...period, '--into', 'sandbx'], error: /NOT_FOUND: unknown campaign 'sandbx'; did you mean 'sandbox'\?/ },
      { args: ['--from', '2021-01-01T00:00:00Z', '--to', '2021-01-01T01:00:00Z', '--into', 'sandbox'], error: /no recorded run in the period 2021-01-01T00:00:00.000Z \.\. 2021-01-01T01:00:00.000Z/ },
      { args: ['--from', '2022-07-10T22:00:00Z', '--to', '2022-07-10T21:00:00Z', '--into', 'sandbox'], error: /--from 2022-07-10T22:00:00.000Z is not before --to 2022-07-10T21:00:00.000Z/ },
      { args: [...period, '--into', 'sandbox'], env: { AUTOCAL_TOKEN: 'pps-token-456' }, error: /PERMISSION_DENIED: bob may act for PPS, but replaying into campaign sandbox touches ECAL/ }
    ]
    for (const r of refusals) {
      const res = await cli(['campaign', 'replay', ...r.args, '--reason', 'test'], { ...ecal(), ...r.env })
      assert.equal(res.code, 1, res.stderr)
      assert.match(res.stderr, r.error)
    }
    assert.equal(fed.length, 0)
  })

  await t.test('the hour is fed into the sandbox in start order, paced, and run by the real executor and uploader', async t => {
    const res = await cli(['campaign', 'replay', ...period, '--into', 'sandbox', '--speed', '3600', '--follow', '--json', '--reason', 'try the new pedestals on 10 July'], ecal())
    assert.equal(res.code, 0, res.stderr)
    const end = JSON.parse(res.stdout.trim().split('\n').at(-1) ?? '{}') as { id: string, state: string, fed: number, total: number, runs: number[], campaign: string }
    assert.equal(end.state, 'REPLAY_STATE_DONE')
    assert.equal(end.campaign, 'sandbox')
    assert.deepEqual([end.fed, end.total], [hour.length, hour.length])

    await until('every replayed run reached the runs topic', () => fed.length >= hour.length)
    const order = [...fed].sort((a, b) => a.meta.time.getTime() - b.meta.time.getTime())
    assert.deepEqual(order.map(f => f.ev.run), hour.map(r => r.run), 'the runs of the hour, in start order')
    for (const f of order) {
      assert.equal(f.ev.campaign, 'sandbox')
      assert.equal(f.ev.change.case, 'ended')
      const want = hour.find(r => r.run === f.ev.run) as Run
      const got = f.ev.change.value?.run
      assert.deepEqual([got?.fill, got?.era, got?.runClass, got?.recordedLumiPb], [want.fill, want.era, want.runClass, want.recordedLumiPb], `run ${f.ev.run} enters with its recorded facts`)
    }
    // paced: each run fed at least its start-time offset from the hour's first run / 3600 after the replay was created
    // (a lower bound: the schedule starts after the creation, and timers never fire early by more than a ms)
    const created = Date.parse((JSON.parse(res.stdout.trim().split('\n')[0] ?? '{}') as { created: string }).created)
    for (let i = 1; i < order.length; i++) {
      const offset = Math.round((startMs(hour[i] as Run) - startMs(hour[0] as Run)) / 3600)
      assert.ok(order[i]!.meta.time.getTime() - created >= offset - 2 * i, `run ${hour[i]!.run} fed ≥ ${offset} ms after the replay was created`)
    }

    const span = order.at(-1)!.meta.time.getTime() - order[0]!.meta.time.getTime()
    t.diagnostic(`${order.length} runs fed in ${span} ms (recorded span ${(startMs(hour.at(-1) as Run) - startMs(hour[0] as Run)) / 1000} s / 3600 = ${Math.round((startMs(hour.at(-1) as Run) - startMs(hour[0] as Run)) / 3600)} ms)`)
    const status = async (campaign: string): Promise<Array<{ run: number, state: string }>> => {
      const r = await cli(['status', '--campaign', campaign, '--json'], ecal())
      assert.equal(r.code, 0, r.stderr)
      return (JSON.parse(r.stdout) as { cells?: Array<{ run: number, state: string }> }).cells ?? []
    }
    await until('the sandbox\'s tasks are done', async () => {
      const cells = await status('sandbox')
      return cells.length === collisions.length && cells.every(c => c.state === 'TASK_STATE_DONE')
    }, 180_000, 1000)
    assert.deepEqual((await status('sandbox')).map(c => c.run), collisions, 'the filter and the Express gate saw the recorded facts: a task for each collisions run')

    const iovs = await (await fetch(`${backends.uploaderUrl}/api/v1/tags/${sandboxTag}/iovs`)).json() as { iovs: Array<{ since: string }> }
    assert.deepEqual(iovs.iovs.map(i => Number(i.since)), collisions, 'the sandbox\'s conditions are at its own tag')
    assert.equal((await fetch(`${backends.uploaderUrl}/api/v1/tags/${productionTag}/iovs`)).status, 404, 'nothing at production\'s tag')
    await until('the system is at rest', backends.atRest, 60_000, 500)
    assert.deepEqual(await status('prompt'), [], 'production got no task')
    assert.ok(backends.requests.length > 0 && backends.requests.every(r => r.message.provenance?.campaign === 'sandbox'), 'every job was the sandbox\'s')

    const shown = await cli(['campaign', 'replay', '--status', end.id], ecal())
    assert.equal(shown.code, 0, shown.stderr)
    assert.match(shown.stdout, new RegExp(`^${end.id} campaign sandbox period 2022-07-10T21:00:00.000Z \\.\\. 2022-07-10T22:00:00.000Z speed 3600: done, ${hour.length}/${hour.length} run\\(s\\) fed, last run ${hour.at(-1)?.run}`))
    const listed = await cli(['campaign', 'replay', '--list', '--json'], ecal())
    assert.deepEqual((JSON.parse(listed.stdout) as Array<{ id: string, state: string }>).map(r => [r.id, r.state]), [[end.id, 'REPLAY_STATE_DONE']])
    const badId = await cli(['campaign', 'replay', '--status', '../x'], ecal())
    assert.match(badId.stderr, /INVALID_ARGUMENT: id: "\.\.\/x" is not a replay id/)
    const late = await cli(['campaign', 'replay', '--cancel', end.id, '--reason', 'too late'], ecal())
    assert.match(late.stderr, new RegExp(`replay ${end.id} has ended \\(${hour.length} run\\(s\\) fed\\): nothing to cancel`))

    const started = audits.filter(a => a.action === 'control.StartReplay')
    assert.equal(started.filter(a => a.accepted).length, 1)
    assert.deepEqual([started.find(a => a.accepted)?.principal, started.find(a => a.accepted)?.details.runs], ['alice', String(hour.length)])
    assert.equal(started.filter(a => !a.accepted).length, 5, 'each refusal audited')
  })

  await t.test('a running replay is cancelled from the CLI: it stops, the runs fed so far stay fed', async () => {
    const res = await cli(['campaign', 'replay', ...period, '--into', 'sandbox-dry', '--speed', '1', '--json', '--reason', 'slow one'], ecal())
    assert.equal(res.code, 0, res.stderr)
    const id = (JSON.parse(res.stdout) as { id: string }).id
    const busy = await cli(['campaign', 'replay', ...period, '--into', 'sandbox-dry', '--speed', 'max', '--reason', 'second'], ecal())
    assert.match(busy.stderr, /a replay is already feeding campaign 'sandbox-dry'/)
    const cancelled = await cli(['campaign', 'replay', '--cancel', id, '--reason', 'enough', '--json'], ecal())
    assert.equal(cancelled.code, 0, cancelled.stderr)
    const r = JSON.parse(cancelled.stdout) as { state: string, fed?: number, stateReason: string }
    assert.deepEqual([r.state, r.stateReason], ['REPLAY_STATE_CANCELLED', 'cancelled by alice: enough'])
    assert.ok((r.fed ?? 0) < hour.length, 'at speed 1 the hour was far from fed')
    assert.ok(audits.some(a => a.action === 'control.CancelReplay' && a.accepted && a.principal === 'alice'))
  })

  await t.test('a replay goes on from its stored cursor when the dispatcher feeding it restarts', async () => {
    const client = createGrpcClient(ControlService, `127.0.0.1:${dispatcher.grpcPort}`, { token: 'ecal-token-123', deadlineMs: 30_000 })
    const before = fed.length
    // the hour's 48 minutes at speed 300: about 10 s
    const res = await client.startReplay({ campaign: 'sandbox-dry', from: { bound: { case: 'time', value: timestampFromMs(from) } }, to: { bound: { case: 'time', value: timestampFromMs(to) } }, speed: 300, reason: 'restart test' })
    const id = res.replay?.id ?? ''
    await until('two runs fed', async () => ((await client.getReplay({ id })).replay?.fed ?? 0) >= 2, 30_000, 100)
    client.close()
    await dispatcher[Symbol.asyncDispose]()
    const dispatcherGone = fed.filter(f => f.ev.contentHash === id).length
    assert.ok(dispatcherGone < hour.length, `stopped mid-replay (${dispatcherGone} of ${hour.length} fed)`)
    dispatcher = await startDispatcher(config, { AUTOCAL_CONTROL_TOKENS: JSON.stringify(tokens), AUTOCAL_WORKFLOWS_DIR: workflows })
    const again = createGrpcClient(ControlService, `127.0.0.1:${dispatcher.grpcPort}`, { token: 'ecal-token-123', deadlineMs: 30_000 })
    t.after(() => { again.close() })
    await until('the replay is done', async () => (await again.getReplay({ id })).replay?.state === ReplayState.DONE, 60_000, 200)
    const replay = (await again.getReplay({ id })).replay
    assert.ok((replay?.resumed ?? 0) >= 1, 'taken over from the stored cursor')
    assert.deepEqual([replay?.fed, replay?.total], [hour.length, hour.length])
    await until('every run of the hour reached sandbox-dry', () => new Set(fed.slice(before).filter(f => f.ev.contentHash === id).map(f => f.ev.run)).size === hour.length)
    await until('sandbox-dry has one task per collisions run', async () => {
      const r = await again.getStatus({ selector: { campaign: 'sandbox-dry' } })
      return r.cells.length === collisions.length && r.cells.every(c => collisions.includes(c.run))
    }, 60_000, 500)
  })
})
