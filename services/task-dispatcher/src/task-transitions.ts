// Applies one state-machine transition to one task, safely with several
// replicas: under the task's Redis lease (taken with the read of the task,
// kept alive while the transition is in flight, checked before each publish,
// and released with its write, which is fenced by it: the write fails when the
// lease was lost), from the stored version, publishing
// the TaskEvent (eventId tasks/<key>/<version>) and the effects before the
// compare-and-set of the read model. Kafka first: if the process dies between
// the two, the redelivered trigger recomputes the same transition and writes
// the same event ids again (consumers drop them); no transition is lost.
import { randomUUID } from 'node:crypto'
import { taskKey, topics } from '@autocal/contracts'
import { AutocalError, inSpan, keepLease, outsideTrace, withContext, type LeaseKeeper, type Logger, type Producer, type RedisHandle } from '@autocal/runtime'
import type { Catalog } from './domain/catalog.ts'
import type { TaskDef } from './domain/workflow.ts'
import { isTerminal, transition, type Task, type TaskEventInput, type Transition } from './domain/task-state.ts'
import { deadEnds, isAppendOnly, nextWaitingUploads, uploadBlocker, uploadWaiting } from './domain/upload-order.ts'
import { specOf } from './domain/catalog.ts'
import { alreadyApplied, isOperatorEvent, recordCommand } from './domain/commands.ts'
import type { StateStore } from './adapters/state-store.ts'
import { cancelJob, conditionRequest, requestIdOf, startJob } from './effects.ts'
import { toTaskEvent } from './task-event.ts'
import { fanInUpstream } from './fan-in-upstream.ts'

import type { CrossNeeds } from './cross-needs.ts'

export interface TaskTransitionsDeps {
  store: StateStore
  redis: RedisHandle
  producer: Producer
  catalog: Catalog
  logger: Logger
  dataDir: string
  leaseMs: number
  /** The outputs of the tasks of other workflows a task needs, for its `{inputs}` (cross-needs.ts). */
  crossNeeds?: Pick<CrossNeeds, 'upstreamOutputs'>
  now?: () => number
}

export type TaskTransitions = ReturnType<typeof createTaskTransitions>

