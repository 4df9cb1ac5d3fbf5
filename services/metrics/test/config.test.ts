import { test } from 'node:test'
import assert from 'node:assert/strict'
import { loadConfig } from '@autocal/runtime'
import { Config } from '../src/config.ts'

test('notification routes are parsed from JSON; none by default', () => {
  assert.deepEqual(loadConfig(Config, {}).AUTOCAL_NOTIFY_ROUTES, [])
  const routes = [{ name: 'experts', audiences: ['experts'], webhook: 'http://127.0.0.1:1/hooks/x', channel: 'autocal-experts' }]
  assert.deepEqual(loadConfig(Config, { AUTOCAL_NOTIFY_ROUTES: JSON.stringify(routes) }).AUTOCAL_NOTIFY_ROUTES, routes)
})

test('bad routes stop the service at start, naming the key and each fault', () => {
  const table: Array<[string, RegExp]> = [
    ['[{"name": "x"', /not JSON/],
    ['[{"name": "x", "kinds": ["task-exploded"]}]', /unknown notification kind 'task-exploded'/],
    ['[{"name": "x", "webhook": "not a url"}]', /webhook/],
    ['[{"name": "x", "chanel": "typo"}]', /chanel/],
    ['[{"name": "x"}, {"name": "x", "subsystems": []}]', /route 1 \(x\): name used twice[\s\S]*route 1 \(x\): an empty list selects nothing/]
  ]
  for (const [value, message] of table) {
    assert.throws(() => loadConfig(Config, { AUTOCAL_NOTIFY_ROUTES: value }), (err: Error) => {
      assert.match(err.message, message, value)
      assert.match(err.message, /at AUTOCAL_NOTIFY_ROUTES/, value)
      return true
    })
  }
})

test('control tokens (the console\'s redrive) take the dispatcher\'s format; a bad one or one that is also a read token stops the start', () => {
  assert.deepEqual(loadConfig(Config, {}).AUTOCAL_CONTROL_TOKENS, [])
  assert.deepEqual(loadConfig(Config, { AUTOCAL_CONTROL_TOKENS: '{"alice-token-1": {"principal": "alice", "subsystems": ["ECAL"]}}' }).AUTOCAL_CONTROL_TOKENS,
    [['alice-token-1', { principal: 'alice', subsystems: ['ECAL'] }]])
  const table: Array<[Record<string, string>, RegExp]> = [
    [{ AUTOCAL_CONTROL_TOKENS: '{"alice-token-1": ' }, /AUTOCAL_CONTROL_TOKENS: not JSON/],
    [{ AUTOCAL_CONTROL_TOKENS: '{"short": {"principal": "alice", "subsystems": "*"}}' }, /entry 1 \(alice\): the token is shorter than 8/],
    [{ AUTOCAL_CONTROL_TOKENS: '{"alice-token-1": {"principal": "alice"}}' }, /AUTOCAL_CONTROL_TOKENS: entry 1: expected/],
    [{ AUTOCAL_CONTROL_TOKENS: '{"shared-token-1": {"principal": "alice", "subsystems": "*"}}', AUTOCAL_READ_TOKENS: 'bob:shared-token-1' }, /control token of alice is also the read token of bob/]
  ]
  for (const [env, message] of table) {
    assert.throws(() => loadConfig(Config, env), (err: Error) => {
      assert.match(err.message, message)
      assert.match(err.message, /AUTOCAL_CONTROL_TOKENS/)
      assert.doesNotMatch(err.message, /shared-token-1|alice-token-1/, 'never the token')
      return true
    }, JSON.stringify(env))
  }
})
