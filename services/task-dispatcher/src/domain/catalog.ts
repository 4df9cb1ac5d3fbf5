// The catalog: what the loaded workflows mean per campaign. Which tasks a
// campaign runs, which of them group runs into blocks themselves (root tasks)
// and which run on their upstream tasks' blocks, and whether a run belongs to
// a root task.
import type { Run } from '@autocal/contracts'
import { matchesFilter, type FilterDecision, type GoldenRuns } from './run-filter.ts'
import { uploadsOf, type RunType, type TaskDef, type Workflow } from './workflow.ts'
import { isTerminal, type JobSpec, type Task, type TaskSpec } from './task-state.ts'

export interface CampaignTasks {
  name: string
  subsystems: string[]
  /** Every active task, upstream before downstream. */
  tasks: TaskDef[]
  /** Active tasks without needs: they group runs into blocks. */
  roots: TaskDef[]
  /** Run types that activate each task. */
  runTypesOf: Map<string, RunType[]>
}

export interface Catalog {
  workflows: Workflow[]
  campaigns: Map<string, CampaignTasks>
  /** A task as it runs in a campaign (its `upload` is the campaign's). */
  task: (campaign: string, task: string) => TaskDef | undefined
}

export function buildCatalog (workflows: Workflow[]): Catalog {
  const campaigns = new Map<string, CampaignTasks>()
  for (const w of workflows) {
    for (const c of w.campaigns) {
      const entry: CampaignTasks = campaigns.get(c.name) ?? { name: c.name, subsystems: [], tasks: [], roots: [], runTypesOf: new Map() }
      campaigns.set(c.name, entry)
      if (!entry.subsystems.includes(w.subsystem)) entry.subsystems.push(w.subsystem)
      const types = w.runTypes.filter(r => c.runTypes.includes(r.name))
      const uploads = uploadsOf(w.tasks, c)
      for (const declared of topological(w.tasks)) {
        // one TaskDef per campaign: the upload (tag, dry run, database) is the campaign's
        const upload = uploads.get(declared.name)
        const { upload: _u, ...rest } = declared
        const t: TaskDef = upload === undefined ? rest : { ...rest, upload }
        const rts = types.filter(r => r.tasks.includes(t.name))
        if (rts.length === 0) continue
        // a downstream task is active only when all its upstream tasks are
        if (t.needs.some(n => !entry.runTypesOf.has(n))) continue
        entry.tasks.push(t)
        entry.runTypesOf.set(t.name, rts)
        if (t.needs.length === 0) entry.roots.push(t)
      }
    }
  }
  return {
    workflows,
    campaigns,
    task: (campaign, task) => campaigns.get(campaign)?.tasks.find(t => t.name === task)
  }
}

function topological (tasks: TaskDef[]): TaskDef[] {
  const out: TaskDef[] = []
  const done = new Set<string>()
  const visit = (t: TaskDef): void => {
    if (done.has(t.name)) return
    done.add(t.name)
    for (const n of t.needs) {
      const up = tasks.find(u => u.name === n)
      if (up !== undefined) visit(up)
    }
    out.push(t)
  }
  tasks.forEach(visit)
  return out
}

/** Whether a run belongs to a root task of a campaign: one of its run types and its own filter accept it. */
export function runBelongsTo (campaign: CampaignTasks, task: TaskDef, run: Run, golden: GoldenRuns): FilterDecision {
  const own = matchesFilter(run, task.filter, golden)
  if (!own.ok) return own
  let last: FilterDecision = { ok: false, reason: 'no run type' }
  for (const rt of campaign.runTypesOf.get(task.name) ?? []) {
    last = matchesFilter(run, rt.filter, golden)
    if (last.ok) return last
    last = { ok: false, reason: `run type ${rt.name}: ${last.reason}` }
  }
  return last
}

