import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { buildHttp, createLogger, createMetrics, guardReads, readAccessOf } from '../src/index.ts'

async function app (config: { AUTOCAL_READ_TOKENS: Array<[string, string]>, AUTOCAL_READ_PUBLIC: boolean }, lines: string[] = []) {
  const logger = createLogger({ service: 'test', level: 'warn', destination: new Writable({ write (chunk, _e, done) { lines.push(String(chunk)); done() } }) })
  const http = await buildHttp({ logger, metrics: createMetrics({ service: 'test' }), checks: [] })
  guardReads(http, { access: readAccessOf(config), logger, open: ['/page'] })
  http.get('/api/data', async req => ({ reader: (req as unknown as { reader?: { principal: string } }).reader?.principal ?? null }))
  http.get('/page', async () => 'page')
  return http
}

test('reads need a read token (bearer header or the autocal_read cookie); probes, /metrics and open pages do not; refusals are logged with the peer, never the token', async () => {
  const lines: string[] = []
  await using http = await app({ AUTOCAL_READ_TOKENS: [['alice', 'alice-read-1']], AUTOCAL_READ_PUBLIC: false }, lines)
  const table: Array<[string, Record<string, string>, number]> = [
    ['/api/data', {}, 401],
    ['/api/data', { authorization: 'Bearer wrong-token-1' }, 401],
    ['/api/data', { authorization: 'alice-read-1' }, 401],
    ['/api/data', { authorization: 'Bearer alice-read-1' }, 200],
    ['/api/data', { cookie: 'autocal_read=alice-read-1' }, 200],
    ['/api/data', { cookie: 'autocal_read=%E0%A4%A' }, 401],
    ['/no/such/route', {}, 401],
    ['/healthz', {}, 200],
    ['/metrics', {}, 200],
    ['/page', {}, 200]
  ]
  for (const [url, headers, status] of table) assert.equal((await http.inject({ url, headers })).statusCode, status, `${url} ${JSON.stringify(headers)}`)
  assert.deepEqual((await http.inject({ url: '/api/data', headers: { authorization: 'Bearer alice-read-1' } })).json(), { reader: 'alice' })
  const refusals = lines.map(l => JSON.parse(l) as { msg: string, reason: string, peer: string }).filter(l => l.msg === 'read refused')
  assert.deepEqual(refusals.map(r => r.reason), ['missing read token', 'unknown token', 'missing read token', 'unknown token', 'missing read token'])
  assert.ok(lines.every(l => !l.includes('wrong-token-1')))
})

test('a deployment that sets reads public serves them without a token', async () => {
  await using http = await app({ AUTOCAL_READ_TOKENS: [], AUTOCAL_READ_PUBLIC: true })
  assert.equal((await http.inject({ url: '/api/data' })).statusCode, 200)
})
