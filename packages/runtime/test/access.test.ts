import { test } from 'node:test'
import assert from 'node:assert/strict'
import { auditPeer, createTokenIndex, parseScopedTokens, parseTokenList, presentedReadToken } from '../src/access.ts'

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

test('a presented token is the value it belongs to, or nothing', () => {
  const check = createTokenIndex([['tok-aaaa-1', 'agent-a'], ['tok-bbbb-2', 'agent-b']]).lookup
  assert.equal(check('tok-aaaa-1'), 'agent-a')
  assert.equal(check('tok-bbbb-2'), 'agent-b')
  assert.equal(check('tok-aaaa-'), undefined, 'a prefix is not the token')
  assert.equal(check('tok-aaaa-1 '), undefined)
  assert.equal(check(''), undefined)
  assert.equal(check(undefined), undefined)
  assert.equal(createTokenIndex([]).lookup('anything'), undefined)
})

test('scoped tokens (control and injection): principal and subsystems per token; a bad entry names the key, never the token', () => {
  assert.deepEqual(parseScopedTokens('{"tok-aaaa-1": {"principal": "ecal", "subsystems": ["ECAL"]}, "tok-bbbb-2": {"principal": "ops", "subsystems": "*"}}', 'K'),
    [['tok-aaaa-1', { principal: 'ecal', subsystems: ['ECAL'] }], ['tok-bbbb-2', { principal: 'ops', subsystems: ['*'] }]])
  const cases: Array<[string, RegExp]> = [
    ['not json tok-aaaa-1', /^K: not JSON/],
    ['["tok-aaaa-1"]', /^K: expected an object/],
    ['{"tok-aaaa-1": {"principal": ""}}', /^K: entry 1: expected \{"principal"/],
    ['{"tok-aaaa-1": {"principal": "a", "subsystems": [1]}}', /^K: entry 1: expected/],
    ['{"tiny1": {"principal": "a", "subsystems": "*"}}', /^K: entry 1 \(a\): the token is shorter than 8 characters$/]
  ]
  for (const [json, problem] of cases) {
    const r = parseScopedTokens(json, 'K')
    assert.equal(typeof r, 'string', json)
    assert.match(r as string, problem, json)
    assert.doesNotMatch(r as string, /tok-aaaa|tiny1/, 'no token in the message')
  }
})

test('a read token is taken from the bearer header, else from the autocal_read cookie', () => {
  const cases: Array<[Record<string, string>, string | undefined]> = [
    [{ authorization: 'Bearer tok-aaaa-1' }, 'tok-aaaa-1'],
    [{ authorization: 'bearer tok-aaaa-1 ' }, 'tok-aaaa-1'],
    [{ authorization: 'tok-aaaa-1' }, undefined],
    [{ cookie: 'x=1; autocal_read=tok%2Fbbbb; y=2' }, 'tok/bbbb'],
    [{ cookie: 'autocal_read=' }, undefined],
    [{ cookie: 'autocal_read=%E0%A4%A' }, '%E0%A4%A'],
    [{ cookie: 'autocal_read=tok%' }, 'tok%'],
    [{ authorization: 'Bearer tok-aaaa-1', cookie: 'autocal_read=tok-bbbb-2' }, 'tok-aaaa-1'],
    [{}, undefined]
  ]
  for (const [headers, expected] of cases) assert.equal(presentedReadToken({ headers }), expected, JSON.stringify(headers))
})

test('peers are spelled as audit records spell them', () => {
  const table: Array<[string | undefined, number | undefined, string]> = [
    ['127.0.0.1', 50312, 'ipv4:127.0.0.1:50312'],
    ['::1', 50312, 'ipv6:[::1]:50312'],
    ['127.0.0.1:50312', undefined, 'ipv4:127.0.0.1:50312'],
    ['[::1]:50312', undefined, 'ipv6:[::1]:50312'],
    ['ipv4:10.0.0.1:1', undefined, 'ipv4:10.0.0.1:1'],
    [undefined, undefined, 'unknown']
  ]
  for (const [address, port, spelled] of table) assert.equal(auditPeer(address, port), spelled, `${String(address)} ${String(port)}`)
})
