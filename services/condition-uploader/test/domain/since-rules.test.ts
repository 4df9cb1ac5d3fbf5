import { test } from 'node:test'
import assert from 'node:assert/strict'
import { applyFcsr, applyServerFcsr, fcsrSince, requestedSinceFor, startAt } from '../../src/domain/since-rules.ts'

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

test('a prompt tag since before the FCSR is moved forward under policy move and refused under policy reject', () => {
  const base = { tag: 'T', timeType: 'Run', synchronization: 'prompt', iovs: [iov(355100n)], fcsr: 355200, whenUnknown: 'accept' as const }
  const moved = applyFcsr({ ...base, policy: 'move' })
  assert.equal(moved.kind, 'moved')
  assert.ok(moved.kind === 'moved')
  assert.equal(moved.iovs[0]?.since, 355200n)
  assert.equal(moved.requestedSince, 355100n)
  assert.match(moved.note, /moved forward to the first condition-safe run 355200/)
  const rejected = applyFcsr({ ...base, policy: 'reject' })
  assert.ok(rejected.kind === 'rejected')
  assert.match(rejected.reason, /since 355100 is before the first condition-safe run 355200 of prompt tag 'T'/)
})

test('offline and any tags take any since; express, hlt and pcl follow the FCSR like prompt', () => {
  for (const sync of ['offline', 'any', 'validation', 'mc']) {
    const d = applyFcsr({ tag: 'T', timeType: 'Run', synchronization: sync, iovs: [iov(5n)], fcsr: 355200, policy: 'reject', whenUnknown: 'reject' })
    assert.equal(d.kind, 'unchanged', sync)
  }
  for (const sync of ['express', 'hlt', 'pcl', 'prompt']) {
    const d = applyFcsr({ tag: 'T', timeType: 'Run', synchronization: sync, iovs: [iov(5n)], fcsr: 355200, policy: 'reject', whenUnknown: 'accept' })
    assert.equal(d.kind, 'rejected', sync)
  }
})

test('an unknown FCSR is accepted with a recorded note or rejected, as configured', () => {
  const base = { tag: 'T', timeType: 'Run', synchronization: 'prompt', iovs: [iov(5n)], fcsr: undefined, policy: 'move' as const }
  const accepted = applyFcsr({ ...base, whenUnknown: 'accept' })
  assert.ok(accepted.kind === 'unchanged')
  assert.match(accepted.note, /no first condition-safe run known/)
  assert.equal(applyFcsr({ ...base, whenUnknown: 'reject' }).kind, 'rejected')
})

test('Lumi sinces are compared against the FCSR as (run << 32) | lumisection', () => {
  const lumi = (355200n << 32n) | 5n
  const before = applyFcsr({ tag: 'L', timeType: 'Lumi', synchronization: 'prompt', iovs: [iov(lumi - 10n)], fcsr: 355200, policy: 'move', whenUnknown: 'accept' })
  assert.ok(before.kind === 'moved')
  assert.equal(before.iovs[0]?.since, (355200n << 32n) | 1n)
  const after = applyFcsr({ tag: 'L', timeType: 'Lumi', synchronization: 'prompt', iovs: [iov(lumi)], fcsr: 355200, policy: 'reject', whenUnknown: 'accept' })
  assert.equal(after.kind, 'unchanged')
})

test('the service FCSR refuses an offline since below it and moves a prompt one', () => {
  const offline = applyServerFcsr({ tag: 'T', timeType: 'Run', synchronization: 'offline', iovs: [iov(10n)], fcsr: 20n, policy: 'move' })
  assert.equal(offline.kind, 'rejected')
  const prompt = applyServerFcsr({ tag: 'T', timeType: 'Run', synchronization: 'prompt', iovs: [iov(10n)], fcsr: 20n, policy: 'move' })
  assert.ok(prompt.kind === 'moved')
  assert.equal(prompt.iovs[0]?.since, 20n)
})

test('Time sinces above 2^53 keep their last bit through the since rules', () => {
  const t = (BigInt(1_657_447_200) << 32n) | 1n // > 2^53: one more than its Number rounding
  assert.ok(t > BigInt(Number.MAX_SAFE_INTEGER))
  assert.notEqual(BigInt(Number(t)), t)
  const moved = startAt([iov(1n), iov(t + 2n)], t)
  assert.deepEqual(moved.map(i => i.since), [t, t + 2n])
  assert.equal(applyFcsr({ tag: 'T', timeType: 'Time', synchronization: 'prompt', iovs: moved, fcsr: 355200, policy: 'reject', whenUnknown: 'reject' }).kind, 'unchanged')
})
