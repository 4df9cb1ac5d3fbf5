// `autocal resubmit --failed-jobs` end to end, the `bin`'s main.ts process
// against a dispatcher process on real Kafka + Redis: a task whose job failed
// beyond its budget (a sibling cancelled, one done) runs again only its
// unfinished jobs with their next try, in the same attempt, and ends done; a
// resubmit that finds nothing failed is refused; both are audited.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { topics } from '@autocal/contracts'
import { startProducer } from '@autocal/runtime'
import { realRuns, repo, runEvents, silentLogger, spawnDispatcher, startBackends, startedJobs, stopDispatcher, testConfig, until } from './fixtures.ts'

const workflow = `subsystem: ECAL
workflow: resubmit-demo
runTypes:
  collisions: { filter: { runClass: collisions2022 } }
tasks:
  - name: split
    block: run
    jobs: 3
    # real jobs: on try 1, job 1 fails (after job 0 is done) and job 2 runs until it is cancelled; every try 2 succeeds
    run: [sh, -c, 'if [ "$AUTOCAL_TRY" = 1 ] && [ "$AUTOCAL_JOB" = 1 ]; then sleep 2; exit 3; fi; if [ "$AUTOCAL_TRY" = 1 ] && [ "$AUTOCAL_JOB" = 2 ]; then sleep 300; fi; true']
    retries: 0
  - name: merge
    needs: [split]
    run: ["true"]
`
const cliPath = join(repo, 'packages/cli/src/main.ts')

function cli (args: string[], env: Record<string, string>): Promise<{ code: number, stdout: string, stderr: string }> {
  return new Promise(resolve => {
    execFile(process.execPath, [cliPath, ...args], { env: { ...process.env, AUTOCAL_TOKEN: '', ...env } }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr })
    })
  })
}

