// The control API's campaign RPCs (`autocal campaign …`, `autocal rtype …`):
// authenticate, decide the change in the domain
// (domain/campaign-definitions.ts), authorise it against the token's
// subsystems (the campaign's), store it on autocal.campaigns.v1 and answer
// with the definition at its new revision. Every call, accepted or refused,
// leaves an audit record (control-api.ts `audited`), like the task commands.
import { create } from '@bufbuild/protobuf'
import {
  CampaignDefinitionSchema, CampaignInfoSchema, CampaignKind, CampaignState, ConditionsTargetSchema, RunFilterDefinitionSchema, RunTypeDefinitionSchema, WorkflowRefSchema, nameProblem, operatorReasonProblem,
  type CampaignDefinition, type CampaignInfo, type ChangeCampaignStateRequest, type CreateCampaignRequest, type CreateRunTypeRequest, type ListCampaignsRequest, type UpdateRunTypeRequest
} from '@autocal/contracts'
import { AutocalError, type Logger } from '@autocal/runtime'
import type { Catalog } from './domain/catalog.ts'
import { changeState, createCampaign, createRunType, updateRunType, type CampaignDecision, type ChangeContext } from './domain/campaign-definitions.ts'
import { authorise, scopeAllows, type Principal } from './domain/selection.ts'
import type { CampaignState as StateName } from './domain/workflow.ts'
import type { CampaignStore } from './adapters/campaign-store.ts'
import type { AuditFacts, Call } from './control-api.ts'

export interface CampaignApiDeps {
  catalog: Catalog
  campaigns: Pick<CampaignStore, 'definitions' | 'put'>
  logger: Logger
}

/** What the campaign RPCs take from the control API: its audit wrapper and its two kinds of principal. */
export interface ControlHelpers {
  audited: <T>(call: Call, action: string, kind: 'command' | 'read', work: (facts: AuditFacts) => Promise<T>) => Promise<T>
  actorOf: (call: Call) => Principal
  readerOf: (call: Call) => Principal
}

/** The AutocalError of a refused change: NOT_FOUND for unknown names, INVALID_ARGUMENT otherwise. */
function refusal (d: Extract<CampaignDecision, { kind: 'rejected' }>): AutocalError {
  return new AutocalError(d.code === 'not-found' ? 'AUTOCAL_NOT_FOUND' : 'AUTOCAL_VALIDATION_FAILED', d.reason)
}

const stateNames: Partial<Record<CampaignState, StateName>> = { [CampaignState.ACTIVE]: 'active', [CampaignState.PAUSED]: 'paused', [CampaignState.CLOSED]: 'closed' }

