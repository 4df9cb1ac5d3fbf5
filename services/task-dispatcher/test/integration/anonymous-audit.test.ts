// Anonymous refusals are audited without letting a caller with no token flood
// autocal.audit.v1: per peer address, the first AUTOCAL_AUDIT_ANONYMOUS_PER_MINUTE
// are recorded one by one, the rest counted in one summary record (written
// when the minute is over, and at shutdown). Known principals' refusals are
// all recorded. A dispatcher process on real Kafka + Redis.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ControlService, topics, type AuditRecord } from '@autocal/contracts'
import { createGrpcClient, readTopic } from '@autocal/runtime'
import { silentLogger, spawnDispatcher, stopDispatcher, testConfig } from './fixtures.ts'

test('past its budget, an anonymous caller\'s refusals are counted in one summary audit record; a known principal\'s are each recorded', { timeout: 120_000 }, async t => {
  const config = testConfig()
  const dispatcher = await spawnDispatcher(config, {
    AUTOCAL_CONTROL_TOKENS: JSON.stringify({ 'ecal-token-123': { principal: 'alice', subsystems: ['ECAL'] } }),
    AUTOCAL_AUDIT_ANONYMOUS_PER_MINUTE: '3'
  })
  t.after(async () => { await stopDispatcher(dispatcher) })
  const address = `127.0.0.1:${dispatcher.grpcPort}`
  const anonymous = createGrpcClient(ControlService, address)
  const alice = createGrpcClient(ControlService, address, { token: 'ecal-token-123' })
  t.after(() => { anonymous.close(); alice.close() })

  for (let i = 0; i < 8; i++) {
    await assert.rejects(anonymous.cancel({ selector: { campaign: 'prompt' }, reason: `try ${i}` }), (err: { code?: number }) => err.code === 16)
  }
  for (let i = 0; i < 5; i++) {
    // alice is known: a refusal for want of a reason is hers, and is recorded every time
    await assert.rejects(alice.cancel({ selector: { campaign: 'prompt' }, reason: '' }), (err: { code?: number }) => err.code === 3)
  }
  await stopDispatcher(dispatcher) // shutdown writes the summary of what was held back

  const records: AuditRecord[] = []
  await readTopic(config, silentLogger, 'task-dispatcher-test-audit', topics.audit, async r => { records.push(r) })
  const anonymousOnes = records.filter(r => r.principal === 'anonymous')
  const single = anonymousOnes.filter(r => r.details.held_back === undefined)
  const summaries = anonymousOnes.filter(r => r.details.held_back !== undefined)
  assert.equal(single.length, 3, 'the budget of anonymous refusals is recorded one by one')
  assert.deepEqual(single.map(r => r.reason), [0, 1, 2].map(i => `refused: no bearer token: pass --token-file or set AUTOCAL_TOKEN / AUTOCAL_TOKEN_FILE (operator's reason: try ${i})`))
  assert.equal(summaries.length, 1, 'one summary for the peer and action')
  const summary = summaries[0]!
  assert.equal(summary.details.held_back, '5')
  assert.equal(summary.action, 'control.Cancel')
  assert.equal(summary.peer, 'ipv4:127.0.0.1', 'the summary names the peer address (not one port)')
  assert.equal(summary.accepted, false)
  assert.match(summary.reason, /^5 further refused calls without a known token from ipv4:127\.0\.0\.1 between \S+ and \S+, counted here instead of one record each \(more than 3 a minute from one address\)$/)
  assert.equal(records.filter(r => r.principal === 'alice' && !r.accepted).length, 5, 'every refusal of a known principal is recorded')
})
