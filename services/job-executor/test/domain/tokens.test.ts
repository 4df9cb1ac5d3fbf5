import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseTokenList, tokenChecker } from '../../src/domain/tokens.ts'

test('token lists: name and token per entry, by comma or line', () => {
  assert.deepEqual(parseTokenList('agent-a=tok-aaaa-1, agent-b=tok-bbbb-2', '=', 'K'), { ok: true, entries: [['agent-a', 'tok-aaaa-1'], ['agent-b', 'tok-bbbb-2']] })
  assert.deepEqual(parseTokenList('# agents\nagent-a=tok-aaaa-1\n\nagent-b=tok=with=equals\n', '=', 'K'), { ok: true, entries: [['agent-a', 'tok-aaaa-1'], ['agent-b', 'tok=with=equals']] })
  assert.deepEqual(parseTokenList('alice:read-token-1', ':', 'K'), { ok: true, entries: [['alice', 'read-token-1']] })
  assert.deepEqual(parseTokenList('', '=', 'K'), { ok: true, entries: [] })
})

test('a bad token list is refused naming the key, never showing a token', () => {
  const cases: Array<[string, RegExp]> = [
    ['just-a-token-no-name', /^K: entry 1 is not <name>=<token>/],
    ['agent-a=', /^K: entry 1 is not/],
    ['agent-a=short', /^K: the token of agent-a is shorter than 8 characters$/],
    ['agent-a=tok-aaaa-1,agent-a=tok-aaaa-2', /^K: agent-a has more than one token$/],
    ['agent-a=tok-aaaa-1,agent-b=tok-aaaa-1', /^K: the token of agent-b is also another entry's token/],
    ['../x=tok-aaaa-1', /^K: entry 1: name "\.\.\/x" must be/]
  ]
  for (const [text, problem] of cases) {
    const r = parseTokenList(text, '=', 'K')
    assert.equal(r.ok, false, text)
    const message = (r as { problem: string }).problem
    assert.match(message, problem, text)
    assert.doesNotMatch(message, /tok-aaaa/, 'no token in the message')
  }
})

test('a presented token is the name it belongs to, or nothing', () => {
  const check = tokenChecker([['agent-a', 'tok-aaaa-1'], ['agent-b', 'tok-bbbb-2']])
  assert.equal(check('tok-aaaa-1'), 'agent-a')
  assert.equal(check('tok-bbbb-2'), 'agent-b')
  assert.equal(check('tok-aaaa-'), undefined, 'a prefix is not the token')
  assert.equal(check('tok-aaaa-1 '), undefined)
  assert.equal(check(''), undefined)
  assert.equal(check(undefined), undefined)
  assert.equal(tokenChecker([])('anything'), undefined)
})
