// Block grouping: which block of a root task a run goes into, and when a block
// closes. Runs are offered in run-number order (the dispatcher sorts the runs
// that arrived within its settle window), one root task at a time.
//
// Rules (README "Blocks"):
// - run:  every run is its own block `run-<run>`, closed at once ("single-run").
// - fill: block `fill-<fill>`; it closes when a run of a later fill is offered
//         ("next-fill"), when OMS reports the fill's end ("fill-end", block-close.ts),
//         or, with `closeAfter`, when no run joined it for that long ("close-after",
//         counted from the last run's arrival). A run without a fill number becomes
//         a single-run block.
// - era:  block `era-<era>`; it closes when a later run of another era is offered ("era-end").
// - lumi: buckets `lumi-<era>-<NNNN>` accumulate runs until their recorded
//         luminosity reaches the threshold ("threshold"); an open bucket closes
//         with what it has after its timeout ("timeout", counted from its first
//         run) or, with closeAtEraEnd, when a later run of another era is
//         offered ("era-end").
// - Late runs: a run whose block has already closed never changes that block
//   (its tasks may have run and uploaded). It gets a block of its own,
//   `<block id>-late-<run>`, closed at once with reason "late-run", and the
//   block's tasks run on it like on any block. A run whose block would open
//   after a later block already exists (an earlier fill or era seen late)
//   opens the block closed at once ("next-fill" / "era-end").
import type { BlockRule } from './workflow.ts'

export type BlockKindName = 'run' | 'fill' | 'lumi' | 'era'

export interface BlockState {
  id: string
  kind: BlockKindName
  runs: number[]
  fill: number
  era: string
  recordedLumiPb: number
  closed: boolean
  closedReason: string
  /** When the block got its first run (ms since epoch), for the lumi timeout. */
  openedAtMs: number
  /** When its last run joined (ms since epoch; absent: only the first), for a fill block's closeAfter. */
  lastRunAtMs?: number
}

/** What grouping needs of a run. */
export interface RunFacts {
  run: number
  fill: number
  era: string
  recordedLumiPb: number
}

export interface GroupingDecision {
  /** Blocks created or changed (runs added, closed), in the order of the changes. */
  changed: BlockState[]
  /** The block the run went into; undefined when the run was already grouped. */
  blockId?: string
  late: boolean
}

function block (id: string, kind: BlockKindName, run: RunFacts, nowMs: number): BlockState {
  return { id, kind, runs: [run.run], fill: kind === 'fill' ? run.fill : 0, era: run.era, recordedLumiPb: run.recordedLumiPb, closed: false, closedReason: '', openedAtMs: nowMs }
}

function close (b: BlockState, reason: string): BlockState {
  return { ...b, closed: true, closedReason: reason }
}

function addRun (b: BlockState, run: RunFacts, nowMs: number): BlockState {
  const runs = [...b.runs, run.run].sort((x, y) => x - y)
  return { ...b, runs, recordedLumiPb: round(b.recordedLumiPb + run.recordedLumiPb), lastRunAtMs: nowMs }
}

const round = (x: number): number => Math.round(x * 1e6) / 1e6
const lastRun = (b: BlockState): number => b.runs[b.runs.length - 1] ?? 0

