// The planner. Work happens in the handler of the event that makes it
// possible (README "Dispatching on events"): `runEnded` groups a run into its
// run blocks, plans and gates their tasks and dispatches them in the handler
// of the run's event; `taskChanged` evaluates the downstream tasks of a task
// that finished, in the handler of the job status or condition outcome that
// finished it; `runFactChanged` re-evaluates the tasks of a run's blocks when a
// Tier-0 fact arrives. The tick (every AUTOCAL_DISPATCH_TICK_MS, per campaign
// under the campaign's Redis lease, kept alive while it works) does what is
// driven by time or needs every run in order: it groups runs into buckets
// (fill, lumi, era) once the runs consumer caught up (domain/grouping-order.ts)
// and they settled, closes timed-out buckets, asks HTTP gates again, requests
// failed jobs again once their backoff passed, and, as a safety net, plans run
// blocks and evaluates gates an event handler missed (a crash, a busy lease).
// All state changes go through task-transitions.ts.
import pMap from 'p-map'
import { taskKey } from '@autocal/contracts'
import { AutocalError, acquireLease, errorMessage, keepLease, outsideTrace, type LeaseKeeper, type Logger, type RedisHandle } from '@autocal/runtime'
import { closeTimedOut, groupRun, type BlockState } from './domain/block-grouping.ts'
import { closeBlockByOperator, closeEndedFills } from './domain/block-close.ts'
import { downstreamOf, rootsOf, runBelongsTo, specOf, type Catalog, type CampaignTasks } from './domain/catalog.ts'
import { advanceMark, caughtUp, consumedUpTo, groupableRuns } from './domain/grouping-order.ts'
import { pendingGates, upstreamEnd, type RunReadiness } from './domain/gates.ts'
import { tickEvaluates } from './domain/tick-scope.ts'
import { withProgress } from './domain/fan-in.ts'
import { coveringKeys, fanInUpstream } from './fan-in-upstream.ts'
import { gateTimeoutDue, notForced } from './domain/gate-timeout.ts'
import type { GoldenRuns } from './domain/run-filter.ts'
import { waitingReason, type Task } from './domain/task-state.ts'
import { isAppendOnly, uploadWaiting } from './domain/upload-order.ts'
import type { TaskDef } from './domain/workflow.ts'
import { fillText } from './domain/templates.ts'
import { templateValues } from './effects.ts'
import { askHttpGate } from './adapters/http-gate.ts'
import type { RunFactsRecord, StateStore } from './adapters/state-store.ts'
import type { RunsOffsets } from './adapters/runs-offsets.ts'
import type { TaskTransitions } from './task-transitions.ts'
import type { InputFiles } from './input-files.ts'
import { withCrossGates } from './domain/cross-needs.ts'
import type { CrossNeeds } from './cross-needs.ts'

export interface PlannerDeps {
  store: StateStore
  redis: RedisHandle
  catalog: Catalog
  golden: GoldenRuns
  transitions: TaskTransitions
  logger: Logger
  /** Offsets of the runs topic, for grouping buckets in run order. */
  runsOffsets: Pick<RunsOffsets, 'ends' | 'committed'>
  /** Bucket grouping (fill, lumi, era) waits until no run arrived for this long, at most 10 times this (never run blocks). */
  settleMs: number
  leaseMs: number
  /** Transitions of different tasks applied at once (tasks with a concurrency limit go one by one). */
  parallel: number
  /** Runs grouped per tick at most (per kind: run blocks, buckets), so that a large backlog is dispatched while it is grouped. */
  runsPerTick: number
  httpRecheckMs: number
  /** The files of tasks with an input dataset (DBS); without it such a task is gated like any other. */
  inputFiles?: InputFiles
  /** The tick leaves a new task to the handler that planned it for this long (ms; domain/tick-scope.ts); default 0. */
  handlerGraceMs?: number
  /** Resolves when the read model is complete (rebuilds it from Kafka when needed). */
  ensureState: () => Promise<void>
  /** Needs across workflows and on conditions (cross-needs.ts); absent: none are evaluated. */
  crossNeeds?: Pick<CrossNeeds, 'gatesOf' | 'downstreamKeys' | 'keysNeedingTag'>
  now?: () => number
}

