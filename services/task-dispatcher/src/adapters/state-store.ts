// The dispatcher's Redis read model. Everything here is rebuildable from
// Kafka (tasks topic + runs topic, see recovery.ts); the marker key says the
// model is complete. Keys (under AUTOCAL_REDIS_KEY_PREFIX + "td:"):
//   marker                      the model is complete (absent → rebuild from Kafka)
//   task:<taskKey>              TaskEvent JSON of the latest version
//   ver:<taskKey>               its version (compare-and-set guard)
//   tasks:<campaign>            set of task keys;   active:<campaign>  those not in a final state
//   blocks:<campaign>:<task>    hash block id → BlockState JSON (root tasks)
//   grouped:<campaign>:<task>   hash run → block id (root tasks)
//   pending:<campaign>          zset run → arrival ms (ended runs not grouped yet)
//   run:<run>                   hash record (Run JSON), streams, datasets (JSON arrays)
//   known-runs                  zset run → run (for run ranges)
//   http:<taskKey>              last answer of the task's HTTP gate
import { fromJsonString, toJsonString } from '@bufbuild/protobuf'
import { RunSchema, taskKey, type Run } from '@autocal/contracts'
import { AutocalError, type RedisHandle } from '@autocal/runtime'
import type { BlockState } from '../domain/block-grouping.ts'
import { isTerminal, type Task } from '../domain/task-state.ts'
import { taskFromJson, taskToJson } from '../task-event.ts'

export interface RunFactsRecord {
  run: Run
  streams: Set<string>
  datasets: Set<string>
}

// KEYS: task, ver, tasks set, active set, marker. ARGV: expected version, new version, json, member, active(1/0), mode ("cas" | "newer")
const saveScript = `
-- a live write needs a complete model: after a loss of keys it would write a
-- task the rebuild then cannot order (recovery writes with "newer", before the marker)
if ARGV[6] == 'cas' and redis.call('exists', KEYS[5]) == 0 then return -1 end
-- the stored version is the one inside the stored task (the TaskEvent JSON),
-- so that a partial loss of keys can never leave a version without its task
local cur = 0
local stored = redis.call('get', KEYS[1])
if stored then
  local ok, task = pcall(cjson.decode, stored)
  if ok and task.version then cur = tonumber(task.version) or 0 end
end
if ARGV[6] == 'cas' and cur ~= tonumber(ARGV[1]) then return 0 end
if ARGV[6] == 'newer' and cur >= tonumber(ARGV[2]) then return 2 end
redis.call('set', KEYS[1], ARGV[3])
redis.call('set', KEYS[2], ARGV[2])
redis.call('sadd', KEYS[3], ARGV[4])
if ARGV[5] == '1' then redis.call('sadd', KEYS[4], ARGV[4]) else redis.call('srem', KEYS[4], ARGV[4]) end
return 1`

export type StateStore = ReturnType<typeof createStateStore>

/** The read model is incomplete (lost, being rebuilt): the caller retries once it is back. */
export function notReady (): AutocalError {
  return new AutocalError('AUTOCAL_NOT_READY', 'the read model is being rebuilt from Kafka', { retryable: true })
}

