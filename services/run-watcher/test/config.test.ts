import { test } from 'node:test'
import assert from 'node:assert/strict'
import { loadConfig } from '@autocal/runtime'
import { Config } from '../src/config.ts'

test('no source configured is valid: the watcher then only takes injections', () => {
  const c = loadConfig(Config, {})
  assert.equal(c.AUTOCAL_OMS_URL, undefined)
  assert.equal(c.AUTOCAL_HTTP_PORT, 8081)
  assert.deepEqual(c.AUTOCAL_REPLAY_T0_STREAMS, ['Express', 'ALCAPHISYM'])
})

test('bad source settings fail at start, each named', () => {
  assert.throws(() => loadConfig(Config, {
    AUTOCAL_REPLAY_FILE: '/nonexistent/runs.csv',
    AUTOCAL_OMS_URL: 'not a url',
    AUTOCAL_OMS_TOKEN_URL: 'http://127.0.0.1:1/token',
    AUTOCAL_T0_URL: 'http://127.0.0.1:2',
    AUTOCAL_INJECT_TOKENS: 'alice:justatoken'
  }), (err: Error) => {
    for (const key of ['AUTOCAL_REPLAY_FILE', 'AUTOCAL_OMS_URL', 'AUTOCAL_INJECT_TOKENS']) assert.match(err.message, new RegExp(key))
    assert.match(err.message, /file does not exist/)
    assert.match(err.message, /the old "<principal>:<token>,\.\.\." form has no scope/)
    assert.doesNotMatch(err.message, /justatoken/, 'a token is never echoed')
    return true
  })
  assert.throws(() => loadConfig(Config, { AUTOCAL_OMS_TOKEN_URL: 'http://127.0.0.1:1/token' }), /together/)
  assert.throws(() => loadConfig(Config, { AUTOCAL_T0_URL: 'http://127.0.0.1:2' }), /AUTOCAL_T0_STREAMS/)
})

test('injection tokens are JSON with scopes, from the environment or a file, never both; "none" turns replayed Tier-0 facts off', () => {
  const c = loadConfig(Config, { AUTOCAL_INJECT_TOKENS: '{"s3cret-token": {"principal": "alice", "subsystems": "*"}}', AUTOCAL_REPLAY_T0_STREAMS: 'none' })
  assert.equal(typeof c.AUTOCAL_INJECT_TOKENS, 'string')
  assert.deepEqual(c.AUTOCAL_REPLAY_T0_STREAMS, [])
  assert.throws(() => loadConfig(Config, { AUTOCAL_INJECT_TOKENS: '{"short": {"principal": "bob", "subsystems": "*"}}' }), /shorter than 8 characters/)
  assert.throws(() => loadConfig(Config, { AUTOCAL_INJECT_TOKENS: '{"long-enough": {"principal": "bob"}}' }), /entry 1: expected/)
  assert.throws(() => loadConfig(Config, { AUTOCAL_INJECT_TOKENS: '{}', AUTOCAL_INJECT_TOKENS_FILE: '/etc/hostname' }), /not both/)
  assert.throws(() => loadConfig(Config, { AUTOCAL_INJECT_TOKENS_FILE: '/nonexistent/tokens.json' }), /file does not exist[\s\S]*AUTOCAL_INJECT_TOKENS_FILE/)
})

test('the generator is off by default, and its start is a time or "now"', () => {
  assert.equal(loadConfig(Config, {}).AUTOCAL_GENERATOR_RUNS, 0)
  const c = loadConfig(Config, { AUTOCAL_GENERATOR_RUNS: '500', AUTOCAL_GENERATOR_START: 'now', AUTOCAL_GENERATOR_SCALE: '600' })
  assert.equal(c.AUTOCAL_GENERATOR_RUNS, 500)
  assert.equal(c.AUTOCAL_GENERATOR_START, 'now')
  assert.throws(() => loadConfig(Config, { AUTOCAL_GENERATOR_START: 'yesterday', AUTOCAL_GENERATOR_RUNS: '-1' }), (err: Error) => {
    assert.match(err.message, /AUTOCAL_GENERATOR_START/)
    assert.match(err.message, /AUTOCAL_GENERATOR_RUNS/)
    return true
  })
})

test('the replay announces the FCSR 48 h behind by default; hours or "none" set it, anything else is refused', () => {
  assert.equal(loadConfig(Config, {}).AUTOCAL_REPLAY_FCSR_DELAY_HOURS, 48)
  assert.equal(loadConfig(Config, { AUTOCAL_REPLAY_FCSR_DELAY_HOURS: '24' }).AUTOCAL_REPLAY_FCSR_DELAY_HOURS, 24)
  assert.equal(loadConfig(Config, { AUTOCAL_REPLAY_FCSR_DELAY_HOURS: 'none' }).AUTOCAL_REPLAY_FCSR_DELAY_HOURS, false)
  assert.throws(() => loadConfig(Config, { AUTOCAL_REPLAY_FCSR_DELAY_HOURS: 'two days' }), /AUTOCAL_REPLAY_FCSR_DELAY_HOURS/)
})

test('run number settings are refused at 2^32 and above, as on every topic', () => {
  assert.throws(() => loadConfig(Config, { AUTOCAL_GENERATOR_FIRST_RUN: String(2 ** 32), AUTOCAL_OMS_FIRST_RUN: String(2 ** 32 + 5), AUTOCAL_REPLAY_TO_RUN: '0' }), (err: Error) => {
    for (const key of ['AUTOCAL_GENERATOR_FIRST_RUN', 'AUTOCAL_OMS_FIRST_RUN', 'AUTOCAL_REPLAY_TO_RUN']) assert.match(err.message, new RegExp(key))
    return true
  })
  assert.equal(loadConfig(Config, { AUTOCAL_GENERATOR_FIRST_RUN: String(2 ** 32 - 1) }).AUTOCAL_GENERATOR_FIRST_RUN, 2 ** 32 - 1)
})

test('Tier-0 stream and dataset names follow the name grammar', () => {
  assert.deepEqual(loadConfig(Config, { AUTOCAL_T0_URL: 'http://127.0.0.1:2', AUTOCAL_T0_STREAMS: 'Express, ALCAPHISYM', AUTOCAL_T0_DATASETS: 'ZeroBias' }).AUTOCAL_T0_DATASETS, ['ZeroBias'])
  assert.throws(() => loadConfig(Config, { AUTOCAL_T0_URL: 'http://127.0.0.1:2', AUTOCAL_T0_STREAMS: 'Express,../x', AUTOCAL_REPLAY_T0_STREAMS: 'a/b' }), (err: Error) => {
    assert.match(err.message, /"\.\.\/x" is not a valid stream or dataset name[\s\S]*AUTOCAL_T0_STREAMS/)
    assert.match(err.message, /"a\/b" is not a valid stream/)
    return true
  })
})
