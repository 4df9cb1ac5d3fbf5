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
  CancelSchema, ControlCommandSchema, ControlService, InjectRunsSchema, ReprocessSchema, SelectorSchema, SkipSchema, StatusCellSchema, WorkflowInfoSchema,
  topics, type ControlCommand, type Selector, type TaskEvent
} from '@autocal/contracts'
import { AutocalError, bearerToken, serve, type Logger, type Producer, type grpc } from '@autocal/runtime'
import type { Catalog } from './domain/catalog.ts'
import { authorise, matchTasks, matchesSelector, type Principal } from './domain/selection.ts'
import type { Env, Workflow } from './domain/workflow.ts'
import { validateSources } from './adapters/workflow-files.ts'
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
    const c = catalog.campaigns.get(name)
    if (c === undefined) throw new AutocalError('AUTOCAL_NOT_FOUND', `unknown campaign '${name}', known: ${[...catalog.campaigns.keys()].join(', ')}`)
    return c
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

  return serve(ControlService, {
    injectRuns: async (req, call) => {
      const p = principalOf(call)
      const c = campaignOf(req.campaign)
      const inject = req.runs ?? create(InjectRunsSchema, {})
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
      const result = validateSources(req.files.map(f => ({ name: f.name, content: f.content, dir: deps.workflowsDir })), deps.env)
      return { ok: result.errors.length === 0, errors: result.errors, workflows: result.workflows.map(workflowInfo) }
    },
    watchTasks: async function * (req, call) {
      principalOf(call)
      const selector = req.selector
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
