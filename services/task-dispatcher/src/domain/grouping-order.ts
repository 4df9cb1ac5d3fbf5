// When a run may be grouped into a bucket block (fill, lumi, era) without
// depending on arrival timing. The runs topic has several partitions, so the
// dispatcher consumes runs in another order than they were published; a bucket
// grouped in arrival order would start at other runs than a run-ordered grouping.
//
// Rule: take a snapshot of the runs topic's end offsets *after* reading the
// pending runs. Every run published before the highest pending run lies below
// that snapshot. Once the dispatcher's consumer group has consumed (committed,
// or its handlers noted) offsets at or past the snapshot on every partition, all those runs are in the read model,
// so the pending runs up to that highest run can be grouped in run order: the
// same buckets as if the runs had arrived in order. A run that arrives later
// with a smaller number was also published later: a genuinely late run
// (block-grouping.ts "Late runs"). Run blocks do not wait for this.

/** Offsets of one partition of the runs topic (kafkajs strings): `low` = log start, `high` = next offset to be written. */
export interface PartitionEnd {
  partition: number
  low: string
  high: string
}

/** The grouping mark of one campaign, kept in the read model. */
export interface GroupingMark {
  /** Pending runs with a number up to this one may be grouped into buckets (0 = none yet). */
  confirmedUpTo: number
  /** A snapshot waiting for the consumer group: once it caught up with `ends`, runs up to `upTo` are confirmed. */
  next?: { ends: PartitionEnd[], upTo: number }
}

/**
 * True when the consumer group's committed offsets (partition → next offset to
 * consume; missing or "-1" = nothing committed) reach `ends` on every partition.
 * A partition with nothing in it (`high` ≤ `low`) needs no commit.
 */
export function caughtUp (ends: readonly PartitionEnd[], committed: ReadonlyMap<number, string>): boolean {
  return ends.every(e => {
    if (BigInt(e.high) <= BigInt(e.low)) return true
    const c = committed.get(e.partition)
    return c !== undefined && c !== '-1' && BigInt(c) >= BigInt(e.high)
  })
}

/**
 * How far the dispatcher has consumed each partition (partition → next
 * offset): the higher of the group's committed offset and the offset its
 * handlers noted (committing waits for the next batch, so the last messages
 * of a quiet topic are handled long before they are committed).
 */
export function consumedUpTo (committed: ReadonlyMap<number, string>, handled: ReadonlyMap<number, string>): Map<number, string> {
  const out = new Map(committed)
  for (const [p, o] of handled) {
    const c = out.get(p)
    if (c === undefined || BigInt(c) < BigInt(o)) out.set(p, o)
  }
  return out
}

/** What the planner does next with a campaign's mark (see `advanceMark`). */
export type MarkStep =
  | { kind: 'check', mark: GroupingMark } // a snapshot is waiting: ask the group's committed offsets
  | { kind: 'snapshot', upTo: number, mark: GroupingMark } // pending runs beyond the confirmed bound: take a snapshot of the end offsets
  | { kind: 'idle', mark: GroupingMark } // nothing to wait for

/**
 * The next step for a campaign's grouping mark, given its pending runs (any
 * order) and, when a snapshot was waiting, whether the group caught up with it
 * (`caught`, undefined when not asked yet). Pure; the planner performs the I/O.
 */
export function advanceMark (mark: GroupingMark, pending: readonly number[], caught?: boolean): MarkStep {
  let m = mark
  if (m.next !== undefined) {
    if (caught === undefined) return { kind: 'check', mark: m }
    if (!caught) return { kind: 'idle', mark: m }
    m = { confirmedUpTo: Math.max(m.confirmedUpTo, m.next.upTo) }
  }
  const highest = pending.reduce((a, b) => Math.max(a, b), 0)
  if (highest > m.confirmedUpTo) return { kind: 'snapshot', upTo: highest, mark: m }
  return { kind: 'idle', mark: m }
}

/** The pending runs (sorted) that may be grouped into buckets under `mark`. */
export function groupableRuns (pending: readonly number[], mark: GroupingMark): number[] {
  return pending.filter(r => r <= mark.confirmedUpTo).sort((a, b) => a - b)
}
