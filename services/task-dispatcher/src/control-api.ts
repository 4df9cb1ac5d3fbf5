// The gRPC ControlService: authenticates the bearer token, authorises the
// command against the token's subsystems, writes it to autocal.control.v1
// (keyed by campaign, so every command of a campaign is applied in order) and
// answers reads from the Redis read model. Every command RPC, accepted or
// refused, and every read refused for want of a token or scope leaves one
// AuditRecord on autocal.audit.v1 (principal, peer, action, reason).
//
// Who may do what: a control token (AUTOCAL_CONTROL_TOKENS) acts for and
// reads its subsystems; a read token (AUTOCAL_READ_TOKENS) reads every
// subsystem and acts for none; with AUTOCAL_READ_PUBLIC=true anyone reads.
import { type EventEmitter, on } from 'node:events'
import { randomUUID } from 'node:crypto'
import { create } from '@bufbuild/protobuf'
import { timestampFromDate, timestampFromMs } from '@bufbuild/protobuf/wkt'
import {
  ApproveConditionSchema, AuditRecordSchema, CancelSchema, ControlCommandSchema, ControlService, InjectRunsSchema, PendingConditionSchema, PromoteConditionSchema,
  ExcludedRunSchema, RejectConditionSchema, ReprocessSchema, ResubmitFailedJobsSchema, SelectorSchema, SkipSchema, StatusCellSchema, WorkflowInfoSchema,
  messageProblem, nameProblem, operatorReasonProblem, selectorProblem, taskResults, topics, type ControlCommand, type Run, type Selector, type TaskEvent
} from '@autocal/contracts'
import { AutocalError, auditPeer, bearerToken, errorMessage, serve, type AuditWriter, type Logger, type Producer, type ReadAccess, type TokenIndex, type grpc } from '@autocal/runtime'
import { cascadeOf, runBelongsTo, type Catalog } from './domain/catalog.ts'
import { coveringBlockIds } from './domain/fan-in.ts'
import { waitingText } from './domain/gate-text.ts'
import type { GoldenRuns } from './domain/run-filter.ts'
import { authorise, matchTasks, matchesSelector, scopeAllows, type Principal } from './domain/selection.ts'
import { parseRequestId, promotionProblem, promotionRequestId, signOffProblem } from './domain/sign-off.ts'
import { jobsToResubmit, uploadRequestId, type Task } from './domain/task-state.ts'
import type { Env, Workflow } from './domain/workflow.ts'
import { goldenRootsOf, validateSources } from './adapters/workflow-files.ts'
import { selectInjectedRuns } from './inject-selection.ts'
import type { StateStore } from './adapters/state-store.ts'
import { stateOf, toTaskEvent } from './task-event.ts'
import { replayRpcs, type ReplayApiDeps } from './replay-api.ts'
import type { CampaignStore } from './adapters/campaign-store.ts'
import { campaignRpcs } from './campaign-api.ts'
import { blockGateRpcs } from './block-gate-commands.ts'

export interface ControlApiDeps {
  catalog: Catalog
  store: StateStore
  producer: Producer
  /** Writes the audit records (anonymous refusals throttled per peer: runtime audit-throttle.ts). */
  auditor: AuditWriter
  /** Control tokens: act for (and read) their subsystems. */
  tokens: TokenIndex<Principal>
  /** Who may read besides control tokens: read tokens (every subsystem), or everyone. */
  readers: ReadAccess
  logger: Logger
  /** Task events as they are published (fed by the watch consumer). */
  taskEvents: EventEmitter
  workflowsDir: string
  env: Env
  /** Certified runs of the golden JSONs the filters name (for the runs an injection excludes). */
  golden?: GoldenRuns
  /** Replays of recorded runs into sandbox campaigns (replay-api.ts). */
  replay: ReplayApiDeps
  /** The runtime campaigns' definitions (autocal.campaigns.v1): `autocal campaign …`, `autocal rtype …`. */
  campaigns: Pick<CampaignStore, 'definitions' | 'put'>
}

export function workflowInfo (w: Workflow): ReturnType<typeof create<typeof WorkflowInfoSchema>> {
  return create(WorkflowInfoSchema, { subsystem: w.subsystem, workflow: w.workflow, file: w.file, version: w.version, branch: w.branch, tasks: w.tasks.map(t => t.name), campaigns: w.campaigns.map(c => c.name) })
}