export function createStateStore (redis: RedisHandle) {
  const r = redis.client
  const k = (...parts: Array<string | number>): string => redis.key('td', ...parts)
  const keyOf = (t: Pick<Task, 'campaign' | 'task' | 'block'>): string => taskKey(t.campaign, t.block.id, t.task)

  async function save (t: Task, expected: number, mode: 'cas' | 'newer'): Promise<boolean> {
    const key = keyOf(t)
    const res = await r.eval(saveScript, 5, k('task', key), k('ver', key), k('tasks', t.campaign), k('active', t.campaign), k('marker'),
      String(expected), String(t.version), taskToJson(t), key, isTerminal(t.state) ? '0' : '1', mode)
    if (res === -1) throw notReady()
    return res !== 0
  }

  return {
    keyOf,
    prefix: redis.key('td', ''),
    hasMarker: async (): Promise<boolean> => (await r.exists(k('marker'))) === 1,
    setMarker: async (): Promise<void> => { await r.set(k('marker'), new Date().toISOString()) },

    getTask: async (key: string): Promise<Task | undefined> => {
      const json = await r.get(k('task', key))
      return json === null ? undefined : taskFromJson(json)
    },
    getTasks: async (keys: string[]): Promise<Task[]> => {
      if (keys.length === 0) return []
      const out: Task[] = []
      for (let i = 0; i < keys.length; i += 500) {
        const values = await r.mget(...keys.slice(i, i + 500).map(key => k('task', key)))
        for (const v of values) if (v !== null) out.push(taskFromJson(v))
      }
      return out
    },
    /** Writes the task if the stored version is still `expected` (0 = none); throws a retryable error when the model is incomplete. */
    saveTask: async (t: Task, expected: number): Promise<boolean> => await save(t, expected, 'cas'),
    /** Writes the task unless a version at least as new is stored (recovery). */
    restoreTask: async (t: Task): Promise<boolean> => await save(t, 0, 'newer'),
    taskKeys: async (campaign: string): Promise<string[]> => await r.smembers(k('tasks', campaign)),
    activeKeys: async (campaign: string): Promise<string[]> => await r.smembers(k('active', campaign)),

    blocks: async (campaign: string, task: string): Promise<Map<string, BlockState>> => {
      const all = await r.hgetall(k('blocks', campaign, task))
      return new Map(Object.entries(all).map(([id, json]) => [id, JSON.parse(json) as BlockState]))
    },
    saveBlock: async (campaign: string, task: string, b: BlockState): Promise<void> => {
      const multi = r.multi().hset(k('blocks', campaign, task), b.id, JSON.stringify(b))
      for (const run of b.runs) multi.hset(k('grouped', campaign, task), String(run), b.id)
      await multi.exec()
    },
    groupedBlock: async (campaign: string, task: string, run: number): Promise<string | null> => await r.hget(k('grouped', campaign, task), String(run)),

    addPending: async (campaign: string, run: number, arrivalMs: number): Promise<void> => { await r.zadd(k('pending', campaign), 'NX', arrivalMs, String(run)) },
    /**
     * Pending runs ready to be grouped, in run order: all of them once no run
     * arrived for `settleMs` (a burst of out-of-order arrivals is grouped
     * as a whole), else those older than `maxWaitMs`.
     */
    settledPending: async (campaign: string, nowMs: number, settleMs: number, maxWaitMs: number): Promise<number[]> => {
      const last = await r.zrevrange(k('pending', campaign), 0, 0, 'WITHSCORES')
      if (last.length < 2) return []
      const until = nowMs - Number(last[1]) >= settleMs ? '+inf' : nowMs - maxWaitMs
      return (await r.zrangebyscore(k('pending', campaign), '-inf', until)).map(Number).sort((a, b) => a - b)
    },
    removePending: async (campaign: string, runs: number[]): Promise<void> => { if (runs.length > 0) await r.zrem(k('pending', campaign), ...runs.map(String)) },

    saveRun: async (run: Run): Promise<void> => {
      await r.multi().hset(k('run', run.run), 'record', toJsonString(RunSchema, run)).zadd(k('known-runs'), run.run, String(run.run)).exec()
    },
    setRunFact: async (run: number, field: 'streams' | 'datasets', name: string, done: boolean): Promise<void> => {
      // read-modify-write of one small JSON list; facts of one run come from one partition, in order
      const cur = new Set(JSON.parse((await r.hget(k('run', run), field)) ?? '[]') as string[])
      if (done) cur.add(name)
      else cur.delete(name)
      await r.hset(k('run', run), field, JSON.stringify([...cur].sort()))
    },
    runFacts: async (runs: number[]): Promise<Map<number, RunFactsRecord>> => {
      const out = new Map<number, RunFactsRecord>()
      const pipe = r.pipeline()
      for (const run of runs) pipe.hmget(k('run', run), 'record', 'streams', 'datasets')
      const res = (await pipe.exec()) ?? []
      runs.forEach((run, i) => {
        const [record, streams, datasets] = (res[i]?.[1] ?? []) as Array<string | null>
        if (record === null || record === undefined) return
        out.set(run, {
          run: fromJsonString(RunSchema, record),
          streams: new Set(JSON.parse(streams ?? '[]') as string[]),
          datasets: new Set(JSON.parse(datasets ?? '[]') as string[])
        })
      })
      return out
    },
    knownRuns: async (first: number, last: number): Promise<number[]> =>
      (await r.zrangebyscore(k('known-runs'), first === 0 ? '-inf' : first, last === 0 ? '+inf' : last)).map(Number),

    httpGate: async (key: string): Promise<boolean | undefined> => {
      const v = await r.get(k('http', key))
      return v === null ? undefined : v === '1'
    },
    setHttpGate: async (key: string, open: boolean, ttlMs: number): Promise<void> => {
      if (open) await r.set(k('http', key), '1')
      else await r.set(k('http', key), '0', 'PX', ttlMs)
    },

    /** Deletes every key of this model (tests; stands for a Redis FLUSHALL). */
    wipe: async (): Promise<number> => {
      let n = 0
      let cursor = '0'
      do {
        const [next, keys] = await r.scan(cursor, 'MATCH', `${redis.key('')}*`, 'COUNT', 1000)
        cursor = next
        if (keys.length > 0) n += await r.del(...keys)
      } while (cursor !== '0')
      return n
    }
  }
}
