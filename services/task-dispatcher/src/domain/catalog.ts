// The catalog: what the loaded workflows mean per campaign. Which tasks a
// campaign runs, which of them group runs into blocks themselves (root tasks)
// and which run on their upstream tasks' blocks, and whether a run belongs to
// a root task.
import type { CampaignDefinition, Run } from '@autocal/contracts'
import { matchesFilter, type FilterDecision, type GoldenRuns } from './run-filter.ts'
import { uploadsOf, type CampaignState, type RunType, type TaskDef, type Workflow } from './workflow.ts'
import { campaignDefOf, overlayWorkflows } from './campaign-definitions.ts'
import { isTerminal, type JobSpec, type Task, type TaskSpec } from './task-state.ts'

export interface CampaignTasks {
  name: string
  subsystems: string[]
  /** Every active task, upstream before downstream. */
  tasks: TaskDef[]
  /** Active tasks without needs, and fan-in tasks (fan-in.ts): they group runs into blocks. */
  roots: TaskDef[]
  /** Run types that activate each task. */
  runTypesOf: Map<string, RunType[]>
  /** Receives every live run (CampaignDef.live of any file listing it). */
  live: boolean
  /** A shadow campaign of a workflow branch (CampaignDef.shadow). */
  shadow: boolean
  /** Notification channel of its tasks ('' = the subsystem's routes); the first file listing the campaign with one says it. */
  notify: string
  /** active, paused (runs recorded, nothing dispatched) or closed (no new runs; open tasks finish). */
  state: CampaignState
  /** Revision of a runtime campaign's definition (autocal.campaigns.v1); 0 for a YAML campaign. */
  revision: number
}

export interface Catalog {
  /** The workflows of the files (runtime campaigns are not among them). */
  workflows: Workflow[]
  /** The runtime campaigns' definitions the catalog was built with (autocal.campaigns.v1), by name. */
  runtime: Map<string, CampaignDefinition>
  campaigns: Map<string, CampaignTasks>
  /** A task as it runs in a campaign (its `upload` is the campaign's). */
  task: (campaign: string, task: string) => TaskDef | undefined
}

/**
 * The catalog of the workflow files' campaigns and, overlaid on them, the
 * runtime campaigns' definitions (domain/campaign-definitions.ts
 * overlayWorkflows): a runtime campaign runs its workflows' tasks with its own
 * run types and conditions target. A runtime definition never shares a name
 * with a YAML campaign (refused at creation).
 */
