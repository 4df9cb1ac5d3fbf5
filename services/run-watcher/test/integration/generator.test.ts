// The built-in run generator, in the service started as a process
// (`node services/run-watcher/src/index.ts`, configured only through env), on
// real Kafka and Redis.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { generateRuns } from '../../src/domain/run-generator.ts'
import { join } from 'node:path'
import { allDelivered, collectRuns, finishedCount, quietLogger, realdata, testEnv, until, type Collected } from '../helpers/harness.ts'

const entry = new URL('../../src/index.ts', import.meta.url).pathname

/** Starts the service as a process; resolves with its HTTP port once it has started. */
async function startProcess (env: Record<string, string>): Promise<{ child: ChildProcess, port: number, lines: Array<Record<string, any>> }> {
  const child = spawn(process.execPath, [entry], { env: { ...process.env, AUTOCAL_LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'inherit'] })
  const lines: Array<Record<string, any>> = []
  let port = 0
  createInterface({ input: child.stdout! }).on('line', line => {
    try {
      const entry = JSON.parse(line) as Record<string, any>
      lines.push(entry)
      if (entry.msg === 'run-watcher started') port = entry.port
    } catch { /* not a log line */ }
  })
  await until('the process started', () => {
    if (child.exitCode !== null) throw new Error(`run-watcher exited with ${child.exitCode}`)
    return port !== 0
  })
  return { child, port, lines }
}

async function stopProcess (child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode
  const exited = once(child, 'exit')
  child.kill('SIGTERM')
  const [code] = await exited as [number | null]
  return code
}

const ended = (events: Collected[]): Collected[] => events.filter(e => e.event.change.case === 'ended')

test('the generator source announces its runs once, and a restarted process announces nothing again', async t => {
  const env = testEnv({ AUTOCAL_GENERATOR_RUNS: '60', AUTOCAL_GENERATOR_SEED: '11', AUTOCAL_REPLAY_T0_STREAMS: 'ALCAPHISYM' })
  const expected = generateRuns({ runs: 60, seed: 11 })
  const { logger } = quietLogger()
  await using collector = await collectRuns(env, logger)

  const first = await startProcess(env)
  t.after(async () => { await stopProcess(first.child) })
  await until('every generated run ended', () => ended(collector.events).length === expected.length)
  const ready = await fetch(`http://127.0.0.1:${first.port}/readyz`)
  assert.equal(ready.status, 200)
  const report = await ready.json() as { checks: Record<string, any> }
  assert.equal(report.checks['source:generator']?.details.info.stepsDone, expected.length)
  const metrics = await (await fetch(`http://127.0.0.1:${first.port}/metrics`)).text()
  assert.match(metrics, /autocal_runs_emitted_total\{(?=[^}]*change="ended")(?=[^}]*source="generator")[^}]*\} 60/)
  assert.equal(await stopProcess(first.child), 0, 'SIGTERM exits 0')

  for (const want of expected) {
    const got = ended(collector.events).filter(e => e.event.run === want.run)
    assert.equal(got.length, 1, `run ${want.run}: one ended event`)
    const run = got[0]!.event.change.value
    assert.ok(run !== undefined && 'run' in run && run.run !== undefined)
    assert.equal(run.run.fill, want.fill)
    assert.equal(run.run.era, want.era)
    assert.equal(run.run.runClass, want.runClass)
    assert.equal(run.run.recordedLumiPb, want.recordedLumiPb)
    assert.equal(got[0]!.event.source, 'generator')
  }
  assert.equal(collector.events.filter(e => e.event.change.case === 'streamDone').length, expected.length, 'ALCAPHISYM done once per run')
  // Tier-0's first condition-safe run, 48 h of generated time behind: it advances over the generated runs
  const fcsr = collector.events.flatMap(e => e.event.change.case === 'fcsr' ? [e.event] : [])
  assert.ok(new Set(fcsr.map(e => e.run)).size > 1, `the FCSR advanced (${fcsr.map(e => e.run).join(', ')})`)
  assert.equal(new Set(fcsr.map(e => e.run)).size, fcsr.length, 'each FCSR announced once')
  for (const e of fcsr) {
    assert.ok(expected.some(r => r.run === e.run), `FCSR ${e.run} is a generated run`)
    assert.equal(e.source, 'generator')
  }
  const lastEnd = Math.max(...expected.map(r => r.endMs ?? 0))
  const highest = Math.max(...fcsr.map(e => e.run))
  assert.ok(expected.some(r => r.run < highest && (r.endMs ?? 0) + 48 * 3600_000 <= lastEnd), 'the FCSR is past every run locked 48 h before the last end')
  assert.ok(expected.filter(r => r.run >= highest).every(r => (r.endMs ?? 0) + 48 * 3600_000 > lastEnd), 'no run at or above the FCSR is locked yet')

  const before = collector.events.length
  const second = await startProcess(env)
  t.after(async () => { await stopProcess(second.child) })
  await allDelivered(collector, 'the second process finished its generator', () => finishedCount(second.lines, 'generator') === 1)
  assert.equal(await stopProcess(second.child), 0)
  assert.equal(collector.events.length, before, 'a restart announces nothing again')
})

async function failedStart (env: Record<string, string>): Promise<{ code: number | null, output: string }> {
  const child = spawn(process.execPath, [entry], { env: { ...process.env, AUTOCAL_HTTP_PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (b: Buffer) => { output += b.toString() })
  child.stderr.on('data', (b: Buffer) => { output += b.toString() })
  const [code] = await once(child, 'exit') as [number | null]
  return { code, output }
}

test('a bad setting stops the process at start with every bad key named', async () => {
  const bad = await failedStart({ AUTOCAL_REPLAY_FILE: '/nonexistent/runs.csv', AUTOCAL_OMS_URL: 'cmsoms' })
  assert.equal(bad.code, 1)
  assert.match(bad.output, /AUTOCAL_REPLAY_FILE/)
  assert.match(bad.output, /AUTOCAL_OMS_URL/)
  // a file that is there but is no run list (the golden JSON) fails the start too
  const notRuns = await failedStart(testEnv({ AUTOCAL_REPLAY_FILE: join(realdata, 'Cert_Collisions2022_355100_362760_Golden.json') }))
  assert.equal(notRuns.code, 1)
  assert.match(notRuns.output, /AUTOCAL_REPLAY_FILE .*Golden\.json holds no run/)
  // a generator whose runs would pass 2^32 fails the start, naming the run and the rule
  const beyond = await failedStart(testEnv({ AUTOCAL_GENERATOR_RUNS: '60', AUTOCAL_GENERATOR_FIRST_RUN: String(2 ** 32 - 10) }))
  assert.equal(beyond.code, 1)
  assert.match(beyond.output, /AUTOCAL_GENERATOR_FIRST_RUN .*run_number: run 42949\d+ is out of range/)
})