/** Tasks that run on the blocks of `root` (directly or transitively), upstream first. */
export function downstreamOf (campaign: CampaignTasks, root: string): TaskDef[] {
  const reached = new Set([root])
  const out: TaskDef[] = []
  for (const t of campaign.tasks) {
    if (t.needs.length > 0 && t.needs.some(n => reached.has(n))) {
      reached.add(t.name)
      out.push(t)
    }
  }
  return out
}

/**
 * The downstream tasks of `names` in the campaign (transitively, each once, upstream first), not counting
 * `names` themselves: what `reprocess --cascade` adds to a selection of tasks.
 */
export function cascadeOf (campaign: CampaignTasks, names: readonly string[]): string[] {
  const out = new Set<string>()
  for (const n of names) for (const t of downstreamOf(campaign, n)) if (!names.includes(t.name)) out.add(t.name)
  return campaign.tasks.map(t => t.name).filter(n => out.has(n))
}

/** Root tasks a task's blocks come from. */
export function rootsOf (campaign: CampaignTasks, task: TaskDef): string[] {
  if (task.needs.length === 0) return [task.name]
  const roots = new Set<string>()
  for (const n of task.needs) {
    const up = campaign.tasks.find(t => t.name === n)
    if (up !== undefined) for (const r of rootsOf(campaign, up)) roots.add(r)
  }
  return [...roots]
}

/** What the state machine needs of a task definition in a campaign. */
/**
 * What a job report's transition needs of its task's definition: the retry policy (retry-policy.ts), the
 * backoff and whether the upload waits for a sign-off. A task no workflow defines any more (`def` undefined)
 * gets no retry: its failed job ends it.
 */
export function jobSpecOf (campaign: string, def: TaskDef | undefined): JobSpec {
  if (def === undefined) return { retries: 0, backoffS: 30, signOff: false, retryNever: { exitCodes: [], signals: [] }, infrastructureRetries: 0 }
  return { retries: def.retries, backoffS: def.backoffS, signOff: specOf(campaign, def).signOff, retryNever: def.retryNever, infrastructureRetries: def.infrastructureRetries }
}

export function specOf (campaign: string, def: TaskDef): TaskSpec {
  return {
    subsystem: def.subsystem,
    campaign,
    workflow: def.workflow,
    workflowVersion: def.workflowVersion,
    task: def.name,
    jobs: def.jobs,
    retries: def.retries,
    backoffS: def.backoffS,
    conditionTag: def.upload?.tag ?? '',
    conditionSync: def.upload?.sync ?? '',
    signOff: def.upload !== undefined && def.upload.signOff && !def.upload.dryRun,
    ...(def.gates.timeout === undefined ? {} : { gateTimeout: def.gates.timeout })
  }
}

/**
 * Puts the meaning of newly loaded workflows into the live catalog, in place:
 * every part of the dispatcher holds the same Catalog object, so the next
 * decision of each (planning, gates, job requests, the control API) reads the
 * new definitions without a restart. Tasks already planned keep the workflow
 * version they were planned with (their TaskSpec); new plans take the new one.
 */
export function replaceCatalog (live: Catalog, next: Catalog): void {
  live.workflows = next.workflows
  live.campaigns.clear()
  for (const [name, c] of next.campaigns) live.campaigns.set(name, c)
}

/** A task whose definition no loaded workflow has any more: it can only be cancelled (or finish its jobs). */
export interface OrphanedTask { campaign: string, task: string, blockId: string, state: string, workflowVersion: string }

/**
 * The unfinished tasks (not done, failed, skipped or cancelled) whose
 * (campaign, task) the catalog no longer defines, in the order given: they
 * would otherwise wait for ever, nothing planning or dispatching them.
 */
export function orphanedTasks (tasks: ReadonlyArray<Pick<Task, 'campaign' | 'task' | 'block' | 'state' | 'workflowVersion'>>, catalog: Pick<Catalog, 'task'>): OrphanedTask[] {
  return tasks.filter(t => !isTerminal(t.state) && catalog.task(t.campaign, t.task) === undefined)
    .map(t => ({ campaign: t.campaign, task: t.task, blockId: t.block.id, state: t.state, workflowVersion: t.workflowVersion }))
}
