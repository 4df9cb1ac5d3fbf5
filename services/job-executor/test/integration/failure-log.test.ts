// A failed job as the shifter meets it, on the real Kafka and Redis: its
// reason carries the tail of its log, the log link it publishes answers
// (the job id's slashes URL-encoded), and `bin/autocal logs JOB` prints the
// log through the same route with the read token.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { loadConfig } from '@autocal/runtime'
import { Config } from '../../src/config.ts'
import { startJobExecutor } from '../../src/app.ts'
import { asReader, outdirOf, quietLogger, readToken, startBench, testEnv, until } from '../helpers/harness.ts'

const autocal = join(import.meta.dirname, '../../../../bin/autocal')

function cli (args: string[], env: Record<string, string>): Promise<{ code: number, stdout: string, stderr: string }> {
  return new Promise(resolve => {
    execFile(autocal, args, { env: { ...process.env, AUTOCAL_CONFIG: '', AUTOCAL_TOKEN: '', ...env } }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr })
    })
  })
}

test('a failed job says the end of its log, its log link answers, and `autocal logs` prints it', { timeout: 120_000 }, async () => {
  const env = testEnv()
  const logger = quietLogger()
  await using bench = await startBench(env, logger)
  await using executor = await startJobExecutor(loadConfig(Config, env), logger)
  const jobId = 'prompt/run-357478/timing-reco/1/0'
  await bench.request(jobId, ['python3', '-c', `
import sys
print('reading run 357478', flush=True)
print('Traceback (most recent call last):', file=sys.stderr)
print('ValueError: no hits in EB+05', file=sys.stderr)
sys.exit(3)`], { outdir: outdirOf(env, 'failing') })
  await until('the job failed', () => bench.final(jobId) !== undefined)
  const status = bench.final(jobId)!
  assert.equal(status.reason, 'exit code 3; log tail: reading run 357478 | Traceback (most recent call last): | ValueError: no hits in EB+05')

  // the link the executor publishes (and the dispatcher and the CLI print) answers with the log
  assert.equal(status.logUrl, `http://127.0.0.1:${executor.port}/jobs/prompt%2Frun-357478%2Ftiming-reco%2F1%2F0/log?try=1`)
  const linked = await fetch(status.logUrl, asReader)
  assert.equal(linked.status, 200)
  assert.match(await linked.text(), /ValueError: no hits in EB\+05\n$/)

  const executorUrl = `http://127.0.0.1:${executor.port}`
  const logs = await cli(['logs', jobId, '--executor', executorUrl], { AUTOCAL_READ_TOKEN: readToken })
  assert.equal(logs.code, 0, logs.stderr)
  assert.equal(logs.stdout, 'reading run 357478\nTraceback (most recent call last):\nValueError: no hits in EB+05\n')
  const tail = await cli(['logs', jobId, '--tail', '1', '--follow', '--json'], { AUTOCAL_READ_TOKEN: readToken, AUTOCAL_EXECUTOR_URL: executorUrl })
  assert.equal(tail.code, 0, tail.stderr)
  assert.deepEqual(tail.stdout.trim().split('\n').map(l => JSON.parse(l) as unknown), [{ job: jobId, try: 1, text: 'ValueError: no hits in EB+05\n' }])
  // without the read token: the executor's refusal in one line, exit 1
  const refused = await cli(['logs', jobId, '--executor', executorUrl], {})
  assert.equal(refused.code, 1)
  assert.match(refused.stderr, /^autocal: http:\/\/127\.0\.0\.1:\d+\/jobs\/prompt%2Frun-357478%2Ftiming-reco%2F1%2F0\/log\?try=1: HTTP 401: a read token is needed/)
})