export function campaignRpcs (deps: CampaignApiDeps, api: ControlHelpers) {
  const { catalog, campaigns } = deps
  const log = deps.logger.child({ component: 'campaigns' })

  /** Who changes a definition, now, and why: a reason is required and is plain text (operatorReasonProblem, as for every command). */
  function contextOf (p: Principal, reason: string): ChangeContext {
    const problem = operatorReasonProblem(reason)
    if (problem !== undefined) throw new AutocalError('AUTOCAL_VALIDATION_FAILED', problem)
    return { actor: p.principal, atMs: Date.now(), reason }
  }

  /** The stored runtime definition of `name`; a YAML campaign or an unknown name is refused, naming where it is defined or what is known. */
  function definitionOf (name: string): CampaignDefinition {
    const problem = nameProblem('campaign', name)
    if (problem !== undefined) throw new AutocalError('AUTOCAL_VALIDATION_FAILED', problem)
    const d = campaigns.definitions().get(name)
    if (d !== undefined) return d
    const yaml = catalog.workflows.find(w => w.campaigns.some(c => c.name === name))
    if (yaml !== undefined) throw new AutocalError('AUTOCAL_VALIDATION_FAILED', `campaign '${name}' is defined in workflow file ${yaml.file}: change it there (runtime changes are for campaigns made with autocal campaign create)`)
    throw new AutocalError('AUTOCAL_NOT_FOUND', `unknown runtime campaign '${name}', known: ${[...campaigns.definitions().keys()].join(', ') || 'none'}`)
  }

  /** Authorises, stores and logs an accepted change; refuses a rejected one. Fills the audit facts. */
  async function commit (p: Principal, decision: CampaignDecision, facts: AuditFacts, what: string): Promise<CampaignDefinition> {
    if (decision.kind === 'rejected') throw refusal(decision)
    const d = decision.definition
    facts.subsystem = d.subsystems.join(',')
    facts.commandId = `campaigns/${d.name}/${d.revision}`
    facts.details = { revision: String(d.revision), state: stateNames[d.state] ?? '', run_types: d.runTypes.map(r => `${r.name}=${r.tasks.join('+')}`).join(',') }
    const auth = authorise(p, d.subsystems, what)
    if (!auth.ok) throw new AutocalError('AUTOCAL_FORBIDDEN', auth.reason)
    await campaigns.put(d)
    log.info({ actor: p.principal, campaign: d.name, revision: d.revision, state: stateNames[d.state], reason: d.reason }, `campaign change accepted: ${what}`)
    return d
  }

  /**
   * A change of a stored definition: the stored one is found (and the audit
   * record names its subsystems even when the change is refused), then `decide`.
   */
  async function change (call: Call, action: string, name: string, reason: string, what: string, decide: (d: CampaignDefinition, ctx: ChangeContext) => CampaignDecision): Promise<{ campaign: CampaignDefinition }> {
    return await api.audited(call, action, 'command', async facts => {
      facts.reason = reason
      facts.target = `campaign ${name}`
      const p = api.actorOf(call)
      facts.principal = p.principal
      const d = definitionOf(name)
      facts.subsystem = d.subsystems.join(',')
      // the scope first: an operator of another subsystem learns nothing of the campaign's rules
      const auth = authorise(p, d.subsystems, `${what} of campaign ${name}`)
      if (!auth.ok) throw new AutocalError('AUTOCAL_FORBIDDEN', auth.reason)
      return { campaign: await commit(p, decide(d, contextOf(p, reason)), facts, `${what} of campaign ${name}`) }
    })
  }

  /** The YAML campaigns as definitions (source "yaml"): their workflows, run types and subsystems; always active. */
  function yamlCampaigns (): CampaignInfo[] {
    const out = new Map<string, CampaignDefinition>()
    for (const w of catalog.workflows) {
      for (const c of w.campaigns) {
        const d = out.get(c.name) ?? create(CampaignDefinitionSchema, { name: c.name, kind: c.live ? CampaignKind.LIVE : CampaignKind.REPROCESSING, state: CampaignState.ACTIVE, changedBy: 'workflow files', conditions: create(ConditionsTargetSchema, {}) })
        out.set(c.name, d)
        if (!d.subsystems.includes(w.subsystem)) d.subsystems.push(w.subsystem)
        d.workflows.push(create(WorkflowRefSchema, { subsystem: w.subsystem, workflow: w.workflow }))
        for (const rt of w.runTypes.filter(r => c.runTypes.includes(r.name))) {
          d.runTypes.push(create(RunTypeDefinitionSchema, { name: rt.name, tasks: rt.tasks, filter: create(RunFilterDefinitionSchema, { runClasses: rt.filter.runClass, eras: rt.filter.eras }) }))
        }
      }
    }
    return [...out.values()].map(definition => create(CampaignInfoSchema, { definition, source: 'yaml' }))
  }

  return {
    createCampaign: async (req: CreateCampaignRequest, call: Call) => await api.audited(call, 'control.CreateCampaign', 'command', async facts => {
      facts.reason = req.reason
      facts.target = `campaign ${req.name}`
      // the subsystems the request touches, for the audit record even when it is refused
      facts.subsystem = [...new Set([...req.subsystems, ...req.workflows.map(w => w.split('/')[0] ?? '')])].filter(s => s !== '').sort().join(',')
      const p = api.actorOf(call)
      facts.principal = p.principal
      const ctx = contextOf(p, req.reason)
      const decision = createCampaign(
        { name: req.name, workflows: req.workflows, subsystems: req.subsystems, kind: req.kind, conditions: req.conditions, notify: req.notify },
        { workflows: catalog.workflows, runtime: new Set(campaigns.definitions().keys()) },
        ctx
      )
      return { campaign: await commit(p, decision, facts, `creating campaign ${req.name}`) }
    }),
    listCampaigns: async (req: ListCampaignsRequest, call: Call) => await api.audited(call, 'control.ListCampaigns', 'read', async facts => {
      facts.target = req.name === '' ? 'every campaign' : `campaign ${req.name}`
      const p = api.readerOf(call)
      facts.principal = p.principal
      const runtime = [...campaigns.definitions().values()].map(definition => create(CampaignInfoSchema, { definition, source: 'runtime' }))
      const all = [...yamlCampaigns(), ...runtime]
        .filter(c => req.name === '' || c.definition?.name === req.name)
        .filter(c => (c.definition?.subsystems ?? []).some(s => scopeAllows(p.subsystems, s)))
        .sort((a, b) => (a.definition?.name ?? '').localeCompare(b.definition?.name ?? ''))
      if (req.name !== '' && all.length === 0) throw new AutocalError('AUTOCAL_NOT_FOUND', `no campaign '${req.name}' you may read, known: ${[...catalog.campaigns.keys()].join(', ')}`)
      return { campaigns: all }
    }),
    changeCampaignState: async (req: ChangeCampaignStateRequest, call: Call) => {
      const to = stateNames[req.state]
      const what = to === 'paused' ? 'pause' : to === 'active' ? 'resume' : 'close'
      return await change(call, 'control.ChangeCampaignState', req.name, req.reason, what, (d, ctx) => {
        if (to === undefined) return { kind: 'rejected', code: 'invalid', reason: 'state: expected active, paused or closed' }
        return changeState(d, to, ctx)
      })
    },
    createRunType: async (req: CreateRunTypeRequest, call: Call) =>
      await change(call, 'control.CreateRunType', req.campaign, req.reason, `run type ${req.runType?.name ?? ''}`, (d, ctx) =>
        createRunType(d, { name: req.runType?.name ?? '', filter: req.runType?.filter, tasks: req.runType?.tasks ?? [] }, catalog.workflows, ctx)),
    updateRunType: async (req: UpdateRunTypeRequest, call: Call) =>
      await change(call, 'control.UpdateRunType', req.campaign, req.reason, `run type ${req.name}`, (d, ctx) =>
        updateRunType(d, req.name, req.addTasks, req.removeTasks, catalog.workflows, ctx))
  }
}
