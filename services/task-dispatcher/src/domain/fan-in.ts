// Fan-in across blocks (issue 15): a task with `needs` that declares its own,
// coarser `block:` (per run → per fill, per luminosity bucket, per era) groups
// runs into blocks of its own and gathers the outputs of every upstream block
// its block covers. Pure: which block rules may fan in, which upstream blocks a
// block covers, and whether they have all finished.
//
// Rules (README "Fan-in across blocks"):
// - Coarseness: run < fill, run < lumi:<pb>, run < era, fill < era, lumi < era.
//   fill and lumi buckets are not comparable (a bucket crosses fills), nor are
//   two different lumi thresholds (bucket edges do not line up): a task whose
//   block is finer than, or not comparable with, an upstream task's block is
//   an error; the same block as the upstream's is the ordinary downstream task
//   (it runs on the upstream's blocks).
// - Coverage: the upstream blocks covered by a fan-in block are the blocks of
//   the upstream task that hold one of its runs, in run order, each once.
// - Readiness: every covered upstream block must be done. One that failed for
//   good, was skipped or cancelled (or is blocked itself) blocks the fan-in
//   task (`blocked:<task>:<end>:<block>`), unless `fanIn: { allowMissing: true }`:
//   then it waits until every covered block has ended and proceeds with the
//   done ones (blocked when none is done: there is nothing to aggregate).
import { upstreamEnd, type UpstreamEnd } from './gates.ts'
import type { BlockRule } from './workflow.ts'

/** `fanIn:` of a task's YAML: whether it proceeds without the upstream blocks that ended without being done. */
export interface FanInDef { allowMissing: boolean }

export type BlockOrder = 'same' | 'coarser' | 'finer' | 'incomparable'

const rank = (r: BlockRule): number => r.kind === 'run' ? 0 : r.kind === 'era' ? 2 : 1
const sameRule = (a: BlockRule, b: BlockRule): boolean => a.kind === b.kind && (a.kind !== 'lumi' || b.kind !== 'lumi' || a.thresholdPb === b.thresholdPb)

/** How block rule `task` compares with block rule `upstream`: the same, coarser (one block covers several upstream blocks), finer, or neither. */
export function compareBlocks (task: BlockRule, upstream: BlockRule): BlockOrder {
  if (sameRule(task, upstream)) return 'same'
  if (rank(task) === rank(upstream)) return 'incomparable'
  return rank(task) > rank(upstream) ? 'coarser' : 'finer'
}

/** An upstream block a fan-in block covers: the upstream task, its block id (undefined while the run is not grouped for it yet) and the first run of the fan-in block in it. */
export interface CoveredBlock { need: string, blockId: string | undefined, firstRun: number }

/**
 * The upstream blocks covered by a fan-in block with runs `runs`: per run (ascending), per need (in the order
 * of `needs`), the block `blockOf(need, run)` of that upstream task, each (need, block) once. A run not grouped
 * for a need yet gives an entry without block id (it counts as not finished).
 */
export function coveredBlocks (runs: readonly number[], needs: readonly string[], blockOf: (need: string, run: number) => string | undefined): CoveredBlock[] {
  const out: CoveredBlock[] = []
  const seen = new Set<string>()
  for (const run of [...runs].sort((a, b) => a - b)) {
    for (const need of needs) {
      const blockId = blockOf(need, run)
      const id = `${need}\n${blockId ?? `?${run}`}`
      if (seen.has(id)) continue
      seen.add(id)
      out.push({ need, blockId, firstRun: run })
    }
  }
  return out
}

/** What a fan-in readiness decision needs of one upstream task (undefined: not planned yet). */
export type UpstreamTaskFacts = { state: string, pendingGates: readonly string[] } | undefined

export interface FanInReadiness {
  /** Per need: every covered block of it done (or, with allowMissing, ended with at least one done). */
  upstreamDone: Map<string, boolean>
  /** Per need: how it blocks the fan-in task, as gate argument `<end>:<block>` (the first block in run order that ended without being done). */
  upstreamEnded: Map<string, `${UpstreamEnd}:${string}`>
  /** Per need: covered blocks done, and covered blocks in all. */
  progress: Map<string, { done: number, total: number }>
  /** Block ids whose upstream task's outputs are the fan-in task's inputs (done ones, in run order), per need. */
  inputs: CoveredBlock[]
}

/**
 * Whether a fan-in task may run, per need, from the upstream tasks of its covered blocks (`tasks`, one per
 * entry of `covered`, same order). See the module's rules.
 */
export function fanInReadiness (needs: readonly string[], covered: readonly CoveredBlock[], tasks: readonly UpstreamTaskFacts[], def: FanInDef): FanInReadiness {
  const r: FanInReadiness = { upstreamDone: new Map(), upstreamEnded: new Map(), progress: new Map(), inputs: [] }
  for (const need of needs) {
    let done = 0
    let open = 0
    let firstEnd: `${UpstreamEnd}:${string}` | undefined
    let total = 0
    covered.forEach((c, i) => {
      if (c.need !== need) return
      total++
      const t = tasks[i]
      if (t?.state === 'done') {
        done++
        r.inputs.push(c)
        return
      }
      const end: UpstreamEnd | undefined = t === undefined ? undefined : upstreamEnd(t)
      if (end === undefined) open++
      else firstEnd ??= `${end}:${c.blockId ?? `run-${c.firstRun}`}`
    })
    r.progress.set(need, { done, total })
    const ended = firstEnd !== undefined && (!def.allowMissing || (open === 0 && done === 0))
    if (ended) r.upstreamEnded.set(need, firstEnd as `${UpstreamEnd}:${string}`)
    r.upstreamDone.set(need, total > 0 && (def.allowMissing ? open === 0 && done > 0 : done === total))
  }
  r.inputs.sort((a, b) => a.firstRun - b.firstRun || needs.indexOf(a.need) - needs.indexOf(b.need))
  return r
}

/**
 * The pending gates of a fan-in task with its progress: `needs:<task>` becomes `needs:<task>:<done>/<total>`
 * (covered upstream blocks done of all), which the overview and `autocal status` show.
 */
export function withProgress (pending: readonly string[], progress: ReadonlyMap<string, { done: number, total: number }>): string[] {
  return pending.map(g => {
    if (!g.startsWith('needs:')) return g
    const p = progress.get(g.slice(6))
    return p === undefined ? g : `${g}:${p.done}/${p.total}`
  })
}

/**
 * `reprocess --cascade` with block ids: the blocks of the cascaded tasks that cover a run of a selected block
 * (a fan-in task's fill block covers the run blocks of its upstream task), not selected yet, in the order of
 * `tasks`. With runs or a run range instead, a covering block already matches (it holds the run).
 */
export function coveringBlockIds (tasks: ReadonlyArray<{ task: string, block: { id: string, runs: readonly number[] } }>, selected: { tasks: readonly string[], blockIds: readonly string[] }, cascaded: readonly string[]): string[] {
  const runs = new Set(tasks.filter(t => selected.tasks.includes(t.task) && selected.blockIds.includes(t.block.id)).flatMap(t => t.block.runs))
  const out: string[] = []
  for (const t of tasks) {
    if (!cascaded.includes(t.task) || selected.blockIds.includes(t.block.id) || out.includes(t.block.id)) continue
    if (t.block.runs.some(r => runs.has(r))) out.push(t.block.id)
  }
  return out
}
