// The planner: every tick, for each campaign under the campaign's Redis lease
// (one replica plans a campaign at a time; the lease is kept alive while the
// tick works and checked before each block and task), it groups the runs that settled
// into blocks (at most runsPerTick runs a tick), plans tasks on new blocks, closes timed-out buckets, evaluates
// the gates of new and waiting tasks (dispatching those whose gates opened,
// within the concurrency limits) and requests failed jobs again once their
// backoff passed. All state changes go through task-transitions.ts.
import pMap from 'p-map'
import { taskKey } from '@autocal/contracts'
import { acquireLease, errorMessage, keepLease, type LeaseKeeper, type Logger, type RedisHandle } from '@autocal/runtime'
import { closeTimedOut, groupRun, type BlockState } from './domain/block-grouping.ts'
import { downstreamOf, rootsOf, runBelongsTo, specOf, type Catalog, type CampaignTasks } from './domain/catalog.ts'
import { pendingGates, type RunReadiness } from './domain/gates.ts'
import type { GoldenRuns } from './domain/run-filter.ts'
import type { Task } from './domain/task-state.ts'
import { isAppendOnly, uploadWaiting } from './domain/upload-order.ts'
import type { TaskDef } from './domain/workflow.ts'
import { fillText } from './domain/templates.ts'
import { templateValues } from './effects.ts'
import { askHttpGate } from './adapters/http-gate.ts'
import type { RunFactsRecord, StateStore } from './adapters/state-store.ts'
import type { TaskTransitions } from './task-transitions.ts'

export interface PlannerDeps {
  store: StateStore
  redis: RedisHandle
  catalog: Catalog
  golden: GoldenRuns
  transitions: TaskTransitions
  logger: Logger
  settleMs: number
  leaseMs: number
  /** Transitions of different tasks applied at once (tasks with a concurrency limit go one by one). */
  parallel: number
  /** Settled runs grouped per tick at most, so that a large backlog is dispatched while it is grouped. */
  runsPerTick: number
  httpRecheckMs: number
  /** Resolves when the read model is complete (rebuilds it from Kafka when needed). */
  ensureState: () => Promise<void>
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

  async function planBlock (c: CampaignTasks, root: TaskDef, b: BlockState): Promise<void> {
    const facts = await store.runFacts(b.runs)
    const runEndedAtMs = endOf(facts, b.runs)
    const spec = specOf(c.name, root)
    await transitions.apply(taskKey(c.name, b.id, root.name), () => ({ kind: 'plan', spec, block: b, ...(runEndedAtMs === undefined ? {} : { runEndedAtMs }) }))
    await store.saveBlock(c.name, root.name, b)
    if (!b.closed) return
    // downstream tasks are planned on a block once it closed for all their roots
    for (const d of downstreamOf(c, root.name)) {
      const others = rootsOf(c, d).filter(r => r !== root.name)
      let ready = true
      for (const o of others) if ((await store.block(c.name, o, b.id))?.closed !== true) ready = false
      if (!ready) continue
      const dspec = specOf(c.name, d)
      await transitions.apply(taskKey(c.name, b.id, d.name), cur => cur === undefined ? { kind: 'plan', spec: dspec, block: b, ...(runEndedAtMs === undefined ? {} : { runEndedAtMs }) } : undefined)
    }
  }

