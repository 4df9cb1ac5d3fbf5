// The gRPC ControlService: authenticates the bearer token, authorises the
// command against the token's subsystems, writes it to autocal.control.v1
// (keyed by campaign, so every command of a campaign is applied in order) and
// answers reads from the Redis read model. Every command is logged with who
// and why, accepted or not.
import { type EventEmitter, on } from 'node:events'
import { randomUUID } from 'node:crypto'
import { create } from '@bufbuild/protobuf'
import { timestampFromDate, timestampFromMs } from '@bufbuild/protobuf/wkt'
import {
  ApproveConditionSchema, AuditRecordSchema, CancelSchema, ControlCommandSchema, ControlService, InjectRunsSchema, PendingConditionSchema, PromoteConditionSchema,
  RejectConditionSchema, ReprocessSchema, SelectorSchema, SkipSchema, StatusCellSchema, WorkflowInfoSchema,
  messageProblem, nameProblem, selectorProblem, topics, type ControlCommand, type Selector, type TaskEvent
} from '@autocal/contracts'
import { AutocalError, bearerToken, serve, type Logger, type Producer, type grpc } from '@autocal/runtime'
import type { Catalog } from './domain/catalog.ts'
import { authorise, matchTasks, matchesSelector, scopeAllows, type Principal } from './domain/selection.ts'
import { parseRequestId, promotionProblem, promotionRequestId, signOffProblem } from './domain/sign-off.ts'
import { uploadRequestId, type Task } from './domain/task-state.ts'
import type { Env, Workflow } from './domain/workflow.ts'
import { goldenRootsOf, validateSources } from './adapters/workflow-files.ts'
import type { StateStore } from './adapters/state-store.ts'
import { stateOf } from './task-event.ts'

export interface ControlApiDeps {
  catalog: Catalog
  store: StateStore
  producer: Producer
  tokens: Map<string, Principal>
  logger: Logger
  /** Task events as they are published (fed by the watch consumer). */
  taskEvents: EventEmitter
  workflowsDir: string
  env: Env
}

export function workflowInfo (w: Workflow): ReturnType<typeof create<typeof WorkflowInfoSchema>> {
  return create(WorkflowInfoSchema, { subsystem: w.subsystem, workflow: w.workflow, file: w.file, version: w.version, tasks: w.tasks.map(t => t.name), campaigns: w.campaigns.map(c => c.name) })
}

/** What an audit record says about a condition: its tag, since, synchronization and payload hash. */
function conditionDetails (t: Task, requestId: string, database: string | undefined): Record<string, string> {
  const d: Record<string, string> = { request_id: requestId, tag: t.conditionTag, synchronization: t.conditionSync, payload_hash: t.condition?.payloadHash ?? '', state: t.state }
  if (t.condition?.since !== undefined) d.since = t.condition.since
  if (database !== undefined) d.destination_database = database
  return d
}

