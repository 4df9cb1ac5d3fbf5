import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateRuns } from '../../src/domain/run-generator.ts'
import { replaySchedule } from '../../src/domain/replay-schedule.ts'

test('the same seed gives the same runs and another seed other runs', () => {
  const a = generateRuns({ runs: 300, seed: 7 })
  assert.deepEqual(a, generateRuns({ runs: 300, seed: 7 }))
  assert.notDeepEqual(a, generateRuns({ runs: 300, seed: 8 }))
  assert.equal(a.length, 300)
})

test('generated runs increase in run number, time and fill, and each fill holds one to eight runs', () => {
  const runs = generateRuns({ runs: 1000, firstRun: 500_000, firstFill: 9500, startMs: Date.parse('2026-01-01T00:00:00Z') })
  assert.equal(runs[0]?.run, 500_000)
  assert.equal(runs[0]?.fill, 9500)
  assert.equal(runs[0]?.startMs, Date.parse('2026-01-01T00:00:00Z'))
  const perFill = new Map<number, number>()
  for (const [i, r] of runs.entries()) {
    perFill.set(r.fill, (perFill.get(r.fill) ?? 0) + 1)
    assert.ok(r.endMs !== undefined && r.endMs - r.startMs === r.durationS * 1000, `run ${r.run}: end = start + duration`)
    if (i === 0) continue
    const before = runs[i - 1]!
    assert.ok(r.run > before.run && r.startMs > before.endMs! && r.fill >= before.fill && r.fill <= before.fill + 1)
  }
  assert.ok([...perFill.values()].every(n => n >= 1 && n <= 8))
})

test('collision runs carry luminosity and stable beams; cosmics and circulating beam none', () => {
  const runs = generateRuns({ runs: 2000 })
  const collisions = runs.filter(r => r.runClass === 'collisions2022')
  const share = collisions.length / runs.length
  assert.ok(share > 0.5 && share < 0.7, `about 60 % collisions, got ${share}`)
  assert.ok(collisions.every(r => r.recordedLumiPb > 0 && r.recordedLumiPb <= r.deliveredLumiPb && r.stableBeam === true && r.fillType === 'PROTONS'))
  const others = runs.filter(r => r.runClass !== 'collisions2022')
  assert.deepEqual(new Set(others.map(r => r.runClass)), new Set(['cosmics2022', 'circulating2022']))
  assert.ok(others.every(r => r.deliveredLumiPb === 0 && r.recordedLumiPb === 0 && r.stableBeam === false))
  assert.ok(runs.every(r => r.global && r.lastLumisection >= 1 && r.bFieldT === 3.8))
})

test('the era letter advances every runsPerEra runs', () => {
  const runs = generateRuns({ runs: 25, runsPerEra: 10 })
  assert.deepEqual([...new Set(runs.map(r => r.era))], ['Run2022A', 'Run2022B', 'Run2022C'])
  assert.equal(runs[9]?.era, 'Run2022A')
  assert.equal(runs[10]?.era, 'Run2022B')
})

test('generated runs replay like a run list: a year of them at scale 52560 takes minutes', () => {
  const runs = generateRuns({ runs: 3000 })
  const steps = replaySchedule(runs, 52_560)
  assert.equal(steps.length, 6000)
  const spanMs = steps.at(-1)!.atMs
  assert.ok(spanMs > 0 && spanMs < 20 * 60_000, `replayed in ${spanMs} ms`)
})
