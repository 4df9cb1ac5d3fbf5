import { test } from 'node:test'
import assert from 'node:assert/strict'
import { create } from '@bufbuild/protobuf'
import { SelectorSchema } from '@autocal/contracts'
import { authorise, matchesSelector } from '../../src/domain/selection.ts'

const task = (runs: number[], patch: Record<string, string> = {}) => ({ campaign: 'prompt', task: 'timing-reco', subsystem: 'ECAL', block: { id: `run-${runs[0] ?? 0}`, kind: 'run' as const, runs, fill: 0, era: '', recordedLumiPb: 0, closed: true, closedReason: '', openedAtMs: 0 }, ...patch })
const sel = (init: Parameters<typeof create<typeof SelectorSchema>>[1]) => create(SelectorSchema, init)

const table: Array<{ name: string, selector: ReturnType<typeof sel>, t: ReturnType<typeof task>, match: boolean }> = [
  { name: 'a campaign-only selector matches every task of the campaign', selector: sel({ campaign: 'prompt' }), t: task([1]), match: true },
  { name: 'another campaign does not match', selector: sel({ campaign: 'rereco' }), t: task([1]), match: false },
  { name: 'a task list matches by name', selector: sel({ campaign: 'prompt', tasks: ['pedestals'] }), t: task([1]), match: false },
  { name: 'a run matches a block containing it', selector: sel({ campaign: 'prompt', runs: [2] }), t: task([1, 2, 3]), match: true },
  { name: 'a run range matches a block overlapping it', selector: sel({ campaign: 'prompt', firstRun: 3, lastRun: 9 }), t: task([1, 2, 3]), match: true },
  { name: 'a run range outside the block does not match', selector: sel({ campaign: 'prompt', firstRun: 4, lastRun: 9 }), t: task([1, 2, 3]), match: false },
  { name: 'an open-ended range matches later runs', selector: sel({ campaign: 'prompt', firstRun: 3 }), t: task([5]), match: true },
  { name: 'a block id list matches by id', selector: sel({ campaign: 'prompt', blockIds: ['run-1'] }), t: task([1]), match: true },
  { name: 'a subsystem restricts the match', selector: sel({ campaign: 'prompt', subsystem: 'PPS' }), t: task([1]), match: false }
]
for (const row of table) test(row.name, () => { assert.equal(matchesSelector(row.t, row.selector), row.match) })

test('a token acts only within its subsystems', () => {
  assert.deepEqual(authorise({ principal: 'alice', subsystems: ['ECAL'] }, ['ECAL'], 'skip'), { ok: true })
  assert.deepEqual(authorise({ principal: 'bob', subsystems: ['PPS'] }, ['ECAL', 'PPS'], 'skip on campaign prompt'), { ok: false, reason: 'bob may act for PPS, but skip on campaign prompt touches ECAL' })
  assert.deepEqual(authorise({ principal: 'ops', subsystems: ['*'] }, ['ECAL', 'PPS'], 'x'), { ok: true })
})
