// The dispatcher's Redis read model. Everything here is rebuildable from
// Kafka (tasks topic + runs topic, see recovery.ts); the marker key says the
// model is complete. Keys (under AUTOCAL_REDIS_KEY_PREFIX + "td:"):
//   marker                      the model is complete (absent → rebuild from Kafka)
//   task:<taskKey>              the latest version of the task (Task JSON, task-state.ts)
//   tasks:<campaign>            set of task keys
//   open:<campaign>             those new or waiting (the planner evaluates their gates)
//   processing:<campaign>       those processing (counted against concurrency limits)
//   retry-at:<campaign>         zset task key → when its first failed job is due again
//   blocks:<campaign>:<task>    hash block id → BlockState JSON (root tasks)
//   grouped:<campaign>:<task>   hash run → block id (root tasks)
//   pending:<campaign>          zset run → arrival ms (ended runs not grouped into buckets yet: fill, lumi, era)
//   pending-run:<campaign>      zset run → arrival ms (ended runs whose run blocks are not planned yet)
//   runs-handled                hash partition → next offset of the runs topic after the last run event handled
//   grouping-mark:<campaign>    GroupingMark JSON (domain/grouping-order.ts): up to which run buckets may be grouped
//   run:<run>                   hash record (Run JSON), streams, datasets (JSON arrays)
//   known-runs                  zset run → run (for run ranges)
//   http:<taskKey>              last answer of the task's HTTP gate
import { fromJsonString, toJsonString } from '@bufbuild/protobuf'
import { RunSchema, taskKey, type Run } from '@autocal/contracts'
import { AutocalError, Lease, redisScript, runScript, type RedisHandle, type RedisScript } from '@autocal/runtime'
import type { BlockState } from '../domain/block-grouping.ts'
import type { GroupingMark } from '../domain/grouping-order.ts'
import type { Task } from '../domain/task-state.ts'

export interface RunFactsRecord {
  run: Run
  streams: Set<string>
  datasets: Set<string>
}

// A transition is two round trips (task-transitions.ts): take the task (its
// lease and its stored JSON in one script) and put it back (compare-and-set
// write and lease release in one script). Scripts run by their SHA1.

// KEYS: lease, marker, task. ARGV: token, lease ms.
// Returns {0} when another holder has the lease, {-1} when the model is
// incomplete (lease not kept), else {1} or {1, task JSON}.
const takeScript = redisScript(`
if not redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') then return {0} end
if redis.call('exists', KEYS[2]) == 0 then
  redis.call('del', KEYS[1])
  return {-1}
end
local task = redis.call('get', KEYS[3])
if task then return {1, task} end
return {1}`)

// KEYS: task, tasks set, open set, processing set, retry-at zset, marker[, lease].
// ARGV: expected version, new version, json, member, "open" | "processing" | "final",
//       retry due ms ("" = none), mode ("cas" | "newer")[, lease token]
// Returns 1 written, 0 version changed, 2 not newer, -1 model incomplete, -2 lease not held by the token.
const saveScript = redisScript(`
-- a live write needs a complete model: after a loss of keys it would write a
-- task the rebuild then cannot order (recovery writes with "newer", before the marker)
local function release ()
  if KEYS[7] and redis.call('get', KEYS[7]) == ARGV[8] then redis.call('del', KEYS[7]) end
end
if ARGV[7] == 'cas' and redis.call('exists', KEYS[6]) == 0 then
  release()
  return -1
end
-- fenced: a writer whose lease expired (and maybe went to another holder) writes nothing
if KEYS[7] and redis.call('get', KEYS[7]) ~= ARGV[8] then return -2 end
-- the version is the one inside the stored task (no separate key to get out of step)
local cur = 0
local stored = redis.call('get', KEYS[1])
if stored then
  local ok, task = pcall(cjson.decode, stored)
  if ok and task.version then cur = tonumber(task.version) or 0 end
end
local result = 1
if ARGV[7] == 'cas' and cur ~= tonumber(ARGV[1]) then
  result = 0
elseif ARGV[7] == 'newer' and cur >= tonumber(ARGV[2]) then
  result = 2
else
  redis.call('set', KEYS[1], ARGV[3])
  redis.call('sadd', KEYS[2], ARGV[4])
  if ARGV[5] == 'open' then redis.call('sadd', KEYS[3], ARGV[4]) else redis.call('srem', KEYS[3], ARGV[4]) end
  if ARGV[5] == 'processing' then redis.call('sadd', KEYS[4], ARGV[4]) else redis.call('srem', KEYS[4], ARGV[4]) end
  if ARGV[6] ~= '' then redis.call('zadd', KEYS[5], ARGV[6], ARGV[4]) else redis.call('zrem', KEYS[5], ARGV[4]) end
end
release()
return result`)

export type StateStore = ReturnType<typeof createStateStore>