export function controlService (deps: ControlApiDeps) {
  const { catalog, store, producer, tokens } = deps
  const log = deps.logger.child({ component: 'control' })

  function principalOf (call: { metadata: grpc.Metadata }): Principal {
    const token = bearerToken(call.metadata)
    if (token === undefined) throw new AutocalError('AUTOCAL_UNAUTHENTICATED', 'no bearer token: pass --token or set AUTOCAL_TOKEN')
    const p = tokens.get(token)
    if (p === undefined) throw new AutocalError('AUTOCAL_UNAUTHENTICATED', 'unknown bearer token')
    return p
  }

  function campaignOf (name: string): NonNullable<ReturnType<Catalog['campaigns']['get']>> {
    if (name === '') throw new AutocalError('AUTOCAL_VALIDATION_FAILED', 'a campaign is required (--campaign)')
    valid(nameProblem('campaign', name), 'campaign')
    const c = catalog.campaigns.get(name)
    if (c === undefined) throw new AutocalError('AUTOCAL_NOT_FOUND', `unknown campaign ${JSON.stringify(name)}, known: ${[...catalog.campaigns.keys()].join(', ')}`)
    return c
  }

  /**
   * Refuses a request part that breaks the one name grammar (@autocal/contracts: names, block ids, runs
   * 1 ≤ run < 2^32): INVALID_ARGUMENT naming the field and the escaped value, before anything is looked up.
   */
  function valid (problem: string | undefined, field?: string): void {
    if (problem !== undefined) throw new AutocalError('AUTOCAL_VALIDATION_FAILED', field === undefined ? problem : `${field}: ${problem}`)
  }

  async function submit (p: Principal, command: ControlCommand, what: string, subsystems: Iterable<string>): Promise<void> {
    const entry = { actor: p.principal, commandId: command.commandId, action: command.action.case, campaign: command.selector?.campaign, reason: command.reason, selector: command.selector }
    if (command.reason.trim() === '') {
      log.warn(entry, 'control command rejected: no reason')
      throw new AutocalError('AUTOCAL_VALIDATION_FAILED', 'a reason is required (--reason): every command is logged with who and why')
    }
    const auth = authorise(p, subsystems, what)
    if (!auth.ok) {
      log.warn({ ...entry, denied: auth.reason }, 'control command rejected: forbidden')
      throw new AutocalError('AUTOCAL_FORBIDDEN', auth.reason)
    }
    await producer.publish(topics.control, command, { eventId: `control/${command.commandId}` })
    log.info(entry, 'control command accepted')
  }

  function command (p: Principal, selector: Selector, reason: string, action: ControlCommand['action']): ControlCommand {
    const scope = selector.subsystem !== '' ? selector.subsystem : p.subsystems.includes('*') ? '' : p.subsystems.join(',')
    return create(ControlCommandSchema, { commandId: randomUUID(), actor: p.principal, subsystem: scope, reason, selector, at: timestampFromDate(new Date()), action })
  }

  async function taskCommand (req: { selector?: Selector | undefined, reason: string }, call: { metadata: grpc.Metadata }, action: ControlCommand['action']): Promise<{ commandId: string, matched: number }> {
    const p = principalOf(call)
    const selector = req.selector
    if (selector === undefined) throw new AutocalError('AUTOCAL_VALIDATION_FAILED', 'a selector with a campaign is required')
    valid(selectorProblem(selector))
    const c = campaignOf(selector.campaign)
    for (const t of selector.tasks) {
      if (!c.tasks.some(d => d.name === t)) throw new AutocalError('AUTOCAL_NOT_FOUND', `campaign '${c.name}' has no task '${t}', known: ${c.tasks.map(d => d.name).join(', ')}`)
    }
    const matched = matchTasks(await store.getTasks(await store.taskKeys(c.name)), selector)
    const subsystems = new Set(matched.map(t => t.subsystem))
    for (const t of selector.tasks) subsystems.add(c.tasks.find(d => d.name === t)?.subsystem ?? '')
    if (selector.subsystem !== '') subsystems.add(selector.subsystem)
    if (matched.length === 0 && selector.tasks.length === 0 && selector.subsystem === '') for (const s of c.subsystems) subsystems.add(s)
    const cmd = command(p, selector, req.reason, action)
    await submit(p, cmd, `${action.case ?? 'the command'} on campaign ${c.name}`, subsystems)
    return { commandId: cmd.commandId, matched: matched.length }
  }

  /**
   * One AuditRecord on autocal.audit.v1 per condition decision (approve,
   * reject, promote), accepted or refused, with the payload hash in details.
   */
  async function audit (entry: { call: { getPeer: () => string }, principal: string, action: string, subsystem: string, target: string, accepted: boolean, reason: string, commandId: string, details: Record<string, string> }): Promise<void> {
    const record = create(AuditRecordSchema, {
      id: randomUUID(),
      at: timestampFromDate(new Date()),
      principal: entry.principal,
      peer: entry.call.getPeer(),
      service: 'autocal/task-dispatcher',
      action: entry.action,
      subsystem: entry.subsystem,
      target: entry.target,
      accepted: entry.accepted,
      reason: entry.reason,
      commandId: entry.commandId,
      details: entry.details
    })
    await producer.publish(topics.audit, record, { eventId: `audit/${record.id}` })
  }

  type ConditionAction = 'approveCondition' | 'rejectCondition' | 'promoteCondition'
  const auditAction: Record<ConditionAction, string> = { approveCondition: 'conditions.approve', rejectCondition: 'conditions.reject', promoteCondition: 'conditions.promote' }

  /**
   * Approve, reject or promote: authenticate, find the task of the request id,
   * check the scope (the task's subsystem) and that the decision applies now,
   * write the command (keyed by the task's campaign), and audit the decision
   * whatever its fate. Errors are the gRPC answer; the audit record names them.
   */
  async function conditionCommand (req: { requestId: string, reason: string, destinationDatabase?: string }, call: { metadata: grpc.Metadata, getPeer: () => string }, kind: ConditionAction): Promise<{ commandId: string, payloadHash: string, promotionRequestId: string }> {
    let principal = 'anonymous'
    let subsystem = ''
    let details: Record<string, string> = { request_id: req.requestId }
    try {
      const p = principalOf(call)
      principal = p.principal
      const parts = parseRequestId(req.requestId)
      if ('problem' in parts) throw new AutocalError('AUTOCAL_VALIDATION_FAILED', parts.problem)
      const task = await store.getTask(`${parts.campaign}/${parts.block}/${parts.task}`)
      if (task === undefined) throw new AutocalError('AUTOCAL_NOT_FOUND', `no task for request ${req.requestId}`)
      subsystem = task.subsystem
      details = conditionDetails(task, req.requestId, req.destinationDatabase)
      if (!scopeAllows(p.subsystems, task.subsystem)) throw new AutocalError('AUTOCAL_FORBIDDEN', `${p.principal} may act for ${p.subsystems.join(', ')}, but request ${req.requestId} is a condition of ${task.subsystem}`)
      if (req.reason.trim() === '') throw new AutocalError('AUTOCAL_VALIDATION_FAILED', 'a reason is required (--reason): every decision on a condition is audited with who and why')
      const problem = kind === 'promoteCondition' ? promotionProblem(task, req.requestId) : signOffProblem(task, req.requestId)
      if (problem !== undefined) throw new AutocalError('AUTOCAL_VALIDATION_FAILED', problem)
      const payloadHash = task.condition?.payloadHash ?? ''
      const selector = create(SelectorSchema, { campaign: task.campaign, tasks: [task.task], blockIds: [task.block.id], subsystem: task.subsystem })
      const action: ControlCommand['action'] = kind === 'approveCondition'
        ? { case: kind, value: create(ApproveConditionSchema, { requestId: req.requestId, payloadHash }) }
        : kind === 'rejectCondition'
          ? { case: kind, value: create(RejectConditionSchema, { requestId: req.requestId, payloadHash }) }
          : { case: kind, value: create(PromoteConditionSchema, { requestId: req.requestId, payloadHash, destinationDatabase: req.destinationDatabase ?? '' }) }
      const cmd = create(ControlCommandSchema, { commandId: randomUUID(), actor: p.principal, subsystem: task.subsystem, reason: req.reason, selector, at: timestampFromDate(new Date()), action })
      await producer.publish(topics.control, cmd, { eventId: `control/${cmd.commandId}` })
      const promoted = kind === 'promoteCondition' ? promotionRequestId(req.requestId, cmd.commandId) : ''
      if (promoted !== '') details.promotion_request_id = promoted
      log.info({ actor: p.principal, commandId: cmd.commandId, action: kind, requestId: req.requestId, payloadHash, reason: req.reason }, 'condition decision accepted')
      await audit({ call, principal, action: auditAction[kind], subsystem, target: req.requestId, accepted: true, reason: req.reason, commandId: cmd.commandId, details })
      return { commandId: cmd.commandId, payloadHash, promotionRequestId: promoted }
    } catch (err) {
      const refusal = (err as Error).message
      log.warn({ actor: principal, action: kind, requestId: req.requestId, refused: refusal }, 'condition decision refused')
      await audit({ call, principal, action: auditAction[kind], subsystem, target: req.requestId, accepted: false, reason: `refused: ${refusal}${req.reason.trim() === '' ? '' : ` (operator's reason: ${req.reason})`}`, commandId: '', details })
      throw err
    }
  }

  return serve(ControlService, {
    listPendingConditions: async (req, call) => {
      const p = principalOf(call)
      if (req.subsystem !== '') valid(nameProblem('subsystem', req.subsystem), 'subsystem')
      const campaigns = req.campaign === '' ? [...catalog.campaigns.keys()] : [campaignOf(req.campaign).name]
      const conditions = []
      for (const c of campaigns) {
        for (const t of await store.getTasks(await store.taskKeys(c))) {
          if (t.state !== 'awaiting-signoff' || !scopeAllows(p.subsystems, t.subsystem) || (req.subsystem !== '' && t.subsystem !== req.subsystem)) continue
          const def = catalog.task(t.campaign, t.task)
          conditions.push(create(PendingConditionSchema, {
            requestId: uploadRequestId(t),
            subsystem: t.subsystem,
            campaign: t.campaign,
            blockId: t.block.id,
            task: t.task,
            runs: t.block.runs,
            tag: t.conditionTag,
            synchronization: t.conditionSync,
            payloadHash: t.condition?.payloadHash ?? '',
            since: BigInt(t.condition?.since ?? '0'),
            destinationDatabase: def?.upload?.destinationDatabase ?? '',
            reason: t.condition?.reason ?? '',
            at: timestampFromMs(t.atMs)
          }))
        }
      }
      conditions.sort((a, b) => a.requestId.localeCompare(b.requestId))
      return { conditions }
    },
    approveCondition: async (req, call) => {
      const r = await conditionCommand(req, call, 'approveCondition')
      return { commandId: r.commandId, payloadHash: r.payloadHash }
    },
    rejectCondition: async (req, call) => {
      const r = await conditionCommand(req, call, 'rejectCondition')
      return { commandId: r.commandId, payloadHash: r.payloadHash }
    },
    promoteCondition: async (req, call) => {
      const r = await conditionCommand(req, call, 'promoteCondition')
      return { commandId: r.commandId, payloadHash: r.payloadHash, promotionRequestId: r.promotionRequestId }
    },
    injectRuns: async (req, call) => {
      const p = principalOf(call)
      const c = campaignOf(req.campaign)
      const inject = req.runs ?? create(InjectRunsSchema, {})
      // the command the consumers will check, checked here first: runs, range and records (run, era)
      valid(messageProblem('control', create(ControlCommandSchema, { commandId: 'check', action: { case: 'injectRuns', value: inject } })))
      const records = new Set(inject.records.map(r => r.run))
      const wanted = new Set([...inject.runs, ...records])
      if (inject.firstRun !== 0 || inject.lastRun !== 0) {
        if (inject.firstRun === 0 || inject.lastRun === 0 || inject.lastRun < inject.firstRun) throw new AutocalError('AUTOCAL_VALIDATION_FAILED', `bad run range ${inject.firstRun}-${inject.lastRun}`)
        for (const r of await store.knownRuns(inject.firstRun, inject.lastRun)) wanted.add(r)
      }
      const facts = await store.runFacts([...wanted].filter(r => !records.has(r)))
      const unknown = [...wanted].filter(r => !records.has(r) && !facts.has(r)).sort((a, b) => a - b)
      if (unknown.length > 0) throw new AutocalError('AUTOCAL_VALIDATION_FAILED', `runs unknown to the dispatcher (no run-watcher record): ${unknown.slice(0, 10).join(', ')}${unknown.length > 10 ? ` and ${unknown.length - 10} more` : ''}`)
      if (wanted.size === 0) throw new AutocalError('AUTOCAL_VALIDATION_FAILED', 'no runs to inject: give runs, a range or records')
      const selector = create(SelectorSchema, { campaign: c.name })
      const cmd = command(p, selector, req.reason, { case: 'injectRuns', value: inject })
      await submit(p, cmd, `injecting runs into campaign ${c.name}`, c.subsystems)
      return { commandId: cmd.commandId, runs: wanted.size }
    },
    reprocess: async (req, call) => await taskCommand(req, call, { case: 'reprocess', value: create(ReprocessSchema, {}) }),
    skip: async (req, call) => await taskCommand(req, call, { case: 'skip', value: create(SkipSchema, {}) }),
    cancel: async (req, call) => await taskCommand(req, call, { case: 'cancel', value: create(CancelSchema, {}) }),
    getStatus: async (req, call) => {
      principalOf(call)
      const selector = req.selector ?? create(SelectorSchema, {})
      valid(selectorProblem(selector))
      const c = campaignOf(selector.campaign)
      const tasks = matchTasks(await store.getTasks(await store.taskKeys(c.name)), selector)
      const runs = new Set<number>()
      const cells = []
      for (const t of tasks) {
        for (const run of t.block.runs) {
          runs.add(run)
          cells.push(create(StatusCellSchema, { run, task: t.task, blockId: t.block.id, state: stateOf(t.state), attempt: t.attempt, at: timestampFromMs(t.atMs), reason: t.reason }))
        }
      }
      cells.sort((a, b) => a.run - b.run || a.task.localeCompare(b.task))
      const names = c.tasks.map(d => d.name).filter(n => selector.tasks.length === 0 || selector.tasks.includes(n)).filter(n => selector.subsystem === '' || c.tasks.find(d => d.name === n)?.subsystem === selector.subsystem)
      return { campaign: c.name, runs: [...runs].sort((a, b) => a - b), tasks: names, cells }
    },
    listWorkflows: async (_req, call) => {
      principalOf(call)
      return { workflows: catalog.workflows.map(workflowInfo) }
    },
    validateWorkflows: async (req, call) => {
      principalOf(call)
      // Caller-supplied YAML: nothing from the dispatcher's environment is expanded (an empty environment:
      // allow-listed variables take their ${VAR:-default}); only the real-data directory confines golden files.
      const result = validateSources(req.files.map(f => ({ name: f.name, content: f.content, dir: deps.workflowsDir })), {}, '', goldenRootsOf(deps.env))
      return { ok: result.errors.length === 0, errors: result.errors, workflows: result.workflows.map(workflowInfo) }
    },
    watchTasks: async function * (req, call) {
      principalOf(call)
      const selector = req.selector
      if (selector !== undefined) valid(selectorProblem(selector))
      const ac = new AbortController()
      call.on('cancelled', () => { ac.abort() })
      call.on('close', () => { ac.abort() })
      try {
        for await (const [ev] of on(deps.taskEvents, 'task', { signal: ac.signal }) as AsyncIterable<[TaskEvent]>) {
          if (selector !== undefined && !matchesSelector({ campaign: ev.campaign, task: ev.task, subsystem: ev.subsystem, block: { runs: ev.block?.runs ?? [], id: ev.block?.id ?? '' } as never }, selector)) continue
          yield { event: ev }
        }
      } catch (err) {
        if ((err as Error).name !== 'AbortError') throw err
      }
    }
  })
}
