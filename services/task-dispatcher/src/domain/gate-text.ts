// What a waiting task waits for, in an operator's words: the gate names of
// `pendingGates` (gates.ts) turned into one sentence with the facts behind
// them ("38/200 /pb recorded, closes at era end or in 71 h", "Tier-0 stream
// Express not done for run 357478"). Pure: the facts come in, text goes out.
import type { BlockState } from './block-grouping.ts'
import type { RunReadiness } from './gates.ts'
import type { BlockRule } from './workflow.ts'

export interface WaitFacts {
  block: BlockState
  rule: BlockRule
  /** Facts per run of the block; a run missing here has no facts yet. */
  readiness: ReadonlyMap<number, RunReadiness>
  nowMs: number
}

const runsList = (runs: number[]): string => runs.length <= 3 ? runs.join(', ') : `${runs.slice(0, 3).join(', ')} and ${runs.length - 3} more`
const round = (x: number): string => String(Math.round(x * 10) / 10)

/** Why a block is still open, with its progress: lumi buckets give the recorded /pb and how they close. */
function openBlockText (f: WaitFacts): string {
  const b = f.block
  switch (f.rule.kind) {
    case 'lumi': {
      const closes: string[] = []
      if (f.rule.closeAtEraEnd) closes.push('at era end')
      if (f.rule.timeoutS !== undefined) closes.push(`in ${Math.max(0, Math.ceil((b.openedAtMs + f.rule.timeoutS * 1000 - f.nowMs) / 3_600_000))} h`)
      return `${round(b.recordedLumiPb)}/${f.rule.thresholdPb} /pb${closes.length > 0 ? `, closes ${closes.join(' or ')}` : ''}`
    }
    case 'fill': {
      const quiet = f.rule.closeAfterS === undefined ? '' : `, or in ${Math.max(0, Math.ceil(((b.lastRunAtMs ?? b.openedAtMs) + f.rule.closeAfterS * 1000 - f.nowMs) / 60_000))} min without a new run`
      return `fill ${b.fill} not ended (closes when OMS reports its end or a run of a later fill arrives${quiet})`
    }
    case 'era': return `era ${b.era} not ended (closes when a run of a later era arrives)`
    case 'run': return `block ${b.id} not closed`
  }
}

/**
 * One gate name of `pendingGates` in words. Gate names: `block-closed`,
 * `needs:<task>` (a fan-in task's `needs:<task>:<done>/<total>`), `blocked:<task>:<failed|cancelled|skipped|blocked|not-run>`
 * (a fan-in task's with `:<upstream block>`; a task of another workflow is `SUB/workflow/task`: domain/cross-needs.ts),
 * `condition:<tag>`, `t0StreamDone:<stream>`, `t0DatasetDone:<dataset>`,
 * `minDuration:<s>s`, `minLumi:<pb>`, `http`, `concurrency:<n>`, `datasetLocked:<dataset>`,
 * `dbs:<dataset>` (data-aware tasks, file-slices.ts); an unknown
 * name is returned as it is.
 */
export function gateText (gate: string, f: WaitFacts): string {
  const [kind, arg = ''] = gate.includes(':') ? [gate.slice(0, gate.indexOf(':')), gate.slice(gate.indexOf(':') + 1)] : [gate]
  const facts = f.block.runs.map(r => [r, f.readiness.get(r)] as const)
  switch (kind) {
    case 'block-closed': return openBlockText(f)
    case 'needs': {
      // a fan-in task (fan-in.ts): `needs:<task>:<done>/<total>` upstream blocks
      const [upstream = '', progress] = arg.split(':')
      return progress === undefined ? `upstream task ${upstream} not done` : `upstream task ${upstream} done on ${progress.replace('/', ' of ')} covered blocks`
    }
    case 'blocked': {
      const [upstream = '', end = '', block] = arg.split(':')
      if (end === 'not-run') return `blocked: upstream task ${upstream} does not run on run ${runsList(f.block.runs)} (its filters refuse them)`
      const on = block === undefined ? '' : ` on block ${block}`
      return end === 'blocked'
        ? `blocked: upstream task ${upstream} is blocked itself${on}`
        : `blocked: upstream task ${upstream} ${end}${on} (reprocess it, or reprocess it with --cascade to rerun this task too)`
    }
    case 't0StreamDone': return `Tier-0 stream ${arg} not done for run ${runsList(facts.filter(([, x]) => x?.streamsDone.has(arg) !== true).map(([r]) => r))}`
    case 't0DatasetDone': return `Tier-0 dataset ${arg} not done for run ${runsList(facts.filter(([, x]) => x?.datasetsDone.has(arg) !== true).map(([r]) => r))}`
    case 'minDuration': return `${round(facts.reduce((s, [, x]) => s + (x?.durationS ?? 0), 0) / 60)}/${round(Number(arg.replace(/s$/, '')) / 60)} min of data`
    case 'minLumi': return `${round(facts.reduce((s, [, x]) => s + (x?.recordedLumiPb ?? 0), 0))}/${arg} /pb recorded`
    case 'condition': return `condition ${arg} has no IOV for run ${runsList(f.block.runs)} yet`
    case 'http': return 'the HTTP readiness check has not answered yes'
    case 'concurrency': return `${arg} block(s) of this task already processing`
    case 'datasetLocked': return `Tier-0 has not closed dataset ${arg} for run ${runsList(f.block.runs)} (a DBS block of it is open for writing, or none is listed yet)`
    case 'dbs': return `the file list of ${arg} is not read from DBS yet (the task's reason says why)`
    default: return gate
  }
}

/** Every pending gate in words, joined by "; " ('' when none). */
export function waitingText (pending: readonly string[], f: WaitFacts): string {
  return pending.map(g => gateText(g, f)).join('; ')
}
