import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createAnonymousAuditThrottle, heldRefusalsReason, peerAddress, type HeldRefusals } from '../src/audit-throttle.ts'

test('peerAddress drops the port of an audit peer and keeps other forms', () => {
  const cases: Array<[string, string]> = [
    ['ipv4:127.0.0.1:50312', 'ipv4:127.0.0.1'],
    ['ipv6:[::1]:50312', 'ipv6:[::1]'],
    ['ipv6:[2001:db8::7]:443', 'ipv6:[2001:db8::7]'],
    ['unix:/run/autocal.sock', 'unix:/run/autocal.sock'],
    ['unknown', 'unknown']
  ]
  for (const [peer, address] of cases) assert.equal(peerAddress(peer), address, peer)
})

test('per peer address, the budget is admitted and the rest counted per action; a failed summary is kept for the next flush', async () => {
  const written: HeldRefusals[] = []
  let failNext = false
  let t = 1_000
  await using throttle = createAnonymousAuditThrottle({
    perMinute: 2,
    now: () => t++,
    writeSummary: async h => {
      if (failNext) { failNext = false; throw new Error('kafka down') }
      written.push(h)
    }
  })
  const admitted: boolean[] = []
  for (const port of [1, 2, 3, 4, 5]) admitted.push(await throttle.admit(`ipv4:10.0.0.7:${port}`, 'control.Cancel', 'autocal/task-dispatcher'))
  admitted.push(await throttle.admit('ipv4:10.0.0.7:6', 'control.Skip', 'autocal/task-dispatcher'))
  admitted.push(await throttle.admit('ipv4:10.0.0.8:1', 'control.Cancel', 'autocal/task-dispatcher'))
  assert.deepEqual(admitted, [true, true, false, false, false, false, true], 'two of 10.0.0.7, then counted; 10.0.0.8 has its own budget')
  failNext = true
  assert.equal(await throttle.flush(), 1, 'one of the two summaries could not be written')
  await throttle.admit('ipv4:10.0.0.7:7', 'control.Cancel', 'autocal/task-dispatcher')
  assert.equal(await throttle.flush(), 1)
  const byAction = Object.fromEntries(written.map(h => [h.action, h.count]))
  assert.deepEqual(byAction, { 'control.Cancel': 4, 'control.Skip': 1 }, 'the failed summary came back with the refusal counted meanwhile')
  assert.equal(await throttle.flush(), 0, 'nothing is left')
  assert.throws(() => createAnonymousAuditThrottle({ perMinute: 0, writeSummary: async () => {} }), /perMinute must be a whole number ≥ 1, got 0/)
  assert.match(heldRefusalsReason({ peer: 'ipv4:10.0.0.7', action: 'a', service: 's', count: 1, firstAtMs: 0, lastAtMs: 60_000 }, 2), /^1 further refused call without a known token from ipv4:10\.0\.0\.7 between 1970-01-01T00:00:00\.000Z and 1970-01-01T00:01:00\.000Z/)
})