export function createTaskTransitions (deps: TaskTransitionsDeps) {
  const { store, redis, producer, catalog, dataDir, leaseMs } = deps
  const log = deps.logger.child({ component: 'transitions' })
  const now = deps.now ?? Date.now

  async function traceOfRun (run: number | undefined): Promise<Record<string, string> | undefined> {
    if (run === undefined) return undefined
    const text = await redis.client.get(redis.key('td', 'trace', 'run', run))
    return text === null ? undefined : JSON.parse(text) as Record<string, string>
  }

  /** Takes the task's lease and reads it, waiting a little while another replica holds it. */
  async function take (key: string, token: string): Promise<Task | undefined> {
    for (let i = 0; i < 50; i++) {
      const taken = await store.takeTask(key, token, leaseMs)
      if (taken !== 'busy') return taken.task
      await new Promise(resolve => setTimeout(resolve, 50 + Math.random() * 50))
    }
    throw new AutocalError('AUTOCAL_LEASE_LOST', `task ${key} is locked by another replica`, { retryable: true })
  }

  /** The start request of one job try, with the outputs of the upstream tasks as its inputs. */
  async function startRequest (t: Task, def: TaskDef, index: number, tryNo: number): Promise<ReturnType<typeof startJob>> {
    const c = catalog.campaigns.get(t.campaign)
    // a fan-in task's inputs: the outputs of every done upstream block its block covers, in run order
    const upstream = def.fanIn !== undefined && c !== undefined ? (await fanInUpstream(store, c, t, def)).inputTasks : await store.getTasks(def.needs.map(n => taskKey(t.campaign, t.block.id, n)))
    // then the outputs of the tasks of other workflows it needs (cross-needs.ts)
    const cross = def.crossNeeds.length === 0 ? [] : await deps.crossNeeds?.upstreamOutputs(t, def) ?? []
    return startJob(t, def, index, tryNo, [...upstream.flatMap(u => u.outputs.map(o => o.path)), ...cross], dataDir)
  }

  /**
   * Publishes the start request of job `index`, try `tryNo` of `t` again,
   * unchanged (same job id, try and event id): the executor starts a
   * (job id, try) once and answers a repeated request with the job's phase.
   * False when no workflow defines the task any more.
   */
  async function requestJobAgain (t: Task, index: number, tryNo: number): Promise<boolean> {
    const def = catalog.task(t.campaign, t.task)
    if (def === undefined) return false
    const s = await startRequest(t, def, index, tryNo)
    const trace = inSpan() ? undefined : await traceOfRun(t.block.runs[0])
    await withContext(trace, async () => { await producer.publish(topics.jobRequests, s.message, { eventId: s.eventId }) })
    return true
  }

  /** Publishes the effects of a transition; `lease.check()` before each publish (throws once the task's lease is lost). */
  async function perform (before: Task | undefined, tr: Transition, lease: Pick<LeaseKeeper, 'check'>): Promise<TaskEventInput | undefined> {
    const t = tr.task
    const def = catalog.task(t.campaign, t.task)
    let followUp: TaskEventInput | undefined
    const starts = []
    const cancels = []
    for (const e of tr.effects) {
      switch (e.kind) {
        case 'start-job': {
          if (def === undefined) {
            log.error({ campaign: t.campaign, task: t.task }, 'no workflow defines this task any more; job not started')
            continue
          }
          starts.push(await startRequest(t, def, e.index, e.try))
          break
        }
        case 'cancel-job':
          cancels.push(cancelJob(before ?? t, e.index, e.try, e.reason))
          break
        case 'request-condition': {
          const payloadFrom = def?.upload?.payloadFrom ?? t.task
          const payloadTask = payloadFrom === t.task ? t : (await store.getTasks([taskKey(t.campaign, t.block.id, payloadFrom)]))[0]
          const req = def === undefined
            ? { missing: 'no workflow defines this task any more' }
            : payloadTask === undefined
              ? { missing: `task '${payloadFrom}' whose payload this task validates is not known on block ${t.block.id}` }
              : conditionRequest(t, def, payloadTask, dataDir, { check: e.check, expectedPayloadHash: e.expectedPayloadHash })
          if ('missing' in req) {
            followUp = { kind: 'condition', attempt: t.attempt, outcome: 'failed', reason: req.missing, requestId: t.condition?.requestId ?? requestIdOf(t) }
          } else {
            lease.check()
            await producer.publish(topics.conditionRequests, req.message, { eventId: req.eventId })
            log.info({ campaign: t.campaign, block: t.block.id, task: t.task, attempt: t.attempt, requestId: req.message.requestId, tag: req.message.destinationTag, since: req.message.since === undefined ? 'payload' : String(req.message.since), dryRun: req.message.dryRun }, e.check ? 'payload check requested' : 'condition upload requested')
          }
          break
        }
      }
    }
    lease.check()
    if (cancels.length > 0) await producer.publishMany(topics.jobRequests, cancels.map(c => ({ message: c.message, options: { eventId: c.eventId } })))
    if (starts.length > 0) {
      lease.check()
      await producer.publishMany(topics.jobRequests, starts.map(s => ({ message: s.message, options: { eventId: s.eventId } })))
      log.info({ campaign: t.campaign, block: t.block.id, task: t.task, attempt: t.attempt, jobs: starts.map(s => `${s.message.jobIndex}/${s.message.try}`) }, 'jobs requested')
    }
    return followUp
  }

  /**
   * Applies the event `make` derives from the current task (undefined = nothing
   * to do). Returns the transition, or undefined when there was none.
   */
  async function apply (key: string, make: (task: Task | undefined) => TaskEventInput | undefined): Promise<Transition | undefined> {
    // after a loss of the read model (a FLUSHALL) a missing task may exist in
    // Kafka: take() refuses until the model is rebuilt (the trigger is retried)
    const token = randomUUID()
    const current = await take(key, token)
    // kept while the transition is in flight (a publish may outlast the lease), checked before each effect and by the write
    const keeper = keepLease(store.taskLease(key, token), leaseMs)
    let followUp: TaskEventInput | undefined
    let result: Transition | undefined
    let written = false
    try {
      const event = make(current)
      if (event === undefined) return undefined
      if (current === undefined && event.kind !== 'plan') {
        // every job, condition and command names a task this model planned: a
        // missing one means a part of the model was lost and is about to be
        // rebuilt (keys deleted one by one leave the marker for a moment), so
        // the trigger is retried rather than dropped (at worst it ends in the DLQ)
        throw new AutocalError('AUTOCAL_NOT_FOUND', `no task ${key} in the read model for a ${event.kind} event; retrying in case the model is being rebuilt`, { retryable: true })
      }
      if (alreadyApplied(current, event) && current !== undefined) {
        // a redelivered command (a crash or a retryable error part-way through
        // its tasks): this task has had it; once per (command, task)
        return { task: current, effects: [], changed: false, ignored: 'command already applied to this task' }
      }
      result = transition(current, event, now())
      if (!result.changed) return result
      if (isOperatorEvent(event)) result = { ...result, task: recordCommand(result.task, event.commandId) }
      const t = result.task
      const tr = result
      // outside a handler (the planner's timer), continue the trace of the block's first run
      const trace = inSpan() ? undefined : await traceOfRun(t.block.runs[0])
      keeper.check()
      followUp = await withContext(trace, async () => {
        await producer.publish(topics.tasks, toTaskEvent(t), { eventId: `tasks/${key}/${t.version}` })
        keeper.check()
        return await perform(current, tr, keeper)
      })
      await keeper.stop()
      written = true // putTask releases the lease, whatever its answer
      if (!await store.putTask(t, current?.version ?? 0, token)) {
        throw new AutocalError('AUTOCAL_LEASE_LOST', `task ${key} changed, or its lease was lost, while version ${t.version} was being written; retrying`, { retryable: true })
      }
      log.debug({ key, state: t.state, version: t.version, reason: t.reason }, 'task transition')
    } finally {
      await keeper.stop()
      if (!written) await store.releaseTask(key, token).catch(() => undefined)
    }
    if (followUp !== undefined) {
      const next = followUp
      await apply(key, () => next)
    }
    // push: a task that ended may let the next block's waiting upload to the same append-only tag go out
    if (result.changed && isTerminal(result.task.state) && (current === undefined || !isTerminal(current.state)) && isAppendOnly(result.task.conditionSync)) {
      // other blocks' uploads: each continues its own run's trace, not this task's
      await outsideTrace(async () => { await releaseWaitingUploads(result.task.campaign, [result.task.task]) })
    }
    return result
  }

  /** Every task of the campaign named `task` (all blocks), for the upload order of append-only tags. */
  async function blocksOf (campaign: string, task: string): Promise<Task[]> {
    return await store.getTasks((await store.taskKeys(campaign)).filter(k => k.endsWith(`/${task}`)))
  }

  /**
   * The block whose task `task`'s upload must wait for (domain/upload-order.ts),
   * or undefined when it may go out now. Reads the other blocks' tasks.
   */
  async function uploadWaitsFor (task: Task): Promise<string | undefined> {
    if (!isAppendOnly(task.conditionSync)) return undefined
    const siblings = await blocksOf(task.campaign, task.task)
    return uploadBlocker(task, siblings, await stalledBlocks(task.campaign, task.task, siblings))?.block.id
  }

  /**
   * Blocks whose new or waiting `taskName` task cannot run: a task it needs ended failed, skipped or cancelled,
   * or its gates say it is blocked (`blocked:`, also by a task of another workflow: cross-needs.ts).
   */
  async function stalledBlocks (campaign: string, taskName: string, siblings: readonly Task[]): Promise<Set<string>> {
    const def = catalog.task(campaign, taskName)
    const needs = def?.needs ?? []
    const waiting = siblings.filter(s => s.state === 'new' || s.state === 'waiting')
    const blocked = waiting.filter(s => s.pendingGates.some(g => g.startsWith('blocked:'))).map(s => s.block.id)
    if (needs.length === 0 || waiting.length === 0) return new Set(blocked)
    const c = catalog.campaigns.get(campaign)
    if (def?.fanIn !== undefined && c !== undefined) {
      const stalled = new Set<string>(blocked)
      for (const s of waiting) if ((await fanInUpstream(store, c, s, def)).readiness.upstreamEnded.size > 0) stalled.add(s.block.id)
      return stalled
    }
    const upstream = await store.getTasks(waiting.flatMap(s => needs.map(n => taskKey(campaign, s.block.id, n))))
    return new Set([...blocked, ...upstream.filter(u => deadEnds.has(u.state)).map(u => u.block.id)])
  }

  /**
   * Sends the earliest waiting upload of each named task of the campaign
   * whose earlier blocks have all ended, or refreshes what it waits for.
   * Called when a task ends (push) and by the planner's tick for the waits
   * two concurrent handlers could leave behind.
   */
  async function releaseWaitingUploads (campaign: string, taskNames: readonly string[]): Promise<void> {
    for (const name of new Set(taskNames)) {
      const siblings = await blocksOf(campaign, name)
      for (const w of nextWaitingUploads(siblings)) {
        const def = catalog.task(w.campaign, w.task)
        const signOff = def === undefined ? false : specOf(w.campaign, def).signOff
        const waitsFor = uploadBlocker(w, siblings, await stalledBlocks(campaign, name, siblings))?.block.id
        await apply(store.keyOf(w), cur => cur !== undefined && uploadWaiting(cur) ? { kind: 'upload-due', spec: { signOff }, ...(waitsFor === undefined ? {} : { waitsFor }) } : undefined)
      }
    }
  }

  return { apply, uploadWaitsFor, releaseWaitingUploads, requestJobAgain }
}
