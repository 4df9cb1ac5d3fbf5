import { test } from 'node:test'
import assert from 'node:assert/strict'
import { fcsrAdvances, firstConditionSafeRun, promptDelayMs, type RunSpan } from '../../src/domain/fcsr.ts'
import { replaySchedule } from '../../src/domain/replay-schedule.ts'
import type { RunRecord } from '../../src/domain/run-record.ts'

const h = 3600_000
// three runs of one day: 100 from 0 h to 2 h, 101 from 3 h to 5 h, 102 from 6 h, still going on
const day: RunSpan[] = [
  { run: 100, startMs: 0, endMs: 2 * h },
  { run: 101, startMs: 3 * h, endMs: 5 * h },
  { run: 102, startMs: 6 * h }
]

test('the FCSR is the lowest run above the highest run whose end + 48 h has passed, as Tier-0 answers it', () => {
  const table: Array<[string, readonly RunSpan[], number, number | undefined]> = [
    ['no run yet: no FCSR', [], 10 * h, undefined],
    ['before the first run started: Tier-0 knows no run', day, -1, undefined],
    ['a run going on is never locked', day.slice(0, 1), 1 * h, 100],
    ['an ended run within its 48 h is still condition-safe', day, 49 * h, 100],
    ['one millisecond before its end + 48 h', day, 50 * h - 1, 100],
    ['exactly at its end + 48 h the run is locked and the FCSR moves on', day, 50 * h, 101],
    ['the next run locks 48 h after its own end', day, 53 * h, 102],
    ['an ongoing run stays the FCSR however long it runs', day, 500 * h, 102],
    ['every known run locked: no FCSR (Tier-0 answers null)', day.slice(0, 2), 60 * h, undefined],
    ['runs that started after now do not count', day, 4 * h, 100],
    // a run ending before a lower one (never in CMS): Tier-0 takes the run above the highest locked one
    ['out of order: the run above the highest locked run', [{ run: 10, startMs: 0, endMs: 10 * h }, { run: 11, startMs: 1 * h, endMs: 2 * h }, { run: 12, startMs: 3 * h, endMs: 4 * h }], 51 * h, 12]
  ]
  for (const [name, runs, now, expected] of table) assert.equal(firstConditionSafeRun(runs, now), expected, name)
})

test('the delay is a parameter (Tier-0 configures it), 48 h by default', () => {
  assert.equal(promptDelayMs, 48 * h)
  assert.equal(firstConditionSafeRun(day, 3 * h, 1 * h), 101)
  assert.equal(firstConditionSafeRun(day, 3 * h, 0), 101)
})

const record = (run: number, startH: number, endH: number): RunRecord => ({
  run,
  fill: 1,
  era: 'Run2022C',
  startMs: startH * h,
  endMs: endH * h,
  durationS: (endH - startH) * 3600,
  lastLumisection: 1,
  deliveredLumiPb: 1,
  recordedLumiPb: 1,
  runClass: 'collisions2022',
  global: true,
  fillType: '',
  hltKey: '',
  componentsOut: []
})

test('at a time scale the replay locks each run at its end + 48 h, and the FCSR advances with replayed time', () => {
  const runs = [record(100, 0, 2), record(101, 3, 5), record(102, 100, 101)]
  const steps = replaySchedule(runs, 3600, promptDelayMs)
  assert.deepEqual(steps.map(s => [s.run.run, s.phase, s.atMs / 1000, s.fcsr]), [
    [100, 'start', 0, 100],
    [100, 'end', 2, 100],
    [101, 'start', 3, 100],
    [101, 'end', 5, 100],
    [100, 'lock', 50, 101],
    [101, 'lock', 53, undefined], // every run Tier-0 knows is locked
    [102, 'start', 100, 102],
    [102, 'end', 101, 102],
    [102, 'lock', 149, undefined]
  ])
})

test('at scale 0 each run is replayed at its end time, so the FCSR trails the list by 48 h', () => {
  const runs = [record(100, 0, 2), record(101, 3, 5), record(102, 51, 52), record(103, 53, 54)]
  assert.deepEqual(replaySchedule(runs, 0, promptDelayMs).map(s => [s.run.run, s.phase, s.fcsr]), [
    [100, 'end', 100], [101, 'end', 100], [102, 'end', 101], [103, 'end', 102]
  ])
})

test('without a prompt delay the schedule has no lock steps and no FCSR', () => {
  const steps = replaySchedule([record(100, 0, 2)], 3600)
  assert.deepEqual(steps.map(s => [s.phase, s.fcsr]), [['start', undefined], ['end', undefined]])
})

test('an FCSR is news only when it moves forward', () => {
  const table: Array<[number | undefined, number, boolean]> = [
    [undefined, 355100, true],
    [355100, 355101, true],
    [355101, 355101, false],
    [355200, 355100, false] // a replay of the same list again, or a rebuild reading partitions out of order
  ]
  for (const [known, next, expected] of table) assert.equal(fcsrAdvances(known, next), expected, `${known} → ${next}`)
})