/** What an audit record says about a condition: its tag, since, synchronization and payload hash. */
function conditionDetails (t: Task, requestId: string, database: string | undefined): Record<string, string> {
  const d: Record<string, string> = { request_id: requestId, tag: t.conditionTag, synchronization: t.conditionSync, payload_hash: t.condition?.payloadHash ?? '', state: t.state }
  if (t.condition?.since !== undefined) d.since = t.condition.since
  if (database !== undefined) d.destination_database = database
  return d
}

/** What an RPC handler needs of its call: the metadata (bearer token) and the peer (audit). */
export interface Call { metadata: grpc.Metadata, getPeer: () => string }

/** Who, what and why of one RPC, filled in by the handler as it learns them (the audit record's fields). */
export interface AuditFacts { principal: string, subsystem: string, target: string, commandId: string, reason: string, details: Record<string, string> }

export function controlService (deps: ControlApiDeps) {
  const { catalog, store, producer, tokens } = deps
  const log = deps.logger.child({ component: 'control' })

  /** The principal of a command RPC: a control token's; a read token or none is refused (AUTOCAL_UNAUTHENTICATED / AUTOCAL_FORBIDDEN). */
  function actorOf (call: Call): Principal {
    const token = bearerToken(call.metadata)
    if (token === undefined) throw new AutocalError('AUTOCAL_UNAUTHENTICATED', 'no bearer token: pass --token-file or set AUTOCAL_TOKEN / AUTOCAL_TOKEN_FILE')
    const p = tokens.lookup(token)
    if (p !== undefined) return p
    const reader = deps.readers.public ? undefined : deps.readers.tokens.lookup(token)
    if (reader !== undefined) throw Object.assign(new AutocalError('AUTOCAL_FORBIDDEN', `${reader.principal} holds a read token: it may read, not act`), { principal: reader.principal })
    throw new AutocalError('AUTOCAL_UNAUTHENTICATED', 'unknown bearer token')
  }

  /** The principal of a read RPC: a control token (its subsystems), a read token (all), or anyone when reads are public. */
  function readerOf (call: Call): Principal {
    const token = bearerToken(call.metadata)
    const p = tokens.lookup(token) ?? (deps.readers.public ? undefined : deps.readers.tokens.lookup(token))
    if (p !== undefined) return p
    // public reads need no token; a token given must still be a known one (a wrong one is refused and audited, not ignored)
    if (deps.readers.public && token === undefined) return { principal: 'anonymous', subsystems: ['*'] }
    throw new AutocalError('AUTOCAL_UNAUTHENTICATED', token === undefined ? 'no bearer token: reading needs a read or control token (--token-file, AUTOCAL_TOKEN / AUTOCAL_TOKEN_FILE)' : 'unknown bearer token')
  }

  /** Writes one AuditRecord; a failure to write is logged (the answer to the caller stands). */
  async function audit (call: Call, action: string, facts: AuditFacts, accepted: boolean, reason: string): Promise<void> {
    const record = create(AuditRecordSchema, {
      id: randomUUID(),
      at: timestampFromDate(new Date()),
      principal: facts.principal,
      peer: auditPeer(call.getPeer()),
      service: 'autocal/task-dispatcher',
      action,
      subsystem: facts.subsystem,
      target: facts.target,
      accepted,
      reason,
      commandId: facts.commandId,
      details: facts.details
    })
    try {
      await deps.auditor.write(record)
    } catch (err) {
      log.error({ err, action, principal: facts.principal, accepted }, 'audit record not written')
      throw err
    }
  }

  const authRefusal = (err: unknown): boolean => err instanceof AutocalError && (err.code === 'AUTOCAL_UNAUTHENTICATED' || err.code === 'AUTOCAL_FORBIDDEN')

  /**
   * Runs one RPC and audits it: a command ('command') whatever its fate, a
   * read ('read') when it is refused for want of a token or scope. `action`
   * is the audit action, e.g. "control.Reprocess". A refusal's reason is
   * "refused: <error>" plus the operator's reason when one was given.
   */
  async function audited<T> (call: Call, action: string, kind: 'command' | 'read', work: (facts: AuditFacts) => Promise<T>): Promise<T> {
    const facts: AuditFacts = { principal: 'anonymous', subsystem: '', target: '', commandId: '', reason: '', details: {} }
    let result: T
    try {
      result = await work(facts)
    } catch (err) {
      const who = (err as { principal?: unknown }).principal
      if (typeof who === 'string') facts.principal = who
      if (kind === 'command' || authRefusal(err)) {
        log.warn({ actor: facts.principal, action, peer: auditPeer(call.getPeer()), refused: errorMessage(err) }, 'control rpc refused')
        await audit(call, action, facts, false, `refused: ${errorMessage(err)}${facts.reason.trim() === '' ? '' : ` (operator's reason: ${operatorReasonProblem(facts.reason) === undefined ? facts.reason : JSON.stringify(facts.reason)})`}`).catch(() => undefined)
      }
      throw err
    }
    if (kind === 'command') await audit(call, action, facts, true, facts.reason)
    return result
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
    const reasonProblem = operatorReasonProblem(command.reason)
    if (reasonProblem !== undefined) {
      log.warn({ ...entry, reason: JSON.stringify(command.reason) }, 'control command rejected: its reason')
      throw new AutocalError('AUTOCAL_VALIDATION_FAILED', reasonProblem)
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

  /** What an audit record names as the target of a selector: "campaign prompt tasks a,b runs 1,2 …". */
  function targetOf (selector: Selector | undefined): string {
    if (selector === undefined) return ''
    const parts = [`campaign ${selector.campaign}`]
    if (selector.tasks.length > 0) parts.push(`tasks ${selector.tasks.join(',')}`)
    if (selector.subsystem !== '') parts.push(`subsystem ${selector.subsystem}`)
    if (selector.runs.length > 0) parts.push(`runs ${selector.runs.slice(0, 20).join(',')}${selector.runs.length > 20 ? ` and ${selector.runs.length - 20} more` : ''}`)
    if (selector.firstRun !== 0 || selector.lastRun !== 0) parts.push(`range ${selector.firstRun}-${selector.lastRun}`)
    if (selector.blockIds.length > 0) parts.push(`blocks ${selector.blockIds.slice(0, 20).join(',')}`)
    return parts.join(' ')
  }

  /**
   * Validates, authorises and writes a command on the selected tasks. `check`, when given, sees the matched
   * tasks before anything is written and may refuse (throw) the command; the audit record names the matched count.
   */
  async function taskCommand (req: { selector?: Selector | undefined, reason: string }, call: Call, action: ControlCommand['action'], facts: AuditFacts, check?: (matched: Task[]) => void): Promise<{ commandId: string, matched: number }> {
    facts.reason = req.reason
    facts.target = targetOf(req.selector)
    const p = actorOf(call)
    facts.principal = p.principal
    const selector = req.selector
    if (selector === undefined) throw new AutocalError('AUTOCAL_VALIDATION_FAILED', 'a selector with a campaign is required')
    valid(selectorProblem(selector))
    const c = campaignOf(selector.campaign)
    const stored = await store.getTasks(await store.taskKeys(c.name))
    knownTasks(c, selector, stored)
    const matched = matchTasks(stored, selector)
    const subsystems = new Set(matched.map(t => t.subsystem))
    for (const t of selector.tasks) subsystems.add(c.tasks.find(d => d.name === t)?.subsystem ?? '')
    if (selector.subsystem !== '') subsystems.add(selector.subsystem)
    if (matched.length === 0 && selector.tasks.length === 0 && selector.subsystem === '') for (const s of c.subsystems) subsystems.add(s)
    facts.subsystem = [...subsystems].filter(s => s !== '').sort().join(',')
    facts.details = { matched: String(matched.length) }
    check?.(matched)
    const cmd = command(p, selector, req.reason, action)
    await submit(p, cmd, `${action.case ?? 'the command'} on campaign ${c.name}`, subsystems)
    facts.commandId = cmd.commandId
    return { commandId: cmd.commandId, matched: matched.length }
  }

  /**
   * Refuses a selector naming a task the campaign does not have (AUTOCAL_NOT_FOUND naming the known tasks):
   * nothing succeeds silently. A task no workflow defines any more but of which tasks are stored (orphaned by a
   * workflow reload) is known: it can be shown and cancelled.
   */
  function knownTasks (c: ReturnType<typeof campaignOf>, selector: Selector, stored: readonly Task[] = []): void {
    for (const t of selector.tasks) {
      if (!c.tasks.some(d => d.name === t) && !stored.some(s => s.task === t)) throw new AutocalError('AUTOCAL_NOT_FOUND', `campaign '${c.name}' has no task '${t}', known: ${c.tasks.map(d => d.name).join(', ')}`)
    }
  }

  /** The tasks of a read RPC's selector within the reader's scope (validated, campaign and task names known). */
  async function selectedTasks (call: Call, selector: Selector, facts: AuditFacts): Promise<{ c: ReturnType<typeof campaignOf>, p: Principal, tasks: Task[] }> {
    facts.target = targetOf(selector)
    valid(selectorProblem(selector))
    const p = readerOf(call)
    readScope(p, selector.subsystem, facts)
    const c = campaignOf(selector.campaign)
    const stored = await store.getTasks(await store.taskKeys(c.name))
    knownTasks(c, selector, stored)
    const tasks = matchTasks(stored, selector).filter(t => scopeAllows(p.subsystems, t.subsystem))
    return { c, p, tasks }
  }

  /** What each waiting task waits for, in words (domain/gate-text.ts), by task key. */
  async function waitingFor (tasks: Task[]): Promise<Map<Task, string>> {
    const waiting = tasks.filter(t => t.state === 'waiting' && t.pendingGates.length > 0)
    const facts = await store.runFacts([...new Set(waiting.flatMap(t => t.block.runs))])
    const readiness = new Map([...facts].map(([run, f]) => [run, { durationS: f.run.durationS, recordedLumiPb: f.run.recordedLumiPb, streamsDone: f.streams, datasetsDone: f.datasets }]))
    const nowMs = Date.now()
    return new Map(waiting.map(t => [t, waitingText(t.pendingGates, { block: t.block, rule: catalog.task(t.campaign, t.task)?.block ?? { kind: 'run' }, readiness, nowMs })]))
  }

  type ConditionAction = 'approveCondition' | 'rejectCondition' | 'promoteCondition'
  const auditAction: Record<ConditionAction, string> = { approveCondition: 'conditions.approve', rejectCondition: 'conditions.reject', promoteCondition: 'conditions.promote' }

  /**
   * Approve, reject or promote: authenticate, find the task of the request id,
   * check the scope (the task's subsystem) and that the decision applies now,
   * write the command (keyed by the task's campaign). The audit record
   * (written by `audited`) carries the payload hash in its details.
   */
  async function conditionCommand (req: { requestId: string, reason: string, destinationDatabase?: string }, call: Call, kind: ConditionAction, facts: AuditFacts): Promise<{ commandId: string, payloadHash: string, promotionRequestId: string }> {
    facts.target = req.requestId
    facts.reason = req.reason
    facts.details = { request_id: req.requestId }
    const p = actorOf(call)
    facts.principal = p.principal
    const parts = parseRequestId(req.requestId)
    if ('problem' in parts) throw new AutocalError('AUTOCAL_VALIDATION_FAILED', parts.problem)
    const task = await store.getTask(`${parts.campaign}/${parts.block}/${parts.task}`)
    if (task === undefined) throw new AutocalError('AUTOCAL_NOT_FOUND', `no task for request ${req.requestId}`)
    facts.subsystem = task.subsystem
    facts.details = conditionDetails(task, req.requestId, req.destinationDatabase)
    if (!scopeAllows(p.subsystems, task.subsystem)) throw new AutocalError('AUTOCAL_FORBIDDEN', `${p.principal} may act for ${p.subsystems.join(', ')}, but request ${req.requestId} is a condition of ${task.subsystem}`)
    valid(operatorReasonProblem(req.reason))
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
    facts.commandId = cmd.commandId
    const promoted = kind === 'promoteCondition' ? promotionRequestId(req.requestId, cmd.commandId) : ''
    if (promoted !== '') facts.details.promotion_request_id = promoted
    log.info({ actor: p.principal, commandId: cmd.commandId, action: kind, requestId: req.requestId, payloadHash, reason: req.reason }, 'condition decision accepted')
    return { commandId: cmd.commandId, payloadHash, promotionRequestId: promoted }
  }

  /**
   * Runs of an injection no root task of the campaign takes (run types' and
   * tasks' filters, domain/catalog.ts runBelongsTo), each with the filters'
   * reasons: the injection is accepted, but says that nothing will run on them.
   */
  function excludedRuns (c: ReturnType<typeof campaignOf>, runs: number[], known: Map<number, { run: Run }>, records: Run[]) {
    const out = []
    for (const run of runs) {
      const record = records.find(r => r.run === run) ?? known.get(run)?.run
      if (record === undefined) continue
      const reasons = new Set<string>()
      let taken = false
      for (const root of c.roots) {
        const d = runBelongsTo(c, root, record, deps.golden ?? new Map())
        if (d.ok) taken = true
        else reasons.add(`${root.name}: ${d.reason}`)
      }
      if (!taken) out.push(create(ExcludedRunSchema, { run, reason: [...reasons].join('; ') || 'the campaign has no task that takes runs' }))
    }
    return out
  }

  /** A read principal may ask for a subsystem only within its scope. */
  function readScope (p: Principal, subsystem: string, facts: AuditFacts): void {
    facts.principal = p.principal
    facts.subsystem = subsystem
    if (subsystem !== '' && !scopeAllows(p.subsystems, subsystem)) throw new AutocalError('AUTOCAL_FORBIDDEN', `${p.principal} may read ${p.subsystems.join(', ') || 'no subsystem'}, not ${subsystem}`)
  }

  return serve(ControlService, {
    ...replayRpcs(deps.replay, { audited, actorOf, readerOf }),
    ...campaignRpcs({ catalog, campaigns: deps.campaigns, logger: deps.logger }, { audited, actorOf, readerOf }),
    // close a block, force a gate (block-gate-commands.ts)
    ...blockGateRpcs({ catalog, store, audited, actorOf, campaignOf, submit }),
    listPendingConditions: async (req, call) => await audited(call, 'control.ListPendingConditions', 'read', async facts => {
      facts.target = req.campaign === '' ? 'every campaign' : `campaign ${req.campaign}`
      if (req.subsystem !== '') valid(nameProblem('subsystem', req.subsystem), 'subsystem')
      const p = readerOf(call)
      readScope(p, req.subsystem, facts)
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
    }),
    approveCondition: async (req, call) => await audited(call, auditAction.approveCondition, 'command', async facts => {
      const r = await conditionCommand(req, call, 'approveCondition', facts)
      return { commandId: r.commandId, payloadHash: r.payloadHash }
    }),
    rejectCondition: async (req, call) => await audited(call, auditAction.rejectCondition, 'command', async facts => {
      const r = await conditionCommand(req, call, 'rejectCondition', facts)
      return { commandId: r.commandId, payloadHash: r.payloadHash }
    }),
    promoteCondition: async (req, call) => await audited(call, auditAction.promoteCondition, 'command', async facts => {
      const r = await conditionCommand(req, call, 'promoteCondition', facts)
      return { commandId: r.commandId, payloadHash: r.payloadHash, promotionRequestId: r.promotionRequestId }
    }),
    injectRuns: async (req, call) => await audited(call, 'control.InjectRuns', 'command', async facts => {
      const inject = req.runs ?? create(InjectRunsSchema, {})
      facts.reason = req.reason
      facts.target = `campaign ${req.campaign}`
      facts.details = {
        runs: String(inject.runs.length + inject.records.length),
        range: inject.firstRun === 0 && inject.lastRun === 0 ? '' : `${inject.firstRun}-${inject.lastRun}`,
        ...(inject.ranges.length === 0 ? {} : { ranges: inject.ranges.map(r => `${r.firstRun}-${r.lastRun}`).join(',') }),
        ...(inject.eras.length === 0 ? {} : { eras: inject.eras.join(',') })
      }
      const p = actorOf(call)
      facts.principal = p.principal
      // the command the consumers will check, checked here first: runs, range and records (run, era)
      valid(messageProblem('control', create(ControlCommandSchema, { commandId: 'check', action: { case: 'injectRuns', value: inject } })))
      const c = campaignOf(req.campaign)
      facts.subsystem = [...c.subsystems].sort().join(',')
      if (c.state === 'closed') throw new AutocalError('AUTOCAL_VALIDATION_FAILED', `campaign '${c.name}' is closed: it takes no new runs (autocal campaign list)`)
      const records = new Set(inject.records.map(r => r.run))
      if ((inject.firstRun !== 0 || inject.lastRun !== 0) && (inject.firstRun === 0 || inject.lastRun === 0 || inject.lastRun < inject.firstRun)) {
        throw new AutocalError('AUTOCAL_VALIDATION_FAILED', `bad run range ${inject.firstRun}-${inject.lastRun}`)
      }
      const selection = await selectInjectedRuns(inject, store)
      // an era or a range that names no known run is a mistake to say, not an empty success
      if (selection.emptyEras.length > 0) throw new AutocalError('AUTOCAL_VALIDATION_FAILED', `no known run of era ${selection.emptyEras.join(', ')} (eras are read from the run records the run-watcher reported)`)
      if (selection.emptyRanges.length > 0) throw new AutocalError('AUTOCAL_VALIDATION_FAILED', `no known run in range ${selection.emptyRanges.join(', ')}`)
      const wanted = new Set(selection.runs)
      const known = await store.runFacts([...wanted].filter(r => !records.has(r)))
      const unknown = [...wanted].filter(r => !records.has(r) && !known.has(r)).sort((a, b) => a - b)
      if (unknown.length > 0) throw new AutocalError('AUTOCAL_VALIDATION_FAILED', `runs unknown to the dispatcher (no run-watcher record): ${unknown.slice(0, 10).join(', ')}${unknown.length > 10 ? ` and ${unknown.length - 10} more` : ''}`)
      if (wanted.size === 0) throw new AutocalError('AUTOCAL_VALIDATION_FAILED', 'no runs to inject: give runs, ranges, eras or records')
      facts.details.runs = String(wanted.size)
      const selector = create(SelectorSchema, { campaign: c.name })
      const cmd = command(p, selector, req.reason, { case: 'injectRuns', value: inject })
      await submit(p, cmd, `injecting runs into campaign ${c.name}`, c.subsystems)
      facts.commandId = cmd.commandId
      return { commandId: cmd.commandId, runs: wanted.size, excluded: excludedRuns(c, [...wanted].sort((a, b) => a - b), known, inject.records) }
    }),
    reprocess: async (req, call) => await audited(call, 'control.Reprocess', 'command', async facts => {
      if (!req.cascade) return await taskCommand(req, call, { case: 'reprocess', value: create(ReprocessSchema, {}) }, facts)
      // --cascade: the selected tasks and every task downstream of them, on the same blocks
      const selector = req.selector
      if (selector === undefined || selector.tasks.length === 0) throw new AutocalError('AUTOCAL_VALIDATION_FAILED', 'reprocess with cascade needs a selector that names tasks (without one, every task is reprocessed already)')
      valid(selectorProblem(selector))
      knownTasks(campaignOf(selector.campaign), selector)
      const cascaded = cascadeOf(campaignOf(selector.campaign), selector.tasks)
      // selected by block id: the blocks of fan-in tasks (domain/fan-in.ts) that cover the selected blocks' runs too
      const covering = selector.blockIds.length === 0 ? [] : coveringBlockIds(await store.getTasks(await store.taskKeys(selector.campaign)), selector, cascaded)
      const res = await taskCommand({ selector: { ...selector, tasks: [...selector.tasks, ...cascaded], blockIds: [...selector.blockIds, ...covering] }, reason: req.reason }, call, { case: 'reprocess', value: create(ReprocessSchema, {}) }, facts)
      facts.details = { ...facts.details, cascade: cascaded.join(',') }
      return { ...res, cascadedTasks: cascaded }
    }),
    skip: async (req, call) => await audited(call, 'control.Skip', 'command', async facts => await taskCommand(req, call, { case: 'skip', value: create(SkipSchema, {}) }, facts)),
    cancel: async (req, call) => await audited(call, 'control.Cancel', 'command', async facts => await taskCommand(req, call, { case: 'cancel', value: create(CancelSchema, {}) }, facts)),
    resubmitFailedJobs: async (req, call) => await audited(call, 'control.ResubmitFailedJobs', 'command', async facts => {
      let failed: Task[] = []
      const r = await taskCommand(req, call, { case: 'resubmitFailedJobs', value: create(ResubmitFailedJobsSchema, {}) }, facts, matched => {
        failed = matched.filter(t => jobsToResubmit(t).length > 0)
        facts.details.failed_tasks = String(failed.length)
        facts.details.jobs = failed.flatMap(t => jobsToResubmit(t).map(j => `${t.block.id}/${t.task}/${t.attempt}/${j.index}`)).slice(0, 50).join(',')
        if (failed.length === 0) {
          const states = [...new Set(matched.map(t => t.state))].sort().join(', ')
          throw new AutocalError('AUTOCAL_VALIDATION_FAILED', `no failed task with unfinished jobs among the ${matched.length} selected task(s)${states === '' ? '' : ` (states: ${states})`}; a task that failed after its jobs (its upload) needs reprocess`)
        }
      })
      return { commandId: r.commandId, matched: failed.length, jobs: failed.reduce((n, t) => n + jobsToResubmit(t).length, 0) }
    }),
    getStatus: async (req, call) => await audited(call, 'control.GetStatus', 'read', async facts => {
      const selector = req.selector ?? create(SelectorSchema, {})
      const { c, p, tasks } = await selectedTasks(call, selector, facts)
      const waiting = await waitingFor(tasks)
      const runs = new Set<number>()
      const cells = []
      for (const t of tasks) {
        for (const run of t.block.runs) {
          runs.add(run)
          cells.push(create(StatusCellSchema, { run, task: t.task, blockId: t.block.id, state: stateOf(t.state), attempt: t.attempt, at: timestampFromMs(t.atMs), reason: t.reason, pendingGates: t.pendingGates, waitingFor: waiting.get(t) ?? '', results: taskResults(t.jobs) }))
        }
      }
      cells.sort((a, b) => a.run - b.run || a.task.localeCompare(b.task))
      const names = c.tasks.filter(d => scopeAllows(p.subsystems, d.subsystem)).map(d => d.name).filter(n => selector.tasks.length === 0 || selector.tasks.includes(n)).filter(n => selector.subsystem === '' || c.tasks.find(d => d.name === n)?.subsystem === selector.subsystem)
      return { campaign: c.name, runs: [...runs].sort((a, b) => a - b), tasks: names, cells }
    }),
    listTasks: async (req, call) => await audited(call, 'control.ListTasks', 'read', async facts => {
      const { tasks } = await selectedTasks(call, req.selector ?? create(SelectorSchema, {}), facts)
      tasks.sort((a, b) => a.block.id.localeCompare(b.block.id) || a.task.localeCompare(b.task))
      return { tasks: tasks.map(toTaskEvent) }
    }),
    listWorkflows: async (_req, call) => await audited(call, 'control.ListWorkflows', 'read', async facts => {
      const p = readerOf(call)
      facts.principal = p.principal
      return { workflows: catalog.workflows.filter(w => scopeAllows(p.subsystems, w.subsystem)).map(workflowInfo) }
    }),
    validateWorkflows: async (req, call) => await audited(call, 'control.ValidateWorkflows', 'read', async facts => {
      facts.target = req.files.map(f => f.name).slice(0, 20).join(',')
      facts.principal = readerOf(call).principal
      // Caller-supplied YAML: nothing from the dispatcher's environment is expanded (an empty environment:
      // allow-listed variables take their ${VAR:-default}); only the real-data directory confines golden files.
      const result = validateSources(req.files.map(f => ({ name: f.name, content: f.content, dir: deps.workflowsDir })), {}, '', goldenRootsOf(deps.env), { readFiles: false })
      return { ok: result.errors.length === 0, errors: result.errors, workflows: result.workflows.map(workflowInfo) }
    }),
    watchTasks: async function * (req, call) {
      const selector = req.selector
      const p = await audited(call, 'control.WatchTasks', 'read', async facts => {
        facts.target = targetOf(selector)
        if (selector !== undefined) valid(selectorProblem(selector))
        const p = readerOf(call)
        readScope(p, selector?.subsystem ?? '', facts)
        return p
      })
      const ac = new AbortController()
      call.on('cancelled', () => { ac.abort() })
      call.on('close', () => { ac.abort() })
      try {
        for await (const [ev] of on(deps.taskEvents, 'task', { signal: ac.signal }) as AsyncIterable<[TaskEvent]>) {
          if (!scopeAllows(p.subsystems, ev.subsystem)) continue
          if (selector !== undefined && !matchesSelector({ campaign: ev.campaign, task: ev.task, subsystem: ev.subsystem, block: { runs: ev.block?.runs ?? [], id: ev.block?.id ?? '' } as never }, selector)) continue
          yield { event: ev }
        }
      } catch (err) {
        if ((err as Error).name !== 'AbortError') throw err
      }
    }
  })
}