/** The read model is incomplete (lost, being rebuilt): the caller retries once it is back. */
export function notReady (): AutocalError {
  return new AutocalError('AUTOCAL_NOT_READY', 'the read model is being rebuilt from Kafka', { retryable: true })
}

export function createStateStore (redis: RedisHandle) {
  const r = redis.client
  const k = (...parts: Array<string | number>): string => redis.key('td', ...parts)
  const keyOf = (t: Pick<Task, 'campaign' | 'task' | 'block'>): string => taskKey(t.campaign, t.block.id, t.task)

  const run = async (s: RedisScript, keys: string[], args: Array<string | number>): Promise<unknown> => await runScript(r, s, keys, args)

  const leaseKey = (key: string): string => redis.key('lease', `td:task:${key}`)

  async function save (t: Task, expected: number, mode: 'cas' | 'newer', token?: string): Promise<boolean> {
    const key = keyOf(t)
    const keys = [k('task', key), k('tasks', t.campaign), k('open', t.campaign), k('processing', t.campaign), k('retry-at', t.campaign), k('marker')]
    // a task awaiting sign-off runs no job: it is neither planned nor counted against concurrency
    const stateClass = t.state === 'new' || t.state === 'waiting' ? 'open' : t.state === 'processing' ? 'processing' : 'final'
    const retries = t.state === 'processing' ? t.jobs.flatMap(j => j.state === 'failed' && j.retryAtMs !== undefined ? [j.retryAtMs] : []) : []
    const args = [String(expected), String(t.version), JSON.stringify(t), key, stateClass, retries.length === 0 ? '' : String(Math.min(...retries)), mode]
    const res = await run(saveScript, token === undefined ? keys : [...keys, leaseKey(key)], token === undefined ? args : [...args, token])
    if (res === -1) throw notReady()
    return res === 1 || res === 2
  }

  return {
    keyOf,
    prefix: redis.key('td', ''),
    hasMarker: async (): Promise<boolean> => (await r.exists(k('marker'))) === 1,
    setMarker: async (): Promise<void> => { await r.set(k('marker'), new Date().toISOString()) },

    getTask: async (key: string): Promise<Task | undefined> => {
      const json = await r.get(k('task', key))
      return json === null ? undefined : JSON.parse(json) as Task
    },
    getTasks: async (keys: string[]): Promise<Task[]> => {
      if (keys.length === 0) return []
      const out: Task[] = []
      for (let i = 0; i < keys.length; i += 500) {
        const values = await r.mget(...keys.slice(i, i + 500).map(key => k('task', key)))
        for (const v of values) if (v !== null) out.push(JSON.parse(v) as Task)
      }
      return out
    },
    /**
     * Takes the task's lease (token, ttl) and reads the task: 'busy' when
     * another holder has the lease; throws a retryable error when the model
     * is incomplete (after a Redis loss, before the rebuild).
     */
    takeTask: async (key: string, token: string, leaseMs: number): Promise<'busy' | { task: Task | undefined }> => {
      const [taken, json] = await run(takeScript, [leaseKey(key), k('marker'), k('task', key)], [token, String(leaseMs)]) as [number, string | undefined]
      if (taken === -1) throw notReady()
      if (taken === 0) return 'busy'
      return { task: json === undefined ? undefined : JSON.parse(json) as Task }
    },
    /**
     * Writes the task if the stored version is still `expected` (0 = none)
     * and its lease is still held by `token` (a fenced write), and releases
     * the lease. False when the version changed or the lease was lost
     * (nothing written); throws a retryable error when the model is incomplete.
     */
    putTask: async (t: Task, expected: number, token: string): Promise<boolean> => await save(t, expected, 'cas', token),
    /** The task's lease as taken by takeTask with `token` (to keep it while a transition is in flight). */
    taskLease: (key: string, token: string): Lease => new Lease(r, leaseKey(key), token),
    /** Releases the task's lease without writing (if it is still ours). */
    releaseTask: async (key: string, token: string): Promise<void> => { await new Lease(r, leaseKey(key), token).release() },
    /** Writes the task unless a version at least as new is stored (recovery). */
    restoreTask: async (t: Task): Promise<boolean> => await save(t, 0, 'newer'),
    taskKeys: async (campaign: string): Promise<string[]> => await r.smembers(k('tasks', campaign)),
    /** Keys of the campaign's tasks that are new or waiting. */
    openKeys: async (campaign: string): Promise<string[]> => await r.smembers(k('open', campaign)),
    /** Keys of the campaign's processing tasks. */
    processingKeys: async (campaign: string): Promise<string[]> => await r.smembers(k('processing', campaign)),
    /** Keys of the processing tasks with a failed job due to be retried by `nowMs`. */
    retriesDue: async (campaign: string, nowMs: number): Promise<string[]> => await r.zrangebyscore(k('retry-at', campaign), '-inf', nowMs),

    blocks: async (campaign: string, task: string): Promise<Map<string, BlockState>> => {
      const all = await r.hgetall(k('blocks', campaign, task))
      return new Map(Object.entries(all).map(([id, json]) => [id, JSON.parse(json) as BlockState]))
    },
    block: async (campaign: string, task: string, id: string): Promise<BlockState | undefined> => {
      const json = await r.hget(k('blocks', campaign, task), id)
      return json === null ? undefined : JSON.parse(json) as BlockState
    },
    saveBlock: async (campaign: string, task: string, b: BlockState): Promise<void> => {
      const multi = r.multi().hset(k('blocks', campaign, task), b.id, JSON.stringify(b))
      for (const run of b.runs) multi.hset(k('grouped', campaign, task), String(run), b.id)
      await multi.exec()
    },
    /** The block of `run` under root task `task` (the Tier-0 fact handler finds the tasks a fact may open by it), or null. */
    groupedBlock: async (campaign: string, task: string, run: number): Promise<string | null> => await r.hget(k('grouped', campaign, task), String(run)),

    /** Notes an ended run as pending: for the campaign's run blocks and/or its buckets (fill, lumi, era). */
    addPending: async (campaign: string, run: number, arrivalMs: number, roots: { runBlocks: boolean, buckets: boolean }): Promise<void> => {
      await Promise.all([
        roots.buckets ? r.zadd(k('pending', campaign), 'NX', arrivalMs, String(run)) : undefined,
        roots.runBlocks ? r.zadd(k('pending-run', campaign), 'NX', arrivalMs, String(run)) : undefined
      ])
    },
    /** Every run pending for the campaign's buckets, in run order. */
    pendingRuns: async (campaign: string): Promise<number[]> => (await r.zrange(k('pending', campaign), 0, -1)).map(Number).sort((a, b) => a - b),
    /** Runs whose run blocks are still unplanned though they arrived before `beforeMs` (the handler of their event missed them), in run order. */
    unplannedRuns: async (campaign: string, beforeMs: number): Promise<number[]> => (await r.zrangebyscore(k('pending-run', campaign), '-inf', beforeMs)).map(Number).sort((a, b) => a - b),
    removeUnplanned: async (campaign: string, runs: number[]): Promise<void> => { if (runs.length > 0) await r.zrem(k('pending-run', campaign), ...runs.map(String)) },
    /**
     * Notes that the run event at `offset` of `partition` has been handled. A partition is handled in order by one
     * consumer at a time, from its committed offset on, so every value written is true: all before it were handled.
     */
    noteRunHandled: async (partition: number, offset: string): Promise<void> => { await r.hset(k('runs-handled'), String(partition), String(BigInt(offset) + 1n)) },
    /** Per partition of the runs topic, the next offset after the highest run event handled (since the read model was built). */
    runsHandled: async (): Promise<Map<number, string>> => new Map(Object.entries(await r.hgetall(k('runs-handled'))).map(([p, o]) => [Number(p), o])),
    groupingMark: async (campaign: string): Promise<GroupingMark> => {
      const json = await r.get(k('grouping-mark', campaign))
      return json === null ? { confirmedUpTo: 0 } : JSON.parse(json) as GroupingMark
    },
    setGroupingMark: async (campaign: string, mark: GroupingMark): Promise<void> => { await r.set(k('grouping-mark', campaign), JSON.stringify(mark)) },
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
    /**
     * The known runs of an acquisition era (their records' `era`), in run
     * order, optionally within first..last (0 = unbounded). Reads the records of
     * the known runs in that span (a few thousand a year): no index to get out of step.
     */
    runsOfEra: async (era: string, first = 0, last = 0): Promise<number[]> => {
      const runs = (await r.zrangebyscore(k('known-runs'), first === 0 ? '-inf' : first, last === 0 ? '+inf' : last)).map(Number)
      const out: number[] = []
      for (let i = 0; i < runs.length; i += 1000) {
        const chunk = runs.slice(i, i + 1000)
        const pipe = r.pipeline()
        for (const run of chunk) pipe.hget(k('run', run), 'record')
        const res = (await pipe.exec()) ?? []
        chunk.forEach((run, j) => {
          const text = res[j]?.[1]
          if (typeof text === 'string' && fromJsonString(RunSchema, text).era === era) out.push(run)
        })
      }
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

    /**
     * Deletes what is left of an incomplete model (the rebuild starts from
     * nothing: a partial loss can leave a task without its set memberships).
     * The runs' trace contexts are kept: they are not part of the model.
     */
    clearModel: async (): Promise<number> => {
      let n = 0
      let cursor = '0'
      do {
        const [next, keys] = await r.scan(cursor, 'MATCH', k('*'), 'COUNT', 1000)
        cursor = next
        const model = keys.filter(key => !key.startsWith(k('trace', '')))
        if (model.length > 0) n += await r.del(...model)
      } while (cursor !== '0')
      return n
    }
  }
}
