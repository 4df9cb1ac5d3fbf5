import { test } from 'node:test'
import assert from 'node:assert/strict'
import { create } from '@bufbuild/protobuf'
import { timestampFromDate } from '@bufbuild/protobuf/wkt'
import { ConditionEventSchema, Outcome } from '@autocal/contracts'
import { applyConditionEvent } from '../../src/domain/condition-view.ts'

const event = (outcome: Outcome) => create(ConditionEventSchema, {
  requestId: 'prompt/run-355100/timing-calib/1',
  outcome,
  tag: 'EcalTimeCalibConstants_prompt',
  since: 355100n,
  at: timestampFromDate(new Date('2026-01-01T01:00:00Z'))
})

test('an outcome is recorded once per request; the upload time comes from the event', () => {
  const d = applyConditionEvent(undefined, event(Outcome.UPLOADED), new Date())
  assert.ok(d.kind === 'applied')
  assert.equal(d.view.taskKey, '', 'without provenance the outcome belongs to no task (a task key is never parsed out of a request id)')
  assert.equal(d.view.since, '355100')
  assert.equal(d.uploadedAtMs, Date.parse('2026-01-01T01:00:00Z'))
  assert.equal(applyConditionEvent(d.view, event(Outcome.UPLOADED), new Date()).kind, 'unchanged')
  const rejected = applyConditionEvent(undefined, event(Outcome.REJECTED), new Date())
  assert.ok(rejected.kind === 'applied' && rejected.uploadedAtMs === undefined && rejected.view.outcome === 'rejected')
})
