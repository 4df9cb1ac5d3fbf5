import { test } from 'node:test'
import assert from 'node:assert/strict'
import { observeConsumer, type StallState } from '../../src/domain/consumer-stall.ts'

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
