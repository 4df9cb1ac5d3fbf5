import { test } from 'node:test'
import assert from 'node:assert/strict'
import { timestampDate } from '@bufbuild/protobuf/wkt'
import { replayBoundOf, replaySpeedOf } from '../src/campaign-replay.ts'

const bounds: Array<{ text: string | undefined, bound?: { run: number } | { time: string }, error?: RegExp }> = [
  { text: '357479', bound: { run: 357479 } },
  { text: '2022-07-20T10:00:00Z', bound: { time: '2022-07-20T10:00:00.000Z' } },
  { text: '2022-07-20T12:00:00+02:00', bound: { time: '2022-07-20T10:00:00.000Z' } },
  { text: '2022-07-20T10:00:00', error: /--from: '2022-07-20T10:00:00' is neither a run number nor an ISO 8601 time with a zone/ },
  { text: 'yesterday', error: /--from: 'yesterday' is neither a run number nor an ISO 8601 time/ },
  { text: '2022-13-40T10:00:00Z', error: /neither a run number nor an ISO 8601 time/ },
  { text: '0', error: /--from: / },
  { text: '4294967296', error: /--from: / },
  { text: undefined, error: /--from is required/ }
]
for (const row of bounds) {
  test(`--from ${row.text ?? '(none)'} ${row.error === undefined ? 'is a bound' : 'is refused'}`, () => {
    if (row.error !== undefined) { assert.throws(() => replayBoundOf(row.text, '--from'), row.error); return }
    const b = replayBoundOf(row.text, '--from').bound
    if (row.bound !== undefined && 'run' in row.bound) assert.deepEqual(b, { case: 'run', value: row.bound.run })
    else {
      assert.equal(b?.case, 'time')
      assert.equal(timestampDate(b.value as never).toISOString(), (row.bound as { time: string }).time)
    }
  })
}

const speeds: Array<{ text: string | undefined, speed?: number, error?: RegExp }> = [
  { text: undefined, speed: 1 },
  { text: '3600', speed: 3600 },
  { text: '0.5', speed: 0.5 },
  { text: 'max', speed: 0 },
  { text: '0', error: /--speed: expected a number > 0 or max, got '0'/ },
  { text: '-2', error: /--speed/ },
  { text: 'fast', error: /--speed: expected a number > 0 or max, got 'fast'/ }
]
for (const row of speeds) {
  test(`--speed ${row.text ?? '(none)'} ${row.error === undefined ? `is ${row.speed}` : 'is refused'}`, () => {
    if (row.error !== undefined) assert.throws(() => replaySpeedOf(row.text), row.error)
    else assert.equal(replaySpeedOf(row.text), row.speed)
  })
}
