import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mayInjectRunFacts } from '../src/domain/inject-tokens.ts'
import { parseInjectTokens } from '../src/inject-tokens.ts'

const json = JSON.stringify({
  'admin-token-0001': { principal: 'run-coordinator', subsystems: '*' },
  'ecal-token-0002': { principal: 'ecal-shifter', subsystems: ['ECAL'] },
  'none-token-0003': { principal: 'reader', subsystems: [] }
})

test('tokens are kept as digests and looked up by digest', () => {
  const tokens = parseInjectTokens(json, 'AUTOCAL_INJECT_TOKENS')
  assert.ok(typeof tokens !== 'string')
  assert.equal(tokens.size, 3)
  const table: Array<[string, string | undefined]> = [
    ['admin-token-0001', 'run-coordinator'],
    ['ecal-token-0002', 'ecal-shifter'],
    ['admin-token-000', undefined], // a prefix
    ['admin-token-00011', undefined], // longer
    ['', undefined],
    ['constructor', undefined], // no inherited names
    ['__proto__', undefined]
  ]
  for (const [presented, principal] of table) assert.equal(tokens.lookup(presented)?.principal, principal, JSON.stringify(presented))
})

test('only a token for every subsystem may inject run facts: they are every subsystem\'s', () => {
  const table: Array<[string[], boolean]> = [[['*'], true], [['ECAL'], false], [['ECAL', 'PPS'], false], [[], false]]
  for (const [subsystems, ok] of table) {
    const decision = mayInjectRunFacts({ principal: 'p', subsystems })
    assert.equal(decision.ok, ok, subsystems.join(','))
    if (!decision.ok) {
      assert.equal(decision.status, 403)
      assert.match(decision.reason, /p may act for .*run facts are shared by every subsystem/)
    }
  }
})

test('bad token settings are refused naming the setting and the entry, never the token', () => {
  const table: Array<[string, RegExp]> = [
    ['alice:s3cret-token', /not JSON.*old "<principal>:<token>,\.\.\." form/],
    ['[]', /expected an object/],
    ['{"s3cret-token": {"principal": "", "subsystems": "*"}}', /entry 1: expected/],
    ['{"s3cret-token": {"principal": "a", "subsystems": "ECAL"}}', /entry 1: expected/],
    ['{"s3cret-token": {"principal": "a", "subsystems": [1]}}', /entry 1: expected/],
    ['{"s3cret": {"principal": "a", "subsystems": "*"}}', /entry 1 \(a\): the token is shorter than 8 characters/]
  ]
  for (const [text, message] of table) {
    const parsed = parseInjectTokens(text, 'AUTOCAL_INJECT_TOKENS')
    assert.equal(typeof parsed, 'string', text)
    assert.match(parsed as string, message, text)
    assert.match(parsed as string, /^AUTOCAL_INJECT_TOKENS: /)
    assert.ok(!(parsed as string).includes('s3cret'), `no token in: ${parsed as string}`)
  }
})
