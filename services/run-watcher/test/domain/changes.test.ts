import { test } from 'node:test'
import assert from 'node:assert/strict'
import { changesOf } from '../../src/domain/changes.ts'
import { replaySchedule, dueSteps, ongoing } from '../../src/domain/replay-schedule.ts'
import type { RunRecord } from '../../src/domain/run-record.ts'

const run: RunRecord = {
  run: 355100,
  fill: 7920,
  era: 'Run2022C',
  startMs: 1_000_000,
  endMs: 4_600_000,
  durationS: 3600,
  lastLumisection: 150,
  deliveredLumiPb: 10,
  recordedLumiPb: 9.5,
  runClass: 'collisions2022',
  global: true,
  fillType: '',
  hltKey: '/x',
  componentsOut: []
}

test('a run seen for the first time is started, and ended too when it already ended', () => {
  assert.deepEqual(changesOf(undefined, run).map(c => c.kind), ['started', 'ended'])
  assert.deepEqual(changesOf(undefined, ongoing(run)).map(c => c.kind), ['started'])
})

test('a known ongoing run that gets an end time is ended', () => {
  assert.deepEqual(changesOf(ongoing(run), run).map(c => c.kind), ['ended'])
})

test('a luminosity correction of an ended run is an update naming the field', () => {
  const changes = changesOf(run, { ...run, recordedLumiPb: 9.7 })
  assert.equal(changes.length, 1)
  assert.equal(changes[0]?.kind, 'updated')
  assert.deepEqual(changes[0]?.kind === 'updated' ? changes[0].changedFields : [], ['recorded_lumi_pb'])
})

test('an ended run seen again as ongoing (an older view) announces nothing', () => {
  assert.deepEqual(changesOf(run, ongoing(run)), [])
})

test('the same content again announces nothing', () => {
  assert.deepEqual(changesOf(run, { ...run, componentsOut: [] }), [])
})

test('scale 0 replays every run at once in run order; a scale spreads starts and ends', () => {
  const second = { ...run, run: 355101, startMs: 5_000_000, endMs: 6_000_000 }
  assert.deepEqual(replaySchedule([second, run], 0).map(s => [s.run.run, s.phase, s.atMs]), [[355100, 'end', 0], [355101, 'end', 0]])
  const steps = replaySchedule([second, run], 1000)
  assert.deepEqual(steps.map(s => [s.run.run, s.phase, s.atMs]), [[355100, 'start', 0], [355100, 'end', 3600], [355101, 'start', 4000], [355101, 'end', 5000]])
  assert.equal(steps[0]?.run.endMs, undefined, 'a started step does not reveal the end')
  assert.deepEqual(dueSteps(steps, 1, 4000).map(s => s.phase), ['end', 'start'])
})
