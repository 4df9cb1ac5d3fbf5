import { test } from 'node:test'
import assert from 'node:assert/strict'
import { timestampDate } from '@bufbuild/protobuf/wkt'
import { factEvent, fromContractRun, runChangeEvent, toContractRun } from '../src/run-event.ts'
import type { RunRecord } from '../src/domain/run-record.ts'
import { runEventId, sequenceOf } from '../src/domain/event-identity.ts'

const run: RunRecord = {
  run: 355100,
  fill: 7920,
  era: 'Run2022C',
  startMs: Date.parse('2022-07-05T10:00:00Z'),
  endMs: Date.parse('2022-07-05T11:00:00Z'),
  durationS: 3600,
  lastLumisection: 154,
  deliveredLumiPb: 10.25,
  recordedLumiPb: 9.5,
  runClass: 'collisions2022',
  global: true,
  bFieldT: 3.8,
  stableBeam: true,
  fillType: 'PROTONS',
  hltKey: '/cdaq/physics/Run2022/v1',
  componentsOut: ['CTPPS']
}

test('the event id is runs/<run>/<n>/<change>/<content hash>: the same change announced again has the same id', () => {
  const a = runChangeEvent({ kind: 'ended', run }, { source: 'replay' }, 2)
  const b = runChangeEvent({ kind: 'ended', run: { ...run } }, { source: 'oms' }, 2)
  assert.match(a.eventId, /^runs\/355100\/2\/ended\/[0-9a-f]{32}$/)
  assert.equal(a.eventId, b.eventId, 'the source is not part of the identity: a redelivery is dropped')
  assert.equal(a.event.contentHash, a.eventId.split('/')[4])
  assert.equal(sequenceOf(a.eventId), 2)
  const corrected = runChangeEvent({ kind: 'updated', run: { ...run, recordedLumiPb: 9.6 }, changedFields: ['recorded_lumi_pb'] }, { source: 'oms' }, 3)
  assert.notEqual(corrected.event.contentHash, a.event.contentHash)
  assert.ok(corrected.event.change.case === 'updated')
  assert.deepEqual(corrected.event.change.value.changedFields, ['recorded_lumi_pb'])
})

test('a correction back to an earlier value (A → B → A) is a distinct event', () => {
  const A = { ...run, recordedLumiPb: 9.5 }
  const B = { ...run, recordedLumiPb: 9.7 }
  const ids = [[A, 3], [B, 4], [A, 5]].map(([r, n]) => runChangeEvent({ kind: 'updated', run: r as RunRecord, changedFields: ['recorded_lumi_pb'] }, { source: 'oms' }, n as number).eventId)
  assert.equal(new Set(ids).size, 3, ids.join(' '))
  assert.equal(ids[0]!.split('/')[4], ids[2]!.split('/')[4], 'same content, same hash: only the sequence number tells them apart')
  // the same for facts: done, not done, done again
  const facts = [true, false, true].map((done, i) => factEvent({ kind: 'stream_done', run: 355100, stream: 'Express', done }, { source: 't0' }, i + 1).eventId)
  assert.equal(new Set(facts).size, 3)
})

test('only ids made by runEventId carry a sequence number', () => {
  const table: Array<[string, number | undefined]> = [
    [runEventId(355100, 7, 'updated', 'ab12'), 7],
    [runEventId(355100, 1, 'stream_done', 'ab12', 'ecal-rereco'), 1],
    ['runs/355100/ended/0123456789abcdef0123456789abcdef', undefined], // written before sequence numbers
    ['control/42', undefined]
  ]
  for (const [id, n] of table) assert.equal(sequenceOf(id), n, id)
})

test('a run injected for a reprocessing campaign has its own event id', () => {
  const live = runChangeEvent({ kind: 'ended', run }, { source: 'inject', actor: 'alice' }, 2)
  const rereco = runChangeEvent({ kind: 'ended', run }, { source: 'inject', actor: 'alice', campaign: 'ecal-rereco' }, 2)
  assert.equal(rereco.eventId, `${live.eventId}/ecal-rereco`)
  assert.equal(rereco.event.campaign, 'ecal-rereco')
  assert.equal(rereco.event.actor, 'alice')
})

test('a run survives the contract both ways, in UTC and /pb', () => {
  const contract = toContractRun(run)
  assert.equal(timestampDate(contract.endTime!).toISOString(), '2022-07-05T11:00:00.000Z')
  assert.equal(contract.recordedLumiPb, 9.5)
  assert.deepEqual(fromContractRun(contract), run)
  const ongoing = toContractRun({ ...run, endMs: undefined, bFieldT: undefined, stableBeam: undefined })
  assert.equal(ongoing.endTime, undefined)
  assert.equal(ongoing.bFieldT, undefined)
})

test('a readiness fact has an id per value, so a change of value is a new event', () => {
  const notDone = factEvent({ kind: 'stream_done', run: 355100, stream: 'ALCAPHISYM', done: false }, { source: 't0' }, 1)
  const done = factEvent({ kind: 'stream_done', run: 355100, stream: 'ALCAPHISYM', done: true }, { source: 't0' }, 2)
  assert.match(done.eventId, /^runs\/355100\/2\/stream_done\/[0-9a-f]{32}$/)
  assert.notEqual(done.eventId, notDone.eventId)
  assert.ok(done.event.change.case === 'streamDone' && done.event.change.value.done)
  const fcsr = factEvent({ kind: 'fcsr', run: 355200 }, { source: 't0' }, 1)
  assert.ok(fcsr.event.change.case === 'fcsr')
  assert.equal(fcsr.event.change.value.fcsr, 355200)
  assert.equal(fcsr.event.run, 355200)
})
