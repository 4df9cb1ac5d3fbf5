import { test } from 'node:test'
import assert from 'node:assert/strict'
import { loadConfig } from '@autocal/runtime'
import { Config } from '../src/config.ts'

test('the watchdog keys have sane defaults, and a bad value stops the start naming the key', () => {
  const base = { AUTOCAL_CONTROL_INSECURE: 'true' } // the control API's own start-up rule (TLS or an explicit choice), not under test here
  const config = loadConfig(Config, base)
  assert.deepEqual([config.AUTOCAL_JOB_ANSWER_TIMEOUT_MS, config.AUTOCAL_JOB_ANSWER_REREQUESTS], [120_000, 2])
  const bad: Array<[Record<string, string>, RegExp]> = [
    [{ AUTOCAL_JOB_ANSWER_TIMEOUT_MS: '500' }, /AUTOCAL_JOB_ANSWER_TIMEOUT_MS/],
    [{ AUTOCAL_JOB_ANSWER_TIMEOUT_MS: 'two minutes' }, /AUTOCAL_JOB_ANSWER_TIMEOUT_MS/],
    [{ AUTOCAL_JOB_ANSWER_REREQUESTS: '-1' }, /AUTOCAL_JOB_ANSWER_REREQUESTS/],
    [{ AUTOCAL_JOB_ANSWER_REREQUESTS: '11' }, /AUTOCAL_JOB_ANSWER_REREQUESTS/]
  ]
  for (const [env, key] of bad) assert.throws(() => loadConfig(Config, { ...base, ...env }), (err: Error & { code?: string }) => err.code === 'AUTOCAL_CONFIG_INVALID' && key.test(err.message), JSON.stringify(env))
})
