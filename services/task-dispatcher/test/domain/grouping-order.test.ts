import { test } from 'node:test'
import assert from 'node:assert/strict'
import { advanceMark, caughtUp, consumedUpTo, groupableRuns, type GroupingMark, type PartitionEnd } from '../../src/domain/grouping-order.ts'

const end = (partition: number, high: number, low = 0): PartitionEnd => ({ partition, low: String(low), high: String(high) })

const caughtUpTable: Array<{ name: string, ends: PartitionEnd[], committed: Array<[number, string]>, expect: boolean }> = [
  { name: 'every partition committed up to its end', ends: [end(0, 5), end(1, 3)], committed: [[0, '5'], [1, '3']], expect: true },
  { name: 'committed past the snapshot (more runs came since)', ends: [end(0, 5)], committed: [[0, '9']], expect: true },
  { name: 'one partition behind its end', ends: [end(0, 5), end(1, 3)], committed: [[0, '5'], [1, '2']], expect: false },
  { name: 'a partition with messages but nothing committed', ends: [end(0, 5), end(1, 3)], committed: [[0, '5'], [1, '-1']], expect: false },
  { name: 'a partition the group never committed on', ends: [end(0, 5), end(1, 3)], committed: [[0, '5']], expect: false },
  { name: 'an empty partition needs no commit', ends: [end(0, 5), end(1, 0)], committed: [[0, '5']], expect: true },
  { name: 'a partition whose messages were all deleted needs no commit', ends: [end(0, 7, 7)], committed: [], expect: true }
]
for (const row of caughtUpTable) {
  test(`caughtUp: ${row.name}`, () => {
    assert.equal(caughtUp(row.ends, new Map(row.committed)), row.expect)
  })
}

const snapshot = { ends: [end(0, 5)], upTo: 12 }
const markTable: Array<{ name: string, mark: GroupingMark, pending: number[], caught?: boolean, expect: string, confirmedUpTo: number, next?: number }> = [
  { name: 'pending runs beyond the confirmed bound ask for a snapshot up to the highest', mark: { confirmedUpTo: 0 }, pending: [12, 10, 11], expect: 'snapshot', confirmedUpTo: 0 },
  { name: 'nothing pending beyond the bound: nothing to wait for', mark: { confirmedUpTo: 12 }, pending: [11, 12], expect: 'idle', confirmedUpTo: 12 },
  { name: 'a waiting snapshot is checked first', mark: { confirmedUpTo: 0, next: snapshot }, pending: [10, 12, 13], expect: 'check', confirmedUpTo: 0, next: 12 },
  { name: 'a snapshot the group has not caught up with keeps waiting', mark: { confirmedUpTo: 0, next: snapshot }, pending: [10, 12, 13], caught: false, expect: 'idle', confirmedUpTo: 0, next: 12 },
  { name: 'a snapshot caught up with confirms its runs; later runs ask for the next', mark: { confirmedUpTo: 0, next: snapshot }, pending: [10, 12, 13], caught: true, expect: 'snapshot', confirmedUpTo: 12 },
  { name: 'a snapshot caught up with and nothing later: idle with the new bound', mark: { confirmedUpTo: 3, next: snapshot }, pending: [10, 12], caught: true, expect: 'idle', confirmedUpTo: 12 },
  { name: 'the bound never goes back', mark: { confirmedUpTo: 20, next: snapshot }, pending: [], caught: true, expect: 'idle', confirmedUpTo: 20 }
]
for (const row of markTable) {
  test(`advanceMark: ${row.name}`, () => {
    const step = advanceMark(row.mark, row.pending, row.caught)
    assert.equal(step.kind, row.expect)
    assert.equal(step.mark.confirmedUpTo, row.confirmedUpTo)
    assert.equal(step.mark.next?.upTo, row.next)
    if (step.kind === 'snapshot') assert.equal(step.upTo, Math.max(...row.pending))
  })
}

test('groupableRuns: only pending runs up to the confirmed bound, in run order', () => {
  assert.deepEqual(groupableRuns([14, 3, 12, 9], { confirmedUpTo: 12 }), [3, 9, 12])
  assert.deepEqual(groupableRuns([14, 3], { confirmedUpTo: 0 }), [])
})

test('consumedUpTo: per partition the higher of the committed and the handled offset', () => {
  const committed = new Map([[0, '5'], [1, '-1'], [2, '9']])
  const handled = new Map([[0, '7'], [1, '3'], [3, '1']])
  assert.deepEqual(consumedUpTo(committed, handled), new Map([[0, '7'], [1, '3'], [2, '9'], [3, '1']]))
})
