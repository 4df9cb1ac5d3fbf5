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
    case 'fill': return `fill ${b.fill} not ended (closes when OMS reports its end or a run of a later fill arrives)`
    case 'era': return `era ${b.era} not ended (closes when a run of a later era arrives)`
    case 'run': return `block ${b.id} not closed`
  }
}

/**
 * One gate name of `pendingGates` in words. Gate names: `block-closed`,
 * `needs:<task>`, `blocked:<task>:<failed|cancelled|skipped|blocked>`, `t0StreamDone:<stream>`, `t0DatasetDone:<dataset>`,
 * `minDuration:<s>s`, `minLumi:<pb>`, `http`, `concurrency:<n>`; an unknown
 * name is returned as it is.
 */
export function gateText (gate: string, f: WaitFacts): string {
  const [kind, arg = ''] = gate.includes(':') ? [gate.slice(0, gate.indexOf(':')), gate.slice(gate.indexOf(':') + 1)] : [gate]
  const facts = f.block.runs.map(r => [r, f.readiness.get(r)] as const)
  switch (kind) {
    case 'block-closed': return openBlockText(f)
    case 'needs': return `upstream task ${arg} not done`
    case 'blocked': {
      const [upstream = '', end = ''] = arg.split(':')
      return end === 'blocked'
        ? `blocked: upstream task ${upstream} is blocked itself`
        : `blocked: upstream task ${upstream} ${end} (reprocess it, or reprocess it with --cascade to rerun this task too)`
    }
    case 't0StreamDone': return `Tier-0 stream ${arg} not done for run ${runsList(facts.filter(([, x]) => x?.streamsDone.has(arg) !== true).map(([r]) => r))}`
    case 't0DatasetDone': return `Tier-0 dataset ${arg} not done for run ${runsList(facts.filter(([, x]) => x?.datasetsDone.has(arg) !== true).map(([r]) => r))}`
    case 'minDuration': return `${round(facts.reduce((s, [, x]) => s + (x?.durationS ?? 0), 0) / 60)}/${round(Number(arg.replace(/s$/, '')) / 60)} min of data`
    case 'minLumi': return `${round(facts.reduce((s, [, x]) => s + (x?.recordedLumiPb ?? 0), 0))}/${arg} /pb recorded`
    case 'http': return 'the HTTP readiness check has not answered yes'
    case 'concurrency': return `${arg} block(s) of this task already processing`
    default: return gate
  }
}

/** Every pending gate in words, joined by "; " ('' when none). */
export function waitingText (pending: readonly string[], f: WaitFacts): string {
  return pending.map(g => gateText(g, f)).join('; ')
}
