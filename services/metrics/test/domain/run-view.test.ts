import { test } from 'node:test'
import assert from 'node:assert/strict'
import { create } from '@bufbuild/protobuf'
import { timestampFromDate } from '@bufbuild/protobuf/wkt'
import { RunEventSchema } from '@autocal/contracts'
import { applyRunEvent } from '../../src/domain/run-view.ts'

const ended = create(RunEventSchema, {
  run: 355100,
  contentHash: 'h1',
  source: 'replay',
  change: { case: 'ended', value: { run: { run: 355100, fill: 7920, era: 'Run2022C', recordedLumiPb: 12.5, endTime: timestampFromDate(new Date('2022-07-10T10:00:00Z')) } } }
})
const t1 = new Date('2026-01-01T00:00:00Z')

test('an ended run records its end time and when the ended event was published, once', () => {
  const d = applyRunEvent(undefined, ended, t1)
  assert.ok(d.kind === 'applied' && d.endedNow)
  assert.equal(d.view.endTime, '2022-07-10T10:00:00.000Z')
  assert.equal(d.view.endedEventAt, t1.toISOString())
  assert.equal(applyRunEvent(d.view, ended, new Date()).kind, 'unchanged', 'the same content hash is a duplicate')
  const corrected = create(RunEventSchema, { ...ended, contentHash: 'h2' })
  const again = applyRunEvent(d.view, corrected, new Date('2026-01-02T00:00:00Z'))
  assert.ok(again.kind === 'applied' && !again.endedNow && again.view.endedEventAt === t1.toISOString())
})

test('stream and dataset facts are kept per run; an FCSR event is its own decision', () => {
  const stream = create(RunEventSchema, { run: 355100, contentHash: 's', change: { case: 'streamDone', value: { stream: 'ALCAPHISYM', done: true } } })
  const d = applyRunEvent(undefined, stream, t1)
  assert.ok(d.kind === 'applied')
  assert.deepEqual(d.view.streamsDone, ['ALCAPHISYM'])
  const undone = create(RunEventSchema, { run: 355100, contentHash: 's2', change: { case: 'streamDone', value: { stream: 'ALCAPHISYM', done: false } } })
  const d2 = applyRunEvent(d.view, undone, t1)
  assert.ok(d2.kind === 'applied' && d2.view.streamsDone.length === 0)
  const fcsr = create(RunEventSchema, { run: 355120, change: { case: 'fcsr', value: { fcsr: 355120 } } })
  assert.deepEqual(applyRunEvent(undefined, fcsr, t1), { kind: 'fcsr', fcsr: 355120 })
})
