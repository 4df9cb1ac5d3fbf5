// The read model in Redis. Every key lives under "<prefix>metrics:" so that
// the whole model can be dropped and rebuilt from Kafka. Layout:
//   metrics:marker                    the model is consistent with the group's committed offsets
//   metrics:campaigns                 set of campaigns
//   metrics:task:<task key>           TaskView JSON (whole)
//   metrics:tasks:<campaign>          hash "<block id>/<task>" → TaskView JSON without jobs and outputs (the overview's cells)
//   metrics:task-counts               hash JSON [subsystem, campaign, task, state] → count
//   metrics:run:<run>                 RunView JSON;  metrics:run-tasks:<run>  set of task keys
//   metrics:jobs:<task key>           hash "req:<job id>#<try>" / "st:<job id>#<try>" → JobRequestView / JobStatusView JSON
//   metrics:conditions:<task key>     hash "req:<request id>" / "out:<request id>" → condition views
//   metrics:counters                  hash JSON [name, label] → count (uploads, job failures, dead letters)
//   metrics:deadlines                 sorted set task key by prompt-hold deadline (ms)
//   metrics:pending-dispatch:<run>    hash job requests waiting for the run's ended event
//   metrics:once:<id>                 de-duplication of dead letters and notifications
//   metrics:minute:<name>:<minute>    per-minute counters (notification rate, dead-letter flood)
import { redisScript, runScript, type RedisHandle, type RedisScript } from '@autocal/runtime'
import type { CountDelta, StateName, TaskResults, TaskView } from '../domain/task-view.ts'
import type { RunView } from '../domain/run-view.ts'
import type { JobRequestView, JobStatusView } from '../domain/job-view.ts'
import type { ConditionOutcomeView, ConditionRequestView } from '../domain/condition-view.ts'

export interface CounterIncrement {
  name: string
  label: string
  by?: number
}

export interface PendingDispatch {
  taskKey: string
  attempt: number
  subsystem: string
  task: string
  requestedAt: string
}

export interface TaskCount {
  subsystem: string
  campaign: string
  task: string
  state: StateName
  count: number
}

export interface ReadModelStore {
  getMarker: () => Promise<string | null>
  setMarker: (value: string) => Promise<void>
  /** Deletes every key of the read model; returns how many. */
  clear: () => Promise<number>
  getTask: (key: string) => Promise<TaskView | undefined>
  saveTask: (view: TaskView, counts: CountDelta[], deadline: number | undefined) => Promise<void>
  /** The campaign's task views without jobs and outputs. */
  tasksOf: (campaign: string) => Promise<TaskView[]>
  taskCounts: () => Promise<TaskCount[]>
  /**
   * Keeps a done task's numeric results as the latest of (subsystem, campaign, task, result) when its run is
   * not older than the one kept (a reprocessing of an old run does not replace a newer one).
   */
  saveLatestResults: (labels: { subsystem: string, campaign: string, task: string }, results: TaskResults) => Promise<void>
  /** The latest numeric result of each (subsystem, campaign, task, result), with its run. */
  latestResults: () => Promise<Array<{ subsystem: string, campaign: string, task: string, result: string, value: number, run: number }>>
  taskKeysOfRun: (run: number) => Promise<string[]>
  getRun: (run: number) => Promise<RunView | undefined>
  saveRun: (view: RunView) => Promise<void>
  setFcsr: (fcsr: number) => Promise<void>
  getFcsr: () => Promise<number | undefined>
  getJobRequest: (taskKey: string, entry: string) => Promise<JobRequestView | undefined>
  saveJobRequest: (view: JobRequestView, entry: string) => Promise<void>
  getJobStatus: (taskKey: string, entry: string) => Promise<JobStatusView | undefined>
  saveJobStatus: (view: JobStatusView, entry: string, counters: CounterIncrement[]) => Promise<void>
  jobsOf: (taskKey: string) => Promise<{ requests: JobRequestView[], statuses: JobStatusView[] }>
  saveConditionRequest: (view: ConditionRequestView) => Promise<void>
  getConditionOutcome: (taskKey: string, requestId: string) => Promise<ConditionOutcomeView | undefined>
  saveConditionOutcome: (view: ConditionOutcomeView, counters: CounterIncrement[]) => Promise<void>
  conditionsOf: (taskKey: string) => Promise<{ requests: ConditionRequestView[], outcomes: ConditionOutcomeView[] }>
  counters: () => Promise<Array<{ name: string, label: string, count: number }>>
  increment: (counters: CounterIncrement[]) => Promise<void>
  /** True the first time `id` is claimed within ttlSeconds. */
  claimOnce: (id: string, ttlSeconds: number) => Promise<boolean>
  release: (id: string) => Promise<void>
  /** Increments and returns a per-minute counter. */
  countInMinute: (name: string, minute: number) => Promise<number>
  addPendingDispatch: (run: number, pending: PendingDispatch) => Promise<void>
  takePendingDispatch: (run: number) => Promise<PendingDispatch[]>
  /** Task keys whose deadline lies in [from, to]; those before `from` are dropped from the index. */
  deadlinesBetween: (from: number, to: number) => Promise<string[]>
  /** Appends notification texts to a route's digest (held back by the rate limit). */
  pushDigest: (route: string, ...texts: string[]) => Promise<void>
  /** Takes (reads and empties, atomically) a route's digest, oldest first. */
  takeDigest: (route: string) => Promise<string[]>
}

