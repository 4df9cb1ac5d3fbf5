// Runtime campaigns: campaigns and run types created and changed through the
// control API (`autocal campaign …`, `autocal rtype …`) and kept on the
// compacted topic autocal.campaigns.v1, beside the campaigns of the workflow
// YAML. Pure: the decisions on a change (accepted with the next revision of
// the definition, or rejected with the reason) and the overlay that turns the
// definitions into workflows the catalog is built from (domain/catalog.ts).
import { create, equals } from '@bufbuild/protobuf'
import { timestampFromMs } from '@bufbuild/protobuf/wkt'
import {
  CampaignDefinitionSchema, CampaignKind, CampaignState, ConditionsTargetSchema, RunFilterDefinitionSchema, RunTypeDefinitionSchema, nameProblem,
  type CampaignDefinition, type ConditionsTarget, type RunFilterDefinition, type RunTypeDefinition
} from '@autocal/contracts'
import {
  didYouMean, promptLikeSynchronizations, synchronizations, uploadsOf,
  type CampaignConditions, type CampaignDef, type CampaignState as StateName, type RunFilter, type RunType, type Synchronization, type Workflow
} from './workflow.ts'

/** A change's outcome: the definition at its next revision, or why it is refused (with the kind of refusal). */
export type CampaignDecision =
  | { kind: 'accepted', definition: CampaignDefinition }
  | { kind: 'rejected', code: 'invalid' | 'not-found' | 'conflict', reason: string }

/** Who changes a definition, when (ms since the epoch) and why: recorded on the definition. */
export interface ChangeContext { actor: string, atMs: number, reason: string }

const rejected = (code: 'invalid' | 'not-found' | 'conflict', reason: string): CampaignDecision => ({ kind: 'rejected', code, reason })

/** `active`, `paused`, `closed` of a definition's state (unspecified counts as active). */
export function stateName (s: CampaignState): StateName {
  return s === CampaignState.PAUSED ? 'paused' : s === CampaignState.CLOSED ? 'closed' : 'active'
}

/** The proto state of a state name. */
export function stateOfName (s: StateName): CampaignState {
  return s === 'paused' ? CampaignState.PAUSED : s === 'closed' ? CampaignState.CLOSED : CampaignState.ACTIVE
}

/** `SUBSYSTEM/workflow` of a workflow. */
export const workflowId = (w: Pick<Workflow, 'subsystem' | 'workflow'>): string => `${w.subsystem}/${w.workflow}`

/** The YAML filter of a run type's filter definition (run classes lower case, as the YAML filter keeps them). */
export function filterOf (f: RunFilterDefinition | undefined): RunFilter {
  const out: RunFilter = { runClass: (f?.runClasses ?? []).map(c => c.toLowerCase()), eras: [...(f?.eras ?? [])] }
  if (f?.global !== undefined) out.global = f.global
  if (f?.minDurationS !== undefined) out.minDurationS = f.minDurationS
  if (f?.minRecordedLumiPb !== undefined) out.minRecordedLumi = f.minRecordedLumiPb
  if (f?.stableBeams !== undefined) out.stableBeams = f.stableBeams
  return out
}

/** The YAML meaning of a definition's conditions target (`campaigns[].conditions`). */
export function conditionsOf (c: ConditionsTarget | undefined): CampaignConditions {
  const out: CampaignConditions = { destinationDatabase: c?.destinationDatabase ?? '', tags: {}, writePromptTags: c?.writePromptTags ?? false }
  if (c?.dryRun !== undefined) out.dryRun = c.dryRun
  for (const [task, t] of Object.entries(c?.tags ?? {})) out.tags[task] = { tag: t.tag, sync: t.sync as Synchronization }
  return out
}

/** A definition as a campaign of the catalog: its run types by name, its conditions, live or not, its state and revision. */
export function campaignDefOf (d: CampaignDefinition): CampaignDef {
  const out: CampaignDef = { name: d.name, runTypes: d.runTypes.map(r => r.name), conditions: conditionsOf(d.conditions), live: d.kind === CampaignKind.LIVE, shadow: false, state: stateName(d.state), revision: d.revision }
  if (d.notify !== '') out.notify = d.notify
  return out
}

/**
 * The workflows the catalog builds runtime campaigns from: for each
 * definition, each of its workflows loaded now, with the definition as its
 * only campaign and its run types as the only run types (each run type's
 * tasks restricted to those of that workflow). A workflow the definition
 * names but no file defines any more is left out (its tasks become orphaned,
 * as on a workflow reload).
 */
