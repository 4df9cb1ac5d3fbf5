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
