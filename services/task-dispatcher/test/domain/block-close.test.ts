import { test } from 'node:test'
import assert from 'node:assert/strict'
import { closeBlockByOperator, closeEndedFills } from '../../src/domain/block-close.ts'
import type { BlockState } from '../../src/domain/block-grouping.ts'
import type { BlockRule } from '../../src/domain/workflow.ts'

const block = (id: string, patch: Partial<BlockState> = {}): BlockState => ({ id, kind: 'fill', runs: [357400, 357401], fill: Number(id.replace(/\D+/g, '').slice(0, 4)) || 0, era: 'Run2022D', recordedLumiPb: 10, closed: false, closedReason: '', openedAtMs: 0, ...patch })
const of = (...bs: BlockState[]): Map<string, BlockState> => new Map(bs.map(b => [b.id, b]))

test('an operator closes every root task\'s open block of that id; an unknown or closed block is refused with the reason', () => {
  const table: Array<{ name: string, roots: Array<[string, Map<string, BlockState>]>, id: string, expect: string | RegExp }> = [
    { name: 'one root', roots: [['reco', of(block('fill-8120'))]], id: 'fill-8120', expect: 'close:reco/fill-8120/operator' },
    { name: 'two roots, one already closed', roots: [['reco', of(block('fill-8120'))], ['lumi', of(block('fill-8120', { closed: true, closedReason: 'next-fill' }))]], id: 'fill-8120', expect: 'close:reco/fill-8120/operator' },
    { name: 'a lumi bucket', roots: [['pi0', of(block('lumi-Run2022D-0003', { kind: 'lumi', fill: 0 }))]], id: 'lumi-Run2022D-0003', expect: 'close:pi0/lumi-Run2022D-0003/operator' },
    { name: 'unknown block: the open ones listed', roots: [['reco', of(block('fill-8120'), block('fill-8112', { closed: true, closedReason: 'next-fill' }))]], id: 'fill-9999', expect: /^not-found:campaign 'prompt' has no block 'fill-9999' \(open blocks: fill-8120\)$/ },
    { name: 'no block at all', roots: [], id: 'fill-8120', expect: /^not-found:.*\(open blocks: none\)$/ },
    { name: 'already closed', roots: [['reco', of(block('fill-8120', { closed: true, closedReason: 'fill-end' }))]], id: 'fill-8120', expect: /^already-closed:block 'fill-8120' of campaign 'prompt' is already closed \(fill-end\)$/ }
  ]
  for (const c of table) {
    const d = closeBlockByOperator('prompt', new Map(c.roots), c.id)
    const got = d.kind === 'close' ? `close:${d.blocks.map(b => `${b.root}/${b.block.id}/${b.block.closedReason}`).join()}` : `${d.kind}:${d.reason}`
    if (typeof c.expect === 'string') assert.equal(got, c.expect, c.name)
    else assert.match(got, c.expect, c.name)
    if (d.kind === 'close') for (const b of d.blocks) assert.equal(b.block.closed, true, c.name)
  }
})

test('an open fill block closes when its fill ended by OMS\'s word, and only then', () => {
  const fill: BlockRule = { kind: 'fill' }
  const table: Array<{ name: string, blocks: BlockState[], rule?: BlockRule, ended: number[], expect: string[] }> = [
    { name: 'the fill ended', blocks: [block('fill-8120')], ended: [8120], expect: ['fill-8120:fill-end'] },
    { name: 'another fill ended', blocks: [block('fill-8120')], ended: [8121], expect: [] },
    { name: 'already closed by a later fill', blocks: [block('fill-8120', { closed: true, closedReason: 'next-fill' })], ended: [8120], expect: [] },
    { name: 'a run without fill (its own block)', blocks: [block('run-357400', { fill: 0, closed: true, closedReason: 'no-fill' })], ended: [0], expect: [] },
    { name: 'not a fill rule', blocks: [block('fill-8120')], rule: { kind: 'era' }, ended: [8120], expect: [] },
    { name: 'several', blocks: [block('fill-8120'), block('fill-8121'), block('fill-8123')], ended: [8120, 8123], expect: ['fill-8120:fill-end', 'fill-8123:fill-end'] }
  ]
  for (const c of table) {
    const got: string[] = closeEndedFills(c.blocks, c.rule ?? fill, new Set(c.ended)).map(b => `${b.id}:${b.closedReason}`)
    assert.deepEqual(got, c.expect, c.name)
  }
})
