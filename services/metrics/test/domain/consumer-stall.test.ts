import { test } from 'node:test'
import assert from 'node:assert/strict'
import { lagGrowth, observeConsumer, trimLagSamples, type StallState } from '../../src/domain/consumer-stall.ts'

const group = 'job-executor'
const topic = 'autocal.jobs.requests.v1'

test('a backlog without committed progress is a stall that grows from the last reading with no backlog or with progress', () => {
  // [lag, committed, at (s)] → expected stalled seconds
  const table: Array<[number, number, number, number]> = [
    [0, 10, 0, 0], // first reading: nothing known before
    [0, 10, 30, 0], // no backlog
    [3, 10, 60, 30], // backlog since the last reading without one
    [5, 10, 90, 60], // more requests, still nothing consumed
    [2, 13, 120, 0], // progress: the clock restarts
    [2, 13, 150, 30],
    [2, 13, 300, 180],
    [0, 15, 330, 0] // caught up
  ]
  let state: StallState | undefined
  for (const [lag, committed, at, expected] of table) {
    const o = observeConsumer(state, { group, topic, lag, committed }, at * 1000)
    assert.equal(o.stalledMs, expected * 1000, `at ${at} s`)
    state = o.state
  }
})

test('a first reading with a backlog starts the stall at that reading', () => {
  const first = observeConsumer(undefined, { group, topic, lag: 7, committed: 0 }, 5000)
  assert.deepEqual(first, { state: { committed: 0, since: 5000 }, stalledMs: 0 })
  assert.equal(observeConsumer(first.state, { group, topic, lag: 7, committed: 0 }, 125_000).stalledMs, 120_000)
})

test('a lag grows when it stayed above 0 over the whole window, ends at least at the minimum and above the window\'s start', () => {
  const min = 60_000
  const at = (m: number, lag: number) => ({ at: m * min, lag })
  const table: Array<[string, Array<{ at: number, lag: number }>, boolean]> = [
    ['grew over 10 min', [at(0, 10), at(5, 40), at(10, 60)], true],
    ['window not covered yet', [at(1, 10), at(5, 40), at(10, 60)], false],
    ['below the minimum', [at(0, 10), at(10, 49)], false],
    ['back to 0 inside the window', [at(0, 10), at(4, 0), at(10, 80)], false],
    ['steady', [at(0, 80), at(10, 80)], false],
    ['shrinking', [at(0, 90), at(10, 80)], false],
    ['0 before the window does not matter', [at(0, 0), at(2, 55), at(12, 70)], true]
  ]
  for (const [what, samples, expected] of table) assert.equal(lagGrowth(samples, 10 * min, 50).growing, expected, what)
  assert.deepEqual(lagGrowth([at(0, 10), at(5, 40), at(10, 60)], 10 * min, 50), { growing: true, from: at(0, 10), to: at(10, 60) })
})

test('lag samples are trimmed to the window plus the one reading before it', () => {
  const samples = [0, 3, 6, 9, 12, 15].map(m => ({ at: m * 60_000, lag: m }))
  assert.deepEqual(trimLagSamples(samples, 15 * 60_000, 10 * 60_000).map(s => s.lag), [3, 6, 9, 12, 15])
  assert.deepEqual(trimLagSamples(samples.slice(0, 2), 3 * 60_000, 10 * 60_000).map(s => s.lag), [0, 3])
})