test('resubmit --failed-jobs runs again only the unfinished jobs of a failed task, in the same attempt, audited', { timeout: 150_000 }, async t => {
  const config = testConfig()
  const dir = mkdtempSync(join(tmpdir(), 'autocal-wf-'))
  writeFileSync(join(dir, 'resubmit-demo.yaml'), workflow)
  const job = (i: number): string => `prompt/run-357401/split/1/${i}`
  await using backends = await startBackends(config)
  const dispatcher = await spawnDispatcher(config, { AUTOCAL_WORKFLOWS_DIR: dir, AUTOCAL_CONTROL_TOKENS: JSON.stringify({ 'ecal-token-123': { principal: 'alice', subsystems: ['ECAL'] } }) })
  t.after(async () => { await stopDispatcher(dispatcher) })
  const kafka = { AUTOCAL_KAFKA_TOPIC_PREFIX: config.AUTOCAL_KAFKA_TOPIC_PREFIX }
  const alice = { ...kafka, AUTOCAL_CONTROL_URL: `127.0.0.1:${dispatcher.grpcPort}`, AUTOCAL_TOKEN: 'ecal-token-123' }
  await using producer = await startProducer({ config, logger: silentLogger, service: 'test-run-watcher' })
  await producer.publishMany(topics.runs, runEvents(realRuns(357401, 357401)))

  const states = async (): Promise<Record<string, string>> => {
    const r = await cli(['jobs', '--campaign', 'prompt', '--block', 'run-357401', '--task', 'split', '--json'], alice)
    return Object.fromEntries(r.stdout.trim().split('\n').filter(l => l !== '').map(l => JSON.parse(l) as { job: string, state: string, try: number }).map(j => [j.job, `${j.state}#${j.try}`]))
  }
  const status = async (task: string): Promise<{ state: string, attempt: number, reason: string } | undefined> => {
    const r = await cli(['status', '--campaign', 'prompt', '--task', task, '--json'], alice)
    return r.code === 0 ? (JSON.parse(r.stdout) as { cells?: Array<{ state: string, attempt: number, reason: string }> }).cells?.[0] : undefined
  }
  await until('split failed', async () => (await status('split'))?.state === 'TASK_STATE_FAILED', 60_000)
  assert.match((await status('split'))?.reason ?? '', /^job 1 try 1 failed: exit code 3\b.*; retries exhausted$/)
  const before = await states()
  assert.equal(before[job(0)], 'done#1')
  assert.equal(before[job(1)], 'failed#1')

  await t.test('without --failed-jobs it is a usage error that names reprocess', async () => {
    const r = await cli(['resubmit', '--campaign', 'prompt', '--task', 'split', '--reason', 'x'], alice)
    assert.equal(r.code, 2)
    assert.match(r.stderr, /^autocal: resubmit needs --failed-jobs: .*\(to run whole tasks again: reprocess\)\n/)
  })

  await t.test('the failed and the cancelled job run again with try 2; the done job and the attempt stay', async () => {
    const r = await cli(['resubmit', '--failed-jobs', '--campaign', 'prompt', '--block', 'run-357401', '--task', 'split', '--reason', 'worker node lost its disk', '--wait', '--timeout', '60s'], alice)
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /^resubmit accepted: 2 unfinished job\(s\) of 1 failed task\(s\) requested again \(command [0-9a-f-]{36}\)\n$/)
    // not a terminal: no bar, the counts lines only
    assert.match(r.stderr, /1 task\(s\): 1 done, 0 processing, 0 waiting, 0 failed\nsettled\n$/)
    assert.ok(!r.stderr.includes('\u001b'), 'no control sequence when stderr is not a terminal')
    const started = startedJobs(backends)
    assert.ok(started.has(`${job(1)}#2`) && started.has(`${job(2)}#2`), 'the failed and the cancelled job were requested with try 2')
    assert.ok(!started.has(`${job(0)}#2`), 'the done job was not requested again')
    assert.ok(![...started].some(j => j.startsWith('prompt/run-357401/split/2/')), 'no attempt 2')
    const cell = await status('split')
    assert.equal(cell?.state, 'TASK_STATE_DONE')
    assert.equal(cell?.attempt, 1)
    assert.deepEqual(await states(), { [job(0)]: 'done#1', [job(1)]: 'done#2', [job(2)]: 'done#2' })
    await until('merge, blocked on the failed split, runs on', async () => (await status('merge'))?.state === 'TASK_STATE_DONE', 60_000)
  })

  await t.test('a resubmit that finds no failed task is refused, naming what it found', async () => {
    const r = await cli(['resubmit', '--failed-jobs', '--campaign', 'prompt', '--task', 'split', '--reason', 'again'], alice)
    assert.equal(r.code, 1)
    assert.equal(r.stderr.trim(), 'autocal: INVALID_ARGUMENT: no failed task with unfinished jobs among the 1 selected task(s) (states: done); a task that failed after its jobs (its upload) needs reprocess')
  })

  await t.test('both are audited with who, why and the jobs', async () => {
    interface AuditJson { principal: string, action: string, accepted?: boolean, reason?: string, details?: Record<string, string> }
    let records: AuditJson[] = []
    await until('the audit records', async () => {
      const r = await cli(['audit', '--json', '--action', 'control.ResubmitFailedJobs'], kafka)
      records = r.stdout.trim() === '' ? [] : r.stdout.trim().split('\n').map(l => JSON.parse(l) as AuditJson)
      return records.length >= 2
    }, 30_000)
    assert.deepEqual(records.map(a => [a.principal, a.accepted === true, a.reason]), [
      ['alice', true, 'worker node lost its disk'],
      ['alice', false, 'refused: no failed task with unfinished jobs among the 1 selected task(s) (states: done); a task that failed after its jobs (its upload) needs reprocess (operator\'s reason: again)']
    ])
    assert.equal(records[0]?.details?.jobs, 'run-357401/split/1/1,run-357401/split/1/2')
  })
})
