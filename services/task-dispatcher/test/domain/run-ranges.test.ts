import { test } from 'node:test'
import assert from 'node:assert/strict'
import { runsOfRanges, spanOf, type RunRange } from '../../src/domain/run-ranges.ts'

const known = [355100, 355101, 355105, 355120, 356000, 357401]
const r = (firstRun: number, lastRun: number): RunRange => ({ firstRun, lastRun })

test('runsOfRanges gives each range the known runs it holds (inclusive bounds, ranges in the order given)', () => {
  const cases: Array<{ name: string, ranges: RunRange[], expect: number[][] }> = [
    { name: 'one range, both bounds known runs', ranges: [r(355101, 355120)], expect: [[355101, 355105, 355120]] },
    { name: 'a single-run range', ranges: [r(355105, 355105)], expect: [[355105]] },
    { name: 'a range between known runs holds none', ranges: [r(355106, 355119)], expect: [[]] },
    { name: 'overlapping ranges each get their runs', ranges: [r(355100, 355105), r(355101, 355120)], expect: [[355100, 355101, 355105], [355101, 355105, 355120]] },
    { name: 'below and above every known run', ranges: [r(1, 355099), r(357402, 4294967295)], expect: [[], []] },
    { name: 'first above last holds none', ranges: [r(355120, 355100)], expect: [[]] },
    { name: 'order given is kept', ranges: [r(357401, 357401), r(355100, 355100)], expect: [[357401], [355100]] }
  ]
  for (const c of cases) assert.deepEqual(runsOfRanges(known, c.ranges), c.expect, c.name)
  assert.deepEqual(runsOfRanges([], [r(1, 10)]), [[]], 'no known runs')
})

test('spanOf is the smallest range holding all, undefined for none', () => {
  assert.equal(spanOf([]), undefined)
  assert.deepEqual(spanOf([r(355120, 355130), r(355100, 355105)]), r(355100, 355130))
})

test('ten thousand ranges over a hundred thousand known runs: each gets its own runs', () => {
  const many = Array.from({ length: 100_000 }, (_, i) => 300_000 + 2 * i)
  const ranges = Array.from({ length: 10_000 }, (_, i) => r(300_000 + 20 * i, 300_000 + 20 * i + 9))
  const split = runsOfRanges(many, ranges)
  assert.equal(split.length, 10_000)
  assert.deepEqual(split[1], [300_020, 300_022, 300_024, 300_026, 300_028])
})
