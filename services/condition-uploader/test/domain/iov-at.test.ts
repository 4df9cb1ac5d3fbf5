import { test } from 'node:test'
import assert from 'node:assert/strict'
import { lumiSince } from '../../src/domain/conddb-format.ts'
import { iovAtRun, parseRun } from '../../src/domain/iov-at.ts'

const row = (since: bigint, payloadHash: string, insertionTime = '2022-07-10 10:00:00.000000') => ({ tagName: 'T', since, payloadHash, insertionTime })

test('the IOV valid at a run is the last one at or below it, superseded rows dropped, in the tag\'s encoding', () => {
  const runIovs = [row(1n, 'a'), row(355100n, 'b'), row(355100n, 'b2', '2022-07-11 00:00:00.000000'), row(356000n, 'c')]
  const lumiIovs = [row(lumiSince(355100, 1), 'l1'), row(lumiSince(355100, 40), 'l2'), row(lumiSince(355200, 1), 'l3')]
  const cases: Array<{ name: string, timeType: string, iovs: typeof runIovs, run: bigint, want: string | 'none' | 'bad-request' }> = [
    { name: 'Run: exactly at a since', timeType: 'Run', iovs: runIovs, run: 355100n, want: 'b2' },
    { name: 'Run: between sinces', timeType: 'Run', iovs: runIovs, run: 355999n, want: 'b2' },
    { name: 'Run: after the last since', timeType: 'Run', iovs: runIovs, run: 400000n, want: 'c' },
    { name: 'Run: the first IOV from run 1', timeType: 'Run', iovs: runIovs, run: 1n, want: 'a' },
    { name: 'Run: before the first since', timeType: 'Run', iovs: [row(355100n, 'b')], run: 355099n, want: 'none' },
    { name: 'Run: no IOV at all', timeType: 'Run', iovs: [], run: 5n, want: 'none' },
    { name: 'Lumi: the run\'s first lumisection, not a later one', timeType: 'Lumi', iovs: lumiIovs, run: 355100n, want: 'l1' },
    { name: 'Lumi: a later run takes the last lumisection IOV before it', timeType: 'Lumi', iovs: lumiIovs, run: 355150n, want: 'l2' },
    { name: 'Lumi: before the first', timeType: 'Lumi', iovs: lumiIovs, run: 355099n, want: 'none' },
    { name: 'Time tags are not indexed by run', timeType: 'Time', iovs: [row(1n << 40n, 't')], run: 355100n, want: 'bad-request' }
  ]
  for (const c of cases) {
    const r = iovAtRun('T', c.timeType, c.iovs, c.run)
    if (c.want === 'none' || c.want === 'bad-request') assert.equal(r.kind, c.want, c.name)
    else {
      assert.ok(r.kind === 'found', c.name)
      assert.equal(r.iov.payloadHash, c.want, c.name)
    }
  }
})

test('a run parameter is 1 ≤ run < 2^32 in decimal digits, else a reason naming it', () => {
  assert.deepEqual(parseRun('355100'), { kind: 'run', run: 355100n })
  for (const [text, reason] of [['0', /at=0: run 0 is out of range/], ['4294967296', /out of range/], ['-5', /'-5' is not a run number/], ['abc', /'abc' is not a run number/], ['', /'' is not a run number/]] as const) {
    const r = parseRun(text)
    assert.ok(r.kind === 'bad', text)
    assert.match(r.reason, reason)
  }
})
