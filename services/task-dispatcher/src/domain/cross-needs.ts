// Needs across workflows and subsystems (issue 15): a task may need a task of
// another workflow (`needs: [ECAL/timing/timing-calib]`) or a condition
// (`needs: [{ condition: EcalTimeCalibConstants_v1_prompt }]`). Pure: the
// parsing of a `needs` entry, the checks that span workflow files (unknown
// targets, campaigns the target does not run, cycles across files) and the
// waiting decision (which cross gates of a block are still closed).
//
// "The same runs": a downstream block waits for the upstream task on every
// upstream block (same campaign) that contains one of the block's runs; runs
// the upstream task never takes (its filters refuse them) are not waited for,
// and a block none of whose runs the upstream takes is blocked (`not-run`).
import { nameProblem } from '@autocal/contracts'
import { upstreamEnd } from './gates.ts'
import type { TaskDef, Workflow } from './workflow.ts'

/** A task of another workflow a task needs; `at` is where the entry is written (file:line:col). */
export interface TaskNeed { kind: 'task', subsystem: string, workflow: string, task: string, at: string }

/**
 * A condition a task needs: the tag must have an IOV (learned from `autocal.conditions.v1`) valid for the
 * block's runs. `since: any`: some IOV starts at or before the block's first run (its payload is valid for
 * every run of the block); `since: block`: an IOV starts within the block's runs (constants made for them).
 */
export interface ConditionNeed { kind: 'condition', tag: string, since: 'any' | 'block', at: string }

export type CrossNeed = TaskNeed | ConditionNeed

/** `SUB/workflow/task`: the name a task has across workflows, and the argument of its gates. */
export function qualifiedName (t: Pick<TaskDef, 'subsystem' | 'workflow'> & { name?: string, task?: string }): string {
  return `${t.subsystem}/${t.workflow}/${t.name ?? t.task ?? ''}`
}

/**
 * Reads one string entry of `needs`: a bare task name (same workflow) or `subsystem/workflow/task`. Returns
 * the parts, or a problem naming the bad part (the one name grammar of @autocal/contracts).
 */
export function parseNeedName (text: string): { kind: 'local', task: string } | { kind: 'task', subsystem: string, workflow: string, task: string } | { problem: string } {
  const parts = text.split('/')
  if (parts.length === 1) {
    const p = nameProblem('task', text)
    return p === undefined ? { kind: 'local', task: text } : { problem: p }
  }
  if (parts.length !== 3) return { problem: `${nameProblem('task', text) ?? `'${text}' is not a task name`}, nor subsystem/workflow/task` }
  const [subsystem = '', workflow = '', task = ''] = parts
  const p = nameProblem('subsystem', subsystem) ?? nameProblem('workflow', workflow) ?? nameProblem('task', task)
  return p === undefined ? { kind: 'task', subsystem, workflow, task } : { problem: `'${text}': ${p}` }
}

/**
 * The problems of the needs that span workflow files, one string each, as `file:line:col needs: message`:
 * a task of a workflow that is not loaded, or that the workflow does not have (with "did you mean"); a
 * target in the task's own workflow (write the bare name); a campaign of the downstream workflow that
 * the target's workflow does not run; and every cycle of needs that crosses files (task needs, and a
 * condition need leading to the tasks that upload the tag), naming each cross entry's file and line.
 * `suggest(word, candidates)` gives the "; did you mean 'x'?" text (workflow.ts).
 */
export function crossNeedProblems (workflows: readonly Workflow[], suggest: (word: string, candidates: readonly string[]) => string | undefined): string[] {
  const errors: string[] = []
  const byId = new Map(workflows.map(w => [`${w.subsystem}/${w.workflow}`, w]))
  for (const w of workflows) {
    for (const t of w.tasks) {
      for (const n of t.crossNeeds) {
        if (n.kind !== 'task') continue
        const wid = `${n.subsystem}/${n.workflow}`
        const target = byId.get(wid)
        const self = `task '${t.name}' needs ${wid}/${n.task}`
        if (wid === `${w.subsystem}/${w.workflow}`) errors.push(`${n.at} needs: ${self}, a task of its own workflow; write '${n.task}'`)
        else if (target === undefined) errors.push(`${n.at} needs: ${self}: no workflow ${wid} is loaded${suggest(wid, [...byId.keys()]) ?? ' (validate the directory that holds both files)'}`)
        else if (!target.tasks.some(u => u.name === n.task)) errors.push(`${n.at} needs: ${self}: workflow ${wid} (${target.file}) has no task '${n.task}'${suggest(n.task, target.tasks.map(u => u.name)) ?? ''}`)
        else {
          for (const c of w.campaigns) {
            if (!target.campaigns.some(tc => tc.name === c.name)) errors.push(`${n.at} needs: ${self}, but ${target.file} does not run campaign '${c.name}' (a task waits for its upstream in the same campaign)`)
          }
        }
      }
    }
  }
  const cycle = crossCycle(workflows)
  if (cycle !== undefined) errors.push(cycle)
  return errors
}

interface Edge { to: string, at?: string }

