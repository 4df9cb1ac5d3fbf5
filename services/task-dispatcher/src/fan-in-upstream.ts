// The shell around domain/fan-in.ts: reads from the state store which
// upstream blocks a fan-in task's block covers and their tasks, and which
// fan-in blocks cover an upstream block (to evaluate them when it finishes).
import { taskKey } from '@autocal/contracts'
import { rootsOf, type CampaignTasks } from './domain/catalog.ts'
import { coveredBlocks, fanInReadiness, type FanInReadiness } from './domain/fan-in.ts'
import type { Task } from './domain/task-state.ts'
import type { TaskDef } from './domain/workflow.ts'
import type { StateStore } from './adapters/state-store.ts'

export interface FanInUpstream {
  readiness: FanInReadiness
  /** The upstream tasks of the covered blocks that are done, in run order: their outputs are the inputs. */
  inputTasks: Task[]
}

/**
 * The covered upstream blocks of fan-in task `t` (definition `def`, which has `fanIn`) and whether they
 * finished: the block of each of its runs under each need's root task (the grouping index), then those
 * blocks' tasks of the need.
 */
export async function fanInUpstream (store: Pick<StateStore, 'groupedBlock' | 'getTasks' | 'keyOf'>, c: CampaignTasks, t: Pick<Task, 'campaign' | 'block'>, def: TaskDef): Promise<FanInUpstream> {
  const rootOf = new Map(def.needs.map(n => {
    const up = c.tasks.find(x => x.name === n)
    return [n, up === undefined ? n : rootsOf(c, up)[0] ?? n]
  }))
  const grouped = new Map<string, string | null>()
  await Promise.all(def.needs.flatMap(n => t.block.runs.map(async run => {
    grouped.set(`${n}/${run}`, await store.groupedBlock(t.campaign, rootOf.get(n) ?? n, run))
  })))
  const covered = coveredBlocks(t.block.runs, def.needs, (n, run) => grouped.get(`${n}/${run}`) ?? undefined)
  const keys = covered.map(cb => cb.blockId === undefined ? undefined : taskKey(t.campaign, cb.blockId, cb.need))
  const found = new Map((await store.getTasks(keys.filter((k): k is string => k !== undefined))).map(u => [store.keyOf(u), u]))
  const tasks = keys.map(k => k === undefined ? undefined : found.get(k))
  const readiness = fanInReadiness(def.needs, covered, tasks, def.fanIn ?? { allowMissing: false })
  const inputTasks = readiness.inputs.flatMap(cb => {
    const u = cb.blockId === undefined ? undefined : found.get(taskKey(t.campaign, cb.blockId, cb.need))
    return u === undefined ? [] : [u]
  })
  return { readiness, inputTasks }
}

/** The keys of the fan-in tasks (needing `upstream`) whose blocks cover the runs of `upstream`'s block. */
export async function coveringKeys (store: Pick<StateStore, 'groupedBlock'>, c: CampaignTasks, upstream: Pick<Task, 'campaign' | 'task' | 'block'>): Promise<string[]> {
  const keys = new Set<string>()
  for (const d of c.tasks) {
    if (d.fanIn === undefined || !d.needs.includes(upstream.task)) continue
    for (const run of upstream.block.runs) {
      const id = await store.groupedBlock(upstream.campaign, d.name, run)
      if (id !== null) keys.add(taskKey(upstream.campaign, id, d.name))
    }
  }
  return [...keys]
}