  async function group (c: CampaignTasks, lease: Pick<LeaseKeeper, 'check'>): Promise<void> {
    const t = now()
    const settled = (await store.settledPending(c.name, t, deps.settleMs, deps.settleMs * 10)).slice(0, deps.runsPerTick)
    const lumiRoots = c.roots.filter(r => r.block.kind === 'lumi' && r.block.timeoutS !== undefined)
    if (settled.length === 0 && lumiRoots.length === 0) return
    const facts = await store.runFacts(settled)
    for (const root of c.roots) {
      if (settled.length === 0 && !lumiRoots.includes(root)) continue
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
      for (const b of closeTimedOut(blocks.values(), root.block, t)) {
        blocks.set(b.id, b)
        changed.set(b.id, b)
      }
      await inParallel([...changed.values()], deps.parallel, async b => { lease.check(); await planBlock(c, root, b) })
    }
    await store.removePending(c.name, settled)
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

  async function evaluate (c: CampaignTasks, lease: Pick<LeaseKeeper, 'check'>): Promise<void> {
    // only the tasks that may move: new or waiting ones, and processing ones
    // with a failed job due again (the processing ones are only counted)
    const t0 = now()
    const tasks = await store.getTasks([...new Set([...await store.openKeys(c.name), ...await store.retriesDue(c.name, t0)])])
    const order = new Map(c.tasks.map((d, i) => [d.name, i]))
    tasks.sort((a, b) => (a.block.runs[0] ?? 0) - (b.block.runs[0] ?? 0) || (order.get(a.task) ?? 0) - (order.get(b.task) ?? 0))
    const processing = new Map<string, number>()
    const processingKeys = await store.processingKeys(c.name)
    for (const key of processingKeys) {
      const task = key.slice(key.lastIndexOf('/') + 1)
      processing.set(task, (processing.get(task) ?? 0) + 1)
    }
    // uploads to append-only tags waiting for an earlier block: the push when a task ends releases them; this
    // catches one left waiting when the earlier block ended while its own last job was being recorded
    const appendOnlyTasks = c.tasks.filter(d => d.upload !== undefined && isAppendOnly(d.upload.sync)).map(d => d.name)
    const waitingUploads = appendOnlyTasks.length === 0
      ? []
      : (await store.getTasks(processingKeys.filter(k => appendOnlyTasks.some(n => k.endsWith(`/${n}`))))).filter(uploadWaiting)
    if (waitingUploads.length > 0) await transitions.releaseWaitingUploads(c.name, waitingUploads.map(t => t.task))
    const waiting = tasks.filter(t => t.state === 'new' || t.state === 'waiting')
    const facts = await store.runFacts([...new Set(waiting.flatMap(t => t.block.runs))])
    const readiness = new Map<number, RunReadiness>()
    for (const [run, f] of facts) readiness.set(run, { durationS: f.run.durationS, recordedLumiPb: f.run.recordedLumiPb, streamsDone: f.streams, datasetsDone: f.datasets })
    async function evaluateTask (t: Task, def: TaskDef): Promise<void> {
      const key = store.keyOf(t)
      if (t.state === 'new' || t.state === 'waiting') {
        const upstream = await store.getTasks(def.needs.map(n => taskKey(c.name, t.block.id, n)))
        const httpGate = await httpOpen(key, t, def)
        const pending = pendingGates(def, {
          blockClosed: t.block.closed,
          runs: t.block.runs,
          readiness,
          upstreamDone: new Map(def.needs.map(n => [n, upstream.some(u => u.task === n && u.state === 'done')])),
          ...(httpGate === undefined ? {} : { httpOpen: httpGate }),
          processing: processing.get(t.task) ?? 0
        })
        if (t.state === 'waiting' && pending.join() === t.pendingGates.join()) return
        const spec = specOf(c.name, def)
        const tr = await transitions.apply(key, cur => cur !== undefined && cur.version === t.version ? { kind: 'gates', spec, pending } : undefined)
        if (tr?.changed === true && tr.task.state === 'processing') processing.set(t.task, (processing.get(t.task) ?? 0) + 1)
      } else if (t.state === 'processing' && t.jobs.some(j => j.state === 'failed' && j.retryAtMs !== undefined && j.retryAtMs <= t0)) {
        await transitions.apply(key, () => ({ kind: 'retry-due' }))
      }
    }
    // tasks with a concurrency limit one by one, in block order (each start
    // counts against the next); the others several at a time
    const limited: Array<[Task, TaskDef]> = []
    const free: Array<[Task, TaskDef]> = []
    for (const t of tasks) {
      const def = catalog.task(c.name, t.task)
      if (def !== undefined) (def.concurrency === undefined ? free : limited).push([t, def])
    }
    await inParallel(free, deps.parallel, async ([t, def]) => { lease.check(); await evaluateTask(t, def) })
    await inParallel(limited, 1, async ([t, def]) => { lease.check(); await evaluateTask(t, def) })
  }

  async function planCampaign (c: CampaignTasks): Promise<void> {
    const lease = await acquireLease(redis, `td:plan:${c.name}`, deps.leaseMs)
    if (lease === null) return
    // kept while the tick works (a large backlog can outlast the lease); once lost, the tick stops before its next step
    const keeper = keepLease(lease, deps.leaseMs)
    try {
      await group(c, keeper)
      keeper.check()
      await evaluate(c, keeper)
    } finally {
      await keeper.stop()
      await lease.release().catch(() => false)
    }
  }

  async function tick (): Promise<void> {
    await deps.ensureState()
    for (const c of catalog.campaigns.values()) {
      try {
        await planCampaign(c)
      } catch (err) {
        log.warn({ err, campaign: c.name, reason: errorMessage(err) }, 'planning failed; next tick retries')
      }
    }
  }

  return { tick }
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
