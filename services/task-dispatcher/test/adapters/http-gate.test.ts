import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { askHttpGate } from '../../src/adapters/http-gate.ts'

test('an HTTP gate is open when the predicate answers the expected status, closed otherwise', async t => {
  const server = createServer((req, res) => {
    res.statusCode = req.url === '/ready?run=357401' ? 200 : req.url === '/teapot' ? 418 : 404
    res.end('x')
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.after(() => { server.close() })
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  assert.equal(await askHttpGate(`${base}/ready?run=357401`, 200), true)
  assert.equal(await askHttpGate(`${base}/ready?run=1`, 200), false)
  assert.equal(await askHttpGate(`${base}/teapot`, 418), true)
  assert.equal(await askHttpGate('http://127.0.0.1:1/unreachable', 200), false)
})
