import { test } from 'node:test'
import assert from 'node:assert/strict'
import { gateText, waitingText, type WaitFacts } from '../../src/domain/gate-text.ts'
import type { BlockState } from '../../src/domain/block-grouping.ts'
import type { RunReadiness } from '../../src/domain/gates.ts'

const hour = 3_600_000
const block = (patch: Partial<BlockState> = {}): BlockState => ({ id: 'run-357478', kind: 'run', runs: [357478], fill: 0, era: 'Run2024C', recordedLumiPb: 0, closed: true, closedReason: '', openedAtMs: 0, ...patch })
const ready = (patch: Partial<RunReadiness> = {}): RunReadiness => ({ durationS: 0, recordedLumiPb: 0, streamsDone: new Set(), datasetsDone: new Set(), ...patch })

const cases: Array<[string, string, WaitFacts, string]> = [
  ['a lumi bucket gives its /pb and both ways it closes', 'block-closed',
    { block: block({ id: 'lumi-Run2024C-0001', kind: 'lumi', runs: [1, 2], recordedLumiPb: 38, closed: false, openedAtMs: 0 }), rule: { kind: 'lumi', thresholdPb: 200, timeoutS: 72 * 3600, closeAtEraEnd: true }, readiness: new Map(), nowMs: hour },
    '38/200 /pb, closes at era end or in 71 h'],
  ['a lumi bucket without a timeout closes only at era end', 'block-closed',
    { block: block({ kind: 'lumi', recordedLumiPb: 12.345, closed: false }), rule: { kind: 'lumi', thresholdPb: 50, closeAtEraEnd: true }, readiness: new Map(), nowMs: 0 },
    '12.3/50 /pb, closes at era end'],
  ['an open fill block waits for a later fill', 'block-closed',
    { block: block({ id: 'fill-8102', kind: 'fill', fill: 8102, closed: false }), rule: { kind: 'fill' }, readiness: new Map(), nowMs: 0 },
    'fill 8102 not ended (closes when OMS reports its end or a run of a later fill arrives)'],
  ['a fill block with closeAfter says when it closes without a new run (from its last run)', 'block-closed',
    { block: block({ id: 'fill-8102', kind: 'fill', fill: 8102, closed: false, openedAtMs: 0, lastRunAtMs: hour }), rule: { kind: 'fill', closeAfterS: 2 * 3600 }, readiness: new Map(), nowMs: 2 * hour },
    'fill 8102 not ended (closes when OMS reports its end or a run of a later fill arrives, or in 60 min without a new run)'],
  ['a Tier-0 stream names the runs it is not done for', 't0StreamDone:Express',
    { block: block({ runs: [357478, 357479] }), rule: { kind: 'run' }, readiness: new Map([[357479, ready({ streamsDone: new Set(['Express']) })]]), nowMs: 0 },
    'Tier-0 stream Express not done for run 357478'],
  ['a Tier-0 dataset lists at most three runs', 't0DatasetDone:/AlCaPhiSym/Run2024C-v1/RAW',
    { block: block({ runs: [1, 2, 3, 4, 5] }), rule: { kind: 'run' }, readiness: new Map(), nowMs: 0 },
    'Tier-0 dataset /AlCaPhiSym/Run2024C-v1/RAW not done for run 1, 2, 3 and 2 more'],
  ['an upstream task is named', 'needs:timing-reco', { block: block(), rule: { kind: 'run' }, readiness: new Map(), nowMs: 0 }, 'upstream task timing-reco not done'],
  ['an upstream task that failed blocks, with what to do', 'blocked:timing-reco:failed', { block: block(), rule: { kind: 'run' }, readiness: new Map(), nowMs: 0 }, 'blocked: upstream task timing-reco failed (reprocess it, or reprocess it with --cascade to rerun this task too)'],
  ['an upstream task blocked itself', 'blocked:timing-calib:blocked', { block: block(), rule: { kind: 'run' }, readiness: new Map(), nowMs: 0 }, 'blocked: upstream task timing-calib is blocked itself'],
  ['a fan-in task counts the covered blocks done', 'needs:phisym-sums:3/5', { block: block(), rule: { kind: 'fill' }, readiness: new Map(), nowMs: 0 }, 'upstream task phisym-sums done on 3 of 5 covered blocks'],
  ['a fan-in task names the upstream block that failed', 'blocked:phisym-sums:failed:run-357001', { block: block(), rule: { kind: 'fill' }, readiness: new Map(), nowMs: 0 }, 'blocked: upstream task phisym-sums failed on block run-357001 (reprocess it, or reprocess it with --cascade to rerun this task too)'],
  ['minimum luminosity sums the block\'s runs', 'minLumi:200',
    { block: block({ runs: [1, 2] }), rule: { kind: 'run' }, readiness: new Map([[1, ready({ recordedLumiPb: 30 })], [2, ready({ recordedLumiPb: 8 })]]), nowMs: 0 },
    '38/200 /pb recorded'],
  ['minimum duration in minutes', 'minDuration:1800s',
    { block: block(), rule: { kind: 'run' }, readiness: new Map([[357478, ready({ durationS: 600 })]]), nowMs: 0 },
    '10/30 min of data'],
  ['concurrency', 'concurrency:2', { block: block(), rule: { kind: 'run' }, readiness: new Map(), nowMs: 0 }, '2 block(s) of this task already processing'],
  ['an unknown gate name stays as it is', 'lunar-phase', { block: block(), rule: { kind: 'run' }, readiness: new Map(), nowMs: 0 }, 'lunar-phase']
]

for (const [name, gate, facts, expected] of cases) {
  test(`gate text: ${name}`, () => { assert.equal(gateText(gate, facts), expected) })
}

test('every pending gate of a waiting task is said, in order, joined by "; "', () => {
  const f: WaitFacts = { block: block(), rule: { kind: 'run' }, readiness: new Map(), nowMs: 0 }
  assert.equal(waitingText(['needs:a', 't0StreamDone:Express'], f), 'upstream task a not done; Tier-0 stream Express not done for run 357478')
  assert.equal(waitingText([], f), '')
})