export function overlayWorkflows (workflows: readonly Workflow[], definitions: Iterable<CampaignDefinition>): Workflow[] {
  const out: Workflow[] = []
  for (const d of definitions) {
    const campaign = campaignDefOf(d)
    for (const ref of d.workflows) {
      const w = workflows.find(x => x.subsystem === ref.subsystem && x.workflow === ref.workflow)
      if (w === undefined) continue
      const names = new Set(w.tasks.map(t => t.name))
      const runTypes: RunType[] = d.runTypes.map(r => ({ name: r.name, filter: filterOf(r.filter), tasks: r.tasks.filter(t => names.has(t)) }))
      out.push({ ...w, campaigns: [campaign], runTypes })
    }
  }
  return out
}

/** Input of `campaign create`: names as the operator gave them. */
export interface NewCampaign {
  name: string
  /** `SUBSYSTEM/workflow` each. */
  workflows: string[]
  /** Empty = those of the workflows. */
  subsystems: string[]
  kind: CampaignKind
  conditions: ConditionsTarget | undefined
  notify: string
}

/** Where a definition's names are checked: the loaded workflows and the campaigns of their YAML. */
export interface CampaignWorld {
  workflows: readonly Workflow[]
  /** Names of the runtime campaigns stored now. */
  runtime: ReadonlySet<string>
}

/** The workflows a definition names, or the first unknown one (with the closest known name). */
function workflowsOf (refs: readonly string[], workflows: readonly Workflow[]): Workflow[] | string {
  const known = workflows.map(workflowId)
  const out: Workflow[] = []
  for (const ref of refs) {
    const w = workflows.find(x => workflowId(x) === ref)
    if (w === undefined) return `unknown workflow '${ref}'${didYouMean(ref, known) ?? ''}, known: ${known.join(', ') || 'none'} (SUBSYSTEM/workflow)`
    if (!out.includes(w)) out.push(w)
  }
  return out
}

/** The first task name no workflow of the campaign has, as an error with the closest known name; `where` names the field. */
function unknownTask (tasks: readonly string[], workflows: readonly Workflow[], where: string): string | undefined {
  const known = workflows.flatMap(w => w.tasks.map(t => t.name))
  for (const t of tasks) {
    if (!known.includes(t)) return `${where}: unknown task '${t}'${didYouMean(t, known) ?? ''}, the campaign's workflows have: ${known.join(', ')}`
  }
  return undefined
}

/**
 * DESIGN §4 rule 9 and the YAML's checks of `campaigns[].conditions`: a tag
 * target names a task with a condition and a known synchronization, and a
 * campaign writes to no prompt-like tag unless a dry run or opted in.
 */
function conditionsProblem (def: CampaignDefinition, workflows: readonly Workflow[]): string | undefined {
  const c = conditionsOf(def.conditions)
  const tasks = workflows.flatMap(w => w.tasks)
  for (const [task, target] of Object.entries(c.tags)) {
    const p = nameProblem('tag', target.tag)
    if (p !== undefined) return `conditions.tags.${task}: ${p}`
    if (!(synchronizations as readonly string[]).includes(target.sync)) return `conditions.tags.${task}: unknown synchronization '${target.sync}'${didYouMean(target.sync, synchronizations) ?? ''}, expected one of ${synchronizations.join(', ')}`
    const def = tasks.find(t => t.name === task)
    if (def === undefined) return unknownTask([task], workflows, 'conditions.tags')
    if (def.condition === undefined) return `conditions.tags.${task}: task '${task}' has no condition`
  }
  if (c.writePromptTags) return undefined
  const campaign = campaignDefOf(def)
  const active = new Set(def.runTypes.flatMap(r => r.tasks))
  for (const w of workflows) {
    for (const [uploader, u] of uploadsOf(w.tasks, campaign)) {
      if (!active.has(uploader) || u.dryRun || !promptLikeSynchronizations.has(u.sync)) continue
      return `campaign '${def.name}' would write task '${u.payloadFrom}' payloads to ${u.sync} tag ${u.tag}; give it an offline tag (--tag ${u.payloadFrom}=TAG:offline) or make it a dry run (--dry-run)`
    }
  }
  return undefined
}

/** Everything a definition must satisfy before it is stored. */
function definitionProblem (def: CampaignDefinition, workflows: readonly Workflow[]): string | undefined {
  const used = def.workflows.map(w => `${w.subsystem}/${w.workflow}`)
  const ws = workflowsOf(used, workflows)
  if (typeof ws === 'string') return ws
  for (const r of def.runTypes) {
    const p = unknownTask(r.tasks, ws, `run type '${r.name}'`)
    if (p !== undefined) return p
  }
  return conditionsProblem(def, ws)
}

