// The control API's operator actions on blocks and gates (issue 15):
// CloseBlock (`autocal block close`) and ForceGate (`autocal gate force`).
// Each is checked here against the read model first (unknown campaign, block
// or task, a block already closed, a task not waiting on the gate: a clear
// error, audited as refused), authorised against the subsystems of the tasks
// it touches, and written to autocal.control.v1 (key = campaign) for the
// dispatcher to apply in order: handlers.ts → planner.closeBlock / the
// `force-gates` transition. The audit record (control-api.ts `audited`) says
// who, from where, what and why.
import { randomUUID } from 'node:crypto'
import { create, type MessageInitShape } from '@bufbuild/protobuf'
import { timestampFromDate } from '@bufbuild/protobuf/wkt'
import {
  CloseBlockSchema, ControlCommandSchema, ForceGateSchema, SelectorSchema, nameProblem, taskKey,
  type CloseBlockRequest, type CloseBlockResponseSchema, type ControlCommand, type ForceGateRequest, type ForceGateResponseSchema
} from '@autocal/contracts'
import { AutocalError, type grpc } from '@autocal/runtime'
import { closeBlockByOperator } from './domain/block-close.ts'
import type { Catalog, CampaignTasks } from './domain/catalog.ts'
import { forceGates } from './domain/gate-timeout.ts'
import type { Principal } from './domain/selection.ts'
import type { StateStore } from './adapters/state-store.ts'

type Call = { metadata: grpc.Metadata, getPeer: () => string }

/** What the audit record of one RPC says; filled in as the handler learns it (control-api.ts). */
export interface AuditFacts { principal: string, subsystem: string, target: string, commandId: string, reason: string, details: Record<string, string> }

/** The pieces of the control service these RPCs use (control-api.ts passes its own). */
export interface BlockGateDeps {
  catalog: Catalog
  store: StateStore
  audited: <T>(call: Call, action: string, kind: 'command' | 'read', work: (facts: AuditFacts) => Promise<T>) => Promise<T>
  /** The principal of a command RPC (a control token's), else it throws. */
  actorOf: (call: Call) => Principal
  /** The campaign by name: validated, known (AUTOCAL_NOT_FOUND otherwise). */
  campaignOf: (name: string) => CampaignTasks
  /** Checks the reason and the token's scope over `subsystems`, then writes the command (control-api.ts submit). */
  submit: (p: Principal, command: ControlCommand, what: string, subsystems: Iterable<string>) => Promise<void>
}

const invalid = (message: string): AutocalError => new AutocalError('AUTOCAL_VALIDATION_FAILED', message)

/** A name of the one grammar (@autocal/contracts nameProblem), else INVALID_ARGUMENT naming the field. */
function checkName (kind: 'block' | 'task', value: string, field: string): void {
  if (value === '') throw invalid(`${field} is required`)
  const problem = nameProblem(kind, value)
  if (problem !== undefined) throw invalid(`${field}: ${problem}`)
}

