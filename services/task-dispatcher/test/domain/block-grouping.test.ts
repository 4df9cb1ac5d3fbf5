import { test } from 'node:test'
import assert from 'node:assert/strict'
import { closeTimedOut, groupRun, type BlockState, type RunFacts } from '../../src/domain/block-grouping.ts'
import type { BlockRule } from '../../src/domain/workflow.ts'

/** Offers runs in order and returns every block with its runs and closing reason. */
function group (rule: BlockRule, runs: RunFacts[], nowMs = 0): Map<string, BlockState> {
  const blocks = new Map<string, BlockState>()
  for (const r of runs) {
    for (const b of groupRun(blocks, rule, r, nowMs).changed) blocks.set(b.id, b)
  }
  return blocks
}
const summary = (blocks: Map<string, BlockState>): string[] =>
  [...blocks.values()].map(b => `${b.id}:${b.runs.join(',')}:${b.closed ? b.closedReason : 'open'}`)
const r = (run: number, fill: number, era = 'Run2022C', lumi = 1): RunFacts => ({ run, fill, era, recordedLumiPb: lumi })

const table: Array<{ name: string, rule: BlockRule, runs: RunFacts[], expect: string[] }> = [
  { name: 'every run is its own closed block', rule: { kind: 'run' }, runs: [r(1, 10), r(2, 10)], expect: ['run-1:1:single-run', 'run-2:2:single-run'] },
  { name: 'a fill block stays open until a run of a later fill', rule: { kind: 'fill' }, runs: [r(1, 10), r(2, 10)], expect: ['fill-10:1,2:open'] },
  { name: 'a fill block closes when a run of a later fill comes', rule: { kind: 'fill' }, runs: [r(1, 10), r(2, 10), r(3, 11)], expect: ['fill-10:1,2:next-fill', 'fill-11:3:open'] },
  { name: 'a late run of a closed fill gets a block of its own', rule: { kind: 'fill' }, runs: [r(1, 10), r(3, 11), r(2, 10)], expect: ['fill-10:1:next-fill', 'fill-11:3:open', 'fill-10-late-2:2:late-run'] },
  { name: 'a run of an earlier fill seen late opens its fill block closed', rule: { kind: 'fill' }, runs: [r(3, 11), r(2, 9)], expect: ['fill-11:3:open', 'fill-9:2:next-fill'] },
  { name: 'a run without a fill is a single-run block', rule: { kind: 'fill' }, runs: [r(1, 0)], expect: ['run-1:1:no-fill'] },
  { name: 'an era block closes when a later run of another era comes', rule: { kind: 'era' }, runs: [r(1, 10, 'Run2022C'), r(2, 11, 'Run2022C'), r(3, 12, 'Run2022D')], expect: ['era-Run2022C:1,2:era-end', 'era-Run2022D:3:open'] },
  { name: 'a late run of a closed era gets a block of its own', rule: { kind: 'era' }, runs: [r(1, 10, 'Run2022C'), r(3, 12, 'Run2022D'), r(2, 11, 'Run2022C')], expect: ['era-Run2022C:1:era-end', 'era-Run2022D:3:open', 'era-Run2022C-late-2:2:late-run'] },
  { name: 'a lumi bucket closes at its threshold and the next run opens a new bucket', rule: { kind: 'lumi', thresholdPb: 2.5, closeAtEraEnd: true }, runs: [r(1, 1), r(2, 1), r(3, 1), r(4, 1)], expect: ['lumi-Run2022C-0001:1,2,3:threshold', 'lumi-Run2022C-0002:4:open'] },
  { name: 'a lumi bucket closes with what it has at the end of its era', rule: { kind: 'lumi', thresholdPb: 10, closeAtEraEnd: true }, runs: [r(1, 1), r(2, 1, 'Run2022D')], expect: ['lumi-Run2022C-0001:1:era-end', 'lumi-Run2022D-0001:2:open'] },
  { name: 'a lumi bucket stays open across eras without closeAtEraEnd', rule: { kind: 'lumi', thresholdPb: 10, closeAtEraEnd: false }, runs: [r(1, 1), r(2, 1, 'Run2022D')], expect: ['lumi-Run2022C-0001:1:open', 'lumi-Run2022D-0001:2:open'] },
  { name: 'a late run of an ended era gets a lumi block of its own', rule: { kind: 'lumi', thresholdPb: 10, closeAtEraEnd: true }, runs: [r(1, 1), r(3, 1, 'Run2022D'), r(2, 1)], expect: ['lumi-Run2022C-0001:1:era-end', 'lumi-Run2022D-0001:3:open', 'lumi-Run2022C-0001-late-2:2:late-run'] },
  { name: 'one big run fills a bucket by itself', rule: { kind: 'lumi', thresholdPb: 5, closeAtEraEnd: true }, runs: [r(1, 1, 'Run2022C', 7)], expect: ['lumi-Run2022C-0001:1:threshold'] }
]

for (const row of table) {
  test(row.name, () => { assert.deepEqual(summary(group(row.rule, row.runs)), row.expect) })
}

test('a run already in a block is not grouped again', () => {
  const blocks = group({ kind: 'fill' }, [r(1, 10)])
  const d = groupRun(blocks, { kind: 'fill' }, r(1, 10), 0)
  assert.deepEqual(d.changed, [])
  assert.equal(d.blockId, undefined)
})

test('a lumi bucket closes with what it has after its timeout', () => {
  const rule: BlockRule = { kind: 'lumi', thresholdPb: 100, timeoutS: 3600, closeAtEraEnd: true }
  const blocks = group(rule, [r(1, 1)], 1000)
  assert.deepEqual(closeTimedOut(blocks.values(), rule, 1000 + 3_599_000), [])
  const closed = closeTimedOut(blocks.values(), rule, 1000 + 3_600_000)
  assert.deepEqual(closed.map(b => `${b.id}:${b.closedReason}`), ['lumi-Run2022C-0001:timeout'])
})

test('a fill block with closeAfter closes when no run joined it for that long, counted from its last run', () => {
  const rule: BlockRule = { kind: 'fill', closeAfterS: 7200 }
  const blocks = new Map<string, BlockState>()
  const offer = (run: RunFacts, at: number): void => { for (const b of groupRun(blocks, rule, run, at).changed) blocks.set(b.id, b) }
  offer(r(1, 10), 0)
  offer(r(2, 10), 3_600_000) // a second run an hour later: the clock restarts
  const cases: Array<[number, string[]]> = [
    [7_199_999, []], // two hours after the first run, but not after the last
    [3_600_000 + 7_199_999, []],
    [3_600_000 + 7_200_000, ['fill-10:1,2:close-after']]
  ]
  for (const [at, expect] of cases) assert.deepEqual(closeTimedOut(blocks.values(), rule, at).map(b => `${b.id}:${b.runs.join(',')}:${b.closedReason}`), expect, `at ${at} ms`)
  // without closeAfter a fill block never closes on time; a no-fill single-run block is closed already
  assert.deepEqual(closeTimedOut(blocks.values(), { kind: 'fill' }, 1e12), [])
  offer(r(3, 0), 0)
  assert.deepEqual(closeTimedOut(blocks.values(), rule, 1e12).map(b => b.id), ['fill-10'])
})

test('the recorded luminosity of a bucket is the sum of its runs', () => {
  const blocks = group({ kind: 'lumi', thresholdPb: 100, closeAtEraEnd: true }, [r(1, 1, 'Run2022C', 0.25), r(2, 1, 'Run2022C', 0.5)])
  assert.equal(blocks.get('lumi-Run2022C-0001')?.recordedLumiPb, 0.75)
})