/** Puts one run into the blocks of one root task. `blocks` are all blocks of that task so far. */
export function groupRun (blocks: ReadonlyMap<string, BlockState>, rule: BlockRule, run: RunFacts, nowMs: number): GroupingDecision {
  for (const b of blocks.values()) {
    if (b.runs.includes(run.run)) return { changed: [], late: false }
  }
  const changed: BlockState[] = []
  const all = [...blocks.values()]
  const late = (b: BlockState): GroupingDecision => {
    const lb = close({ ...block(`${b.id}-late-${run.run}`, b.kind, run, nowMs), fill: b.fill }, 'late-run')
    return { changed: [...changed, lb], blockId: lb.id, late: true }
  }
  const later = all.some(b => !b.id.includes('-late-') && lastRun(b) > run.run)
  switch (rule.kind) {
    case 'run': {
      const b = close(block(`run-${run.run}`, 'run', run, nowMs), 'single-run')
      return { changed: [b], blockId: b.id, late: false }
    }
    case 'fill': {
      if (run.fill === 0) {
        const b = close({ ...block(`run-${run.run}`, 'fill', run, nowMs), fill: 0 }, 'no-fill')
        return { changed: [b], blockId: b.id, late: false }
      }
      for (const b of all) if (!b.closed && b.fill < run.fill) changed.push(close(b, 'next-fill'))
      const id = `fill-${run.fill}`
      const existing = blocks.get(id)
      if (existing?.closed === true) return late(existing)
      if (existing !== undefined) return { changed: [...changed, addRun(existing, run, nowMs)], blockId: id, late: false }
      const laterFill = all.some(b => b.fill > run.fill)
      const b = block(id, 'fill', run, nowMs)
      return { changed: [...changed, laterFill ? close(b, 'next-fill') : b], blockId: id, late: false }
    }
    case 'era': {
      for (const b of all) if (!b.closed && b.era !== run.era && lastRun(b) < run.run) changed.push(close(b, 'era-end'))
      const id = `era-${run.era}`
      const existing = blocks.get(id)
      if (existing?.closed === true) return late(existing)
      if (existing !== undefined) return { changed: [...changed, addRun(existing, run, nowMs)], blockId: id, late: false }
      const b = block(id, 'era', run, nowMs)
      return { changed: [...changed, later ? close(b, 'era-end') : b], blockId: id, late: false }
    }
    case 'lumi': {
      if (rule.closeAtEraEnd) {
        for (const b of all) if (!b.closed && b.era !== run.era && lastRun(b) < run.run) changed.push(close(b, 'era-end'))
      }
      const ofEra = all.filter(b => b.era === run.era && !b.id.includes('-late-'))
      const open = ofEra.find(b => !b.closed && !changed.some(c => c.id === b.id))
      const endedEra = ofEra.find(b => b.closedReason === 'era-end')
      if (open === undefined && endedEra !== undefined) return late(endedEra)
      let b: BlockState
      if (open !== undefined) {
        b = addRun(open, run, nowMs)
      } else {
        b = block(`lumi-${run.era}-${String(ofEra.length + 1).padStart(4, '0')}`, 'lumi', run, nowMs)
        if (rule.closeAtEraEnd && all.some(o => o.era !== run.era && lastRun(o) > run.run)) b = close(b, 'era-end')
      }
      if (!b.closed && b.recordedLumiPb >= rule.thresholdPb) b = close(b, 'threshold')
      return { changed: [...changed, b], blockId: b.id, late: false }
    }
  }
}

/**
 * Open blocks whose time is up, closed: lumi buckets `timeout` after their first run ("timeout"), fill blocks
 * `closeAfter` after their last run joined ("close-after"; the block's runs are then all the fill gives, e.g. the
 * fill ended and OMS's end was not seen). Times in ms since the epoch; the rule's durations in seconds.
 */
export function closeTimedOut (blocks: Iterable<BlockState>, rule: BlockRule, nowMs: number): BlockState[] {
  if (rule.kind === 'fill' && rule.closeAfterS !== undefined) {
    const quiet = rule.closeAfterS * 1000
    return [...blocks].filter(b => !b.closed && b.kind === 'fill' && b.fill !== 0 && nowMs - (b.lastRunAtMs ?? b.openedAtMs) >= quiet).map(b => close(b, 'close-after'))
  }
  if (rule.kind !== 'lumi' || rule.timeoutS === undefined) return []
  const limit = rule.timeoutS * 1000
  return [...blocks].filter(b => !b.closed && nowMs - b.openedAtMs >= limit).map(b => close(b, 'timeout'))
}
