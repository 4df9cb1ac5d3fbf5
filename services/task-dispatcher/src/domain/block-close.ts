// Blocks that end without a later run (issue 15): an operator closes a block
// that is still open (`autocal block close`, closed_reason "operator"), and a
// fill block closes when the run-watcher reports the fill's end from OMS
// ("fill-end"). Pure: the root tasks' blocks come in, the blocks to close go out;
// the planner saves them and plans their tasks with the runs they have.
import type { BlockState } from './block-grouping.ts'
import type { BlockRule } from './workflow.ts'

export type CloseBlockDecision =
  | { kind: 'close', blocks: Array<{ root: string, block: BlockState }> }
  | { kind: 'not-found', reason: string }
  | { kind: 'already-closed', reason: string }

const closed = (b: BlockState, reason: string): BlockState => ({ ...b, closed: true, closedReason: reason })

/**
 * An operator's close of block `id` of campaign `campaign`, given the blocks of
 * each root task (root task name → its blocks by id): every root's open block
 * of that id, closed with reason "operator". Not found when no root task has
 * a block of that id (the reason lists up to 10 open blocks); already closed
 * when every one is (with its closed_reason).
 */
export function closeBlockByOperator (campaign: string, blocksByRoot: ReadonlyMap<string, ReadonlyMap<string, BlockState>>, id: string): CloseBlockDecision {
  const found: Array<{ root: string, block: BlockState }> = []
  for (const [root, blocks] of blocksByRoot) {
    const b = blocks.get(id)
    if (b !== undefined) found.push({ root, block: b })
  }
  if (found.length === 0) {
    const open = [...new Set([...blocksByRoot.values()].flatMap(bs => [...bs.values()].filter(b => !b.closed).map(b => b.id)))].sort()
    return { kind: 'not-found', reason: `campaign '${campaign}' has no block '${id}' (open blocks: ${open.length === 0 ? 'none' : open.slice(0, 10).join(', ') + (open.length > 10 ? ` and ${open.length - 10} more` : '')})` }
  }
  const open = found.filter(f => !f.block.closed)
  if (open.length === 0) {
    const reasons = [...new Set(found.map(f => f.block.closedReason))].join(', ')
    return { kind: 'already-closed', reason: `block '${id}' of campaign '${campaign}' is already closed (${reasons})` }
  }
  return { kind: 'close', blocks: open.map(f => ({ root: f.root, block: closed(f.block, 'operator') })) }
}

/**
 * Open fill blocks (`rule` fill) whose fill ended by OMS's word (`endedFills`:
 * fills whose end the run-watcher reported), closed with reason "fill-end".
 * Late-run and no-fill blocks are closed already.
 */
export function closeEndedFills (blocks: Iterable<BlockState>, rule: BlockRule, endedFills: ReadonlySet<number>): BlockState[] {
  if (rule.kind !== 'fill') return []
  return [...blocks].filter(b => !b.closed && b.fill !== 0 && endedFills.has(b.fill)).map(b => closed(b, 'fill-end'))
}