/** The CloseBlock and ForceGate RPCs of the ControlService (spread into its implementation). */
export function blockGateRpcs (deps: BlockGateDeps) {
  const { catalog, store } = deps

  function command (p: Principal, subsystem: string, reason: string, selector: ReturnType<typeof create<typeof SelectorSchema>>, action: ControlCommand['action']): ControlCommand {
    return create(ControlCommandSchema, { commandId: randomUUID(), actor: p.principal, subsystem, reason, selector, at: timestampFromDate(new Date()), action })
  }

  return {
    /**
     * Closes an open block (fill, lumi or era) of a campaign now, with reason "operator": NOT_FOUND for an
     * unknown campaign or block (naming open blocks), INVALID_ARGUMENT for a block already closed.
     */
    closeBlock: async (req: CloseBlockRequest, call: Call): Promise<MessageInitShape<typeof CloseBlockResponseSchema>> => await deps.audited(call, 'control.CloseBlock', 'command', async facts => {
      facts.reason = req.reason
      facts.target = `campaign ${req.campaign} block ${req.blockId}`
      const p = deps.actorOf(call)
      facts.principal = p.principal
      checkName('block', req.blockId, 'block_id')
      const c = deps.campaignOf(req.campaign)
      const roots = c.roots.filter(r => r.block.kind !== 'run')
      const blocks = new Map(await Promise.all(roots.map(async r => [r.name, await store.blocks(c.name, r.name)] as const)))
      const d = closeBlockByOperator(c.name, blocks, req.blockId)
      if (d.kind === 'not-found') throw new AutocalError('AUTOCAL_NOT_FOUND', d.reason)
      if (d.kind === 'already-closed') throw invalid(d.reason)
      const subsystems = new Set(d.blocks.map(b => catalog.task(c.name, b.root)?.subsystem ?? ''))
      facts.subsystem = [...subsystems].sort().join(',')
      const runs = [...new Set(d.blocks.flatMap(b => b.block.runs))].sort((a, b) => a - b)
      facts.details = { tasks: d.blocks.map(b => b.root).join(','), runs: runs.slice(0, 50).join(',') }
      const cmd = command(p, facts.subsystem, req.reason, create(SelectorSchema, { campaign: c.name, blockIds: [req.blockId] }), { case: 'closeBlock', value: create(CloseBlockSchema, {}) })
      await deps.submit(p, cmd, `closing block ${req.blockId} of campaign ${c.name}`, subsystems)
      facts.commandId = cmd.commandId
      return { commandId: cmd.commandId, tasks: d.blocks.map(b => b.root), runs }
    }),

    /**
     * Forces a waiting task's gates open (one by name or kind, or every pending readiness gate): NOT_FOUND for
     * an unknown campaign, task or task on that block; INVALID_ARGUMENT for a task not waiting on that gate or a
     * gate that cannot be forced (domain/gate-timeout.ts forceGates).
     */
    forceGate: async (req: ForceGateRequest, call: Call): Promise<MessageInitShape<typeof ForceGateResponseSchema>> => await deps.audited(call, 'control.ForceGate', 'command', async facts => {
      facts.reason = req.reason
      facts.target = `campaign ${req.campaign} block ${req.blockId} task ${req.task}${req.gate === '' ? '' : ` gate ${req.gate}`}`
      const p = deps.actorOf(call)
      facts.principal = p.principal
      checkName('block', req.blockId, 'block_id')
      checkName('task', req.task, 'task')
      if (!/^[\x21-\x7e]{0,300}$/.test(req.gate)) throw invalid(`gate: ${JSON.stringify(req.gate.slice(0, 80))} is not a gate name (printable characters without spaces, at most 300)`)
      const c = deps.campaignOf(req.campaign)
      const def = c.tasks.find(d => d.name === req.task)
      if (def === undefined) throw new AutocalError('AUTOCAL_NOT_FOUND', `campaign '${c.name}' has no task '${req.task}', known: ${c.tasks.map(d => d.name).join(', ')}`)
      facts.subsystem = def.subsystem
      const task = await store.getTask(taskKey(c.name, req.blockId, req.task))
      if (task === undefined) throw new AutocalError('AUTOCAL_NOT_FOUND', `no task '${req.task}' on block '${req.blockId}' of campaign '${c.name}'`)
      const d = forceGates(task.state, task.pendingGates, req.gate === '' ? undefined : req.gate)
      if (d.kind === 'refused') throw invalid(`${req.task} on ${req.blockId}: ${d.reason}`)
      facts.details = { gates: d.gates.join(','), state: task.state, attempt: String(task.attempt) }
      const selector = create(SelectorSchema, { campaign: c.name, blockIds: [req.blockId], tasks: [req.task], subsystem: task.subsystem })
      const cmd = command(p, task.subsystem, req.reason, selector, { case: 'forceGate', value: create(ForceGateSchema, { gate: req.gate }) })
      await deps.submit(p, cmd, `forcing gates of ${req.task} on ${req.blockId}`, [task.subsystem])
      facts.commandId = cmd.commandId
      return { commandId: cmd.commandId, gates: d.gates }
    })
  }
}
