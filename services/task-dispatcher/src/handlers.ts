// Kafka handlers: decoded message → read model / task transition. Every
// handler is idempotent (redelivery, a second replica, a replay after a Redis
// loss): run facts are overwritten, pending runs are added with NX, and task
// transitions ignore stale or repeated reports (task-state.ts). What an event
// makes possible is done in its handler (planner.ts: `runEnded`,
// `runFactChanged`, `taskChanged`), not on the next tick.
import { create } from '@bufbuild/protobuf'
import { timestampFromDate } from '@bufbuild/protobuf/wkt'
import {
  JobPhase, Outcome, RunEndedSchema, RunEventSchema, RunSchema, taskKey, topics,
  type ConditionEvent, type ControlCommand, type JobStatus, type PromoteCondition, type Run, type RunEvent
} from '@autocal/contracts'
import { AutocalError, captureContext, inSpan, seenBefore, type Logger, type Producer, type RedisHandle } from '@autocal/runtime'
import type { EventMeta } from '@autocal/contracts'
import { campaignsOfRun, jobSpecOf, specOf, type Catalog } from './domain/catalog.ts'
import { promotionProblem, promotionRequestId } from './domain/sign-off.ts'
import { conditionRequest } from './effects.ts'
import { matchTasks, scopeAllows } from './domain/selection.ts'
import { conditionProblem, controlProblem, jobStatusProblem } from './domain/unusable-messages.ts'
import { selectInjectedRuns } from './inject-selection.ts'
import type { StateStore } from './adapters/state-store.ts'
import type { TaskTransitions } from './task-transitions.ts'
import type { Planner } from './planner.ts'
import type { CrossNeeds } from './cross-needs.ts'
import type { Task } from './domain/task-state.ts'

export interface HandlerDeps {
  store: StateStore
  redis: RedisHandle
  producer: Producer
  catalog: Catalog
  transitions: TaskTransitions
  logger: Logger
  ensureState: () => Promise<void>
  /** Root of the job output directories (AUTOCAL_DATA_DIR), for the output_dir of promotions. */
  dataDir: string
  /** Planning in the handler of the event that makes it possible (absent: the planner's tick does it all). */
  planner?: Pick<Planner, 'runEnded' | 'runFactChanged' | 'taskChanged' | 'conditionLearned' | 'closeBlock'>
  /** Learns the IOVs condition events tell of, for tasks that need a condition (cross-needs.ts). */
  crossNeeds?: Pick<CrossNeeds, 'learn'>
  now?: () => number
}

export type Handlers = ReturnType<typeof createHandlers>

/** A message the dispatcher cannot use: the bus dead-letters it at once with the reason (not retried). */
function unusable (reason: string | undefined): AutocalError {
  return new AutocalError('AUTOCAL_VALIDATION_FAILED', reason ?? 'message cannot be used', { retryable: false })
}

