// Upload order for append-only tags. CMS's upload service takes an offline
// or runmc tag's IOVs only as appends (since > the tag's last since) and an
// mc tag only from the upload that creates it (the rules table in the
// condition-uploader README, from conditionUploadTest.py in cms-sw/cmssw).
// Blocks of one (campaign, task) finish in any order, so the dispatcher sends
// their uploads to such a tag in since order: a block's upload waits until
// every task of the same (campaign, task) on an earlier block is terminal
// (done, failed, skipped, cancelled). Pure: data in, decisions out.
import { isTerminal, type Task } from './task-state.ts'

/** States of a needed task after which a task waiting for it cannot run (without a reprocess). */
export const deadEnds: ReadonlySet<string> = new Set(['failed', 'skipped', 'cancelled'])

/** Synchronizations whose tags take IOVs only in since order (append-only; mc: write-once). */
const appendOnly: ReadonlySet<string> = new Set(['offline', 'runmc', 'mc'])

/** True when uploads to a tag of this synchronization must go out in since order. */
export const isAppendOnly = (sync: string): boolean => appendOnly.has(sync.toLowerCase())

type Ordered = Pick<Task, 'campaign' | 'task' | 'block' | 'state'>

/** Block order: first run, then block id (lumi buckets of one run differ by id). */
function before (a: Ordered, b: Ordered): boolean {
  const ra = a.block.runs[0] ?? 0
  const rb = b.block.runs[0] ?? 0
  return ra < rb || (ra === rb && a.block.id < b.block.id)
}

/**
 * The task whose upload `task`'s upload must wait for: among `siblings` (any
 * tasks; only those of the same campaign and task name count), the earliest
 * block before `task`'s block whose task is not terminal. Undefined when the
 * upload may go out now: the tag is not append-only, or every earlier block's
 * task is terminal. `stalled`: blocks whose new or waiting task cannot run
 * because a task it needs ended failed, skipped or cancelled (only a
 * reprocess moves it, and its upload would then come after the later ones
 * anyway): they do not hold later uploads.
 */
export function uploadBlocker<T extends Ordered> (task: Ordered & Pick<Task, 'conditionSync'>, siblings: readonly T[], stalled: ReadonlySet<string> = new Set()): T | undefined {
  if (!isAppendOnly(task.conditionSync)) return undefined
  let blocker: T | undefined
  for (const s of siblings) {
    if (s.campaign !== task.campaign || s.task !== task.task || s.block.id === task.block.id) continue
    if (!before(s, task) || isTerminal(s.state)) continue
    if ((s.state === 'new' || s.state === 'waiting') && stalled.has(s.block.id)) continue
    if (blocker === undefined || before(s, blocker)) blocker = s
  }
  return blocker
}

/** The visible reason of a waiting upload, e.g. "upload waits for run-356309's upload to X_offline: an offline tag takes only appends". */
export function uploadWaitReason (task: Pick<Task, 'conditionTag' | 'conditionSync'>, blockerBlock: string): string {
  const sync = task.conditionSync.toLowerCase()
  return `upload waits for ${blockerBlock}'s upload to ${task.conditionTag}: ${sync === 'offline' ? 'an' : 'a'} ${sync} tag takes only appends`
}

/** True when the task's jobs are all done and its upload has not been requested yet (it waits for an earlier block). */
export function uploadWaiting (task: Pick<Task, 'state' | 'jobs' | 'conditionTag' | 'condition'>): boolean {
  return task.state === 'processing' && task.conditionTag !== '' && task.condition === undefined &&
    task.jobs.length > 0 && task.jobs.every(j => j.state === 'done')
}

/**
 * The waiting uploads to release after tasks changed: of the `siblings`
 * waiting (uploadWaiting), the earliest-block one of each (campaign, task)
 * (the later ones are released in turn, when it ends).
 */
export function nextWaitingUploads<T extends Ordered & Pick<Task, 'jobs' | 'conditionTag' | 'condition'>> (siblings: readonly T[]): T[] {
  const first = new Map<string, T>()
  for (const s of siblings) {
    if (!uploadWaiting(s)) continue
    const k = `${s.campaign}/${s.task}`
    const cur = first.get(k)
    if (cur === undefined || before(s, cur)) first.set(k, s)
  }
  return [...first.values()]
}