export function buildCatalog (workflows: Workflow[], runtime: Iterable<CampaignDefinition> = []): Catalog {
  const campaigns = new Map<string, CampaignTasks>()
  const definitions = new Map([...runtime].map(d => [d.name, d]))
  for (const w of [...workflows, ...overlayWorkflows(workflows, definitions.values())]) {
    for (const c of w.campaigns) {
      const entry: CampaignTasks = campaigns.get(c.name) ?? { name: c.name, subsystems: [], tasks: [], roots: [], runTypesOf: new Map(), live: false, shadow: false, notify: '', state: c.state ?? 'active', revision: c.revision ?? 0 }
      campaigns.set(c.name, entry)
      entry.live ||= c.live
      entry.shadow ||= c.shadow
      if (entry.notify === '' && c.notify !== undefined) entry.notify = c.notify
      if (!entry.subsystems.includes(w.subsystem)) entry.subsystems.push(w.subsystem)
      const types = w.runTypes.filter(r => c.runTypes.includes(r.name))
      const uploads = uploadsOf(w.tasks, c)
      for (const declared of topological(w.tasks)) {
        // one TaskDef per campaign: the upload (tag, dry run, database) is the campaign's
        const upload = uploads.get(declared.name)
        const { upload: _u, notifyChannel: _n, ...rest } = declared
        const t: TaskDef = upload === undefined ? { ...rest } : { ...rest, upload }
        if (c.notify !== undefined) t.notifyChannel = c.notify
        const rts = types.filter(r => r.tasks.includes(t.name))
        if (rts.length === 0) continue
        // a downstream task is active only when all its upstream tasks are
        if (t.needs.some(n => !entry.runTypesOf.has(n))) continue
        entry.tasks.push(t)
        entry.runTypesOf.set(t.name, rts)
        if (t.needs.length === 0 || t.fanIn !== undefined) entry.roots.push(t)
      }
    }
  }
  // a runtime campaign none of whose workflows is loaded any more still exists (its tasks are orphaned; it can be listed and closed)
  for (const d of definitions.values()) {
    const c = campaignDefOf(d)
    if (!campaigns.has(d.name)) campaigns.set(d.name, { name: d.name, subsystems: [...d.subsystems], tasks: [], roots: [], runTypesOf: new Map(), live: c.live, shadow: false, notify: c.notify ?? '', state: c.state ?? 'active', revision: d.revision })
  }
  return {
    workflows,
    runtime: definitions,
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
  // a fan-in task's runs are those of the roots it gathers from (it has no filter of its own)
  if (task.fanIn !== undefined) {
    for (const n of task.needs) {
      const up = campaign.tasks.find(t => t.name === n)
      for (const r of up === undefined ? [] : rootsOf(campaign, up)) {
        const rootDef = campaign.tasks.find(t => t.name === r)
        const d = rootDef === undefined ? { ok: false as const, reason: `no task ${r}` } : runBelongsTo(campaign, rootDef, run, golden)
        if (!d.ok) return { ok: false, reason: `upstream ${r}: ${d.reason}` }
      }
    }
  }
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

/**
 * Tasks that run on the blocks of `root` (directly or transitively), upstream first. A fan-in task groups
 * blocks of its own: it is not downstream of its needs here (`acrossBlocks` includes it and what follows it).
 */
export function downstreamOf (campaign: CampaignTasks, root: string, acrossBlocks = false): TaskDef[] {
  const reached = new Set([root])
  const out: TaskDef[] = []
  for (const t of campaign.tasks) {
    if (t.needs.length > 0 && (acrossBlocks || t.fanIn === undefined) && t.needs.some(n => reached.has(n))) {
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
  for (const n of names) for (const t of downstreamOf(campaign, n, true)) if (!names.includes(t.name)) out.add(t.name)
  return campaign.tasks.map(t => t.name).filter(n => out.has(n))
}

/** Root tasks a task's blocks come from (a fan-in task is its own). */
export function rootsOf (campaign: CampaignTasks, task: TaskDef): string[] {
  if (task.needs.length === 0 || task.fanIn !== undefined) return [task.name]
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
    workflowBranch: def.workflowBranch,
    notifyChannel: def.notifyChannel ?? '',
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
  live.runtime = next.runtime
  live.campaigns.clear()
  for (const [name, c] of next.campaigns) live.campaigns.set(name, c)
}

/** A task whose definition no loaded workflow has any more: it can only be cancelled (or finish its jobs). */
export interface OrphanedTask { campaign: string, task: string, blockId: string, state: string, workflowVersion: string, workflowBranch: string }

/**
 * The unfinished tasks (not done, failed, skipped or cancelled) whose
 * (campaign, task) the catalog no longer defines, in the order given: they
 * would otherwise wait for ever, nothing planning or dispatching them.
 */
export function orphanedTasks (tasks: ReadonlyArray<Pick<Task, 'campaign' | 'task' | 'block' | 'state' | 'workflowVersion' | 'workflowBranch'>>, catalog: Pick<Catalog, 'task'>): OrphanedTask[] {
  return tasks.filter(t => !isTerminal(t.state) && catalog.task(t.campaign, t.task) === undefined)
    .map(t => ({ campaign: t.campaign, task: t.task, blockId: t.block.id, state: t.state, workflowVersion: t.workflowVersion, workflowBranch: t.workflowBranch ?? '' }))
}

/**
 * The campaigns a live run (a run event without a campaign) goes to: every
 * campaign that receives live runs (the YAML `prompt`, runtime campaigns of
 * kind live) and is not closed. A paused one records the run and plans it
 * once resumed.
 */
export function liveCampaigns (catalog: Pick<Catalog, 'campaigns'>): string[] {
  return [...catalog.campaigns.values()].filter(c => c.live && c.state !== 'closed').map(c => c.name)
}

/**
 * The campaigns a run event goes to: the one it names (an injected run), else every live campaign
 * (liveCampaigns: `prompt`, shadow campaigns of workflow branches, runtime live campaigns; not closed ones),
 * each of which tracks the run on its own (every Redis key and task key of the dispatcher names the campaign).
 */
export function campaignsOfRun (catalog: Pick<Catalog, 'campaigns'>, campaign: string): string[] {
  return campaign === '' ? liveCampaigns(catalog) : [campaign]
}
