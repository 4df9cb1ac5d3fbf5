// Needs across workflows and subsystems, the shell around domain/cross-needs.ts:
// reads the upstream tasks on the blocks covering a block's runs (by the
// grouping the planner wrote: which root block holds each run) and the IOVs
// learned per tag, and finds the tasks an event may open. The IOVs learned
// from `autocal.conditions.v1` are kept in Redis (`td:iovs:<tag>`, a sorted
// set of sinces): part of the read model, rebuilt from the conditions topic
// by recovery.ts after a Redis loss.
import { Outcome, taskKey, type ConditionEvent } from '@autocal/contracts'
import type { RedisHandle } from '@autocal/runtime'
import type { StateStore } from './adapters/state-store.ts'
import { rootsOf, runBelongsTo, type Catalog, type CampaignTasks } from './domain/catalog.ts'
import { crossGates, qualifiedName, type CrossFacts, type TaskNeed, type UpstreamFacts } from './domain/cross-needs.ts'
import type { GoldenRuns } from './domain/run-filter.ts'
import type { Task } from './domain/task-state.ts'
import type { TaskDef } from './domain/workflow.ts'

export interface CrossNeedsDeps {
  store: StateStore
  redis: RedisHandle
  catalog: Catalog
  golden: GoldenRuns
}

export type CrossNeeds = ReturnType<typeof createCrossNeeds>

/**
 * The IOV a condition event tells the tag now has: uploaded, or already there (not a dry run); undefined
 * otherwise. Its since is the one the upload asked for (`requested_since`) when the uploader moved it
 * forward to the FCSR: the constants made for those runs are in the tag (valid from the FCSR on), and a
 * task waiting for them is not left waiting for ever for runs whose prompt reconstruction already started.
 */
export function iovOf (ev: Pick<ConditionEvent, 'outcome' | 'target' | 'tag' | 'since' | 'requestedSince'>): { tag: string, since: number } | undefined {
  const there = ev.outcome === Outcome.UPLOADED || (ev.outcome === Outcome.SKIPPED && ev.target !== 'dry-run' && ev.target !== '')
  return there && ev.tag !== '' ? { tag: ev.tag, since: Number(ev.requestedSince ?? ev.since) } : undefined
}

