import { test } from 'node:test'
import assert from 'node:assert/strict'
import { deadEnds, isAppendOnly, nextWaitingUploads, uploadBlocker, uploadWaitReason, uploadWaiting } from '../../src/domain/upload-order.ts'
import type { BlockState } from '../../src/domain/block-grouping.ts'
import type { Task, TaskStateName } from '../../src/domain/task-state.ts'

const blockOf = (id: string, first: number): BlockState => ({ id, kind: 'lumi', runs: [first, first + 1], fill: 8000, era: 'Run2022C', recordedLumiPb: 1, closed: true, closedReason: 'lumi', openedAtMs: 0 })
type T = Pick<Task, 'campaign' | 'task' | 'block' | 'state' | 'conditionSync' | 'conditionTag' | 'jobs' | 'condition'>
function task (id: string, first: number, state: TaskStateName, over: Partial<T> = {}): T {
  return { campaign: 'prompt', task: 'pi0-ic', block: blockOf(id, first), state, conditionSync: 'offline', conditionTag: 'EcalIntercalibConstants_pi0_v01_offline', jobs: [{ index: 0, state: 'done', try: 1, reason: '', outputs: [], logUrl: '' }], ...over }
}
const me = task('lumi-0002', 356383, 'processing')

test('append-only synchronizations are offline, runmc and mc', () => {
  assert.deepEqual(['offline', 'runmc', 'mc', 'OFFLINE', 'prompt', 'pcl', 'express', 'hlt', 'any', 'validation'].map(isAppendOnly),
    [true, true, true, true, false, false, false, false, false, false])
})

const table: Array<{ name: string, task?: T, siblings: T[], blocker: string | undefined }> = [
  { name: 'no other block: the upload goes out', siblings: [me], blocker: undefined },
  { name: 'an earlier block still processing holds it', siblings: [task('lumi-0001', 356309, 'processing'), me], blocker: 'lumi-0001' },
  { name: 'an earlier block new or waiting holds it', siblings: [task('lumi-0001', 356309, 'waiting')], blocker: 'lumi-0001' },
  { name: 'an earlier block awaiting sign-off holds it', siblings: [task('lumi-0001', 356309, 'awaiting-signoff')], blocker: 'lumi-0001' },
  ...(['done', 'failed', 'skipped', 'cancelled'] as const).map(s => ({ name: `an earlier block ${s} does not hold it`, siblings: [task('lumi-0001', 356309, s)], blocker: undefined })),
  { name: 'a later block never holds it', siblings: [task('lumi-0003', 356400, 'processing')], blocker: undefined },
  { name: 'the earliest open block is named', siblings: [task('lumi-0001b', 356350, 'processing'), task('lumi-0000', 356200, 'new'), task('lumi-0001', 356309, 'done')], blocker: 'lumi-0000' },
  { name: 'same first run: the block id orders', siblings: [task('lumi-0001', 356383, 'processing')], blocker: 'lumi-0001' },
  { name: 'another task or campaign does not hold it', siblings: [task('lumi-0001', 356309, 'processing', { task: 'other' }), task('lumi-0001', 356309, 'processing', { campaign: 'rereco' })], blocker: undefined },
  { name: 'a prompt tag is not ordered', task: task('lumi-0002', 356383, 'processing', { conditionSync: 'prompt' }), siblings: [task('lumi-0001', 356309, 'processing')], blocker: undefined },
  { name: 'a runmc tag is ordered', task: task('lumi-0002', 356383, 'processing', { conditionSync: 'runmc' }), siblings: [task('lumi-0001', 356309, 'processing')], blocker: 'lumi-0001' },
  { name: 'an mc tag is ordered', task: task('lumi-0002', 356383, 'processing', { conditionSync: 'mc' }), siblings: [task('lumi-0001', 356309, 'processing')], blocker: 'lumi-0001' }
]
for (const row of table) {
  test(`upload blocker: ${row.name}`, () => {
    assert.equal(uploadBlocker(row.task ?? me, row.siblings)?.block.id, row.blocker)
  })
}

test('a stalled earlier block (a needed task failed, skipped or cancelled) does not hold; a processing one still does', () => {
  const stalled = new Set(['lumi-0001'])
  assert.equal(uploadBlocker(me, [task('lumi-0001', 356309, 'waiting')], stalled), undefined)
  assert.equal(uploadBlocker(me, [task('lumi-0001', 356309, 'new')], stalled), undefined)
  assert.equal(uploadBlocker(me, [task('lumi-0001', 356309, 'processing')], stalled)?.block.id, 'lumi-0001')
  assert.equal(uploadBlocker(me, [task('lumi-0001', 356309, 'waiting'), task('lumi-0000', 356200, 'waiting')], stalled)?.block.id, 'lumi-0000')
  assert.deepEqual([...deadEnds].sort(), ['cancelled', 'failed', 'skipped'])
})

test('the wait reason names the block, the tag and the rule', () => {
  assert.equal(uploadWaitReason({ conditionTag: 'EcalIntercalibConstants_pi0_v01_offline', conditionSync: 'offline' }, 'run-356309'),
    "upload waits for run-356309's upload to EcalIntercalibConstants_pi0_v01_offline: an offline tag takes only appends")
  assert.equal(uploadWaitReason({ conditionTag: 'X_runmc', conditionSync: 'runmc' }, 'run-1'), "upload waits for run-1's upload to X_runmc: a runmc tag takes only appends")
})

test('an upload waits when its jobs are done and nothing was requested; the earliest waiting block of each task is released first', () => {
  const requested = task('lumi-0003', 356400, 'processing', { condition: { requestId: 'r', outcome: '', payloadHash: '', target: '', reason: '', signedOffBy: '', signOffReason: '' } })
  const running = task('lumi-0004', 356500, 'processing', { jobs: [{ index: 0, state: 'running', try: 1, reason: '', outputs: [], logUrl: '' }] })
  assert.deepEqual([me, requested, running, task('lumi-0001', 356309, 'done'), task('x', 1, 'processing', { conditionTag: '' })].map(uploadWaiting), [true, false, false, false, false])
  const w5 = task('lumi-0005', 356600, 'processing')
  const other = task('lumi-0001', 356309, 'processing', { task: 'other' })
  assert.deepEqual(nextWaitingUploads([w5, me, requested, running, other]).map(t => `${t.task}/${t.block.id}`), ['pi0-ic/lumi-0002', 'other/lumi-0001'])
})