/** The first cycle of needs that crosses workflow files, as an error at its first cross entry, or undefined. */
function crossCycle (workflows: readonly Workflow[]): string | undefined {
  const edges = new Map<string, Edge[]>()
  const uploaders = new Map<string, string[]>()
  for (const w of workflows) {
    for (const t of w.tasks) {
      if (t.condition !== undefined) uploaders.set(t.condition.tag, [...uploaders.get(t.condition.tag) ?? [], qualifiedName(t)])
    }
  }
  for (const w of workflows) {
    for (const t of w.tasks) {
      const out: Edge[] = t.needs.map(n => ({ to: qualifiedName({ subsystem: w.subsystem, workflow: w.workflow, name: n }) }))
      for (const n of t.crossNeeds) {
        if (n.kind === 'task') out.push({ to: qualifiedName(n), at: n.at })
        else for (const u of uploaders.get(n.tag) ?? []) out.push({ to: u, at: `${n.at} (condition ${n.tag})` })
      }
      edges.set(qualifiedName(t), out)
    }
  }
  const state = new Map<string, 'visiting' | 'done'>()
  const path: Array<{ node: string, via?: Edge }> = []
  const visit = (node: string, via?: Edge): Array<{ node: string, via?: Edge }> | undefined => {
    if (state.get(node) === 'done') return undefined
    if (state.get(node) === 'visiting') {
      const from = path.findIndex(p => p.node === node)
      return [...path.slice(from), { node, ...(via === undefined ? {} : { via }) }]
    }
    state.set(node, 'visiting')
    path.push({ node, ...(via === undefined ? {} : { via }) })
    for (const e of edges.get(node) ?? []) {
      if (!edges.has(e.to)) continue
      const c = visit(e.to, e)
      if (c !== undefined) return c
    }
    path.pop()
    state.set(node, 'done')
    return undefined
  }
  for (const node of edges.keys()) {
    const c = visit(node)
    if (c === undefined) continue
    // a cycle inside one file is that file's error (workflow.ts); here only those with a cross entry
    // (a file with a cycle of its own is not loaded: workflow.ts reports it)
    const cross = c.slice(1).flatMap(p => p.via?.at === undefined ? [] : [p.via.at])
    if (cross.length === 0) return undefined
    return `${cross[0] as string} needs: cycle in needs across workflows: ${c.map(p => p.node).join(' → ')} (at ${cross.join(', ')})`
  }
  return undefined
}

/** What the dispatcher knows of one task need on a block (adapter: cross-needs.ts). */
export interface UpstreamFacts {
  /** The upstream task on each upstream block covering the block's runs (those planned). */
  tasks: ReadonlyArray<{ state: string, pendingGates: readonly string[] }>
  /** Runs of the block the upstream task takes but whose upstream block (or task on it) is not planned yet. */
  unplannedRuns: number
  /** Runs of the block the upstream task never takes (its filters refuse them). */
  refusedRuns: number
}

export interface CrossFacts {
  /** Per task need (qualified name). */
  upstream: ReadonlyMap<string, UpstreamFacts>
  /** Sinces learned per tag (any order). */
  iovs: ReadonlyMap<string, readonly number[]>
}

/** Whether `sinces` hold an IOV valid for `runs` in the sense of `mode` (see {@link ConditionNeed}). */
export function iovCovers (sinces: readonly number[], runs: readonly number[], mode: ConditionNeed['since']): boolean {
  if (runs.length === 0) return false
  const first = Math.min(...runs)
  const last = Math.max(...runs)
  return mode === 'any' ? sinces.some(s => s <= first) : sinces.some(s => s >= first && s <= last)
}

/**
 * The cross gates of a task on a block still closed, in the order of `needs`: `blocked:<SUB/wf/task>:<end>`
 * when an upstream task on a covering block failed, was cancelled or skipped, or is blocked itself (the end
 * of the first such), or when the upstream takes none of the block's runs (`not-run`);
 * `needs:<SUB/wf/task>` while an upstream block is unplanned or its task not done; `condition:<tag>` while
 * no learned IOV of the tag covers the block's runs. Empty = every cross need is met.
 */
export function crossGates (needs: readonly CrossNeed[], runs: readonly number[], facts: CrossFacts): string[] {
  const out: string[] = []
  for (const n of needs) {
    if (n.kind === 'condition') {
      if (!iovCovers(facts.iovs.get(n.tag) ?? [], runs, n.since)) out.push(`condition:${n.tag}`)
      continue
    }
    const id = qualifiedName(n)
    const f = facts.upstream.get(id) ?? { tasks: [], unplannedRuns: runs.length, refusedRuns: 0 }
    const end = f.tasks.map(upstreamEnd).find(e => e !== undefined)
    if (end !== undefined) out.push(`blocked:${id}:${end}`)
    else if (f.tasks.length === 0 && f.unplannedRuns === 0 && f.refusedRuns > 0) out.push(`blocked:${id}:not-run`)
    else if (f.unplannedRuns > 0 || f.tasks.some(t => t.state !== 'done')) out.push(`needs:${id}`)
  }
  return out
}

/**
 * The gates of `pendingGates` (gates.ts) with the cross gates added after the same-workflow needs; the
 * concurrency gate is dropped while a cross gate is closed (it is only counted when every other gate is open).
 */
export function withCrossGates (pending: readonly string[], cross: readonly string[]): string[] {
  if (cross.length === 0) return [...pending]
  const rest = pending.filter(g => !g.startsWith('concurrency:'))
  const firstOther = rest.findIndex(g => g !== 'block-closed' && !g.startsWith('needs:') && !g.startsWith('blocked:'))
  const at = firstOther === -1 ? rest.length : firstOther
  return [...rest.slice(0, at), ...cross, ...rest.slice(at)]
}