/**
 * `autocal campaign create`: a new runtime campaign, active, at revision 1,
 * without run types (added by `rtype create`). Rejected: a name breaking the
 * grammar, a name a YAML campaign or a stored runtime campaign already uses
 * (conflict), an unknown workflow (with the closest name), no workflow, a
 * subsystem its workflows do not belong to, a kind left unspecified, and the
 * conditions checks of the YAML (rule 9 of DESIGN §4).
 */
export function createCampaign (input: NewCampaign, world: CampaignWorld, ctx: ChangeContext): CampaignDecision {
  const p = nameProblem('campaign', input.name)
  if (p !== undefined) return rejected('invalid', p)
  const yaml = world.workflows.find(w => w.campaigns.some(c => c.name === input.name))
  if (yaml !== undefined) return rejected('conflict', `campaign '${input.name}' is a campaign of workflow file ${yaml.file} (${workflowId(yaml)}); a runtime campaign needs a name of its own`)
  if (world.runtime.has(input.name)) return rejected('conflict', `campaign '${input.name}' exists already (autocal campaign list)`)
  if (input.workflows.length === 0) return rejected('invalid', 'a campaign runs at least one workflow (--workflow SUBSYSTEM/workflow)')
  if (input.kind !== CampaignKind.LIVE && input.kind !== CampaignKind.REPROCESSING) return rejected('invalid', 'a campaign is live or reprocessing (--live | --reprocessing)')
  if (input.notify !== '') {
    const n = nameProblem('workflow', input.notify)
    if (n !== undefined) return rejected('invalid', `notify: ${n}`)
  }
  const ws = workflowsOf(input.workflows, world.workflows)
  if (typeof ws === 'string') return rejected('not-found', ws)
  const own = [...new Set(ws.map(w => w.subsystem))].sort()
  const subsystems = input.subsystems.length === 0 ? own : [...new Set(input.subsystems)].sort()
  for (const s of subsystems) {
    const sp = nameProblem('subsystem', s)
    if (sp !== undefined) return rejected('invalid', sp)
  }
  const foreign = own.filter(s => !subsystems.includes(s))
  if (foreign.length > 0) return rejected('invalid', `the campaign's workflows belong to ${foreign.join(', ')}, which --subsystem ${subsystems.join(',')} leaves out`)
  const definition = create(CampaignDefinitionSchema, {
    name: input.name,
    subsystems,
    kind: input.kind,
    state: CampaignState.ACTIVE,
    workflows: ws.map(w => ({ subsystem: w.subsystem, workflow: w.workflow })),
    runTypes: [],
    conditions: input.conditions ?? create(ConditionsTargetSchema, {}),
    notify: input.notify,
    changedBy: ctx.actor,
    changedAt: timestampFromMs(ctx.atMs),
    reason: ctx.reason,
    revision: 1
  })
  const problem = conditionsProblem(definition, ws)
  return problem === undefined ? { kind: 'accepted', definition } : rejected('invalid', problem)
}

/** Which state changes are allowed: pause an active campaign, resume a paused one, close either; a closed one stays closed. */
const allowed: Record<StateName, readonly StateName[]> = { active: ['paused', 'closed'], paused: ['active', 'closed'], closed: [] }

/** The definition at its next revision, changed by `ctx`. */
function revised (d: CampaignDefinition, ctx: ChangeContext, change: Partial<CampaignDefinition>): CampaignDefinition {
  return create(CampaignDefinitionSchema, { ...d, ...change, changedBy: ctx.actor, changedAt: timestampFromMs(ctx.atMs), reason: ctx.reason, revision: d.revision + 1 })
}

const closedProblem = (d: CampaignDefinition): CampaignDecision | undefined =>
  d.state === CampaignState.CLOSED ? rejected('conflict', `campaign '${d.name}' is closed (by ${d.changedBy}): a closed campaign is not changed; create a new one`) : undefined

/** `autocal campaign pause|resume|close`: the state change, or why it is not allowed (e.g. resuming a closed campaign). */
export function changeState (d: CampaignDefinition, to: StateName, ctx: ChangeContext): CampaignDecision {
  const from = stateName(d.state)
  if (from === to) return rejected('conflict', `campaign '${d.name}' is ${from} already`)
  if (!allowed[from].includes(to)) return closedProblem(d) ?? rejected('conflict', `campaign '${d.name}' is ${from}; it cannot become ${to}`)
  return { kind: 'accepted', definition: revised(d, ctx, { state: stateOfName(to) }) }
}

