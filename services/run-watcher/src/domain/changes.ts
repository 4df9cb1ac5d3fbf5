// Change detection: what a newly read record means for what was already
// announced. Pure: the previous announced run in, the event to emit out.
import { comparedFields, contractFieldName, type RunRecord } from './run-record.ts'

export type RunChange =
  | { kind: 'started', run: RunRecord }
  | { kind: 'updated', run: RunRecord, changedFields: string[] }
  | { kind: 'ended', run: RunRecord }

function same (a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null)
}

/**
 * The events that announce `next` given the last announced content of the
 * run (`previous`), in order:
 * - a run never seen → started (and ended right after, when it has already ended);
 * - a run that now has an end time → ended (other changes travel with it);
 * - an ended run seen again without an end time → nothing: that record is an
 *   older view (a replay restarting, a stale page), and a run never un-ends;
 * - any other difference → updated with the names of the changed fields;
 * - nothing changed → no event.
 */
export function changesOf (previous: RunRecord | undefined, next: RunRecord): RunChange[] {
  if (previous === undefined) {
    return next.endMs === undefined ? [{ kind: 'started', run: next }] : [{ kind: 'started', run: next }, { kind: 'ended', run: next }]
  }
  if (previous.endMs !== undefined && next.endMs === undefined) return []
  const changed = comparedFields.filter(f => !same(previous[f], next[f]))
  if (changed.length === 0) return []
  if (previous.endMs === undefined && next.endMs !== undefined) return [{ kind: 'ended', run: next }]
  return [{ kind: 'updated', run: next, changedFields: changed.map(f => contractFieldName[f]) }]
}