export function createCrossNeeds (deps: CrossNeedsDeps) {
  const { store, redis, catalog, golden } = deps
  const r = redis.client
  const iovKey = (tag: string): string => redis.key('td', 'iovs', tag)

  /** The upstream task's definition in the campaign when it is the one `need` names (task names are unique per campaign). */
  function upstreamDef (c: CampaignTasks, need: TaskNeed): TaskDef | undefined {
    const up = c.tasks.find(t => t.name === need.task)
    return up !== undefined && qualifiedName(up) === qualifiedName(need) ? up : undefined
  }

  /** The upstream tasks on the blocks covering `runs`, and how many runs have none planned yet or are refused by the upstream. */
  async function upstreamOf (c: CampaignTasks, runs: readonly number[], need: TaskNeed): Promise<{ facts: UpstreamFacts, tasks: Task[] }> {
    const up = upstreamDef(c, need)
    // not active in this campaign: waits (the workflow check refuses a campaign the upstream's file lacks)
    if (up === undefined) return { facts: { tasks: [], unplannedRuns: runs.length, refusedRuns: 0 }, tasks: [] }
    const roots = rootsOf(c, up).flatMap(n => c.tasks.filter(t => t.name === n))
    const facts = await store.runFacts([...runs])
    const keys = new Set<string>()
    let unplannedRuns = 0
    let refusedRuns = 0
    for (const run of runs) {
      let taken = false
      let planned = false
      for (const root of roots) {
        const blockId = await store.groupedBlock(c.name, root.name, run)
        if (blockId !== null) {
          keys.add(taskKey(c.name, blockId, up.name))
          taken = planned = true
          continue
        }
        const f = facts.get(run)
        if (f === undefined || runBelongsTo(c, root, f.run, golden).ok) taken = true
      }
      if (!taken) refusedRuns++
      else if (!planned) unplannedRuns++
    }
    const tasks = await store.getTasks([...keys])
    // an upstream block whose task is not planned yet (it waits for its own upstream's block to close)
    if (tasks.length < keys.size) unplannedRuns++
    return { facts: { tasks, unplannedRuns, refusedRuns }, tasks }
  }

  /** The cross gates of task `t` (definition `def`) still closed on its block (domain/cross-needs.ts crossGates). */
  async function gatesOf (c: CampaignTasks, t: Pick<Task, 'block'>, def: TaskDef): Promise<string[]> {
    if (def.crossNeeds.length === 0) return []
    const upstream = new Map<string, UpstreamFacts>()
    const iovs = new Map<string, number[]>()
    for (const n of def.crossNeeds) {
      if (n.kind === 'task') upstream.set(qualifiedName(n), (await upstreamOf(c, t.block.runs, n)).facts)
      else iovs.set(n.tag, (await r.zrange(iovKey(n.tag), 0, -1)).map(Number))
    }
    const facts: CrossFacts = { upstream, iovs }
    return crossGates(def.crossNeeds, t.block.runs, facts)
  }

  /** Output paths of the upstream tasks of other workflows `def` needs, on the blocks covering `t`'s runs (its `{inputs}`). */
  async function upstreamOutputs (t: Pick<Task, 'campaign' | 'block'>, def: TaskDef): Promise<string[]> {
    const c = catalog.campaigns.get(t.campaign)
    if (c === undefined) return []
    const out: string[] = []
    for (const n of def.crossNeeds) {
      if (n.kind !== 'task') continue
      const { tasks } = await upstreamOf(c, t.block.runs, n)
      for (const u of tasks.sort((a, b) => (a.block.runs[0] ?? 0) - (b.block.runs[0] ?? 0))) out.push(...u.outputs.map(o => o.path))
    }
    return out
  }

  /** Keys of the tasks of other workflows that need `task`, on their blocks holding one of its runs (evaluated when it changes). */
  async function downstreamKeys (task: Pick<Task, 'campaign' | 'task' | 'block'>): Promise<string[]> {
    const c = catalog.campaigns.get(task.campaign)
    const def = c?.tasks.find(t => t.name === task.task)
    if (c === undefined || def === undefined) return []
    const id = qualifiedName(def)
    const keys = new Set<string>()
    for (const d of c.tasks) {
      if (!d.crossNeeds.some(n => n.kind === 'task' && qualifiedName(n) === id)) continue
      for (const root of rootsOf(c, d)) {
        for (const run of task.block.runs) {
          const blockId = await store.groupedBlock(c.name, root, run)
          if (blockId !== null) keys.add(taskKey(c.name, blockId, d.name))
        }
      }
    }
    return [...keys]
  }

  /** Notes the IOV a condition event tells of (idempotent); returns its tag when some loaded task needs that tag. */
  async function learn (ev: ConditionEvent): Promise<string | undefined> {
    const iov = iovOf(ev)
    if (iov === undefined) return undefined
    await r.zadd(iovKey(iov.tag), 'NX', iov.since, String(iov.since))
    const needed = [...catalog.campaigns.values()].some(c => c.tasks.some(t => t.crossNeeds.some(n => n.kind === 'condition' && n.tag === iov.tag)))
    return needed ? iov.tag : undefined
  }

  /** Keys of the campaign's new or waiting tasks that need condition `tag`. */
  async function keysNeedingTag (c: CampaignTasks, tag: string): Promise<string[]> {
    const names = new Set(c.tasks.filter(t => t.crossNeeds.some(n => n.kind === 'condition' && n.tag === tag)).map(t => t.name))
    if (names.size === 0) return []
    return (await store.openKeys(c.name)).filter(k => names.has(k.slice(k.lastIndexOf('/') + 1)))
  }

  return { gatesOf, upstreamOutputs, downstreamKeys, learn, keysNeedingTag }
}