/**
 * `autocal rtype create`: a new run type of a runtime campaign, stamped with
 * the revision that adds it. Rejected: a closed campaign, a name in use or
 * breaking the grammar, no task, an unknown task (closest name said).
 */
export function createRunType (d: CampaignDefinition, rt: { name: string, filter: RunFilterDefinition | undefined, tasks: string[] }, workflows: readonly Workflow[], ctx: ChangeContext): CampaignDecision {
  const closed = closedProblem(d)
  if (closed !== undefined) return closed
  const p = nameProblem('workflow', rt.name)
  if (p !== undefined) return rejected('invalid', `run type: ${p.replace(/^workflow /, '')}`)
  if (d.runTypes.some(r => r.name === rt.name)) return rejected('conflict', `campaign '${d.name}' has a run type '${rt.name}' already; change its tasks with autocal rtype update`)
  if (rt.tasks.length === 0) return rejected('invalid', `run type '${rt.name}' needs at least one task (--tasks a,b)`)
  for (const e of rt.filter?.eras ?? []) {
    const ep = nameProblem('era', e)
    if (ep !== undefined) return rejected('invalid', ep)
  }
  const runType: RunTypeDefinition = create(RunTypeDefinitionSchema, { name: rt.name, filter: rt.filter ?? create(RunFilterDefinitionSchema, {}), tasks: [...new Set(rt.tasks)], revision: d.revision + 1 })
  const next = revised(d, ctx, { runTypes: [...d.runTypes, runType] })
  const problem = definitionProblem(next, workflows)
  return problem === undefined ? { kind: 'accepted', definition: next } : rejected(problem.includes('unknown') ? 'not-found' : 'invalid', problem)
}

/**
 * `autocal rtype update --add/--remove`: a run type's active tasks changed,
 * stamped with the revision that changes it. Runs planned before keep the
 * tasks they were planned with; runs planned after (arriving, or injected
 * again) get the new set. Rejected: a closed campaign, an unknown run type,
 * an unknown task to add, a task to remove the run type does not have, a
 * change that changes nothing, a run type left without a task.
 */
export function updateRunType (d: CampaignDefinition, name: string, add: readonly string[], remove: readonly string[], workflows: readonly Workflow[], ctx: ChangeContext): CampaignDecision {
  const closed = closedProblem(d)
  if (closed !== undefined) return closed
  const rt = d.runTypes.find(r => r.name === name)
  if (rt === undefined) return rejected('not-found', `campaign '${d.name}' has no run type '${name}'${didYouMean(name, d.runTypes.map(r => r.name)) ?? ''}, known: ${d.runTypes.map(r => r.name).join(', ') || 'none (autocal rtype create)'}`)
  if (add.length === 0 && remove.length === 0) return rejected('invalid', 'nothing to change: give --add TASK and/or --remove TASK')
  const gone = remove.filter(t => !rt.tasks.includes(t))
  if (gone.length > 0) return rejected('not-found', `run type '${name}' has no task '${gone[0] ?? ''}'${didYouMean(gone[0] ?? '', rt.tasks) ?? ''}, it has: ${rt.tasks.join(', ')}`)
  const tasks = [...rt.tasks.filter(t => !remove.includes(t)), ...add.filter(t => !rt.tasks.includes(t) && !remove.includes(t))]
  if (tasks.length === 0) return rejected('invalid', `run type '${name}' would have no task left; remove the run type's campaign or keep one task`)
  if (tasks.join() === rt.tasks.join()) return rejected('conflict', `run type '${name}' has ${add.join(', ')} already: nothing changes`)
  const runTypes = d.runTypes.map(r => r.name === name ? create(RunTypeDefinitionSchema, { ...r, tasks, revision: d.revision + 1 }) : r)
  const next = revised(d, ctx, { runTypes })
  const problem = definitionProblem(next, workflows)
  return problem === undefined ? { kind: 'accepted', definition: next } : rejected(problem.includes('unknown') ? 'not-found' : 'invalid', problem)
}

/**
 * Whether a definition read from autocal.campaigns.v1 replaces the one held:
 * not an older revision, and not the same definition again (a redelivery, or
 * this replica's own write seen again, changes nothing). A different
 * definition of the same revision replaces it: two replicas that changed one
 * campaign at once converge on the order of the topic's one partition.
 */
export function supersedes (held: CampaignDefinition | undefined, next: CampaignDefinition): boolean {
  return held === undefined || (next.revision >= held.revision && !equals(CampaignDefinitionSchema, held, next))
}