export type Planner = ReturnType<typeof createPlanner>

/**
 * Calls `fn` on every item, at most `limit` at a time (p-map); when some
 * fail, the others still run and the first error is thrown at the end.
 */
export async function inParallel<T> (items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  try {
    await pMap(items, fn, { concurrency: Math.max(1, limit), stopOnError: false })
  } catch (err) {
    throw err instanceof AggregateError && err.errors.length > 0 ? err.errors[0] : err
  }
}

export function createPlanner (deps: PlannerDeps) {
  const { store, redis, catalog, golden, transitions } = deps
  const log = deps.logger.child({ component: 'planner' })
  const now = deps.now ?? Date.now

  function endOf (facts: ReadonlyMap<number, RunFactsRecord>, runs: number[]): number | undefined {
    let end: number | undefined
    for (const r of runs) {
      const e = facts.get(r)?.run.endTime
      if (e !== undefined) end = Math.max(end ?? 0, Number(e.seconds) * 1000 + Math.floor(e.nanos / 1e6))
    }
    return end
  }

  /**
   * Plans root task `root` on block `b` and, unless `downstream` is false (the
   * caller plans them itself, after dispatching the root), the tasks downstream of it.
   */
  async function planBlock (c: CampaignTasks, root: TaskDef, b: BlockState, downstream = true): Promise<void> {
    const facts = await store.runFacts(b.runs)
    const runEndedAtMs = endOf(facts, b.runs)
    const spec = specOf(c.name, root)
    await transitions.apply(taskKey(c.name, b.id, root.name), () => ({ kind: 'plan', spec, block: b, ...(runEndedAtMs === undefined ? {} : { runEndedAtMs }) }))
    await store.saveBlock(c.name, root.name, b)
    if (downstream) await planDownstream(c, root, b, runEndedAtMs)
  }

  /** Plans the tasks downstream of `root` on block `b` once it closed for all their roots; returns the keys of those planned now. */
  async function planDownstream (c: CampaignTasks, root: TaskDef, b: BlockState, runEndedAtMs: number | undefined): Promise<string[]> {
    if (!b.closed) return []
    const planned: string[] = []
    for (const d of downstreamOf(c, root.name)) {
      const others = rootsOf(c, d).filter(r => r !== root.name)
      let ready = true
      for (const o of others) if ((await store.block(c.name, o, b.id))?.closed !== true) ready = false
      if (!ready) continue
      const dspec = specOf(c.name, d)
      const key = taskKey(c.name, b.id, d.name)
      const tr = await transitions.apply(key, cur => cur === undefined ? { kind: 'plan', spec: dspec, block: b, ...(runEndedAtMs === undefined ? {} : { runEndedAtMs }) } : undefined)
      if (tr?.changed === true) planned.push(key)
    }
    return planned
  }

  /**
   * The run block of `run` for each run-blocked root task it belongs to,
   * planned; returns the keys of the root tasks planned and the plans of their
   * downstream tasks, which the caller makes (after dispatching the roots:
   * they are not on the path from a run's end to its first job request).
   */
  async function planRunBlocks (c: CampaignTasks, runs: readonly number[], lease?: Pick<LeaseKeeper, 'check'>): Promise<{ keys: string[], downstream: () => Promise<string[]> }> {
    const roots = c.roots.filter(r => r.block.kind === 'run')
    if (roots.length === 0 || runs.length === 0) return { keys: [], downstream: async () => [] }
    const facts = await store.runFacts([...runs])
    const planned: Array<[TaskDef, BlockState]> = []
    for (const run of runs) {
      const f = facts.get(run)
      if (f === undefined) continue
      for (const root of roots) {
        if (!runBelongsTo(c, root, f.run, golden).ok) continue
        for (const b of groupRun(new Map(), root.block, { run, fill: f.run.fill, era: f.run.era, recordedLumiPb: f.run.recordedLumiPb }, now()).changed) planned.push([root, b])
      }
    }
    await inParallel(planned, deps.parallel, async ([root, b]) => { lease?.check(); await planBlock(c, root, b, false) })
    return {
      keys: planned.map(([root, b]) => taskKey(c.name, b.id, root.name)),
      downstream: async () => {
        const keys: string[] = []
        await inParallel(planned, deps.parallel, async ([root, b]) => { lease?.check(); keys.push(...await planDownstream(c, root, b, endOf(facts, b.runs))) })
        return keys
      }
    }
  }

  /**
   * Groups pending runs into the buckets (fill, lumi, era) of the campaign's
   * root tasks, in run order and only up to the run the grouping mark confirmed
   * (every run before it has been consumed: domain/grouping-order.ts), once they
   * settled; closes timed-out lumi buckets. Run blocks an event handler missed
   * are planned here too (those unplanned for longer than the lease).
   */
  async function group (c: CampaignTasks, lease: Pick<LeaseKeeper, 'check'>): Promise<Set<string>> {
    const t = now()
    const plannedHere = new Set<string>()
    const missed = (await store.unplannedRuns(c.name, t - deps.leaseMs)).slice(0, deps.runsPerTick)
    if (missed.length > 0) {
      const { keys, downstream } = await planRunBlocks(c, missed, lease)
      for (const k of [...keys, ...await downstream()]) plannedHere.add(k)
      await store.removeUnplanned(c.name, missed)
      log.info({ campaign: c.name, runs: missed.length }, 'run blocks planned by the tick (their event handler missed them)')
    }
    const bucketRoots = c.roots.filter(r => r.block.kind !== 'run')
    if (bucketRoots.length === 0) return plannedHere
    const pending = await store.pendingRuns(c.name)
    // the mark: a snapshot of the runs topic's end offsets taken after reading the pending runs, confirmed once the consumer group caught up with it
    const before = await store.groupingMark(c.name)
    let step = advanceMark(before, pending)
    if (step.kind === 'check' && step.mark.next !== undefined) step = advanceMark(before, pending, caughtUp(step.mark.next.ends, consumedUpTo(await deps.runsOffsets.committed(), await store.runsHandled())))
    const mark = step.kind === 'snapshot' ? { ...step.mark, next: { ends: await deps.runsOffsets.ends(), upTo: step.upTo } } : step.mark
    if (JSON.stringify(mark) !== JSON.stringify(before)) await store.setGroupingMark(c.name, mark)
    const confirmed = new Set(groupableRuns(pending, mark))
    const settled = (await store.settledPending(c.name, t, deps.settleMs, deps.settleMs * 10)).filter(r => confirmed.has(r)).slice(0, deps.runsPerTick)
    // roots whose blocks may close without a new run: lumi buckets by timeout, fill blocks by the fill's end (OMS)
    const timedRoots = bucketRoots.filter(r => (r.block.kind === 'lumi' && r.block.timeoutS !== undefined) || r.block.kind === 'fill')
    if (settled.length === 0 && timedRoots.length === 0) return plannedHere
    const facts = await store.runFacts(settled)
    for (const root of bucketRoots) {
      if (settled.length === 0 && !timedRoots.includes(root)) continue
      // grouping is in run order and in memory; then every block that changed
      // is planned once, in its final state, several blocks at a time
      const blocks = await store.blocks(c.name, root.name)
      const changed = new Map<string, BlockState>()
      for (const run of settled) {
        const f = facts.get(run)
        if (f === undefined) continue
        if (!runBelongsTo(c, root, f.run, golden).ok) continue
        const d = groupRun(blocks, root.block, { run, fill: f.run.fill, era: f.run.era, recordedLumiPb: f.run.recordedLumiPb }, t)
        for (const b of d.changed) {
          blocks.set(b.id, b)
          changed.set(b.id, b)
        }
        if (d.late) log.warn({ campaign: c.name, task: root.name, run, block: d.blockId }, 'late run: block of its own')
      }
      for (const b of [...closeTimedOut(blocks.values(), root.block, t), ...closeEndedFills(blocks.values(), root.block, await endedFills(blocks.values()))]) {
        blocks.set(b.id, b)
        changed.set(b.id, b)
      }
      await inParallel([...changed.values()], deps.parallel, async b => { lease.check(); await planBlock(c, root, b) })
      // buckets are planned only here: their tasks are the tick's to evaluate at once
      for (const b of changed.values()) for (const d of c.tasks) plannedHere.add(taskKey(c.name, b.id, d.name))
    }
    await store.removePending(c.name, settled)
    return plannedHere
  }

  /** Fills of the open fill blocks among `blocks` whose end a run of theirs carries (Run.fill_end_time, from OMS). */
  async function endedFills (blocks: Iterable<BlockState>): Promise<Set<number>> {
    const open = [...blocks].filter(b => !b.closed && b.kind === 'fill' && b.fill !== 0)
    if (open.length === 0) return new Set()
    const facts = await store.runFacts(open.flatMap(b => b.runs))
    return new Set(open.filter(b => b.runs.some(r => facts.get(r)?.run.fillEndTime !== undefined)).map(b => b.fill))
  }

  async function httpOpen (key: string, t: Task, def: TaskDef): Promise<boolean | undefined> {
    const gate = def.gates.http
    if (gate === undefined) return undefined
    const cached = await store.httpGate(key)
    if (cached !== undefined) return cached
    const url = fillText(gate.url, templateValues(t, def, 0, [], ''))
    const open = await askHttpGate(url, gate.status)
    await store.setHttpGate(key, open, deps.httpRecheckMs)
    return open
  }

  /**
   * Evaluates the gates of the given tasks (new or waiting: dispatched when
   * they open) and requests failed jobs of processing ones whose backoff
   * passed. Tasks with a concurrency limit are evaluated only with `campaignLease`
   * (the campaign's planning lease: their starts are counted), one by one in block order.
   */
  async function evaluateTasks (c: CampaignTasks, tasks: Task[], lease: Pick<LeaseKeeper, 'check'>, campaignLease: boolean): Promise<void> {
    const t0 = now()
    const order = new Map(c.tasks.map((d, i) => [d.name, i]))
    tasks.sort((a, b) => (a.block.runs[0] ?? 0) - (b.block.runs[0] ?? 0) || (order.get(a.task) ?? 0) - (order.get(b.task) ?? 0))
    // tasks with a concurrency limit one by one, in block order (each start
    // counts against the next); the others several at a time
    const limited: Array<[Task, TaskDef]> = []
    const free: Array<[Task, TaskDef]> = []
    for (const t of tasks) {
      const def = catalog.task(c.name, t.task)
      if (def !== undefined) (def.concurrency === undefined ? free : limited).push([t, def])
    }
    if (!campaignLease) limited.length = 0
    const processing = new Map<string, number>()
    if (limited.length > 0) {
      for (const key of await store.processingKeys(c.name)) {
        const task = key.slice(key.lastIndexOf('/') + 1)
        processing.set(task, (processing.get(task) ?? 0) + 1)
      }
    }
    const waiting = tasks.filter(t => t.state === 'new' || t.state === 'waiting')
    const facts = await store.runFacts([...new Set(waiting.flatMap(t => t.block.runs))])
    const readiness = new Map<number, RunReadiness>()
    for (const [run, f] of facts) readiness.set(run, { durationS: f.run.durationS, recordedLumiPb: f.run.recordedLumiPb, streamsDone: f.streams, datasetsDone: f.datasets })
    async function evaluateTask (t: Task, def: TaskDef): Promise<void> {
      const key = store.keyOf(t)
      if (t.state === 'new' || t.state === 'waiting') {
        // a fan-in task waits on every upstream block its block covers (domain/fan-in.ts), others on their own block's
        const fanIn = def.fanIn === undefined ? undefined : (await fanInUpstream(store, c, t, def)).readiness
        const upstream = fanIn !== undefined ? [] : await store.getTasks(def.needs.map(n => taskKey(c.name, t.block.id, n)))
        const httpGate = await httpOpen(key, t, def)
        const cross = await deps.crossNeeds?.gatesOf(c, t, def) ?? []
        const gates = withCrossGates(pendingGates(def, {
          blockClosed: t.block.closed,
          runs: t.block.runs,
          readiness,
          upstreamDone: fanIn?.upstreamDone ?? new Map(def.needs.map(n => [n, upstream.some(u => u.task === n && u.state === 'done')])),
          upstreamEnded: fanIn?.upstreamEnded ?? new Map(upstream.flatMap(u => { const end = upstreamEnd(u); return end === undefined ? [] : [[u.task, end] as const] })),
          ...(httpGate === undefined ? {} : { httpOpen: httpGate }),
          processing: processing.get(t.task) ?? 0
        }), cross)
        const pending = fanIn === undefined ? gates : withProgress(gates, fanIn.progress)
        // a task with an input dataset: DBS decides once the other gates are open (input-files.ts)
        const input = def.input === undefined || deps.inputFiles === undefined ? { pending } : await deps.inputFiles.gates(key, t, def, pending)
        // gates an operator forced open do not count (gate-timeout.ts); a gate timeout that is due always moves the task
        const unchanged = 'end' in input || 'jobFiles' in input
          ? false
          : def.input === undefined ? notForced(pending, t.gates).join() === t.pendingGates.join() : waitingReason(notForced(input.pending, t.gates), input.why) === t.reason
        if (t.state === 'waiting' && unchanged && !gateTimeoutDue(def.gates.timeout, t.gates, now())) return
        const spec = specOf(c.name, def)
        const tr = await transitions.apply(key, cur => cur !== undefined && cur.version === t.version ? { kind: 'gates', spec, ...input } : undefined)
        if (tr?.changed === true && tr.task.state === 'processing') processing.set(t.task, (processing.get(t.task) ?? 0) + 1)
      } else if (t.state === 'processing' && t.jobs.some(j => j.state === 'failed' && j.retryAtMs !== undefined && j.retryAtMs <= t0)) {
        await transitions.apply(key, () => ({ kind: 'retry-due' }))
      }
    }
    await inParallel(free, deps.parallel, async ([t, def]) => { lease.check(); await evaluateTask(t, def) })
    await inParallel(limited, 1, async ([t, def]) => { lease.check(); await evaluateTask(t, def) })
  }

  async function evaluate (c: CampaignTasks, lease: Pick<LeaseKeeper, 'check'>, plannedHere: ReadonlySet<string>): Promise<void> {
    // only the tasks that may move: new or waiting ones, and processing ones
    // with a failed job due again (the processing ones are only counted);
    // not the new ones a handler planned moments ago and is evaluating
    const t0 = now()
    const tasks = (await store.getTasks([...new Set([...await store.openKeys(c.name), ...await store.retriesDue(c.name, t0)])]))
      .filter(t => tickEvaluates(t, t0, deps.handlerGraceMs ?? 0, plannedHere.has(store.keyOf(t))))
    // uploads to append-only tags waiting for an earlier block: the push when a task ends releases them; this
    // catches one left waiting when the earlier block ended while its own last job was being recorded
    const appendOnlyTasks = c.tasks.filter(d => d.upload !== undefined && isAppendOnly(d.upload.sync)).map(d => d.name)
    const processingKeys = appendOnlyTasks.length === 0 ? [] : await store.processingKeys(c.name)
    const waitingUploads = appendOnlyTasks.length === 0
      ? []
      : (await store.getTasks(processingKeys.filter(k => appendOnlyTasks.some(n => k.endsWith(`/${n}`))))).filter(uploadWaiting)
    if (waitingUploads.length > 0) await transitions.releaseWaitingUploads(c.name, waitingUploads.map(t => t.task))
    await evaluateTasks(c, tasks, lease, true)
  }

  /**
   * Evaluates the new or waiting tasks among `keys` now, in an event's handler:
   * those without a concurrency limit at once (each transition is fenced by the
   * task's own lease and version); those with one only when the campaign's
   * planning lease is free at once, else the next tick does it.
   */
  async function evaluateNow (c: CampaignTasks, keys: readonly string[]): Promise<void> {
    // a paused campaign dispatches nothing until resumed (the tick after the resume evaluates its tasks)
    if (keys.length === 0 || c.state === 'paused') return
    const tasks = (await store.getTasks([...new Set(keys)])).filter(t => t.state === 'new' || t.state === 'waiting')
    if (tasks.length === 0) return
    const free = { check: () => undefined }
    const limited = tasks.some(t => catalog.task(c.name, t.task)?.concurrency !== undefined)
    const lease = limited ? await acquireLease(redis, `td:plan:${c.name}`, deps.leaseMs) : null
    if (lease === null) {
      await evaluateTasks(c, tasks, free, false)
      return
    }
    const keeper = keepLease(lease, deps.leaseMs)
    try {
      await evaluateTasks(c, tasks, keeper, true)
    } finally {
      await keeper.stop()
      await lease.release().catch(() => false)
    }
  }

  /**
   * In the handler of a run's end (after the read model has the run, and the
   * run is pending): plans the run's run blocks in every campaign `campaign`
   * names, gates their root tasks and dispatches those whose gates are open.
   * Buckets (fill, lumi, era) are left to the tick (they need every earlier run).
   */
  async function runEnded (campaign: string, run: number): Promise<void> {
    const c = catalog.campaigns.get(campaign)
    // paused: the run stays pending and unplanned, the tick plans it once the campaign is resumed; closed: not taken
    if (c === undefined || c.state !== 'active') return
    const { keys, downstream } = await planRunBlocks(c, [run])
    await evaluateNow(c, keys)
    // the downstream tasks after the roots' dispatch; evaluated at once too (a root may have finished meanwhile)
    const planned = await downstream()
    await store.removeUnplanned(c.name, [run])
    await evaluateNow(c, planned)
  }

  /** In the handler of a Tier-0 fact of `run`: evaluates the open tasks of the run's blocks in every campaign. */
  async function runFactChanged (run: number): Promise<void> {
    for (const c of catalog.campaigns.values()) {
      const keys: string[] = []
      for (const root of c.roots) {
        const blockId = await store.groupedBlock(c.name, root.name, run)
        if (blockId === null) continue
        for (const d of c.tasks) keys.push(taskKey(c.name, blockId, d.name))
      }
      await evaluateNow(c, keys)
    }
  }

  /**
   * In the handler of the job status or condition outcome that moved `task`
   * (its state before: `was`): when it finished (done), the tasks that need it
   * on the same block are evaluated (and dispatched when their gates opened);
   * when it left processing and its task has a concurrency limit, the waiting
   * blocks of that task are evaluated (a slot is free).
   */
  async function taskChanged (task: Task, was: Task['state'] | undefined): Promise<void> {
    const c = catalog.campaigns.get(task.campaign)
    if (c === undefined) return
    const keys: string[] = []
    const others: string[] = []
    // downstream tasks: dispatched when this one is done, blocked when it ended otherwise (or is blocked), waiting again when it is reprocessed
    if (task.state !== was || upstreamEnd(task) !== undefined) {
      for (const d of c.tasks) if (d.needs.includes(task.task) && d.fanIn === undefined) keys.push(taskKey(c.name, task.block.id, d.name))
      // fan-in tasks: on the blocks that cover this one's runs
      keys.push(...await coveringKeys(store, c, task))
      // tasks of other workflows that need it, on their blocks holding its runs
      keys.push(...await deps.crossNeeds?.downstreamKeys(task) ?? [])
    }
    if (was === 'processing' && task.state !== 'processing' && catalog.task(c.name, task.task)?.concurrency !== undefined) {
      for (const k of await store.openKeys(c.name)) if (k.endsWith(`/${task.task}`)) others.push(k)
    }
    await evaluateNow(c, keys)
    // other blocks of the task, let go by its concurrency limit: each continues its own run's trace
    if (others.length > 0) await outsideTrace(async () => { await evaluateNow(c, others) })
  }

  /**
   * In the handler of a condition event that gave `tag` an IOV some task needs: evaluates the new or waiting
   * tasks that need the tag, in every campaign (dispatched when their gates opened).
   */
  async function conditionLearned (tag: string): Promise<void> {
    for (const c of catalog.campaigns.values()) await evaluateNow(c, await deps.crossNeeds?.keysNeedingTag(c, tag) ?? [])
  }

  /**
   * In the handler of an operator's `block close` (control command): under the
   * campaign's planning lease (busy → AUTOCAL_BUSY, the command waits for the
   * tick), every root task's open block `blockId` is closed ("operator") and
   * its tasks, with those downstream, are planned and evaluated with the runs
   * the block has. Returns the root tasks whose block closed (none: unknown or
   * already closed, e.g. a redelivered command).
   */
  async function closeBlock (campaign: string, blockId: string): Promise<string[]> {
    const c = catalog.campaigns.get(campaign)
    if (c === undefined) return []
    const lease = await acquireLease(redis, `td:plan:${c.name}`, deps.leaseMs)
    if (lease === null) throw new AutocalError('AUTOCAL_BUSY', `campaign ${c.name} is being planned; block ${blockId} closes after`)
    const keeper = keepLease(lease, deps.leaseMs)
    try {
      const roots = c.roots.filter(r => r.block.kind !== 'run')
      const blocks = new Map(await Promise.all(roots.map(async r => [r.name, await store.blocks(c.name, r.name)] as const)))
      const d = closeBlockByOperator(c.name, blocks, blockId)
      if (d.kind !== 'close') {
        log.info({ campaign: c.name, block: blockId, reason: d.reason }, 'block close: nothing to close')
        return []
      }
      const keys: string[] = []
      for (const { root, block } of d.blocks) {
        const def = roots.find(r => r.name === root)
        if (def === undefined) continue
        keeper.check()
        await planBlock(c, def, block)
        for (const t of c.tasks) keys.push(taskKey(c.name, block.id, t.name))
      }
      await evaluateTasks(c, (await store.getTasks(keys)).filter(t => t.state === 'new' || t.state === 'waiting'), keeper, true)
      return d.blocks.map(b => b.root)
    } finally {
      await keeper.stop()
      await lease.release().catch(() => false)
    }
  }

  async function planCampaign (c: CampaignTasks): Promise<void> {
    const lease = await acquireLease(redis, `td:plan:${c.name}`, deps.leaseMs)
    if (lease === null) return
    // kept while the tick works (a large backlog can outlast the lease); once lost, the tick stops before its next step
    const keeper = keepLease(lease, deps.leaseMs)
    try {
      const plannedHere = await group(c, keeper)
      keeper.check()
      await evaluate(c, keeper, plannedHere)
    } finally {
      await keeper.stop()
      await lease.release().catch(() => false)
    }
  }

  async function tick (): Promise<void> {
    await deps.ensureState()
    for (const c of catalog.campaigns.values()) {
      if (c.state === 'paused') continue
      try {
        await planCampaign(c)
      } catch (err) {
        log.warn({ err, campaign: c.name, reason: errorMessage(err) }, 'planning failed; next tick retries')
      }
    }
  }

  return { tick, runEnded, runFactChanged, taskChanged, conditionLearned, closeBlock }
}

/** Runs the planner every `tickMs` until disposed (a tick in flight finishes first). */
export function startPlanning (planner: Planner, tickMs: number, logger: Logger): AsyncDisposable {
  let stopped = false
  let timer: NodeJS.Timeout | undefined
  let inFlight: Promise<void> = Promise.resolve()
  const loop = (): void => {
    if (stopped) return
    inFlight = planner.tick()
      .catch((err: unknown) => { logger.warn({ err }, 'planner tick failed') })
      .finally(() => { if (!stopped) timer = setTimeout(loop, tickMs) })
  }
  timer = setTimeout(loop, 0)
  return {
    [Symbol.asyncDispose]: async () => {
      stopped = true
      clearTimeout(timer)
      await inFlight
    }
  }
}