function parse<T> (json: string | null | undefined): T | undefined {
  return json === null || json === undefined ? undefined : JSON.parse(json) as T
}

// The writes of one message go to Redis as one EVALSHA: atomic like the
// MULTI/EXEC they replace, but a single command with a single reply, which
// the client's auto-pipelining sends together with the other partitions'
// commands (a MULTI is always a write of its own).

// KEYS: task, tasks:<campaign>, campaigns, task-counts, deadlines, run-tasks:<run>...
// ARGV: task JSON, overview field, overview JSON, campaign, task key, deadline ('' = none), then (count field, delta) pairs
const saveTaskScript = redisScript(`
redis.call('set', KEYS[1], ARGV[1])
redis.call('hset', KEYS[2], ARGV[2], ARGV[3])
redis.call('sadd', KEYS[3], ARGV[4])
for i = 7, #ARGV, 2 do redis.call('hincrby', KEYS[4], ARGV[i], ARGV[i + 1]) end
for i = 6, #KEYS do redis.call('sadd', KEYS[i], ARGV[5]) end
if ARGV[6] == '' then redis.call('zrem', KEYS[5], ARGV[5]) else redis.call('zadd', KEYS[5], ARGV[6], ARGV[5]) end
return 1`)

// KEYS: a view hash, counters; ARGV: field ('' = none), JSON, then (counter field, increment) pairs
const saveViewScript = redisScript(`
if ARGV[1] ~= '' then redis.call('hset', KEYS[1], ARGV[1], ARGV[2]) end
for i = 3, #ARGV, 2 do redis.call('hincrby', KEYS[2], ARGV[i], ARGV[i + 1]) end
return 1`)

// KEYS: results; ARGV: run, then (field, entry JSON) pairs: each field is set unless it holds a newer run's
// (read and written in one script: partitions handled at once cannot put an older run over a newer one)
const saveResultsScript = redisScript(`
local run = tonumber(ARGV[1])
for i = 2, #ARGV, 2 do
  local old = redis.call('hget', KEYS[1], ARGV[i])
  if not old or cjson.decode(old).run <= run then redis.call('hset', KEYS[1], ARGV[i], ARGV[i + 1]) end
end
return 1`)

// KEYS: pending-dispatch:<run>; its fields and values, deleted
const takeHashScript = redisScript(`
local all = redis.call('hgetall', KEYS[1])
redis.call('del', KEYS[1])
return all`)

