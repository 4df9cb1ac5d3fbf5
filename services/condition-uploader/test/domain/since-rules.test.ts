import { test } from 'node:test'
import assert from 'node:assert/strict'
import { fcsrSince, requestedSinceFor, startAt } from '../../src/domain/since-rules.ts'

const iov = (since: bigint, payloadHash = `h${since}`) => ({ since, payloadHash })

test('startAt keeps the last IOV at or below the floor, moves it up to the floor and keeps the later ones', () => {
  const cases: Array<{ name: string, iovs: bigint[], floor: bigint, want: Array<[bigint, string]> }> = [
    { name: 'single IOV from the beginning', iovs: [1n], floor: 355100n, want: [[355100n, 'h1']] },
    { name: 'drops IOVs hidden before the floor', iovs: [1n, 100n, 200n, 400n], floor: 300n, want: [[300n, 'h200'], [400n, 'h400']] },
    { name: 'an IOV exactly at the floor stays', iovs: [1n, 300n, 400n], floor: 300n, want: [[300n, 'h300'], [400n, 'h400']] },
    { name: 'all after the floor: unchanged', iovs: [500n, 600n], floor: 300n, want: [[500n, 'h500'], [600n, 'h600']] }
  ]
  for (const c of cases) {
    assert.deepEqual(startAt(c.iovs.map(s => iov(s)), c.floor).map(i => [i.since, i.payloadHash]), c.want, c.name)
  }
})

test('a Lumi tag takes a run number as since of its first lumisection, a Time tag refuses one', () => {
  assert.deepEqual(requestedSinceFor('Lumi', 355100n), { kind: 'since', since: (355100n << 32n) | 1n })
  assert.deepEqual(requestedSinceFor('Lumi', (355100n << 32n) | 7n), { kind: 'since', since: (355100n << 32n) | 7n })
  assert.deepEqual(requestedSinceFor('Run', 355100n), { kind: 'since', since: 355100n })
  assert.equal(requestedSinceFor('Time', 355100n).kind, 'rejected')
  assert.equal(fcsrSince('Time', 355100), undefined)
  assert.equal(fcsrSince('Lumi', 355100), (355100n << 32n) | 1n)
})

test('Time sinces above 2^53 keep their last bit through the since rules', () => {
  const t = (BigInt(1_657_447_200) << 32n) | 1n // > 2^53: one more than its Number rounding
  assert.ok(t > BigInt(Number.MAX_SAFE_INTEGER))
  assert.notEqual(BigInt(Number(t)), t)
  const moved = startAt([iov(1n), iov(t + 2n)], t)
  assert.deepEqual(moved.map(i => i.since), [t, t + 2n])
})