export function createHandlers (deps: HandlerDeps) {
  const { store, redis, producer, catalog, transitions, ensureState, dataDir, planner } = deps
  const log = deps.logger.child({ component: 'handlers' })
  const now = deps.now ?? Date.now

  /** Applies one run event to the read model (also used by recovery). */
  async function applyRun (ev: RunEvent): Promise<void> {
    const change = ev.change
    switch (change.case) {
      case 'started':
      case 'updated':
      case 'ended': {
        const run = change.value.run
        if (run === undefined) return
        await store.saveRun(run)
        if (change.case === 'ended' && inSpan()) {
          // the trace of the run's end: the block's jobs, conditions and task events continue it
          await redis.client.set(redis.key('td', 'trace', 'run', run.run), JSON.stringify(captureContext()), 'EX', 7 * 24 * 3600)
        }
        // a live run goes to every live campaign; a closed campaign takes no new run, a paused one records it (pending)
        for (const campaign of campaignsOfRun(catalog, ev.campaign)) {
          const c = catalog.campaigns.get(campaign)
          if (run.endTime === undefined || c === undefined) continue
          if (c.state === 'closed') {
            log.warn({ run: run.run, campaign }, 'run not taken: the campaign is closed')
            continue
          }
          await store.addPending(campaign, run.run, now(), { runBlocks: c.roots.some(r => r.block.kind === 'run'), buckets: c.roots.some(r => r.block.kind !== 'run') })
        }
        return
      }
      case 'streamDone':
        await store.setRunFact(ev.run, 'streams', change.value.stream, change.value.done)
        return
      case 'datasetDone':
        await store.setRunFact(ev.run, 'datasets', change.value.primaryDataset, change.value.done)
        break
      case 'fcsr':
      case undefined:
        // the FCSR matters to the condition-uploader, not to planning
        break
    }
  }

  async function onRun (ev: RunEvent, meta: EventMeta): Promise<void> {
    await ensureState()
    // run events carry deterministic ids (runs/<run>/<change>/<content hash>): a repeat is dropped
    const seenKey = redis.key('seen', meta.eventId)
    if (await redis.client.exists(seenKey) === 1) return
    await applyRun(ev)
    // push: a run that ended is planned, gated and dispatched here; a Tier-0 fact re-evaluates the run's tasks
    const change = ev.change.case
    if (change === 'ended' && ev.change.value.run?.endTime !== undefined) for (const c of campaignsOfRun(catalog, ev.campaign)) await planner?.runEnded(c, ev.run)
    else if (change === 'streamDone' || change === 'datasetDone') await planner?.runFactChanged(ev.run)
    await seenBefore(redis, meta.eventId)
    // how far the runs topic is consumed (bucket grouping waits for it) is noted by the consumer's onHandled, in offset order (app.ts)
    log.debug({ run: ev.run, change: ev.change.case, campaign: ev.campaign, eventId: meta.eventId }, 'run event')
  }

  async function onJobStatus (s: JobStatus): Promise<void> {
    await ensureState()
    const problem = jobStatusProblem(s, catalog)
    const p = s.provenance
    const phase = ({ [JobPhase.QUEUED]: 'queued', [JobPhase.RUNNING]: 'running', [JobPhase.DONE]: 'done', [JobPhase.FAILED]: 'failed' } as const)[s.phase as 1 | 2 | 3 | 4]
    if (problem !== undefined || p === undefined || phase === undefined) throw unusable(problem)
    const def = catalog.task(p.campaign, p.task)
    const spec = jobSpecOf(p.campaign, def)
    const reason = s.reason !== '' ? s.reason : s.exitCode !== undefined ? `exit ${s.exitCode}` : s.signal
    const key = taskKey(p.campaign, p.blockId, p.task)
    // an upload to an append-only tag waits for the earlier blocks' tasks (domain/upload-order.ts)
    const current = phase === 'done' && def?.upload !== undefined ? await store.getTask(key) : undefined
    const waitsFor = current === undefined ? undefined : await transitions.uploadWaitsFor(current)
    let was: Task['state'] | undefined
    const tr = await transitions.apply(key, cur => {
      was = cur?.state
      return {
        kind: 'job',
        spec,
        attempt: p.taskAttempt,
        index: s.jobIndex,
        try: s.try,
        phase,
        outputs: s.outputs.map(o => ({ path: o.path, sizeBytes: Number(o.sizeBytes), sha256: o.sha256, label: o.label })),
        reason,
        logUrl: s.logUrl,
        backend: s.backend,
        backendId: s.backendId,
        ...(s.exitCode === undefined ? {} : { exitCode: s.exitCode }),
        signal: s.signal,
        retryable: s.retryable,
        results: s.results,
        ...(waitsFor === undefined ? {} : { uploadWaitsFor: waitsFor })
      }
    })
    if (tr?.changed === false) log.debug({ jobId: s.jobId, try: s.try, phase, ignored: tr.ignored }, 'job status ignored')
    if (tr?.changed === true) await planner?.taskChanged(tr.task, was)
  }

  async function onCondition (ev: ConditionEvent): Promise<void> {
    await ensureState()
    // the task is the one the request's provenance names (never parsed from the request id); which
    // request of the task it answers (upload, the dry run before a sign-off, or a promotion, which
    // leaves the task as it is) the transition decides by comparing the whole request id
    const outcome = ({ [Outcome.UPLOADED]: 'uploaded', [Outcome.SKIPPED]: 'skipped', [Outcome.REJECTED]: 'rejected', [Outcome.FAILED]: 'failed' } as const)[ev.outcome as 1 | 2 | 3 | 4]
    const p = ev.provenance
    if (outcome === undefined || p === undefined) throw unusable(conditionProblem(ev))
    // learned before the task's transition: a task needing both this task and its tag sees both at once
    const needed = await deps.crossNeeds?.learn(ev)
    let was: Task['state'] | undefined
    const tr = await transitions.apply(taskKey(p.campaign, p.blockId, p.task), cur => {
      was = cur?.state
      return { kind: 'condition', attempt: p.taskAttempt, outcome, reason: ev.reason, requestId: ev.requestId, payloadHash: ev.payloadHash, since: ev.since, target: ev.target }
    })
    if (tr?.changed === true) await planner?.taskChanged(tr.task, was)
    if (tr?.changed !== true) log.info({ requestId: ev.requestId, outcome, tag: ev.tag, target: ev.target, payloadHash: ev.payloadHash, ignored: tr?.ignored }, 'condition outcome leaves the task as it is (a promotion, or not its current request)')
    // the tag's new IOV (learned above): tasks that need the condition are evaluated (and dispatched when it covers their runs)
    if (needed !== undefined) await planner?.conditionLearned(needed)
  }

  async function onControl (cmd: ControlCommand): Promise<void> {
    await ensureState()
    const base = { commandId: cmd.commandId, actor: cmd.actor, subsystem: cmd.subsystem, reason: cmd.reason, action: cmd.action.case, selector: cmd.selector }
    // a command is applied once even when redelivered (its transitions are idempotent too)
    if (await redis.client.exists(redis.key('seen', `control/${cmd.commandId}`)) === 1) return
    const problem = controlProblem(cmd)
    if (problem !== undefined) throw unusable(problem)
    const action = cmd.action
    switch (action.case) {
      case 'injectRuns': {
        const campaign = cmd.selector?.campaign ?? ''
        const records = new Map<number, Run>(action.value.records.map(r => [r.run, r]))
        const wanted = new Set((await selectInjectedRuns(action.value, store)).runs)
        const facts = await store.runFacts([...wanted].filter(r => !records.has(r)))
        const events = []
        for (const run of [...wanted].sort((a, b) => a - b)) {
          const record = records.get(run) ?? facts.get(run)?.run
          if (record === undefined) {
            log.warn({ ...base, run }, 'injected run unknown to the dispatcher; skipped')
            continue
          }
          const ended = record.endTime === undefined ? create(RunSchema, { ...record, endTime: timestampFromDate(new Date(now())) }) : record
          events.push({
            message: create(RunEventSchema, { run, source: 'inject', actor: cmd.actor, campaign, contentHash: cmd.commandId, change: { case: 'ended', value: create(RunEndedSchema, { run: ended }) } }),
            options: { eventId: `runs/${run}/inject/${campaign}/${cmd.commandId}` }
          })
        }
        await producer.publishMany(topics.runs, events)
        log.info({ ...base, runs: events.length }, 'control command applied: runs injected')
        break
      }
      case 'reprocess':
      case 'skip':
      case 'cancel':
      case 'resubmitFailedJobs': {
        const selector = cmd.selector
        if (selector === undefined) return
        const tasks = matchTasks(await store.getTasks(await store.taskKeys(selector.campaign)), selector)
          .filter(t => scopeAllows(cmd.subsystem === '' ? ['*'] : cmd.subsystem.split(','), t.subsystem))
        let changed = 0
        for (const t of tasks) {
          const tr = await transitions.apply(store.keyOf(t), () => ({ kind: action.case === 'resubmitFailedJobs' ? 'resubmit-failed' : action.case, actor: cmd.actor, reason: cmd.reason, commandId: cmd.commandId }))
          if (tr?.changed === true) changed++
        }
        log.info({ ...base, matched: tasks.length, changed }, `control command applied: ${action.case}`)
        break
      }
      case 'approveCondition':
      case 'rejectCondition': {
        const key = selectedTaskKey(cmd)
        if (key === undefined) break
        const decision = action.case === 'approveCondition' ? 'approve' : 'reject'
        const tr = await transitions.apply(key, () => ({ kind: 'sign-off', decision, requestId: action.value.requestId, payloadHash: action.value.payloadHash, actor: cmd.actor, reason: cmd.reason, commandId: cmd.commandId }))
        log.info({ ...base, requestId: action.value.requestId, payloadHash: action.value.payloadHash, changed: tr?.changed, ignored: tr?.ignored }, `control command applied: ${decision}`)
        break
      }
      case 'promoteCondition': {
        await promote(cmd, action.value)
        break
      }
      case 'closeBlock': {
        // an operator closes an open block: its tasks are planned with the runs it has (planner.closeBlock)
        const s = cmd.selector
        const roots = await planner?.closeBlock(s?.campaign ?? '', s?.blockIds[0] ?? '') ?? []
        log.info({ ...base, closed: roots }, 'control command applied: block closed')
        break
      }
      case 'forceGate': {
        // an operator forces a waiting task's gates open (the force-gates transition checks the task again)
        const key = selectedTaskKey(cmd)
        const def = key === undefined ? undefined : catalog.task(cmd.selector?.campaign ?? '', cmd.selector?.tasks[0] ?? '')
        if (key === undefined || def === undefined) break
        let was: Task['state'] | undefined
        const gate = action.value.gate
        const tr = await transitions.apply(key, cur => {
          was = cur?.state
          return { kind: 'force-gates', spec: specOf(cmd.selector?.campaign ?? '', def), ...(gate === '' ? {} : { gate }), actor: cmd.actor, reason: cmd.reason, commandId: cmd.commandId }
        })
        if (tr?.changed === true) await planner?.taskChanged(tr.task, was)
        log.info({ ...base, changed: tr?.changed, ignored: tr?.ignored }, 'control command applied: gates forced')
        break
      }
      case undefined:
        log.warn(base, 'control command without an action ignored')
    }
    await seenBefore(redis, `control/${cmd.commandId}`)
  }

  /**
   * The task a condition command (approve, reject, promote) acts on: the campaign, block id and task its
   * selector carries (the control API writes them from the task it checked), never parsed from the request id.
   */
  function selectedTaskKey (cmd: ControlCommand): string | undefined {
    const s = cmd.selector
    const block = s?.blockIds[0]
    const task = s?.tasks[0]
    if (s === undefined || s.campaign === '' || block === undefined || task === undefined) {
      log.warn({ commandId: cmd.commandId, action: cmd.action.case }, 'condition command without its task in the selector; not applied')
      return undefined
    }
    return taskKey(s.campaign, block, task)
  }

  /** Publishes the promotion's ConditionRequest: the recorded upload again, to another database, with the recorded payload hash. */
  async function promote (cmd: ControlCommand, p: PromoteCondition): Promise<void> {
    const key = selectedTaskKey(cmd)
    const task = key === undefined ? undefined : await store.getTask(key)
    const def = task === undefined ? undefined : catalog.task(task.campaign, task.task)
    const refused = promotionProblem(task, p.requestId, p.payloadHash) ?? (def === undefined ? 'no workflow defines this task any more' : undefined)
    if (refused !== undefined || task === undefined || def === undefined) {
      log.warn({ commandId: cmd.commandId, actor: cmd.actor, requestId: p.requestId, refused }, 'promotion not applied')
      return
    }
    const payloadFrom = def.upload?.payloadFrom ?? task.task
    const payloadTask = payloadFrom === task.task ? task : await store.getTask(taskKey(task.campaign, task.block.id, payloadFrom))
    if (payloadTask === undefined) {
      log.warn({ commandId: cmd.commandId, requestId: p.requestId }, `promotion not applied: task '${payloadFrom}' with the payload is gone`)
      return
    }
    const req = conditionRequest(task, def, payloadTask, dataDir, {
      check: false,
      expectedPayloadHash: p.payloadHash,
      promotion: { requestId: promotionRequestId(p.requestId, cmd.commandId), destinationDatabase: p.destinationDatabase }
    })
    if ('missing' in req) {
      log.warn({ commandId: cmd.commandId, requestId: p.requestId, missing: req.missing }, 'promotion not applied')
      return
    }
    await producer.publish(topics.conditionRequests, req.message, { eventId: req.eventId })
    log.info({ commandId: cmd.commandId, actor: cmd.actor, requestId: req.message.requestId, payloadHash: p.payloadHash, database: p.destinationDatabase }, 'control command applied: promotion requested')
  }

  return { applyRun, onRun, onJobStatus, onCondition, onControl }
}