export function createReadModelStore (redis: RedisHandle): ReadModelStore {
  const { client } = redis
  const k = (...parts: Array<string | number>): string => redis.key('metrics', ...parts)

  async function hashValues<T> (key: string, prefix: string): Promise<T[]> {
    const all = await client.hgetall(key)
    return Object.entries(all).filter(([f]) => f.startsWith(prefix)).map(([, v]) => JSON.parse(v) as T)
  }

  const run = async (s: RedisScript, keys: string[], args: Array<string | number>): Promise<unknown> => await runScript(client, s, keys, args)

  const counterArgs = (counters: CounterIncrement[]): Array<string | number> =>
    counters.flatMap(c => [JSON.stringify([c.name, c.label]), c.by ?? 1])

  async function saveView (key: string, field: string, view: unknown, counters: CounterIncrement[]): Promise<void> {
    await run(saveViewScript, [key, k('counters')], [field, field === '' ? '' : JSON.stringify(view), ...counterArgs(counters)])
  }

  return {
    getMarker: async () => await client.get(k('marker')),
    setMarker: async value => { await client.set(k('marker'), value) },
    clear: async () => {
      let deleted = 0
      const pattern = k('*').replace(/[?[\]\\]/g, m => `\\${m}`)
      let cursor = '0'
      do {
        const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
        cursor = next
        if (keys.length > 0) deleted += await client.unlink(...keys)
      } while (cursor !== '0')
      return deleted
    },
    getTask: async key => parse<TaskView>(await client.get(k('task', key))),
    saveTask: async (view, counts, deadline) => {
      await run(saveTaskScript,
        [k('task', view.key), k('tasks', view.campaign), k('campaigns'), k('task-counts'), k('deadlines'), ...view.runs.map(r => k('run-tasks', r))],
        [
          JSON.stringify(view), `${view.blockId}/${view.task}`, JSON.stringify({ ...view, jobs: [], outputs: [] }), view.campaign, view.key, deadline ?? '',
          ...counts.flatMap(c => [JSON.stringify([c.labels.subsystem, c.labels.campaign, c.labels.task, c.labels.state]), c.delta])
        ])
    },
    tasksOf: async campaign => Object.values(await client.hgetall(k('tasks', campaign))).map(v => JSON.parse(v) as TaskView),
    saveLatestResults: async (labels, results) => {
      const pairs = Object.entries(results.values).flatMap(([name, value]) => [
        JSON.stringify([labels.subsystem, labels.campaign, labels.task, name]),
        JSON.stringify({ value, run: results.run, blockId: results.blockId })
      ])
      if (pairs.length > 0) await run(saveResultsScript, [k('results')], [results.run, ...pairs])
    },
    latestResults: async () => Object.entries(await client.hgetall(k('results'))).map(([field, v]) => {
      const [subsystem, campaign, task, result] = JSON.parse(field) as [string, string, string, string]
      const { value, run } = JSON.parse(v) as { value: number, run: number }
      return { subsystem, campaign, task, result, value, run }
    }),
    taskCounts: async () => Object.entries(await client.hgetall(k('task-counts'))).map(([field, n]) => {
      const [subsystem, campaign, task, state] = JSON.parse(field) as [string, string, string, StateName]
      return { subsystem, campaign, task, state, count: Number(n) }
    }),
    taskKeysOfRun: async run => (await client.smembers(k('run-tasks', run))).sort(),
    getRun: async run => parse<RunView>(await client.get(k('run', run))),
    saveRun: async view => { await client.set(k('run', view.run), JSON.stringify(view)) },
    setFcsr: async fcsr => { await client.set(k('fcsr'), String(fcsr)) },
    getFcsr: async () => {
      const v = await client.get(k('fcsr'))
      return v === null ? undefined : Number(v)
    },
    getJobRequest: async (taskKey, entry) => parse<JobRequestView>(await client.hget(k('jobs', taskKey), `req:${entry}`)),
    saveJobRequest: async (view, entry) => { await client.hset(k('jobs', view.taskKey), `req:${entry}`, JSON.stringify(view)) },
    getJobStatus: async (taskKey, entry) => parse<JobStatusView>(await client.hget(k('jobs', taskKey), `st:${entry}`)),
    saveJobStatus: async (view, entry, counters) => { await saveView(k('jobs', view.taskKey), `st:${entry}`, view, counters) },
    jobsOf: async taskKey => {
      const all = await client.hgetall(k('jobs', taskKey))
      const requests: JobRequestView[] = []
      const statuses: JobStatusView[] = []
      for (const [field, v] of Object.entries(all)) {
        if (field.startsWith('req:')) requests.push(JSON.parse(v) as JobRequestView)
        else statuses.push(JSON.parse(v) as JobStatusView)
      }
      return { requests, statuses }
    },
    saveConditionRequest: async view => { await client.hset(k('conditions', view.taskKey), `req:${view.requestId}`, JSON.stringify(view)) },
    getConditionOutcome: async (taskKey, requestId) => parse<ConditionOutcomeView>(await client.hget(k('conditions', taskKey), `out:${requestId}`)),
    saveConditionOutcome: async (view, counters) => { await saveView(k('conditions', view.taskKey), `out:${view.requestId}`, view, counters) },
    conditionsOf: async taskKey => ({
      requests: await hashValues<ConditionRequestView>(k('conditions', taskKey), 'req:'),
      outcomes: await hashValues<ConditionOutcomeView>(k('conditions', taskKey), 'out:')
    }),
    counters: async () => Object.entries(await client.hgetall(k('counters'))).map(([field, n]) => {
      const [name, label] = JSON.parse(field) as [string, string]
      return { name, label, count: Number(n) }
    }),
    increment: async counters => { await saveView(k('counters'), '', undefined, counters) },
    claimOnce: async (id, ttlSeconds) => (await client.set(k('once', id), '1', 'EX', ttlSeconds, 'NX')) === 'OK',
    release: async id => { await client.del(k('once', id)) },
    countInMinute: async (name, minute) => {
      const key = k('minute', name, minute)
      const [[, n]] = await client.multi().incr(key).expire(key, 180).exec() as [[unknown, number], unknown]
      return n
    },
    addPendingDispatch: async (run, pending) => {
      await client.hset(k('pending-dispatch', run), `${pending.taskKey}#${pending.attempt}`, JSON.stringify(pending))
    },
    takePendingDispatch: async runNumber => {
      const flat = await run(takeHashScript, [k('pending-dispatch', runNumber)], []) as string[]
      const pending: PendingDispatch[] = []
      for (let i = 1; i < flat.length; i += 2) pending.push(JSON.parse(flat[i]!) as PendingDispatch)
      return pending
    },
    deadlinesBetween: async (from, to) => {
      await client.zremrangebyscore(k('deadlines'), '-inf', `(${from}`)
      return await client.zrangebyscore(k('deadlines'), from, to)
    },
    pushDigest: async (route, ...texts) => {
      if (texts.length > 0) await client.rpush(k('digest', route), ...texts)
    },
    takeDigest: async route => {
      const [[, texts]] = await client.multi().lrange(k('digest', route), 0, -1).del(k('digest', route)).exec() as [[unknown, string[]], unknown]
      return texts
    }
  }
}
