// The htcondor backend against the STAND-IN HTCondor tools of
// test/stand-ins/condor (real processes; HTCondor's argument and -json formats).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createCondorBackend } from '../../src/adapters/htcondor.ts'
import type { BatchState } from '../../src/domain/batch-state.ts'
import { until } from '../helpers/harness.ts'

const binDir = new URL('../stand-ins/condor/', import.meta.url).pathname

function setup () {
  const dir = mkdtempSync(join(tmpdir(), 'autocal-condor-'))
  const condor = createCondorBackend({ binDir, env: { CONDOR_STANDIN_DIR: join(dir, 'schedd') } })
  const spec = (name: string, argv: string[], extra: { timeoutS?: number, attributes?: Record<string, string> } = {}) => ({
    jobId: `prompt/b1/${name}/1/0`,
    try: 1,
    argv,
    env: { AUTOCAL_JOB: '0', AUTOCAL_RUNS: '355100,355101', GREETING: "it's a \"test\"" },
    outdir: join(dir, name),
    stdout: join(dir, name, 'job.out'),
    stderr: join(dir, name, 'job.err'),
    timeoutS: extra.timeoutS ?? 0,
    cpus: 1,
    memoryMb: 2000,
    diskMb: 100,
    ...(extra.attributes === undefined ? {} : { attributes: extra.attributes })
  })
  return { dir, condor, spec }
}

async function final (condor: ReturnType<typeof createCondorBackend>, id: string): Promise<BatchState> {
  let state: BatchState | undefined
  await until(`HTCondor job ${id} ended`, async () => {
    state = await condor.state(id)
    return state !== undefined && (state.phase === 'done' || state.phase === 'failed')
  }, 30_000)
  return state!
}

test('a job submitted to HTCondor runs with its arguments and environment and completes', async () => {
  const { dir, condor, spec } = setup()
  const id = await condor.submit(spec('ok', ['python3', '-c', 'import os, sys; open("out.txt", "w").write(sys.argv[1] + "|" + os.environ["GREETING"] + "|" + os.environ["AUTOCAL_RUNS"])', "two words and 'quotes'"]))
  assert.match(id, /^\d+\.0$/)
  assert.deepEqual(await final(condor, id), { phase: 'done', exitCode: 0, reason: '', retryable: false })
  assert.equal(readFileSync(join(dir, 'ok', 'out.txt'), 'utf8'), "two words and 'quotes'|it's a \"test\"|355100,355101")
  const sub = readFileSync(join(dir, 'ok', 'autocal.sub'), 'utf8')
  assert.match(sub, /^executable = \/.*python3$/m)
  assert.match(sub, /^request_memory = 2000$/m)
  assert.match(sub, /^\+AutocalJobId = "prompt\/b1\/ok\/1\/0"$/m)
  assert.match(sub, /^\+AutocalTry = 1$/m)
})

test('a submitted job is found by its autocal job id and try, in the queue and after it left it', async () => {
  const { condor, spec } = setup()
  assert.equal(await condor.find('prompt/b1/found/1/0', 1), undefined, 'nothing submitted yet')
  const id = await condor.submit(spec('found', ['python3', '-c', 'print(1)']))
  assert.equal(await condor.find('prompt/b1/found/1/0', 1), id)
  assert.equal(await condor.find('prompt/b1/found/1/0', 2), undefined, 'another try is another job')
  assert.equal(await condor.find('prompt/b1/other/1/0', 1), undefined)
  await final(condor, id)
  assert.equal(await condor.find('prompt/b1/found/1/0', 1), id, 'found in the history once it completed')
})

test('a non-zero exit, a held job and a job over its allowed duration fail with HTCondor\'s reason', async () => {
  const { condor, spec } = setup()
  const exit = await condor.submit(spec('exit', ['python3', '-c', 'import sys; sys.exit(7)']))
  const held = await condor.submit(spec('held', ['/bin/true'], { attributes: { StandinHold: '"Error from slot1@node042: SHADOW at 10.0.0.1 failed to send file(s) to <10.0.0.2>"', StandinHoldCode: '12' } }))
  const slow = await condor.submit(spec('slow', ['sleep', '60'], { timeoutS: 1 }))
  assert.deepEqual(await final(condor, exit), { phase: 'failed', exitCode: 7, reason: 'exit code 7', retryable: true })
  const h = await final(condor, held)
  assert.equal(h.reason, 'held by HTCondor: Error from slot1@node042: SHADOW at 10.0.0.1 failed to send file(s) to <10.0.0.2> (HoldReasonCode 12)')
  assert.equal(h.retryable, true)
  const s = await final(condor, slow)
  assert.equal(s.reason, 'held by HTCondor: The job exceeded allowed execute duration of 0+00:00:01 (HoldReasonCode 47)')
})

test('condor_rm cancels a running job; unknown jobs and bad executables are errors', async () => {
  const { dir, condor, spec } = setup()
  const id = await condor.submit(spec('long', ['python3', '-c', `import os, time; open(${JSON.stringify(join(dir, 'pid'))}, 'w').write(str(os.getpid())); time.sleep(60)`]))
  await until('running', () => existsSync(join(dir, 'pid')))
  assert.equal((await condor.state(id))?.phase, 'running')
  await condor.cancel(id)
  const removed = await final(condor, id)
  assert.match(removed.reason, /^removed from HTCondor: via condor_rm \(by user .+\)$/)
  assert.equal(removed.retryable, false)
  const pid = Number(readFileSync(join(dir, 'pid'), 'utf8'))
  await until('process gone', () => { try { process.kill(pid, 0); return false } catch { return true } })
  assert.equal(await condor.state('999.0'), undefined)
  await assert.rejects(condor.cancel('999.0'), /condor_rm 999.0 failed: Couldn't find\/remove all jobs in cluster 999/)
  await assert.rejects(condor.submit(spec('bad', ['/no/such/program'])), /condor_submit .* failed: .*ERROR: Executable file \/no\/such\/program does not exist/)
})
